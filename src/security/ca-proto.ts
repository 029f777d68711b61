/**
 * The IstioCertificateService definition, loaded with @grpc/proto-loader from `ca.proto` (kept next to
 * this file in src/; the compiled module finds it from dist/src/security/ as the lab finds examples/).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition } from '@grpc/grpc-js';
import type { GrpcObject, ServiceClientConstructor, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';

export interface IstioCertificateRequest {
  csr: string;
  validity_duration: number;
  metadata?: { fields?: Record<string, unknown> } | null;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

function protoPath(): string {
  const candidates = [
    fileURLToPath(new URL('./ca.proto', import.meta.url)), // running from src/ (ts-node and friends)
    fileURLToPath(new URL('../../../src/security/ca.proto', import.meta.url)), // running from dist/src/security/
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`ca.proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

let cached: ServiceClientConstructor | undefined;

/** The generated client constructor; its `.service` is the definition servers add. */
export function caServiceClient(): ServiceClientConstructor {
  if (cached) return cached;
  const definition = loadSync(protoPath(), {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = loadPackageDefinition(definition) as GrpcObject;
  const auth = (pkg.istio as GrpcObject).v1 as GrpcObject;
  cached = (auth.auth as GrpcObject).IstioCertificateService as ServiceClientConstructor;
  return cached;
}

export function caServiceDefinition(): ServiceDefinition {
  return caServiceClient().service;
}
