/**
 * Inbound mTLS as Istio 1.17 decides it for a sidecar: the PeerAuthentication policies that apply to the
 * workload composed mesh → namespace → workload → port (security/authn/v1beta1 ComposePeerAuthentication),
 * and the server TLS context each mode needs (security/authn/utils BuildInboundTLS).
 */
import type { Resource } from '../../api/index.js';
import { KIND, typedSpec } from '../../api/index.js';
import { labelsMatch } from '../../registry/index.js';
import type { Json } from './clusters.js';
import type { ListenerProxy } from './listener-filters.js';
import {
  ALPN_DOWNSTREAM_WITH_MXC,
  ALPN_HTTP,
  TLS_TRANSPORT_SOCKET,
  TYPE_DOWNSTREAM_TLS,
  isRecord,
  sdsSecretConfig,
  stringLabels,
  strings,
} from './listener-filters.js';
import type { PushContext } from './push-context.js';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

export interface PeerAuthnPolicy {
  /** The workload-wide mode. */
  mode: MtlsMode;
  /** Port-level modes, keyed by the workload (target) port. */
  portModes: Map<number, MtlsMode>;
}

/** utils.SupportedCiphers: what sidecars accept on inbound mTLS. */
const SUPPORTED_CIPHERS = [
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-GCM-SHA256',
];

function modeOf(v: unknown): MtlsMode | undefined {
  if (!isRecord(v)) return undefined;
  const m = v['mode'];
  return m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE' ? m : undefined;
}

function olderFirst(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${a.metadata.name}.${a.metadata.namespace ?? ''}`;
  const kb = `${b.metadata.name}.${b.metadata.namespace ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * The effective PeerAuthentication of a workload: PERMISSIVE by default; the oldest mesh-level (root
 * namespace, no selector), namespace-level and matching workload-level policy each override the one above
 * unless UNSET; UNSET port-level settings inherit the workload mode.
 */
export function peerAuthenticationFor(push: PushContext, proxy: ListenerProxy): PeerAuthnPolicy {
  const root = typeof push.snapshot.mesh.rootNamespace === 'string' ? push.snapshot.mesh.rootNamespace : '';
  let meshCfg: Resource | undefined;
  let nsCfg: Resource | undefined;
  let workloadCfg: Resource | undefined;
  const policies = [...push.snapshot.list(KIND.PeerAuthentication)].sort(olderFirst);
  for (const r of policies) {
    const ns = r.metadata.namespace ?? '';
    const spec: unknown = typedSpec(r, KIND.PeerAuthentication);
    if (!isRecord(spec)) continue;
    const selector = isRecord(spec['selector']) ? stringLabels(spec['selector']['matchLabels']) : {};
    if (Object.keys(selector).length === 0) {
      if (ns === root) meshCfg ??= r;
      else if (ns === proxy.namespace) nsCfg ??= r;
    } else if (ns === proxy.namespace && ns !== root && labelsMatch(selector, proxy.labels)) {
      workloadCfg ??= r;
    }
  }
  const specOf = (r: Resource | undefined): Record<string, unknown> | undefined => {
    if (!r) return undefined;
    const s: unknown = typedSpec(r, KIND.PeerAuthentication);
    return isRecord(s) ? s : undefined;
  };
  let mode: MtlsMode = 'PERMISSIVE';
  for (const r of [meshCfg, nsCfg, workloadCfg]) mode = modeOf(specOf(r)?.['mtls']) ?? mode;
  const portModes = new Map<number, MtlsMode>();
  const portLevel = specOf(workloadCfg)?.['portLevelMtls'];
  if (isRecord(portLevel)) {
    for (const [key, value] of Object.entries(portLevel)) {
      const port = Number(key);
      if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
      portModes.set(port, modeOf(value) ?? mode);
    }
  }
  return { mode, portModes };
}

export function mtlsModeForPort(policy: PeerAuthnPolicy, port: number): MtlsMode {
  return policy.portModes.get(port) ?? policy.mode;
}

/** TrustDomainsForValidation: the mesh trust domain and its aliases, de-duplicated. */
export function trustDomainsForValidation(mesh: Record<string, unknown>): string[] {
  const out: string[] = [];
  const add = (td: unknown): void => {
    if (typeof td === 'string' && td !== '' && !out.includes(td)) out.push(td);
  };
  add(mesh['trustDomain']);
  for (const alias of strings(mesh['trustDomainAliases'])) add(alias);
  for (const ca of Array.isArray(mesh['caCertificates']) ? mesh['caCertificates'] : []) {
    if (isRecord(ca)) for (const td of strings(ca['trustDomains'])) add(td);
  }
  return out;
}

/**
 * BuildInboundTLS for STRICT and PERMISSIVE (DISABLE has none): the workload certificate and root over
 * SDS, client certificates required and checked against the trust domains, TLS 1.2+ with Istio's
 * ciphers, and ALPN `h2,http/1.1` (TCP adds `istio-peer-exchange`).
 */
export function inboundMtlsContext(mesh: Record<string, unknown>, protocol: 'HTTP' | 'TCP'): Json {
  const meshMtls = mesh['meshMTLS'];
  const minVersion =
    isRecord(meshMtls) && meshMtls['minProtocolVersion'] === 'TLSV1_3' ? 'TLSv1_3' : 'TLSv1_2';
  const sanPrefixes = trustDomainsForValidation(mesh).map((td) => ({ prefix: `spiffe://${td}/` }));
  const validation: Json = {};
  if (sanPrefixes.length > 0) validation['matchSubjectAltNames'] = sanPrefixes;
  return {
    '@type': TYPE_DOWNSTREAM_TLS,
    commonTlsContext: {
      tlsParams: {
        tlsMinimumProtocolVersion: minVersion,
        tlsMaximumProtocolVersion: 'TLSv1_3',
        cipherSuites: [...SUPPORTED_CIPHERS],
      },
      tlsCertificateSdsSecretConfigs: [sdsSecretConfig('default')],
      combinedValidationContext: {
        defaultValidationContext: validation,
        validationContextSdsSecretConfig: sdsSecretConfig('ROOTCA'),
      },
      alpnProtocols: protocol === 'TCP' ? [...ALPN_DOWNSTREAM_WITH_MXC] : [...ALPN_HTTP],
    },
    requireClientCertificate: true,
  };
}

export function tlsTransportSocket(context: Json): Json {
  return { name: TLS_TRANSPORT_SOCKET, typedConfig: context };
}
