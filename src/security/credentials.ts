/**
 * TLS for istiod's 15012: a server certificate signed by the mesh CA for istiod's names, and client
 * certificates requested but optional, so token-authenticated CSR callers and mTLS xDS clients share the
 * port as in Istio. (grpc-js' createSsl can only require a client certificate or not ask for one.)
 */
import { ServerCredentials, credentials } from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import type { CertificateAuthority } from './ca.js';
import { issueServerCertificate } from './ca-sign.js';
import type { KeyAndChain } from './ca-sign.js';

/** istiod's service name in its own namespace; the agent dials istiod.istio-system.svc:15012. */
export const ISTIOD_SERVICE_NAME = 'istiod.istio-system.svc';

/** Server credentials that ask for a client certificate without requiring one; rotatable in place. */
export class IstiodServerCredentials extends ServerCredentials {
  constructor(
    context: SecureContextOptions,
    readonly keyAndChain: KeyAndChain,
  ) {
    super({ requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, context);
  }

  /** Replaces the certificate for new connections (a root rotation or a renewed istiod certificate). */
  rotate(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}

export interface IstiodCredentialsOptions {
  /** Extra DNS names or IPs for the certificate (istiod.istio-system.svc and 127.0.0.1 are always in). */
  dnsNames?: string[];
  ttlSeconds?: number;
}

export async function istiodServerCredentials(
  ca: CertificateAuthority,
  opts: IstiodCredentialsOptions = {},
): Promise<IstiodServerCredentials> {
  const hosts = [...new Set([ISTIOD_SERVICE_NAME, ...(opts.dnsNames ?? []), '127.0.0.1'])];
  const issued = await issueServerCertificate(ca, {
    hosts,
    ...(opts.ttlSeconds !== undefined ? { ttlSeconds: opts.ttlSeconds } : {}),
  });
  return new IstiodServerCredentials(
    { ca: ca.rootCertPem, cert: issued.certChainPem, key: issued.keyPem },
    issued,
  );
}

export interface IstiodChannel {
  credentials: ChannelCredentials;
  /** Channel options that make the client check istiod's name whatever address it dials. */
  options: ChannelOptions;
}

/**
 * What a client of 15012 dials with (the agent's CA client, or an xDS client over mTLS): TLS verifying
 * istiod against the mesh root, optionally presenting the workload certificate.
 */
export function istiodChannelCredentials(
  rootCertPem: string,
  clientCert?: { certChainPem: string; keyPem: string },
  serverName: string = ISTIOD_SERVICE_NAME,
): IstiodChannel {
  return {
    credentials: credentials.createSsl(
      Buffer.from(rootCertPem),
      clientCert ? Buffer.from(clientCert.keyPem) : null,
      clientCert ? Buffer.from(clientCert.certChainPem) : null,
    ),
    options: { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName },
  };
}
