/**
 * The SDS secrets istiod serves a gateway for its servers' `credentialName`s (pilot/pkg/xds/sds.go,
 * pilot/pkg/credentials/kube/secrets.go), in proto3 JSON:
 *
 * - `kubernetes://<name>`: `tlsCertificate` with the Secret's certificate chain and private key inline
 *   (keys `cert`/`key`, else `tls.crt`/`tls.key`);
 * - `kubernetes://<name>-cacert` (MUTUAL servers): `validationContext.trustedCa` from the Secret
 *   `<name>-cacert`, else `<name>` (keys `cacert`, else `ca.crt`).
 *
 * Like istiod, a proxy only gets Secrets of its own namespace, and a name whose Secret is missing,
 * lacks the keys or does not hold a parsable certificate is left out; nothing here throws.
 */
import { X509Certificate } from 'node:crypto';
import type { Resource } from '../../api/index.js';
import { KIND } from '../../api/index.js';
import type { Json } from './clusters.js';
import type { GatewayProxyInfo } from './listener-gateway-merge.js';
import { mergeGateways } from './listener-gateway-merge.js';
import { credentialResourceName, isRecord } from './listener-filters.js';
import type { PushContext } from './push-context.js';

const CA_SUFFIX = '-cacert';

export interface SecretProxy extends GatewayProxyInfo {
  type?: 'sidecar' | 'router';
}

/** The SDS resource names a gateway's terminating servers refer to, in server order. */
export function gatewayCredentialNames(push: PushContext, proxy: GatewayProxyInfo): string[] {
  const out: string[] = [];
  const add = (n: string): void => {
    if (!out.includes(n)) out.push(n);
  };
  for (const merged of mergeGateways(push.snapshot, proxy, push.registry).ports) {
    for (const server of merged.servers) {
      const tls = server.tls;
      // ISTIO_MUTUAL uses the workload certificate whatever credentialName says.
      if (!tls || (server.tlsMode !== 'SIMPLE' && server.tlsMode !== 'MUTUAL')) continue;
      const credentialName = typeof tls['credentialName'] === 'string' ? tls['credentialName'] : '';
      if (credentialName === '') continue;
      const name = credentialResourceName(credentialName);
      add(name);
      if (server.tlsMode === 'MUTUAL') add(`${name}${CA_SUFFIX}`);
    }
  }
  return out;
}

interface SecretRef {
  name: string;
  namespace: string;
}

/** credentials.ParseResourceName: `kubernetes://[ns/]name` or `kubernetes-gateway://ns/name`. */
function parseResourceName(resourceName: string, proxyNamespace: string): SecretRef | undefined {
  for (const prefix of ['kubernetes://', 'kubernetes-gateway://']) {
    if (!resourceName.startsWith(prefix)) continue;
    const parts = resourceName.slice(prefix.length).split('/');
    if (parts.length > 1) {
      const [namespace = '', name = ''] = parts;
      return namespace !== '' && name !== '' ? { namespace, name } : undefined;
    }
    if (prefix === 'kubernetes-gateway://') return undefined;
    return parts[0] ? { namespace: proxyNamespace, name: parts[0] } : undefined;
  }
  return undefined;
}

/** A Secret's values as base64 (`data` as stored, `stringData` encoded); empty values left out. */
function secretData(r: Resource): Map<string, string> {
  const out = new Map<string, string>();
  const data = r.object['data'];
  if (isRecord(data)) {
    for (const [k, v] of Object.entries(data)) {
      if (typeof v !== 'string') continue;
      // Normalized so proto3 JSON (which prints canonical base64) reads back identically.
      const b64 = Buffer.from(v, 'base64').toString('base64');
      if (b64 !== '') out.set(k, b64);
    }
  }
  const stringData = r.object['stringData'];
  if (isRecord(stringData)) {
    for (const [k, v] of Object.entries(stringData)) {
      if (typeof v === 'string' && v !== '') out.set(k, Buffer.from(v, 'utf8').toString('base64'));
    }
  }
  return out;
}

function findSecret(push: PushContext, ref: SecretRef): Resource | undefined {
  return push.snapshot
    .list(KIND.Secret)
    .find((r) => r.metadata.name === ref.name && (r.metadata.namespace ?? 'default') === ref.namespace);
}

/** VERIFY_SDS_CERTIFICATE (on by default): the first PEM block must parse as an X.509 certificate. */
function isValidCertificate(b64: string): boolean {
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  const m = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  if (!m) return false;
  try {
    new X509Certificate(m[0]);
    return true;
  } catch {
    return false;
  }
}

function keyAndCert(data: Map<string, string>): { key: string; cert: string } | undefined {
  for (const [certKey, keyKey] of [
    ['cert', 'key'],
    ['tls.crt', 'tls.key'],
  ] as const) {
    const cert = data.get(certKey);
    const key = data.get(keyKey);
    if (cert && key) return { cert, key };
  }
  return undefined;
}

function caCert(data: Map<string, string>): string | undefined {
  return data.get('cacert') ?? data.get('ca.crt');
}

/** One SDS secret for a resource name, or undefined when istiod would not serve it. */
export function buildSecret(
  push: PushContext,
  proxyNamespace: string,
  resourceName: string,
): Json | undefined {
  const ref = parseResourceName(resourceName, proxyNamespace);
  // Only Secrets in the proxy's own namespace are served.
  if (!ref || ref.namespace !== proxyNamespace) return undefined;
  if (ref.name.endsWith(CA_SUFFIX)) {
    const own = findSecret(push, ref);
    const stripped = findSecret(push, { ...ref, name: ref.name.slice(0, -CA_SUFFIX.length) });
    const secret = own ?? stripped;
    const ca = secret ? caCert(secretData(secret)) : undefined;
    if (!ca || !isValidCertificate(ca)) return undefined;
    return { name: resourceName, validationContext: { trustedCa: { inlineBytes: ca } } };
  }
  const secret = findSecret(push, ref);
  const pair = secret ? keyAndCert(secretData(secret)) : undefined;
  if (!pair || !isValidCertificate(pair.cert)) return undefined;
  return {
    name: resourceName,
    tlsCertificate: { certificateChain: { inlineBytes: pair.cert }, privateKey: { inlineBytes: pair.key } },
  };
}

/**
 * The secrets a proxy's listeners name: for gateways, the credentialNames of their SIMPLE and MUTUAL
 * servers (sidecars reference only `default` and `ROOTCA`, which the agent serves, so they get none).
 */
export function buildSecrets(push: PushContext, proxy: SecretProxy): Json[] {
  if (proxy.type === 'sidecar') return [];
  const out: Json[] = [];
  for (const name of gatewayCredentialNames(push, proxy)) {
    const secret = buildSecret(push, proxy.namespace, name);
    if (secret) out.push(secret);
  }
  return out;
}
