/**
 * The mTLS variant of the data-plane benchmark's sidecar pair: the same generated-like snapshots
 * (bench/dataplane.ts) with what Istio adds when both workloads are in the mesh, and real certificates
 * from the CA module (src/security) instead of test fixtures:
 *
 * - outbound cluster: auto-mTLS `transportSocketMatches` (tlsMode-istio → Istio's UpstreamTlsContext with
 *   SDS `default`/`ROOTCA`, the subset-less SNI `outbound_.<port>_._.<host>`, ALPN istio-peer-exchange,
 *   istio and the server's SPIFFE SAN to verify), and the endpoint labelled `tlsMode: istio`;
 * - inbound listener: the STRICT chain (`transportProtocol: tls`, DownstreamTlsContext requiring a client
 *   certificate from the mesh root, Istio 1.17's cipher list and ALPN).
 *
 * Certificates: one in-memory self-signed root (as `skiff up` creates), a key and CSR per workload signed
 * for `spiffe://cluster.local/ns/bench/sa/<workload>` with Istio's default key (RSA 2048), handed to each
 * sidecar as the SDS secrets its agent would serve.
 */
import { inboundMtlsContext, istioMutualSocket, tlsTransportSocket } from '../src/xds/index.js';
import type { ProxySnapshot } from '../src/proxy/index.js';
import {
  concatCerts,
  createWorkloadKeyAndCsr,
  loadOrCreateCa,
  rootCaSecret,
  signWorkloadCsr,
  spiffeUri,
  workloadSecret,
} from '../src/security/index.js';

const TYPE_PREFIX = 'type.googleapis.com/';
const RAW_BUFFER = `${TYPE_PREFIX}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer`;

/** What a sidecar's agent would serve over SDS: the workload key pair and the mesh root. */
export interface MtlsMaterial {
  certChainPem: string;
  keyPem: string;
  rootCertPem: string;
}

/** The SPIFFE identity of a bench workload (its service account is named after it). */
export const benchIdentity = (workload: string): string => spiffeUri('cluster.local', 'bench', workload);

/** Issues one certificate per workload from a fresh CA, as istiod would on the agents' CSRs. */
export async function issueBenchCertificates(workloads: string[]): Promise<Map<string, MtlsMaterial>> {
  const ca = await loadOrCreateCa();
  const out = new Map<string, MtlsMaterial>();
  for (const w of workloads) {
    const { csrPem, keyPem } = await createWorkloadKeyAndCsr(benchIdentity(w));
    const chain = await signWorkloadCsr(ca, csrPem, { identity: benchIdentity(w), ttlSeconds: 3600 });
    out.set(w, { certChainPem: concatCerts(chain), keyPem, rootCertPem: ca.rootCertPem });
  }
  return out;
}

/** The SDS `default` and `ROOTCA` secrets for the engine (ProxyEngine.updateSecrets). */
export function mtlsSecrets(m: MtlsMaterial): unknown[] {
  return [workloadSecret(m.certChainPem, m.keyPem), rootCaSecret(m.rootCertPem)];
}

/** The generator's inbound mTLS context for an HTTP chain (STRICT: a client certificate is required). */
function inboundTlsSocket(): unknown {
  return tlsTransportSocket(inboundMtlsContext({ trustDomain: 'cluster.local' }, 'HTTP'));
}

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const records = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isRecord) : []);

export interface MtlsSnapshotOptions {
  /** The service the outbound cluster serves (for the SNI). */
  host: string;
  port: number;
  /** The SAN the client expects on the server's certificate. */
  serverSan: string;
}

/**
 * The snapshot with mTLS between the pair: every EDS cluster gets the auto-mTLS socket matches and its
 * endpoints the tlsMode label; every INBOUND listener's chains require TLS (PeerAuthentication STRICT).
 */
export function withMtls(snapshot: ProxySnapshot, o: MtlsSnapshotOptions): ProxySnapshot {
  const copy = structuredClone(snapshot) as ProxySnapshot & Json;
  for (const cluster of records(copy['clusters'])) {
    if (cluster['type'] !== 'EDS') continue;
    cluster['transportSocketMatches'] = [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transportSocket: istioMutualSocket([o.serverSan], `outbound_.${o.port}_._.${o.host}`),
      },
      {
        name: 'tlsMode-disabled',
        match: {},
        transportSocket: { name: 'envoy.transport_sockets.raw_buffer', typedConfig: { '@type': RAW_BUFFER } },
      },
    ];
  }
  for (const cla of records(copy['endpoints'])) {
    for (const locality of records(cla['endpoints'])) {
      for (const lb of records(locality['lbEndpoints'])) {
        const metadata = isRecord(lb['metadata']) ? lb['metadata'] : {};
        const filterMetadata = isRecord(metadata['filterMetadata']) ? metadata['filterMetadata'] : {};
        filterMetadata['envoy.transport_socket_match'] = { tlsMode: 'istio' };
        metadata['filterMetadata'] = filterMetadata;
        lb['metadata'] = metadata;
      }
    }
  }
  for (const listener of records(copy['listeners'])) {
    if (listener['trafficDirection'] !== 'INBOUND') continue;
    for (const chain of records(listener['filterChains'])) {
      const match = isRecord(chain['filterChainMatch']) ? chain['filterChainMatch'] : {};
      chain['filterChainMatch'] = { ...match, transportProtocol: 'tls' };
      chain['transportSocket'] = inboundTlsSocket();
    }
  }
  return copy;
}

/** One path's figures, as bench/dataplane.ts measures them. */
export interface PathFigures {
  fixed: { p50: number; p90: number; p99: number; sent: number; windowMs: number; errors: number };
  max: { rps: number; errors: number; non2xx: number };
  /** vCPU per 1,000 rps, outbound then inbound proxy. */
  cpuFixed: number[];
  cpuMax: number[];
}

/** What the mTLS pair's proxies counted, to show the traffic really went over mTLS. */
export interface MtlsEvidence {
  /** Handshakes the outbound sidecar completed as a client, the inbound one as a server. */
  handshakesOut: number;
  handshakesIn: number;
  /** Requests the inbound sidecar counted with connection_security_policy mutual_tls. */
  mutualTlsRequestsIn: number;
  /** Failed TLS connections on both sides (ssl.connection_error): refused handshakes and resumptions. */
  tlsErrors?: number;
}

const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(3)} ms` : '—');
const num = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
const cpu = (v: number | undefined): string => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : '—');
const times = (a: number, b: number): string =>
  Number.isFinite(a / b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '—';

/** The table of the mTLS pair beside the plaintext pair: absolute figures, added latency and ratios. */
export function mtlsComparisonLines(
  direct: PathFigures,
  plain: PathFigures,
  mtls: PathFigures,
  rate: number,
  connections: number,
  evidence: MtlsEvidence,
): string[] {
  const lines = [
    `| skiff sidecar pair | plaintext | mTLS | mTLS / plaintext | mTLS − plaintext |`,
    `|---|---:|---:|---:|---:|`,
  ];
  for (const q of ['p50', 'p90', 'p99'] as const) {
    lines.push(
      `| ${q} at ${rate} rps | ${ms(plain.fixed[q])} | ${ms(mtls.fixed[q])} | ${times(mtls.fixed[q], plain.fixed[q])} | ${ms(mtls.fixed[q] - plain.fixed[q])} |`,
    );
  }
  for (const q of ['p50', 'p99'] as const) {
    const a = plain.fixed[q] - direct.fixed[q];
    const b = mtls.fixed[q] - direct.fixed[q];
    lines.push(`| added ${q} over direct | ${ms(a)} | ${ms(b)} | ${times(b, a)} | ${ms(b - a)} |`);
  }
  lines.push(
    `| max rps (${connections} connections) | ${num(plain.max.rps)} | ${num(mtls.max.rps)} | ${times(mtls.max.rps, plain.max.rps)} | ${num(mtls.max.rps - plain.max.rps)} |`,
  );
  const sides = ['outbound', 'inbound'];
  sides.forEach((side, i) => {
    const a = plain.cpuFixed[i] ?? NaN;
    const b = mtls.cpuFixed[i] ?? NaN;
    lines.push(
      `| vCPU / 1k rps, ${side} proxy (fixed rate) | ${cpu(a)} | ${cpu(b)} | ${times(b, a)} | ${cpu(b - a)} |`,
    );
  });
  sides.forEach((side, i) => {
    const a = plain.cpuMax[i] ?? NaN;
    const b = mtls.cpuMax[i] ?? NaN;
    lines.push(
      `| vCPU / 1k rps, ${side} proxy (at max) | ${cpu(a)} | ${cpu(b)} | ${times(b, a)} | ${cpu(b - a)} |`,
    );
  });
  const errors = (p: PathFigures): number => p.fixed.errors + p.max.errors + p.max.non2xx;
  lines.push(
    `| errors | ${errors(plain)} | ${errors(mtls)} | | |`,
    '',
    `mTLS evidence: TLS handshakes outbound (client) ${evidence.handshakesOut.toLocaleString('en-US')}, ` +
      `inbound (server) ${evidence.handshakesIn.toLocaleString('en-US')}; inbound requests with ` +
      `connection_security_policy=mutual_tls ${evidence.mutualTlsRequestsIn.toLocaleString('en-US')}` +
      (evidence.tlsErrors !== undefined
        ? `; failed TLS connections (ssl.connection_error, both sides) ${evidence.tlsErrors.toLocaleString('en-US')}`
        : ''),
  );
  return lines;
}
