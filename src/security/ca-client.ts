/**
 * The agent's side of CreateCertificate (security/pkg/nodeagent/caclient/providers/citadel/client.go):
 * TLS to the CA verifying istiod's certificate against the mesh root, `authorization: Bearer <token>` and
 * `ClusterID` metadata, the CSR and the requested TTL in seconds.
 */
import { Metadata } from '@grpc/grpc-js';
import type { Client, ServiceError } from '@grpc/grpc-js';
import { caServiceClient } from './ca-proto.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from './ca-proto.js';
import { BEARER_PREFIX } from './authn.js';
import { istiodChannelCredentials } from './credentials.js';

export interface CertificateRequestOptions {
  /** `host:port` of the CA (istiod's 15012). */
  address: string;
  /** The mesh root (istio-ca-root-cert) that istiod's certificate must chain to. */
  rootCertPem: string;
  /** Service-account token; sent as `authorization: Bearer <token>` when given. */
  token?: string;
  /** A client certificate for mTLS authentication instead of (or besides) the token. */
  clientCert?: { certChainPem: string; keyPem: string };
  csrPem: string;
  ttlSeconds?: number;
  /** The name istiod's certificate is checked against (default istiod.istio-system.svc). */
  serverName?: string;
  clusterId?: string;
  deadlineMs?: number;
}

export class CaRequestError extends Error {
  override name = 'CaRequestError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** One CreateCertificate call; resolves to the chain (leaf first, root last). */
export function requestWorkloadCertificate(opts: CertificateRequestOptions): Promise<string[]> {
  const Ctor = caServiceClient();
  const channel = istiodChannelCredentials(opts.rootCertPem, opts.clientCert, opts.serverName);
  const client = new Ctor(opts.address, channel.credentials, channel.options) as unknown as Client & {
    CreateCertificate(
      req: IstioCertificateRequest,
      md: Metadata,
      options: { deadline: Date },
      cb: (err: ServiceError | null, res?: IstioCertificateResponse) => void,
    ): void;
  };
  const md = new Metadata();
  md.set('ClusterID', opts.clusterId ?? 'Kubernetes');
  if (opts.token) md.set('authorization', BEARER_PREFIX + opts.token);
  const request: IstioCertificateRequest = {
    csr: opts.csrPem,
    validity_duration: Math.trunc(opts.ttlSeconds ?? 0),
  };
  return new Promise<string[]>((resolve, reject) => {
    client.CreateCertificate(
      request,
      md,
      { deadline: new Date(Date.now() + (opts.deadlineMs ?? 10_000)) },
      (err, res) => {
        client.close();
        if (err)
          return reject(new CaRequestError(`create certificate: ${err.details || err.message}`, err.code));
        const chain = Array.isArray(res?.cert_chain) ? res.cert_chain : [];
        if (chain.length <= 1) return reject(new CaRequestError('invalid empty CertChain'));
        resolve(chain);
      },
    );
  });
}
