/**
 * Certificates and two-sidecar snapshots for the data-plane TLS tests: a root CA and SPIFFE leaf
 * certificates made with @peculiar/x509 over node's webcrypto, Envoy `Secret`s carrying them, and the
 * Istio-shaped listeners/clusters (mTLS inbound chains, tlsMode-istio transport socket matches).
 */
import type { ProxyEngine, ProxySnapshot, StreamInfo } from '../src/proxy/index.js';
import { createProxy } from '../src/proxy/index.js';
import { inboundMtlsContext, istioMutualSocket, tlsTransportSocket } from '../src/xds/index.js';
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';

/**
 * @peculiar/x509's tsyringe dependency wants Reflect's metadata API at load time; the few calls it makes
 * are served by a small table here (installed only when nothing provides them), then the library loads.
 */
function installReflectMetadata(): void {
  const R = Reflect as unknown as Record<string, unknown>;
  if (typeof R['getMetadata'] === 'function') return;
  const table = new WeakMap<object, Map<string, unknown>>();
  const slot = (key: unknown, prop: unknown): string => `${String(prop)}\u0000${String(key)}`;
  const own = (target: object, key: unknown, prop?: unknown): unknown =>
    table.get(target)?.get(slot(key, prop));
  const define = (key: unknown, value: unknown, target: object, prop?: unknown): void => {
    const m = table.get(target) ?? new Map<string, unknown>();
    m.set(slot(key, prop), value);
    table.set(target, m);
  };
  const find = (key: unknown, target: object, prop?: unknown): unknown => {
    for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
      const v = own(t, key, prop);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  R['getOwnMetadata'] = own;
  R['getMetadata'] = find;
  R['defineMetadata'] = define;
  R['hasMetadata'] = (k: unknown, t: object, p?: unknown): boolean => find(k, t, p) !== undefined;
  R['hasOwnMetadata'] = (k: unknown, t: object, p?: unknown): boolean => own(t, k, p) !== undefined;
  R['metadata'] = (k: unknown, v: unknown) => (t: object, p?: unknown) => define(k, v, t, p);
}

installReflectMetadata();
const x509: typeof X509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 3600 * 1000;

export interface Ca {
  cert: X509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
}

export interface Leaf {
  certPem: string;
  keyPem: string;
  serial: string;
}

let serials = 1;

function serial(): string {
  serials++;
  return serials.toString(16).padStart(4, '0');
}

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trim()}\n-----END PRIVATE KEY-----\n`;
}

export async function makeCa(name = 'cluster.local'): Promise<Ca> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `O=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 365 * DAY),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { cert, keys, pem: cert.toString('pem') };
}

/** A workload certificate for `spiffe://cluster.local/ns/<ns>/sa/<sa>` signed by the CA. */
export async function makeLeaf(ca: Ca, uri: string, opts: { expired?: boolean } = {}): Promise<Leaf> {
  const keys = await keyPair();
  const now = Date.now();
  const s = serial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: s,
    subject: 'O=workload',
    issuer: ca.cert.subject,
    notBefore: new Date(opts.expired ? now - 10 * DAY : now - 3600_000),
    notAfter: new Date(opts.expired ? now - DAY : now + DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }], true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(
        [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await pkcs8Pem(keys.privateKey), serial: s };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** SDS `default`: the workload key pair (inlineBytes, as istio-agent sends it). */
export function certSecret(leaf: Leaf, name = 'default'): unknown {
  return {
    name,
    tlsCertificate: {
      certificateChain: { inlineBytes: b64(leaf.certPem) },
      privateKey: { inlineBytes: b64(leaf.keyPem) },
    },
  };
}

/** SDS `ROOTCA`: the trust bundle. */
export function rootSecret(ca: Ca, name = 'ROOTCA'): unknown {
  return { name, validationContext: { trustedCa: { inlineBytes: b64(ca.pem) } } };
}

export const spiffe = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

// ---- config shapes (as src/xds/generate writes them) ----

const TYPE = 'type.googleapis.com/';
const HCM = `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${TYPE}envoy.extensions.filters.http.router.v3.Router`;

/** The generator's inbound mTLS context for an HTTP chain (STRICT: a client certificate is required). */
export function inboundTlsSocket(): unknown {
  return tlsTransportSocket(inboundMtlsContext({ trustDomain: 'cluster.local' }, 'HTTP'));
}

function inboundHcm(port: number): unknown {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: {
      '@type': HCM,
      statPrefix: `inbound_0.0.0.0_${port}`,
      routeConfig: {
        name: `inbound|${port}||`,
        virtualHosts: [
          {
            name: `inbound|http|${port}`,
            domains: ['*'],
            routes: [
              {
                name: 'default',
                match: { prefix: '/' },
                route: { cluster: `inbound|${port}||`, timeout: '0s' },
              },
            ],
          },
        ],
        validateClusters: false,
      },
      httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
      serverName: 'istio-envoy',
    },
  };
}

export const ALL_ISTIO_MTLS_ALPNS = [
  'istio',
  'istio-peer-exchange',
  'istio-http/1.0',
  'istio-http/1.1',
  'istio-h2',
];

/** The server sidecar: `virtualInbound|<port>` as lab capture leaves it (chains without destinationPort). */
export function serverSnapshot(
  mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE',
  appPort: number,
  port = 9080,
): {
  listeners: unknown[];
  clusters: unknown[];
} {
  const tlsChain = {
    name: `0.0.0.0_${port}`,
    filterChainMatch: {
      transportProtocol: 'tls',
      ...(mode === 'PERMISSIVE' ? { applicationProtocols: ALL_ISTIO_MTLS_ALPNS } : {}),
    },
    filters: [inboundHcm(port)],
    transportSocket: inboundTlsSocket(),
  };
  const rawChain = {
    name: `0.0.0.0_${port}`,
    filterChainMatch: { transportProtocol: 'raw_buffer' },
    filters: [inboundHcm(port)],
  };
  const chains = mode === 'STRICT' ? [tlsChain] : mode === 'PERMISSIVE' ? [tlsChain, rawChain] : [rawChain];
  return {
    listeners: [
      {
        name: `virtualInbound|${port}`,
        address: { socketAddress: { address: '127.0.0.1', portValue: port } },
        trafficDirection: 'INBOUND',
        filterChains: chains,
      },
    ],
    clusters: [
      {
        name: `inbound|${port}||`,
        type: 'STATIC',
        connectTimeout: '1s',
        loadAssignment: {
          clusterName: `inbound|${port}||`,
          endpoints: [
            {
              lbEndpoints: [
                { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: appPort } } } },
              ],
            },
          ],
        },
      },
    ],
  };
}

export const SERVER_HOST = 'server.default.svc.cluster.local';
export const SERVER_SNI = `outbound_.9080_._.${SERVER_HOST}`;
export const CLUSTER = `outbound|9080||${SERVER_HOST}`;

/** The client sidecar: an outbound HTTP listener routing to the server's cluster with auto-mTLS matches. */
export function clientSnapshot(
  serverPort: number,
  opts: { sans?: string[]; tlsMode?: boolean; socket?: 'matches' | 'always' } = {},
): { listeners: unknown[]; routes: unknown[]; clusters: unknown[]; endpoints: unknown[] } {
  const sans = opts.sans ?? [spiffe('default', 'server')];
  const cluster: Record<string, unknown> = {
    name: CLUSTER,
    type: 'EDS',
    edsClusterConfig: { edsConfig: { ads: {} }, serviceName: CLUSTER },
    connectTimeout: '1s',
  };
  if (opts.socket === 'always') cluster['transportSocket'] = istioMutualSocket(sans, SERVER_SNI);
  else
    cluster['transportSocketMatches'] = [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transportSocket: istioMutualSocket(sans, SERVER_SNI),
      },
      {
        name: 'tlsMode-disabled',
        match: {},
        transportSocket: {
          name: 'envoy.transport_sockets.raw_buffer',
          typedConfig: { '@type': `${TYPE}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer` },
        },
      },
    ];
  const endpoint: Record<string, unknown> = {
    endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: serverPort } } },
  };
  if (opts.tlsMode !== false)
    endpoint['metadata'] = {
      filterMetadata: {
        'envoy.transport_socket_match': { tlsMode: 'istio' },
        istio: { workload: 'server-v1;default;server;v1;Kubernetes' },
      },
    };
  return {
    listeners: [
      {
        name: '0.0.0.0_80',
        address: { socketAddress: { address: '0.0.0.0', portValue: 80 } },
        trafficDirection: 'OUTBOUND',
        filterChains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typedConfig: {
                  '@type': HCM,
                  statPrefix: 'outbound_0.0.0.0_80',
                  rds: { configSource: { ads: {} }, routeConfigName: '80' },
                  httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
                },
              },
            ],
          },
        ],
      },
    ],
    routes: [
      {
        name: '80',
        virtualHosts: [
          {
            name: `${SERVER_HOST}:80`,
            domains: ['server', SERVER_HOST],
            routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: CLUSTER, timeout: '0s' } }],
          },
        ],
      },
    ],
    clusters: [cluster],
    endpoints: [{ clusterName: CLUSTER, endpoints: [{ lbEndpoints: [endpoint] }] }],
  };
}

/** One engine with SDS secrets, its listener's port and the stream infos it logged. */
export interface TlsSide {
  engine: ProxyEngine;
  port: number;
  infos: StreamInfo[];
}

export async function startTlsSide(
  snapshot: ProxySnapshot,
  listener: string,
  secrets: unknown[],
): Promise<TlsSide> {
  const infos: StreamInfo[] = [];
  const engine = await createProxy(snapshot, {
    bind: () => ({ address: '127.0.0.1', port: 0 }),
    accessLoggers: [
      {
        format: (s: StreamInfo) => {
          infos.push(s);
          return '';
        },
        sink: () => undefined,
      },
    ],
  });
  engine.updateSecrets(secrets);
  return { engine, port: engine.address(listener)?.port ?? 0, infos };
}
