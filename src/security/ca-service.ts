/**
 * The CA's gRPC service (security/pkg/server/ca/server.go CreateCertificate): authenticate the caller,
 * sign the CSR for the caller's identity, answer with [leaf, ...intermediates, root].
 */
import { status } from '@grpc/grpc-js';
import type { Server, ServerUnaryCall, sendUnaryData, ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { authenticateCall } from './authn.js';
import type { CallerAuthenticator } from './authn.js';
import type { CertificateAuthority } from './ca.js';
import { CaError } from './ca-errors.js';
import { caServiceDefinition } from './ca-proto.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from './ca-proto.js';
import { signWorkloadCsr } from './ca-sign.js';
import { SPIFFE_PREFIX } from './spiffe.js';

export interface CaServiceLog {
  info(message: string): void;
  error(message: string): void;
}

export interface CaServiceOptions {
  log?: CaServiceLog;
}

function failure(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** Registers IstioCertificateService on a server (it may share the port with ADS, as on istiod's 15012). */
export function addCaService(
  server: Server,
  ca: CertificateAuthority,
  authenticate: CallerAuthenticator,
  opts: CaServiceOptions = {},
): void {
  server.addService(caServiceDefinition(), {
    CreateCertificate: (
      call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
      callback: sendUnaryData<IstioCertificateResponse>,
    ) => {
      void createCertificate(ca, authenticate, call, opts).then(
        (response) => callback(null, response),
        (err: ServiceError) => callback(err),
      );
    },
  });
}

async function createCertificate(
  ca: CertificateAuthority,
  authenticate: CallerAuthenticator,
  call: ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
  opts: CaServiceOptions,
): Promise<IstioCertificateResponse> {
  let identities: string[];
  try {
    identities = authenticateCall(authenticate, call).identities;
  } catch (e) {
    opts.log?.error(`request authenticate failure: ${(e as Error).message}`);
    throw failure(status.UNAUTHENTICATED, `request authenticate failure: ${(e as Error).message}`);
  }
  const identity = identities.find((id) => id.startsWith(SPIFFE_PREFIX));
  if (!identity) throw failure(status.UNAUTHENTICATED, 'request authenticate failure: no SPIFFE identity');
  const req: Partial<IstioCertificateRequest> = call.request ?? {};
  const csr = typeof req.csr === 'string' ? req.csr : '';
  const ttl = Number(req.validity_duration ?? 0);
  opts.log?.info(`generating a certificate for [${identities.join(' ')}], ttl: ${ttl}`);
  try {
    const certChain = await signWorkloadCsr(ca, csr, {
      identity,
      ttlSeconds: Number.isFinite(ttl) ? ttl : 0,
    });
    return { cert_chain: certChain };
  } catch (e) {
    if (e instanceof CaError) {
      opts.log?.error(`CSR signing error (${e.message})`);
      throw failure(e.grpcCode, `CSR signing error (${e.message})`);
    }
    throw failure(status.INTERNAL, `CSR signing error (${(e as Error).message})`);
  }
}
