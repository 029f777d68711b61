/**
 * SPIFFE workload identities as Istio 1.17 writes them (pkg/spiffe/spiffe.go):
 * `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
 */

export const SPIFFE_PREFIX = 'spiffe://';
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

export interface SpiffeIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

/** Builds the URI; Istio refuses an empty namespace or service account and turns `@` in the domain into `.`. */
export function spiffeUri(trustDomain: string, namespace: string, serviceAccount: string): string {
  if (!namespace) throw new Error('namespace or service account empty for SPIFFE uri');
  if (!serviceAccount) throw new Error('namespace or service account empty for SPIFFE uri');
  const td = (trustDomain || DEFAULT_TRUST_DOMAIN).replace(/@/g, '.');
  return `${SPIFFE_PREFIX}${td}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Parses a SPIFFE URI (ParseIdentity): exactly `<td>/ns/<ns>/sa/<sa>` after the prefix. */
export function parseSpiffeUri(uri: string): SpiffeIdentity {
  if (typeof uri !== 'string' || !uri.startsWith(SPIFFE_PREFIX)) {
    throw new Error('identity is not a spiffe format');
  }
  const parts = uri.slice(SPIFFE_PREFIX.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') {
    throw new Error('identity is not a spiffe format');
  }
  const [trustDomain, , namespace, , serviceAccount] = parts as [string, string, string, string, string];
  if (!trustDomain || !namespace || !serviceAccount) throw new Error('identity is not a spiffe format');
  return { trustDomain, namespace, serviceAccount };
}
