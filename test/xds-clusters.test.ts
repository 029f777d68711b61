import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { buildRegistry } from '../src/registry/index.js';
import type { Json } from '../src/xds/index.js';
import {
  buildOutboundClusters,
  decodeAny,
  encodeAny,
  normalizeDuration,
  roundTrip,
  TYPE,
} from '../src/xds/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GATEWAY = { type: 'router', namespace: 'istio-system' } as const;
const V1 = 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local';

/**
 * `istioctl proxy-config clusters deploy/istio-ingressgateway -n istio-system --fqdn
 * catalog.istioinaction.svc.cluster.local --port 80 --subset version-v1 -o json` from Istio 1.17 on the lab
 * (the seed transcript).
 */
const GOLDEN_V1: Json = {
  transportSocketMatches: [
    {
      name: 'tlsMode-istio',
      match: {
        tlsMode: 'istio',
      },
      transportSocket: {
        name: 'envoy.transport_sockets.tls',
        typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
          commonTlsContext: {
            tlsParams: {
              tlsMinimumProtocolVersion: 'TLSv1_2',
              tlsMaximumProtocolVersion: 'TLSv1_3',
            },
            tlsCertificateSdsSecretConfigs: [
              {
                name: 'default',
                sdsConfig: {
                  apiConfigSource: {
                    apiType: 'GRPC',
                    transportApiVersion: 'V3',
                    grpcServices: [
                      {
                        envoyGrpc: {
                          clusterName: 'sds-grpc',
                        },
                      },
                    ],
                    setNodeOnFirstMessageOnly: true,
                  },
                  initialFetchTimeout: '0s',
                  resourceApiVersion: 'V3',
                },
              },
            ],
            combinedValidationContext: {
              defaultValidationContext: {
                matchSubjectAltNames: [
                  {
                    exact: 'spiffe://cluster.local/ns/istioinaction/sa/catalog',
                  },
                ],
              },
              validationContextSdsSecretConfig: {
                name: 'ROOTCA',
                sdsConfig: {
                  apiConfigSource: {
                    apiType: 'GRPC',
                    transportApiVersion: 'V3',
                    grpcServices: [
                      {
                        envoyGrpc: {
                          clusterName: 'sds-grpc',
                        },
                      },
                    ],
                    setNodeOnFirstMessageOnly: true,
                  },
                  initialFetchTimeout: '0s',
                  resourceApiVersion: 'V3',
                },
              },
            },
            alpnProtocols: ['istio-peer-exchange', 'istio'],
          },
          sni: 'outbound_.80_.version-v1_.catalog.istioinaction.svc.cluster.local',
        },
      },
    },
    {
      name: 'tlsMode-disabled',
      match: {},
      transportSocket: {
        name: 'envoy.transport_sockets.raw_buffer',
        typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
        },
      },
    },
  ],
  name: 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
  type: 'EDS',
  edsClusterConfig: {
    edsConfig: {
      ads: {},
      initialFetchTimeout: '0s',
      resourceApiVersion: 'V3',
    },
    serviceName: 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
  },
  connectTimeout: '10s',
  lbPolicy: 'LEAST_REQUEST',
  circuitBreakers: {
    thresholds: [
      {
        maxConnections: 4294967295,
        maxPendingRequests: 4294967295,
        maxRequests: 4294967295,
        maxRetries: 4294967295,
        trackRemaining: true,
      },
    ],
  },
  commonLbConfig: {
    localityWeightedLbConfig: {},
  },
  metadata: {
    filterMetadata: {
      istio: {
        config: '/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/destination-rule/catalog',
        default_original_port: 80,
        services: [
          {
            host: 'catalog.istioinaction.svc.cluster.local',
            name: 'catalog',
            namespace: 'istioinaction',
          },
        ],
        subset: 'version-v1',
      },
    },
  },
  filters: [
    {
      name: 'istio.metadata_exchange',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
        protocol: 'istio-peer-exchange',
      },
    },
  ],
};

async function labResources(dirs: string[]): Promise<Resource[]> {
  const loaded = await loadPaths(dirs.map((d) => path.join(ROOT, 'examples', 'lab', d)));
  assert.deepEqual(loaded.errors, []);
  return loaded.resources;
}

function gatewayClusters(resources: Resource[]): Json[] {
  const snapshot = new ConfigSnapshot(resources);
  return buildOutboundClusters(buildRegistry(snapshot), snapshot, GATEWAY);
}

function byName(clusters: Json[], name: string): Json {
  const c = clusters.find((x) => x['name'] === name);
  assert.ok(c, `no cluster ${name}; have ${clusters.map((x) => String(x['name'])).join(', ')}`);
  return c;
}

const CATALOG_DR = (policy: string): Resource[] =>
  parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: catalog, namespace: istioinaction }
spec:
  host: catalog
  trafficPolicy:
${policy}
  subsets:
    - name: v1
      labels: { version: v1 }
      trafficPolicy:
        loadBalancer: { simple: RANDOM }
`,
    'dr.yaml',
  ).resources;

test('the ingress gateway gets the seed cluster for subset version-v1, field by field', async () => {
  const clusters = gatewayClusters(await labResources(['base', 'routing']));
  const v1 = byName(clusters, V1);
  for (const key of Object.keys(GOLDEN_V1)) {
    assert.deepEqual(v1[key], GOLDEN_V1[key], `field ${key}`);
  }
  assert.deepEqual(Object.keys(v1).sort(), Object.keys(GOLDEN_V1).sort());
});

test('the gateway has a default and a per-subset cluster per port, and BlackHoleCluster but no PassthroughCluster', async () => {
  const names = gatewayClusters(await labResources(['base', 'routing'])).map((c) => c['name']);
  for (const n of [
    'outbound|80||catalog.istioinaction.svc.cluster.local',
    V1,
    'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local',
    'outbound|15021||istio-ingressgateway.istio-system.svc.cluster.local',
    'outbound|443||istio-ingressgateway.istio-system.svc.cluster.local',
    'BlackHoleCluster',
  ]) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(!names.includes('PassthroughCluster'));
  assert.equal(new Set(names).size, names.length, 'cluster names are unique');
});

test('without the DestinationRule there are no subset clusters and no config metadata', async () => {
  const clusters = gatewayClusters(await labResources(['base']));
  assert.ok(!clusters.some((c) => c['name'] === V1));
  const catalog = byName(clusters, 'outbound|80||catalog.istioinaction.svc.cluster.local');
  const istio = (catalog['metadata'] as { filterMetadata: { istio: Json } }).filterMetadata.istio;
  assert.equal(istio['config'], undefined);
  assert.equal(istio['subset'], undefined);
  assert.equal(istio['default_original_port'], 80);
  assert.equal(catalog['lbPolicy'], 'LEAST_REQUEST');
  // With the rule, the default cluster of the host carries the rule's path.
  const withRule = byName(
    gatewayClusters(await labResources(['base', 'routing'])),
    'outbound|80||catalog.istioinaction.svc.cluster.local',
  );
  assert.equal(
    (withRule['metadata'] as { filterMetadata: { istio: Json } }).filterMetadata.istio['config'],
    '/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/destination-rule/catalog',
  );
});

test('every generated cluster round-trips through the Envoy protos without losing a field', async () => {
  const base = await labResources(['base']);
  const policy = `    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool:
      tcp: { maxConnections: 7, connectTimeout: 2.5s }
      http: { http1MaxPendingRequests: 3, http2MaxRequests: 9, maxRetries: 1 }
    outlierDetection: { consecutive5xxErrors: 4, interval: 1m30s, baseEjectionTime: 15s, maxEjectionPercent: 50 }
    tls: { mode: ISTIO_MUTUAL }`;
  const snapshot = new ConfigSnapshot([...base, ...CATALOG_DR(policy)]);
  const registry = buildRegistry(snapshot);
  const clusters = [
    ...buildOutboundClusters(registry, snapshot, GATEWAY),
    ...buildOutboundClusters(registry, snapshot, { type: 'sidecar', namespace: 'istioinaction' }),
    ...gatewayClusters(await labResources(['base', 'routing'])),
  ];
  assert.ok(clusters.some((c) => c['name'] === 'PassthroughCluster'));
  for (const c of clusters) {
    const { lost } = roundTrip(TYPE.Cluster, c);
    assert.deepEqual(lost, [], String(c['name']));
  }
});

test('roundTrip reports misspelled fields and decodeAny restores proto3 JSON', () => {
  const { lost } = roundTrip(TYPE.Cluster, { name: 'x', conectTimeout: '1s', lbPolicy: 'RANDOM' });
  assert.deepEqual(lost, ['conectTimeout']);
  const json = decodeAny(
    encodeAny(TYPE.Cluster, {
      name: 'x',
      connectTimeout: '0.250s',
      metadata: { filterMetadata: { istio: { n: 1, s: 'a', l: [true, null] } } },
    }),
  );
  assert.deepEqual(json, {
    name: 'x',
    connectTimeout: '0.250s',
    metadata: { filterMetadata: { istio: { n: 1, s: 'a', l: [true, null] } } },
  });
  assert.throws(() => encodeAny('type.googleapis.com/no.such.Type', {}), /unknown type/);
});

test('DestinationRule traffic policy: ROUND_ROBIN, circuit breakers, outlier detection, ISTIO_MUTUAL', async () => {
  const base = await labResources(['base']);
  const policy = `    loadBalancer: { simple: ROUND_ROBIN }
    connectionPool:
      tcp: { maxConnections: 7, connectTimeout: 2.5s }
      http: { http1MaxPendingRequests: 3, http2MaxRequests: 9, maxRetries: 1 }
    outlierDetection: { consecutive5xxErrors: 4, interval: 1m30s, baseEjectionTime: 15s, maxEjectionPercent: 50 }
    tls: { mode: ISTIO_MUTUAL }`;
  const clusters = gatewayClusters([...base, ...CATALOG_DR(policy)]);
  const main = byName(clusters, 'outbound|80||catalog.istioinaction.svc.cluster.local');
  // ROUND_ROBIN is the enum's zero value: proto3 JSON leaves lbPolicy out, the decoded proto has it.
  assert.equal(main['lbPolicy'], undefined);
  assert.equal(decodeAny(encodeAny(TYPE.Cluster, main))['lbPolicy'], undefined);
  assert.equal(main['connectTimeout'], '2.500s');
  assert.deepEqual(main['circuitBreakers'], {
    thresholds: [
      { maxConnections: 7, maxPendingRequests: 3, maxRequests: 9, maxRetries: 1, trackRemaining: true },
    ],
  });
  assert.deepEqual(main['outlierDetection'], {
    enforcingSuccessRate: 0,
    consecutive5xx: 4,
    enforcingConsecutive5xx: 100,
    interval: '90s',
    baseEjectionTime: '15s',
    maxEjectionPercent: 50,
  });
  assert.deepEqual(main['commonLbConfig'], { healthyPanicThreshold: {}, localityWeightedLbConfig: {} });
  assert.equal(main['transportSocketMatches'], undefined);
  const socket = main['transportSocket'] as { typedConfig: Json };
  assert.equal(socket.typedConfig['sni'], 'outbound_.80_._.catalog.istioinaction.svc.cluster.local');
  // The subset's own loadBalancer replaces the rule's.
  assert.equal(
    byName(clusters, 'outbound|80|v1|catalog.istioinaction.svc.cluster.local')['lbPolicy'],
    'RANDOM',
  );
});

test('tls DISABLE leaves the cluster without any transport socket', async () => {
  const clusters = gatewayClusters([
    ...(await labResources(['base'])),
    ...CATALOG_DR('    tls: { mode: DISABLE }'),
  ]);
  const main = byName(clusters, 'outbound|80||catalog.istioinaction.svc.cluster.local');
  assert.equal(main['transportSocket'], undefined);
  assert.equal(main['transportSocketMatches'], undefined);
  assert.equal(main['lbPolicy'], 'LEAST_REQUEST');
});

test('normalizeDuration accepts proto and Go forms and rejects junk', () => {
  assert.equal(normalizeDuration('10s'), '10s');
  assert.equal(normalizeDuration('1h1m'), '3660s');
  assert.equal(normalizeDuration('100ms'), '0.100s');
  assert.equal(normalizeDuration('abc'), undefined);
  assert.equal(normalizeDuration(5), undefined);
});

test('a DNS ServiceEntry becomes a STRICT_DNS cluster with its hosts inline', async () => {
  const se = parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: ext, namespace: istioinaction }
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 443, name: tls, protocol: TLS }]
`,
    'se.yaml',
  ).resources;
  const clusters = gatewayClusters([...(await labResources(['base'])), ...se]);
  const ext = byName(clusters, 'outbound|443||api.example.com');
  assert.equal(ext['type'], 'STRICT_DNS');
  assert.equal(ext['edsClusterConfig'], undefined);
  assert.equal(ext['respectDnsTtl'], true);
  assert.equal(ext['dnsRefreshRate'], '60s');
  assert.deepEqual(ext['loadAssignment'], {
    clusterName: 'outbound|443||api.example.com',
    endpoints: [
      {
        lbEndpoints: [
          { endpoint: { address: { socketAddress: { address: 'api.example.com', portValue: 443 } } } },
        ],
      },
    ],
  });
  // Mesh-external: no auto-mTLS.
  assert.equal(ext['transportSocketMatches'], undefined);
  assert.deepEqual(roundTrip(TYPE.Cluster, ext).lost, []);
});

test('malformed DestinationRules do not crash the generator', async () => {
  const junk = parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: a, namespace: istioinaction }
spec: { host: 5, subsets: x }
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: b, namespace: istioinaction }
spec:
  host: catalog
  trafficPolicy: { loadBalancer: 3, connectionPool: { tcp: [1] }, outlierDetection: { interval: 7 }, tls: x }
  subsets: [3, { name: '' }, { name: ok, trafficPolicy: junk }]
`,
    'junk.yaml',
  ).resources;
  const clusters = gatewayClusters([...(await labResources(['base'])), ...junk]);
  const names = clusters.map((c) => c['name']);
  assert.ok(names.includes('outbound|80|ok|catalog.istioinaction.svc.cluster.local'));
  const main = byName(clusters, 'outbound|80||catalog.istioinaction.svc.cluster.local');
  assert.equal(main['lbPolicy'], 'LEAST_REQUEST');
  assert.equal(main['connectTimeout'], '10s');
  assert.deepEqual(main['outlierDetection'], { enforcingSuccessRate: 0 });
});

test('PASSTHROUGH load balancing and local-origin outlier detection follow Istio 1.17', async () => {
  const policy = `    loadBalancer: { simple: PASSTHROUGH }
    outlierDetection: { consecutiveErrors: 3, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, minHealthPercent: 20 }`;
  const clusters = gatewayClusters([...(await labResources(['base'])), ...CATALOG_DR(policy)]);
  const main = byName(clusters, 'outbound|80||catalog.istioinaction.svc.cluster.local');
  assert.equal(main['type'], 'ORIGINAL_DST');
  assert.equal(main['lbPolicy'], 'CLUSTER_PROVIDED');
  assert.ok(main['edsClusterConfig'], 'Istio 1.17 leaves the EDS config in place');
  assert.deepEqual(main['outlierDetection'], {
    enforcingSuccessRate: 0,
    splitExternalLocalOriginErrors: true,
    consecutiveLocalOriginFailure: 2,
    enforcingConsecutiveLocalOriginFailure: 100,
    enforcingLocalOriginSuccessRate: 0,
  });
  assert.deepEqual(main['commonLbConfig'], {
    healthyPanicThreshold: { value: 20 },
    localityWeightedLbConfig: {},
  });
  assert.deepEqual(roundTrip(TYPE.Cluster, main).lost, []);
});
