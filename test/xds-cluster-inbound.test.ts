import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, Proxy, PushContext } from '../src/xds/index.js';
import {
  buildInboundClusters,
  buildOutboundClusters,
  buildPushContext,
  buildProxyClusters,
  proxyForWorkload,
  proxyFromNode,
  roundTrip,
  TYPE,
} from '../src/xds/index.js';
import { ROOT } from './helpers.js';

async function labPush(extra = ''): Promise<PushContext> {
  const loaded = await loadPaths(['base', 'routing'].map((d) => join(ROOT, 'examples', 'lab', d)));
  assert.deepEqual(loaded.errors, []);
  const more = extra ? parseManifests(extra, 'extra.yaml').resources : [];
  return buildPushContext(new ConfigSnapshot([...loaded.resources, ...more]));
}

function pushOf(yaml: string): PushContext {
  return buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'test.yaml').resources));
}

function proxyOf(push: PushContext, name: string, type: 'sidecar' | 'router' = 'sidecar'): Proxy {
  const w = push.registry.workloads().find((x) => x.name === name || x.labels['istio'] === name);
  assert.ok(w, `no workload ${name}`);
  return proxyForWorkload(w, { type });
}

function byName(clusters: Json[], name: string): Json {
  const c = clusters.find((x) => x['name'] === name);
  assert.ok(c, `no cluster ${name}; have ${clusters.map((x) => String(x['name'])).join(', ')}`);
  return c;
}

function assertRoundTrips(clusters: Json[]): void {
  for (const c of clusters) {
    const { lost, json } = roundTrip(TYPE.Cluster, c);
    assert.deepEqual(lost, [], String(c['name']));
    assert.deepEqual(json, c, String(c['name']));
  }
}

const DEFAULT_BREAKERS = {
  thresholds: [
    {
      maxConnections: 4294967295,
      maxPendingRequests: 4294967295,
      maxRequests: 4294967295,
      maxRetries: 4294967295,
      trackRemaining: true,
    },
  ],
};

test('a sidecar gets outbound, BlackHole, Passthrough, inbound and inbound passthrough clusters in that order', async () => {
  const push = await labPush();
  const clusters = buildProxyClusters(push, proxyOf(push, 'catalog-offline-0'));
  assert.deepEqual(
    clusters.map((c) => c['name']),
    [
      'outbound|80||catalog.istioinaction.svc.cluster.local',
      'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
      'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local',
      'outbound|15021||istio-ingressgateway.istio-system.svc.cluster.local',
      'outbound|80||istio-ingressgateway.istio-system.svc.cluster.local',
      'outbound|443||istio-ingressgateway.istio-system.svc.cluster.local',
      'BlackHoleCluster',
      'PassthroughCluster',
      'inbound|3000||',
      'InboundPassthroughClusterIpv4',
    ],
  );
  assertRoundTrips(clusters);
});

test('inbound|<port>|| is ORIGINAL_DST bound to 127.0.0.6 with the services on that port', async () => {
  const push = await labPush();
  const [inbound] = buildInboundClusters(push, proxyOf(push, 'catalog-offline-0'));
  assert.deepEqual(inbound, {
    name: 'inbound|3000||',
    type: 'ORIGINAL_DST',
    connectTimeout: '10s',
    lbPolicy: 'CLUSTER_PROVIDED',
    circuitBreakers: DEFAULT_BREAKERS,
    commonLbConfig: {},
    upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 } },
    metadata: {
      filterMetadata: {
        istio: {
          services: [
            { host: 'catalog.istioinaction.svc.cluster.local', name: 'catalog', namespace: 'istioinaction' },
          ],
        },
      },
    },
  });
});

test('the inbound passthrough cluster is PassthroughCluster without metadata exchange, bound to 127.0.0.6', async () => {
  const push = await labPush();
  const clusters = buildProxyClusters(push, proxyOf(push, 'catalog-offline-0'));
  const passthrough = byName(clusters, 'PassthroughCluster');
  assert.deepEqual(passthrough['filters'], [
    {
      name: 'istio.metadata_exchange',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
        protocol: 'istio-peer-exchange',
      },
    },
  ]);
  const inboundPassthrough = byName(clusters, 'InboundPassthroughClusterIpv4');
  assert.deepEqual(inboundPassthrough, {
    name: 'InboundPassthroughClusterIpv4',
    type: 'ORIGINAL_DST',
    connectTimeout: '10s',
    lbPolicy: 'CLUSTER_PROVIDED',
    circuitBreakers: DEFAULT_BREAKERS,
    typedExtensionProtocolOptions: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        commonHttpProtocolOptions: { idleTimeout: '300s' },
        useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} },
      },
    },
    upstreamBindConfig: { sourceAddress: { address: '127.0.0.6', portValue: 0 } },
  });
});

test('the gateway keeps its seed clusters and gets no inbound or passthrough clusters', async () => {
  const push = await labPush();
  const clusters = buildProxyClusters(push, proxyOf(push, 'ingressgateway', 'router'));
  const names = clusters.map((c) => String(c['name']));
  assert.ok(names.includes('outbound|80|version-v1|catalog.istioinaction.svc.cluster.local'));
  assert.equal(names.at(-1), 'BlackHoleCluster');
  assert.ok(
    !names.some((n) => n.startsWith('inbound') || n.startsWith('Inbound') || n === 'PassthroughCluster'),
  );
  assertRoundTrips(clusters);
});

test('a Sidecar scope trims the outbound clusters; the services argument does the same', async () => {
  const push = await labPush(`
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: istioinaction}
spec:
  egress:
    - hosts: ['./*']
`);
  const proxy = proxyOf(push, 'catalog-offline-0');
  const names = buildProxyClusters(push, proxy).map((c) => String(c['name']));
  assert.ok(!names.some((n) => n.includes('istio-ingressgateway')));
  assert.ok(names.includes('outbound|80||catalog.istioinaction.svc.cluster.local'));
  const none = buildOutboundClusters(push.registry, push.snapshot, proxy, []);
  assert.deepEqual(
    none.map((c) => c['name']),
    ['BlackHoleCluster', 'PassthroughCluster'],
  );
});

const MESH = `
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, creationTimestamp: '2024-01-01T00:00:00Z'}
spec: {clusterIP: 10.96.0.10, selector: {app: api}, ports: [{name: grpc, port: 9090, targetPort: 19090}, {name: web, port: 8080}]}
---
apiVersion: v1
kind: Service
metadata: {name: api-alias, namespace: shop, creationTimestamp: '2024-02-01T00:00:00Z'}
spec: {clusterIP: 10.96.0.11, selector: {app: api}, ports: [{name: grpc-alt, port: 9090, targetPort: 19090}]}
---
apiVersion: v1
kind: Pod
metadata: {name: api-0, namespace: shop, labels: {app: api}}
spec: {containers: [{name: a, ports: [{containerPort: 19090}, {containerPort: 8080}]}]}
status: {podIP: 10.0.0.7, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: api, namespace: shop}
spec:
  host: api
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 50, connectTimeout: 3s, tcpKeepalive: {time: 600s, interval: 75s, probes: 9}}
      http: {idleTimeout: 30s, maxRequestsPerConnection: 10}
`;

test('inbound clusters list every service of the port, take the DestinationRule pool, and speak HTTP/2 for gRPC', () => {
  const push = pushOf(MESH);
  const inbound = buildInboundClusters(push, proxyOf(push, 'api-0'));
  assert.deepEqual(
    inbound.map((c) => c['name']),
    ['inbound|8080||', 'inbound|19090||'],
  );
  const grpc = byName(inbound, 'inbound|19090||');
  assert.deepEqual((grpc['metadata'] as { filterMetadata: { istio: Json } }).filterMetadata.istio, {
    config: '/apis/networking.istio.io/v1alpha3/namespaces/shop/destination-rule/api',
    services: [
      { host: 'api.shop.svc.cluster.local', name: 'api', namespace: 'shop' },
      { host: 'api-alias.shop.svc.cluster.local', name: 'api-alias', namespace: 'shop' },
    ],
  });
  assert.equal(grpc['connectTimeout'], '3s');
  assert.equal(((grpc['circuitBreakers'] as Json)['thresholds'] as Json[])[0]?.['maxConnections'], 50);
  assert.deepEqual(grpc['upstreamConnectionOptions'], {
    tcpKeepalive: { keepaliveProbes: 9, keepaliveTime: 600, keepaliveInterval: 75 },
  });
  assert.deepEqual(grpc['typedExtensionProtocolOptions'], {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      commonHttpProtocolOptions: { idleTimeout: '30s', maxRequestsPerConnection: 10 },
      explicitHttpConfig: { http2ProtocolOptions: {} },
    },
  });
  // An unnamed (sniffed) port: the upstream speaks whatever the client spoke.
  const web = byName(inbound, 'inbound|8080||');
  const options = (web['typedExtensionProtocolOptions'] as Json)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ] as Json;
  assert.deepEqual(options['useDownstreamProtocolConfig'], {
    httpProtocolOptions: {},
    http2ProtocolOptions: {},
  });
  assertRoundTrips(inbound);
});

test('outbound clusters: gRPC ports are HTTP/2, sniffed ports use the downstream protocol on sidecars only', () => {
  const push = pushOf(MESH);
  const sidecar = buildProxyClusters(push, proxyOf(push, 'api-0'));
  const grpc = byName(sidecar, 'outbound|9090||api.shop.svc.cluster.local');
  const grpcOptions = (grpc['typedExtensionProtocolOptions'] as Json)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ] as Json;
  assert.deepEqual(grpcOptions['explicitHttpConfig'], { http2ProtocolOptions: {} });
  const web = byName(sidecar, 'outbound|8080||api.shop.svc.cluster.local');
  const webOptions = (web['typedExtensionProtocolOptions'] as Json)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ] as Json;
  assert.ok(webOptions['useDownstreamProtocolConfig']);
  const gatewayView = buildOutboundClusters(push.registry, push.snapshot, {
    type: 'router',
    namespace: 'shop',
  });
  const gwWeb = byName(gatewayView, 'outbound|8080||api.shop.svc.cluster.local');
  const gwOptions = (gwWeb['typedExtensionProtocolOptions'] as Json)[
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions'
  ] as Json;
  // Only the DR's HTTP settings; Istio fills in HTTP/1.1 as the upstream protocol.
  assert.deepEqual(gwOptions['explicitHttpConfig'], { httpProtocolOptions: {} });
  assert.equal(gwOptions['useDownstreamProtocolConfig'], undefined);
  assertRoundTrips([...sidecar, ...gatewayView]);
});

test('NONE capture has no inbound clusters; IPv6 proxies bind ::6 and get the IPv6 passthrough cluster', () => {
  const push = pushOf(MESH);
  const base = proxyOf(push, 'api-0');
  const none = proxyFromNode(base.id, { ...base.metadata, INTERCEPTION_MODE: 'NONE' });
  assert.deepEqual(buildInboundClusters(push, none), []);
  const v6 = proxyFromNode('sidecar~fd00::7~api-0.shop~shop.svc.cluster.local', {
    ...base.metadata,
    INSTANCE_IPS: 'fd00::7',
  });
  const clusters = buildProxyClusters(push, v6);
  const names = clusters.map((c) => String(c['name']));
  assert.ok(names.includes('InboundPassthroughClusterIpv6'));
  assert.ok(!names.includes('InboundPassthroughClusterIpv4'));
  assert.deepEqual(byName(clusters, 'InboundPassthroughClusterIpv6')['upstreamBindConfig'], {
    sourceAddress: { address: '::6', portValue: 0 },
  });
  assertRoundTrips(clusters);
});

test('AUTO_PASSTHROUGH gateways get SNI-DNAT clusters without TLS, one per port and subset', async () => {
  const push = await labPush(`
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: cross-network, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
    - hosts: ['*.local']
      port: {number: 15443, name: tls, protocol: TLS}
      tls: {mode: AUTO_PASSTHROUGH}
`);
  const clusters = buildProxyClusters(push, proxyOf(push, 'ingressgateway', 'router'));
  const sni = clusters.filter((c) => String(c['name']).startsWith('outbound_.'));
  assert.ok(sni.length > 0);
  const v1 = byName(sni, 'outbound_.80_.version-v1_.catalog.istioinaction.svc.cluster.local');
  assert.equal(v1['type'], 'EDS');
  assert.equal(
    (v1['edsClusterConfig'] as Json)['serviceName'],
    'outbound_.80_.version-v1_.catalog.istioinaction.svc.cluster.local',
  );
  assert.equal(v1['transportSocketMatches'], undefined);
  assert.equal(v1['transportSocket'], undefined);
  assert.ok(clusters.findIndex((c) => c['name'] === 'BlackHoleCluster') < clusters.indexOf(v1));
  assertRoundTrips(clusters);
});

test('services without ports or with only UDP ports produce no clusters and nothing throws', () => {
  const push = pushOf(`
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: shop}
spec: {clusterIP: 10.96.0.53, selector: {app: dns}, ports: [{name: dns, port: 53, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: shop}
spec: {selector: {app: dns}}
---
apiVersion: v1
kind: Pod
metadata: {name: dns-0, namespace: shop, labels: {app: dns}}
spec: {containers: [{name: d, ports: [{containerPort: 53, protocol: UDP}]}]}
status: {podIP: 10.0.0.53}
`);
  const proxy = proxyOf(push, 'dns-0');
  const clusters = buildProxyClusters(push, proxy);
  assert.ok(!clusters.some((c) => String(c['name']).startsWith('outbound|53|')));
  assertRoundTrips(clusters);
});
