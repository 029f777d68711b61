import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, Proxy, PushContext } from '../src/xds/index.js';
import {
  buildBootstrap,
  buildPushContext,
  buildSidecarListeners,
  proxyForWorkload,
  proxyFromNode,
  roundTrip,
  TYPE,
} from '../src/xds/index.js';
import { ROOT, runSkiff, tempDir } from './helpers.js';

async function labPush(): Promise<PushContext> {
  const loaded = await loadPaths(['base', 'routing'].map((d) => join(ROOT, 'examples', 'lab', d)));
  assert.deepEqual(loaded.errors, []);
  return buildPushContext(new ConfigSnapshot(loaded.resources));
}

function pushOf(yaml: string, mesh?: Record<string, unknown>): PushContext {
  const snapshot = new ConfigSnapshot(parseManifests(yaml, 'test.yaml').resources);
  if (mesh) Object.assign(snapshot.mesh, mesh);
  return buildPushContext(snapshot);
}

function sidecarOf(push: PushContext, podName: string): Proxy {
  const w = push.registry.workloads().find((x) => x.name === podName);
  assert.ok(w, `no workload ${podName}`);
  return proxyForWorkload(w);
}

function named(listeners: Json[], name: string): Json {
  const l = listeners.find((x) => x['name'] === name);
  assert.ok(l, `no listener ${name}; have ${listeners.map((x) => String(x['name'])).join(', ')}`);
  return l;
}

function chains(l: Json): Json[] {
  return l['filterChains'] as Json[];
}

function filters(chain: Json): Json[] {
  return chain['filters'] as Json[];
}

function typed(filter: Json | undefined): Json {
  assert.ok(filter);
  return filter['typedConfig'] as Json;
}

function names(list: Json[]): string[] {
  return list.map((x) => String(x['name']));
}

function assertRoundTrips(listeners: Json[]): void {
  for (const l of listeners) {
    const { lost, json } = roundTrip(TYPE.Listener, l);
    assert.deepEqual(lost, [], String(l['name']));
    assert.deepEqual(json, l, String(l['name']));
  }
}

const HTTP_FILTERS_OUTBOUND = [
  'istio.metadata_exchange',
  'envoy.filters.http.grpc_stats',
  'istio.alpn',
  'envoy.filters.http.fault',
  'envoy.filters.http.cors',
  'envoy.filters.http.router',
];

test('the lab catalog sidecar has the outbound port listeners, then virtualOutbound, then virtualInbound', async () => {
  const push = await labPush();
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'catalog-offline-0'));
  assert.deepEqual(names(listeners), [
    '0.0.0.0_443',
    '0.0.0.0_80',
    '0.0.0.0_15021',
    'virtualOutbound',
    'virtualInbound',
  ]);
  assertRoundTrips(listeners);
});

test('an HTTP service port shares 0.0.0.0_<port>: sniffed HTTP chain with RDS <port>, passthrough default', async () => {
  const push = await labPush();
  const l = named(buildSidecarListeners(push, sidecarOf(push, 'catalog-offline-0')), '0.0.0.0_80');
  assert.deepEqual(l['address'], { socketAddress: { address: '0.0.0.0', portValue: 80 } });
  assert.equal(l['trafficDirection'], 'OUTBOUND');
  assert.equal(l['bindToPort'], false);
  assert.deepEqual(names(l['listenerFilters'] as Json[]), [
    'envoy.filters.listener.tls_inspector',
    'envoy.filters.listener.http_inspector',
  ]);
  assert.equal(l['listenerFiltersTimeout'], '0s');
  assert.equal(l['continueOnListenerFiltersTimeout'], true);
  const [chain] = chains(l);
  assert.ok(chain);
  assert.deepEqual(chain['filterChainMatch'], {
    transportProtocol: 'raw_buffer',
    applicationProtocols: ['http/1.1', 'h2c'],
  });
  const hcm = typed(filters(chain)[0]);
  assert.equal(hcm['statPrefix'], 'outbound_0.0.0.0_80');
  assert.deepEqual(hcm['rds'], {
    configSource: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
    routeConfigName: '80',
  });
  assert.equal(hcm['useRemoteAddress'], false);
  assert.equal(hcm['streamIdleTimeout'], '0s');
  assert.equal(hcm['normalizePath'], true);
  assert.equal(hcm['pathWithEscapedSlashesAction'], 'KEEP_UNCHANGED');
  assert.deepEqual(hcm['upgradeConfigs'], [{ upgradeType: 'websocket' }]);
  assert.deepEqual(names(hcm['httpFilters'] as Json[]), HTTP_FILTERS_OUTBOUND);
  assert.deepEqual(hcm['requestIdExtension'], {
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig',
      useRequestIdForTraceSampling: true,
    },
  });
  const tracing = hcm['tracing'] as Json;
  assert.deepEqual(tracing['randomSampling'], { value: 1 });
  assert.deepEqual(
    (tracing['customTags'] as Json[]).map((t) => t['tag']),
    [
      'istio.authorization.dry_run.allow_policy.name',
      'istio.authorization.dry_run.allow_policy.result',
      'istio.authorization.dry_run.deny_policy.name',
      'istio.authorization.dry_run.deny_policy.result',
      'istio.canonical_revision',
      'istio.canonical_service',
      'istio.mesh_id',
      'istio.namespace',
    ],
  );
  assert.deepEqual((tracing['customTags'] as Json[])[7], {
    tag: 'istio.namespace',
    literal: { value: 'istioinaction' },
  });
  assert.deepEqual(l['defaultFilterChain'], {
    filterChainMatch: {},
    filters: [
      {
        name: 'envoy.filters.network.tcp_proxy',
        typedConfig: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
          statPrefix: 'PassthroughCluster',
          cluster: 'PassthroughCluster',
        },
      },
    ],
    name: 'PassthroughFilterChain',
  });
});

test('virtualOutbound sends redirected traffic to PassthroughCluster and blackholes 15001 itself', async () => {
  const push = await labPush();
  const l = named(buildSidecarListeners(push, sidecarOf(push, 'catalog-offline-0')), 'virtualOutbound');
  const tcp = (cluster: string): Json => ({
    name: 'envoy.filters.network.tcp_proxy',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      statPrefix: cluster,
      cluster,
    },
  });
  assert.deepEqual(l, {
    name: 'virtualOutbound',
    address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
    useOriginalDst: true,
    filterChains: [
      {
        name: 'virtualOutbound-blackhole',
        filterChainMatch: { destinationPort: 15001 },
        filters: [tcp('BlackHoleCluster')],
      },
      { name: 'virtualOutbound-catchall-tcp', filters: [tcp('PassthroughCluster')] },
    ],
    trafficDirection: 'OUTBOUND',
  });
});

test('virtualInbound: blackhole, PERMISSIVE passthrough chains, then mTLS and plaintext chains per workload port', async () => {
  const push = await labPush();
  const l = named(buildSidecarListeners(push, sidecarOf(push, 'catalog-offline-0')), 'virtualInbound');
  assert.deepEqual(l['address'], { socketAddress: { address: '0.0.0.0', portValue: 15006 } });
  assert.equal(l['trafficDirection'], 'INBOUND');
  assert.equal(l['listenerFiltersTimeout'], '0s');
  assert.equal(l['continueOnListenerFiltersTimeout'], true);
  const cs = chains(l);
  assert.deepEqual(names(cs), [
    'virtualInbound-blackhole',
    'virtualInbound-catchall-http',
    'virtualInbound-catchall-http',
    'virtualInbound',
    'virtualInbound',
    'virtualInbound',
    '0.0.0.0_3000',
    '0.0.0.0_3000',
  ]);
  const all = { prefixRanges: [{ addressPrefix: '0.0.0.0', prefixLen: 0 }] };
  assert.deepEqual(
    cs.map((c) => c['filterChainMatch']),
    [
      { destinationPort: 15006 },
      {
        applicationProtocols: ['istio-http/1.0', 'istio-http/1.1', 'istio-h2'],
        transportProtocol: 'tls',
        ...all,
      },
      { applicationProtocols: ['http/1.1', 'h2c'], transportProtocol: 'raw_buffer', ...all },
      { applicationProtocols: ['istio-peer-exchange', 'istio'], transportProtocol: 'tls', ...all },
      { transportProtocol: 'raw_buffer', ...all },
      { transportProtocol: 'tls', ...all },
      {
        applicationProtocols: [
          'istio',
          'istio-peer-exchange',
          'istio-http/1.0',
          'istio-http/1.1',
          'istio-h2',
        ],
        transportProtocol: 'tls',
        destinationPort: 3000,
      },
      { transportProtocol: 'raw_buffer', destinationPort: 3000 },
    ],
  );
  // Only the chains matching Istio mTLS ALPNs terminate TLS.
  assert.deepEqual(
    cs.map((c) => c['transportSocket'] !== undefined),
    [false, true, false, true, false, false, true, false],
  );
  const mtlsHttp = ((cs[6]?.['transportSocket'] as Json)['typedConfig'] as Json)['commonTlsContext'] as Json;
  assert.deepEqual(mtlsHttp['alpnProtocols'], ['h2', 'http/1.1']);
  assert.deepEqual(mtlsHttp['combinedValidationContext'], {
    defaultValidationContext: { matchSubjectAltNames: [{ prefix: 'spiffe://cluster.local/' }] },
    validationContextSdsSecretConfig: {
      name: 'ROOTCA',
      sdsConfig: {
        apiConfigSource: {
          apiType: 'GRPC',
          transportApiVersion: 'V3',
          grpcServices: [{ envoyGrpc: { clusterName: 'sds-grpc' } }],
          setNodeOnFirstMessageOnly: true,
        },
        initialFetchTimeout: '0s',
        resourceApiVersion: 'V3',
      },
    },
  });
  const mtlsTcp = ((cs[3]?.['transportSocket'] as Json)['typedConfig'] as Json)['commonTlsContext'] as Json;
  assert.deepEqual(mtlsTcp['alpnProtocols'], ['istio-peer-exchange', 'h2', 'http/1.1']);
  // The service chain: istio_authn, metadata exchange, then an HCM with the inline inbound route.
  const svc = cs[7];
  assert.ok(svc);
  assert.deepEqual(names(filters(svc)), [
    'istio_authn',
    'istio.metadata_exchange',
    'envoy.filters.network.http_connection_manager',
  ]);
  const hcm = typed(filters(svc)[2]);
  assert.equal(hcm['statPrefix'], 'inbound_0.0.0.0_3000');
  assert.equal(hcm['forwardClientCertDetails'], 'APPEND_FORWARD');
  assert.deepEqual(hcm['setCurrentClientCertDetails'], { subject: true, uri: true, dns: true });
  assert.equal(hcm['serverName'], 'istio-envoy');
  assert.deepEqual(hcm['routeConfig'], {
    name: 'inbound|3000||',
    virtualHosts: [
      {
        name: 'inbound|http|80',
        domains: ['*'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              cluster: 'inbound|3000||',
              timeout: '0s',
              maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
            },
            decorator: { operation: 'catalog.istioinaction.svc.cluster.local:80/*' },
          },
        ],
      },
    ],
    validateClusters: false,
  });
  // Inbound HCMs have no ALPN override filter.
  assert.ok(!names(hcm['httpFilters'] as Json[]).includes('istio.alpn'));
  const httpPassthrough = typed(filters(cs[2] ?? {}).at(-1));
  assert.equal(httpPassthrough['statPrefix'], 'InboundPassthroughClusterIpv4');
  const passthroughRoutes = httpPassthrough['routeConfig'] as Json;
  assert.equal(passthroughRoutes['name'], 'InboundPassthroughClusterIpv4');
  const [passthroughHost] = passthroughRoutes['virtualHosts'] as Json[];
  assert.equal(passthroughHost?.['name'], 'inbound|http|0');
  assert.deepEqual((passthroughHost?.['routes'] as Json[])[0]?.['decorator'], { operation: ':0/*' });
  const tcpPassthrough = typed(filters(cs[4] ?? {}).at(-1));
  assert.equal(tcpPassthrough['cluster'], 'InboundPassthroughClusterIpv4');
  assert.equal(tcpPassthrough['statPrefix'], 'InboundPassthroughClusterIpv4');
  assert.deepEqual(l['listenerFilters'], [
    {
      name: 'envoy.filters.listener.original_dst',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
      },
    },
    {
      name: 'envoy.filters.listener.tls_inspector',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
      },
      filterDisabled: { destinationPortRange: { start: 15006, end: 15007 } },
    },
    {
      name: 'envoy.filters.listener.http_inspector',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
      },
      filterDisabled: {
        orMatch: {
          rules: [
            { destinationPortRange: { start: 3000, end: 3001 } },
            { destinationPortRange: { start: 15006, end: 15007 } },
          ],
        },
      },
    },
  ]);
});

test('skiff proxy-config listener renders the generated sidecar listeners as istioctl 1.17 does', async () => {
  const push = await labPush();
  const proxy = sidecarOf(push, 'catalog-offline-0');
  const listeners = buildSidecarListeners(push, proxy);
  const bootstrap = buildBootstrap(proxy);
  const staticResources = bootstrap['staticResources'] as Json;
  const asListener = (l: Json): Json => ({ '@type': TYPE.Listener, ...l });
  const dump = {
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        staticListeners: (staticResources['listeners'] as Json[]).map((l) => ({ listener: asListener(l) })),
        dynamicListeners: listeners.map((l) => ({
          name: l['name'],
          activeState: { listener: asListener(l) },
        })),
      },
    ],
  };
  const file = join(tempDir(), 'dump.json');
  writeFileSync(file, JSON.stringify(dump));
  const run = await runSkiff(['proxy-config', 'listener', '-f', file, '--port', '15006']);
  assert.equal(run.code, 0, run.stderr);
  const rows = run.stdout.split('\n').map((line) => line.replace(/\s+/g, ' ').trim());
  assert.deepEqual(rows.slice(0, 9), [
    'ADDRESS PORT MATCH DESTINATION',
    '0.0.0.0 15006 Addr: *:15006 Non-HTTP/Non-TCP',
    '0.0.0.0 15006 Trans: tls; App: istio-http/1.0,istio-http/1.1,istio-h2; Addr: 0.0.0.0/0 InboundPassthroughClusterIpv4',
    '0.0.0.0 15006 Trans: raw_buffer; App: http/1.1,h2c; Addr: 0.0.0.0/0 InboundPassthroughClusterIpv4',
    '0.0.0.0 15006 Trans: tls; App: TCP TLS; Addr: 0.0.0.0/0 InboundPassthroughClusterIpv4',
    '0.0.0.0 15006 Trans: raw_buffer; Addr: 0.0.0.0/0 InboundPassthroughClusterIpv4',
    '0.0.0.0 15006 Trans: tls; Addr: 0.0.0.0/0 InboundPassthroughClusterIpv4',
    '0.0.0.0 15006 Trans: tls; App: istio,istio-peer-exchange,istio-http/1.0,istio-http/1.1,istio-h2; Addr: *:3000 Cluster: inbound|3000||',
    '0.0.0.0 15006 Trans: raw_buffer; Addr: *:3000 Cluster: inbound|3000||',
  ]);
  const all = await runSkiff(['proxy-config', 'listener', '-f', file]);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /0\.0\.0\.0 +80 +Trans: raw_buffer; App: http\/1\.1,h2c +Route: 80\n/);
  assert.match(all.stdout, /0\.0\.0\.0 +15090 +ALL +Inline Route: \/stats\/prometheus\*\n/);
  assert.match(all.stdout, /0\.0\.0\.0 +15001 +ALL +PassthroughCluster\n/);
});

const MESH = `
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec: {clusterIP: 10.96.0.20, selector: {app: db}, ports: [{name: tcp-db, port: 3306}]}
---
apiVersion: v1
kind: Service
metadata: {name: grafana, namespace: shop}
spec: {clusterIP: 10.96.0.30, selector: {app: grafana}, ports: [{name: service, port: 3000}]}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec: {clusterIP: 10.96.0.40, selector: {app: reviews}, ports: [{name: http, port: 9080}, {name: grpc-api, port: 9090}, {name: udp-dns, port: 53, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: kafka, namespace: shop}
spec: {clusterIP: None, selector: {app: kafka}, ports: [{name: tcp-broker, port: 9092}]}
---
apiVersion: v1
kind: Pod
metadata: {name: kafka-0, namespace: shop, labels: {app: kafka}}
spec: {containers: [{name: k, ports: [{containerPort: 9092}]}]}
status: {podIP: 10.0.0.10, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: v1
kind: Pod
metadata: {name: kafka-1, namespace: shop, labels: {app: kafka}}
spec: {containers: [{name: k, ports: [{containerPort: 9092}]}]}
status: {podIP: 10.0.0.11, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-1, namespace: shop, labels: {app: reviews, version: v1}}
spec: {containers: [{name: r, ports: [{containerPort: 9080}, {containerPort: 9090}]}]}
status: {podIP: 10.0.0.20, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext-a, namespace: shop}
spec: {hosts: [a.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{number: 443, name: https, protocol: HTTPS}]}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext-b, namespace: shop}
spec: {hosts: [b.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{number: 443, name: tls, protocol: TLS}]}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: legacy, namespace: shop}
spec: {hosts: [legacy.internal], addresses: [192.168.0.0/16], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 7000, name: tcp, protocol: TCP}], endpoints: [{address: 192.168.1.1}]}
`;

test('TCP ports get <VIP>_<port>, unknown protocols sniff on the VIP, headless TCP gets one listener per pod', () => {
  const push = pushOf(MESH);
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'reviews-1'));
  assertRoundTrips(listeners);
  const db = named(listeners, '10.96.0.20_3306');
  assert.deepEqual(db, {
    name: '10.96.0.20_3306',
    address: { socketAddress: { address: '10.96.0.20', portValue: 3306 } },
    trafficDirection: 'OUTBOUND',
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typedConfig: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
              statPrefix: 'outbound|3306||db.shop.svc.cluster.local',
              cluster: 'outbound|3306||db.shop.svc.cluster.local',
            },
          },
        ],
      },
    ],
    bindToPort: false,
  });
  const grafana = named(listeners, '10.96.0.30_3000');
  const [httpChain] = chains(grafana);
  assert.equal(chains(grafana).length, 1);
  assert.deepEqual(httpChain?.['filterChainMatch'], {
    transportProtocol: 'raw_buffer',
    applicationProtocols: ['http/1.1', 'h2c'],
  });
  assert.equal(
    (typed(filters(httpChain ?? {})[0])['rds'] as Json)['routeConfigName'],
    'grafana.shop.svc.cluster.local:3000',
  );
  const fallback = grafana['defaultFilterChain'] as Json;
  assert.equal(typed(filters(fallback)[0])['cluster'], 'outbound|3000||grafana.shop.svc.cluster.local');
  assert.equal(grafana['listenerFiltersTimeout'], '0s');
  // Headless: a listener per pod address, none for the wildcard.
  assert.ok(listeners.some((l) => l['name'] === '10.0.0.10_9092'));
  assert.ok(listeners.some((l) => l['name'] === '10.0.0.11_9092'));
  assert.ok(!listeners.some((l) => l['name'] === '0.0.0.0_9092'));
  // gRPC is HTTP: wildcard listener with RDS 9090; UDP gets no listener.
  assert.equal(
    (typed(filters(chains(named(listeners, '0.0.0.0_9090'))[0] ?? {})[0])['rds'] as Json)['routeConfigName'],
    '9090',
  );
  assert.ok(!listeners.some((l) => String(l['name']).endsWith('_53')));
  // TCP listeners come before HTTP ones.
  const order = names(listeners);
  assert.ok(order.indexOf('10.96.0.20_3306') < order.indexOf('0.0.0.0_9080'));
});

test('TLS services without a VIP share 0.0.0.0_<port> by SNI; CIDR addresses match prefix ranges', () => {
  const push = pushOf(MESH);
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'reviews-1'));
  const tls = named(listeners, '0.0.0.0_443');
  assert.deepEqual(
    chains(tls).map((c) => c['filterChainMatch']),
    [{ serverNames: ['a.example.com'] }, { serverNames: ['b.example.com'] }],
  );
  assert.deepEqual(
    chains(tls).map((c) => typed(filters(c)[0])['cluster']),
    ['outbound|443||a.example.com', 'outbound|443||b.example.com'],
  );
  assert.deepEqual(names(tls['listenerFilters'] as Json[]), ['envoy.filters.listener.tls_inspector']);
  assert.equal((tls['defaultFilterChain'] as Json)['name'], 'PassthroughFilterChain');
  assert.equal(tls['listenerFiltersTimeout'], undefined, 'no HTTP inspector, no timeout');
  const legacy = named(listeners, '0.0.0.0_7000');
  assert.deepEqual(chains(legacy)[0]?.['filterChainMatch'], {
    prefixRanges: [{ addressPrefix: '192.168.0.0', prefixLen: 16 }],
  });
});

test('VirtualService tcp routes pick the clusters, weighted ones with the VirtualService as stat prefix', () => {
  const push = pushOf(`${MESH}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: db-split, namespace: shop}
spec:
  hosts: [db]
  tcp:
    - route:
        - destination: {host: db, subset: a}
          weight: 80
        - destination: {host: db, subset: b}
          weight: 20
`);
  const db = named(buildSidecarListeners(push, sidecarOf(push, 'reviews-1')), '10.96.0.20_3306');
  const [chain] = chains(db);
  assert.ok(chain);
  assert.deepEqual(chain['metadata'], {
    filterMetadata: {
      istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/shop/virtual-service/db-split' },
    },
  });
  const tcp = typed(filters(chain)[0]);
  assert.equal(tcp['statPrefix'], 'db-split.shop');
  assert.deepEqual(tcp['weightedClusters'], {
    clusters: [
      { name: 'outbound|3306|a|db.shop.svc.cluster.local', weight: 80 },
      { name: 'outbound|3306|b|db.shop.svc.cluster.local', weight: 20 },
    ],
  });
  assert.deepEqual(roundTrip(TYPE.Listener, db).lost, []);
});

test('REGISTRY_ONLY blackholes unknown destinations on virtualOutbound and in passthrough chains', () => {
  const push = pushOf(MESH, { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'reviews-1'));
  const catchAll = chains(named(listeners, 'virtualOutbound'))[1];
  assert.equal(typed(filters(catchAll ?? {})[0])['cluster'], 'BlackHoleCluster');
  const fallback = named(listeners, '0.0.0.0_9080')['defaultFilterChain'] as Json;
  assert.equal(typed(filters(fallback)[0])['cluster'], 'BlackHoleCluster');
});

test('PeerAuthentication STRICT, DISABLE and port-level modes shape the inbound chains', () => {
  const policies = (spec: string): string => `${MESH}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: p, namespace: shop}
spec:
${spec}`;
  const inbound = (yaml: string): Json[] => {
    const push = pushOf(yaml);
    return chains(named(buildSidecarListeners(push, sidecarOf(push, 'reviews-1')), 'virtualInbound'));
  };
  const strict = inbound(policies('  mtls: {mode: STRICT}'));
  const port9080 = strict.filter((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 9080);
  assert.deepEqual(
    port9080.map((c) => c['filterChainMatch']),
    [{ transportProtocol: 'tls', destinationPort: 9080 }],
  );
  assert.ok(port9080[0]?.['transportSocket']);
  const disabled = inbound(policies('  mtls: {mode: DISABLE}'));
  assert.ok(disabled.every((c) => c['transportSocket'] === undefined));
  assert.deepEqual(
    disabled.filter((c) => c['name'] === 'virtualInbound-catchall-http').map((c) => c['filterChainMatch']),
    [
      {
        applicationProtocols: ['http/1.1', 'h2c'],
        transportProtocol: 'raw_buffer',
        prefixRanges: [{ addressPrefix: '0.0.0.0', prefixLen: 0 }],
      },
    ],
  );
  // A port-level setting for a port no Service declares gets its own passthrough chains.
  const portLevel = inbound(
    policies(
      '  selector: {matchLabels: {app: reviews}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls:\n    "8000": {mode: STRICT}',
    ),
  );
  const extra = portLevel.filter((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 8000);
  assert.deepEqual(names(extra), ['virtualInbound-catchall-http', 'virtualInbound']);
  assert.ok(extra.every((c) => c['transportSocket'] !== undefined));
  // A selector that does not match the workload changes nothing.
  const other = inbound(policies('  selector: {matchLabels: {app: nobody}}\n  mtls: {mode: STRICT}'));
  assert.equal(other.filter((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 9080).length, 2);
});

test('gRPC inbound ports get HTTP/2 options; TCP ports a tcp_proxy to inbound|<port>||', () => {
  const push = pushOf(MESH);
  const cs = chains(named(buildSidecarListeners(push, sidecarOf(push, 'reviews-1')), 'virtualInbound'));
  const grpc = cs.find((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 9090);
  const hcm = typed(filters(grpc ?? {}).at(-1));
  assert.deepEqual(hcm['http2ProtocolOptions'], {});
  const kafkaPush = pushOf(MESH);
  const kafka = chains(
    named(buildSidecarListeners(kafkaPush, sidecarOf(kafkaPush, 'kafka-0')), 'virtualInbound'),
  );
  const tcpChains = kafka.filter((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 9092);
  assert.equal(tcpChains.length, 3);
  for (const c of tcpChains) {
    assert.deepEqual(names(filters(c)), [
      'istio_authn',
      'istio.metadata_exchange',
      'envoy.filters.network.tcp_proxy',
    ]);
    assert.equal(typed(filters(c)[2])['cluster'], 'inbound|9092||');
  }
});

test('capture modes: NONE binds outbound listeners on localhost without virtual listeners; TPROXY is transparent', () => {
  const push = pushOf(MESH);
  const base = sidecarOf(push, 'reviews-1');
  const none = proxyFromNode(base.id, { ...base.metadata, INTERCEPTION_MODE: 'NONE' });
  const listeners = buildSidecarListeners(push, none);
  assert.ok(!listeners.some((l) => l['name'] === 'virtualOutbound' || l['name'] === 'virtualInbound'));
  const http = named(listeners, '127.0.0.1_9080');
  assert.equal(http['bindToPort'], undefined);
  assertRoundTrips(listeners);
  const tproxy = proxyFromNode(base.id, { ...base.metadata, INTERCEPTION_MODE: 'TPROXY' });
  const vi = named(buildSidecarListeners(push, tproxy), 'virtualInbound');
  assert.equal(vi['transparent'], true);
  assert.ok(names(vi['listenerFilters'] as Json[]).includes('envoy.filters.listener.original_src'));
});

test('a Sidecar limits the outbound listeners to the hosts it imports', () => {
  const push = pushOf(`${MESH}
---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: shop}
spec:
  egress:
    - hosts: ['./db.shop.svc.cluster.local']
`);
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'reviews-1'));
  assert.deepEqual(names(listeners), ['10.96.0.20_3306', 'virtualOutbound', 'virtualInbound']);
});

test('mesh access logs and tracing settings reach the HCM and the listeners', () => {
  const push = pushOf(MESH, { accessLogFile: '/dev/stdout', enableTracing: false });
  const listeners = buildSidecarListeners(push, sidecarOf(push, 'reviews-1'));
  const http = named(listeners, '0.0.0.0_9080');
  const hcm = typed(filters(chains(http)[0] ?? {})[0]);
  assert.equal(hcm['tracing'], undefined);
  const [log] = hcm['accessLog'] as Json[];
  assert.equal((log?.['typedConfig'] as Json)['path'], '/dev/stdout');
  assert.match(
    String(
      (((log?.['typedConfig'] as Json)['logFormat'] as Json)['textFormatSource'] as Json)['inlineString'],
    ),
    /^\[%START_TIME%\] "%REQ\(:METHOD\)%.*%ROUTE_NAME%\n$/,
  );
  assert.deepEqual((http['accessLog'] as Json[])[0]?.['filter'], { responseFlagFilter: { flags: ['NR'] } });
  const tcp = typed(filters(chains(named(listeners, '10.96.0.20_3306'))[0] ?? {})[0]);
  assert.equal((tcp['accessLog'] as Json[]).length, 1);
  assertRoundTrips(listeners);
  const json = pushOf(MESH, { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' });
  const jsonHcm = typed(
    filters(
      chains(named(buildSidecarListeners(json, sidecarOf(json, 'reviews-1')), '0.0.0.0_9080'))[0] ?? {},
    )[0],
  );
  const jsonFormat = (((jsonHcm['accessLog'] as Json[])[0]?.['typedConfig'] as Json)['logFormat'] as Json)[
    'jsonFormat'
  ] as Json;
  assert.equal(jsonFormat['upstream_cluster'], '%UPSTREAM_CLUSTER%');
  assert.equal(Object.keys(jsonFormat).length, 24);
});

test('a proxy whose workload is not in the config uses its labels; bad config never throws', () => {
  const push = pushOf(`${MESH}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: broken, namespace: shop}
spec:
  hosts: [db]
  tcp: [7, {route: 'x'}, {match: [{port: 'a'}], route: [{destination: 3}]}, {route: [{destination: {host: db}}, {destination: {host: db}}]}]
  tls: {a: 1}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: weird, namespace: shop}
spec: {mtls: {mode: 42}, portLevelMtls: {abc: {mode: STRICT}, '-1': 3}}
`);
  const proxy = proxyFromNode('sidecar~10.9.9.9~ghost-1.shop~shop.svc.cluster.local', {
    LABELS: { app: 'reviews' },
    POD_PORTS: 'not json',
  });
  const listeners = buildSidecarListeners(push, proxy);
  const inbound = chains(named(listeners, 'virtualInbound'));
  assert.ok(
    inbound.some((c) => (c['filterChainMatch'] as Json)['destinationPort'] === 9080),
    'instances from labels',
  );
  assertRoundTrips(listeners);
  // No workload and no labels: only passthrough chains.
  const bare = proxyFromNode('sidecar~10.9.9.8~ghost-2.other~other.svc.cluster.local', {});
  const bareInbound = chains(named(buildSidecarListeners(push, bare), 'virtualInbound'));
  assert.ok(bareInbound.every((c) => String(c['name']).startsWith('virtualInbound')));
});

test('an empty config still gives a sidecar its virtual listeners', () => {
  const push = buildPushContext(new ConfigSnapshot([] as Resource[]));
  const proxy = proxyFromNode('sidecar~10.0.0.1~a.ns~ns.svc.cluster.local', {});
  assert.deepEqual(names(buildSidecarListeners(push, proxy)), ['virtualOutbound', 'virtualInbound']);
  const off = buildPushContext(new ConfigSnapshot([] as Resource[]));
  Object.assign(off.snapshot.mesh, { proxyListenPort: 0 });
  assert.deepEqual(buildSidecarListeners(off, proxy), []);
});
