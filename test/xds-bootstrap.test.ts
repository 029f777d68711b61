import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseMeshConfig } from '../src/model/index.js';
import type { Json, Proxy } from '../src/xds/index.js';
import { buildBootstrap, effectiveProxyConfig, proxyFromNode, roundTrip } from '../src/xds/index.js';
import { runSkiff, tempDir } from './helpers.js';

const TYPE_BOOTSTRAP = 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap';

/** The catalog sidecar's node as the seed's /debug/adsz shows it (Istio 1.17.8). */
function catalogProxy(extra: Record<string, unknown> = {}): Proxy {
  return proxyFromNode(
    'sidecar~10.10.0.15~catalog-6cf4b97d-dkbtp.istioinaction~istioinaction.svc.cluster.local',
    {
      ISTIO_VERSION: '1.17.8',
      LABELS: { app: 'catalog', version: 'v1', 'service.istio.io/canonical-name': 'catalog' },
      INSTANCE_IPS: '10.10.0.15',
      NAMESPACE: 'istioinaction',
      WORKLOAD_NAME: 'catalog',
      INTERCEPTION_MODE: 'REDIRECT',
      SERVICE_ACCOUNT: 'catalog',
      MESH_ID: 'cluster.local',
      CLUSTER_ID: 'Kubernetes',
      ...extra,
    },
  );
}

function staticCluster(b: Json, name: string): Json {
  const clusters = (b['staticResources'] as Json)['clusters'] as Json[];
  const c = clusters.find((x) => x['name'] === name);
  assert.ok(c, `no static cluster ${name}`);
  return c;
}

test('the bootstrap node carries the id, the app.namespace cluster and the metadata with PROXY_CONFIG', () => {
  const b = buildBootstrap(catalogProxy());
  const node = b['node'] as Json;
  assert.equal(
    node['id'],
    'sidecar~10.10.0.15~catalog-6cf4b97d-dkbtp.istioinaction~istioinaction.svc.cluster.local',
  );
  assert.equal(node['cluster'], 'catalog.istioinaction');
  assert.deepEqual(node['locality'], {});
  const meta = node['metadata'] as Json;
  assert.deepEqual(Object.keys(meta), [...Object.keys(meta)].sort(), 'metadata keys are sorted');
  assert.equal(meta['ENVOY_STATUS_PORT'], 15021);
  assert.equal(meta['ENVOY_PROMETHEUS_PORT'], 15090);
  assert.equal(meta['MESH_ID'], 'cluster.local');
  // The seed's PROXY_CONFIG for the catalog pod, field for field.
  assert.deepEqual(meta['PROXY_CONFIG'], {
    configPath: './etc/istio/proxy',
    binaryPath: '/usr/local/bin/envoy',
    serviceCluster: 'istio-proxy',
    drainDuration: '45s',
    discoveryAddress: 'istiod.istio-system.svc:15012',
    proxyAdminPort: 15000,
    controlPlaneAuthPolicy: 'MUTUAL_TLS',
    statNameLength: 189,
    concurrency: 2,
    tracing: { zipkin: { address: 'zipkin.istio-system:9411' } },
    statusPort: 15020,
    terminationDrainDuration: '5s',
  });
});

test('static clusters: prometheus_stats, agent, sds-grpc, xds-grpc and zipkin as envoy_bootstrap.json writes them', () => {
  const b = buildBootstrap(catalogProxy());
  const clusters = ((b['staticResources'] as Json)['clusters'] as Json[]).map((c) => c['name']);
  assert.deepEqual(clusters, ['prometheus_stats', 'agent', 'sds-grpc', 'xds-grpc', 'zipkin']);
  assert.deepEqual(staticCluster(b, 'prometheus_stats'), {
    name: 'prometheus_stats',
    type: 'STATIC',
    connectTimeout: '0.250s',
    loadAssignment: {
      clusterName: 'prometheus_stats',
      endpoints: [
        {
          lbEndpoints: [
            { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 15000 } } } },
          ],
        },
      ],
    },
  });
  const h2 = {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicitHttpConfig: { http2ProtocolOptions: {} },
    },
  };
  assert.deepEqual(staticCluster(b, 'sds-grpc'), {
    name: 'sds-grpc',
    type: 'STATIC',
    connectTimeout: '1s',
    loadAssignment: {
      clusterName: 'sds-grpc',
      endpoints: [
        {
          lbEndpoints: [
            { endpoint: { address: { pipe: { path: './var/run/secrets/workload-spiffe-uds/socket' } } } },
          ],
        },
      ],
    },
    typedExtensionProtocolOptions: h2,
  });
  assert.deepEqual(staticCluster(b, 'xds-grpc'), {
    name: 'xds-grpc',
    type: 'STATIC',
    connectTimeout: '1s',
    loadAssignment: {
      clusterName: 'xds-grpc',
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { pipe: { path: './etc/istio/proxy/XDS' } } } }] }],
    },
    circuitBreakers: {
      thresholds: [
        { maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 },
        { priority: 'HIGH', maxConnections: 100000, maxPendingRequests: 100000, maxRequests: 100000 },
      ],
    },
    upstreamConnectionOptions: { tcpKeepalive: { keepaliveTime: 300 } },
    maxRequestsPerConnection: 1,
    typedExtensionProtocolOptions: h2,
  });
  const zipkin = staticCluster(b, 'zipkin');
  assert.equal(zipkin['type'], 'STRICT_DNS');
  assert.equal(zipkin['dnsLookupFamily'], 'V4_ONLY');
  assert.deepEqual(
    (
      (((zipkin['loadAssignment'] as Json)['endpoints'] as Json[])[0]?.['lbEndpoints'] as Json[])[0]?.[
        'endpoint'
      ] as Json
    )['address'],
    { socketAddress: { address: 'zipkin.istio-system', portValue: 9411 } },
  );
  assert.equal(((b['tracing'] as Json)['http'] as Json)['name'], 'envoy.tracers.zipkin');
});

test('ADS over xds-grpc, the admin endpoint, the runtime flags and the 15090/15021 listeners', () => {
  const b = buildBootstrap(catalogProxy());
  assert.deepEqual(b['dynamicResources'], {
    ldsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
    cdsConfig: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
    adsConfig: {
      apiType: 'GRPC',
      transportApiVersion: 'V3',
      grpcServices: [{ envoyGrpc: { clusterName: 'xds-grpc' } }],
      setNodeOnFirstMessageOnly: true,
    },
  });
  assert.deepEqual((b['admin'] as Json)['address'], {
    socketAddress: { address: '127.0.0.1', portValue: 15000 },
  });
  const layers = (b['layeredRuntime'] as Json)['layers'] as Json[];
  assert.deepEqual(layers[0]?.['staticLayer'], {
    'envoy.deprecated_features:envoy.config.listener.v3.Listener.hidden_envoy_deprecated_use_original_dst':
      'true',
    'envoy.reloadable_features.http_reject_path_with_fragment': 'false',
    'envoy.reloadable_features.no_extension_lookup_by_name': 'false',
    'overload.global_downstream_max_connections': '2147483647',
    're2.max_program_size.error_level': '32768',
  });
  assert.deepEqual(layers[1], { name: 'admin', adminLayer: {} });
  const listeners = (b['staticResources'] as Json)['listeners'] as Json[];
  const summary = listeners.map((l) => {
    const hcm = ((l['filterChains'] as Json[])[0]?.['filters'] as Json[])[0]?.['typedConfig'] as Json;
    const vh = ((hcm['routeConfig'] as Json)['virtualHosts'] as Json[])[0] as Json;
    const route = (vh['routes'] as Json[])[0] as Json;
    return [
      ((l['address'] as Json)['socketAddress'] as Json)['portValue'],
      hcm['statPrefix'],
      route['match'],
      route['route'],
    ];
  });
  assert.deepEqual(summary, [
    [15090, 'stats', { prefix: '/stats/prometheus' }, { cluster: 'prometheus_stats' }],
    [15021, 'agent', { prefix: '/healthz/ready' }, { cluster: 'agent' }],
  ]);
  const patterns = (((b['statsConfig'] as Json)['statsMatcher'] as Json)['inclusionList'] as Json)[
    'patterns'
  ] as Json[];
  assert.deepEqual(patterns, [
    { prefix: 'reporter=' },
    { prefix: 'cluster_manager' },
    { prefix: 'listener_manager' },
    { prefix: 'server' },
    { prefix: 'cluster.xds-grpc' },
    { prefix: 'wasm' },
    { suffix: 'rbac.allowed' },
    { suffix: 'rbac.denied' },
    { suffix: 'shadow_allowed' },
    { suffix: 'shadow_denied' },
    { safeRegex: { regex: 'vhost\\.*\\.route\\.*' } },
    { prefix: 'component' },
    { prefix: 'istio' },
  ]);
  const tags = ((b['statsConfig'] as Json)['statsTags'] as Json[]).map((t) => t['tagName']);
  assert.equal(tags.length, 9 + 29 + 7);
  assert.equal(tags[9], 'reporter');
});

test('the whole bootstrap round-trips through the Envoy Bootstrap proto without losing a field', () => {
  for (const b of [
    buildBootstrap(catalogProxy()),
    buildBootstrap(catalogProxy({ OUTLIER_LOG_PATH: '/dev/stdout' }), {
      deltaXds: true,
      locality: { region: 'r', zone: 'z' },
    }),
    buildBootstrap(proxyFromNode('router~fd00::1~gw-1.istio-system~istio-system.svc.cluster.local', {})),
  ]) {
    const { lost, json } = roundTrip(TYPE_BOOTSTRAP, b);
    assert.deepEqual(lost, []);
    assert.deepEqual(json, b);
  }
});

test('options, mesh defaults, annotations and ProxyConfig values override the defaults', () => {
  const mesh = parseMeshConfig(`
defaultConfig:
  discoveryAddress: skiff-control.skiff-system.svc:15012
  tracing: {}
  extraStatTags: [my_tag]
  runtimeValues: {re2.max_program_size.error_level: '', custom.flag: 'on'}
`);
  const proxy = catalogProxy({
    ANNOTATIONS: { 'sidecar.istio.io/statsInclusionPrefixes': 'upstream_cx,http.{pod_ip}_' },
    ENVOY_STATUS_PORT: 25021,
  });
  const b = buildBootstrap(proxy, {
    mesh,
    adminPort: 25000,
    envoyPrometheusPort: 25090,
    sdsSocketPath: '/tmp/sds.sock',
  });
  const meta = (b['node'] as Json)['metadata'] as Json;
  assert.equal((meta['PROXY_CONFIG'] as Json)['discoveryAddress'], 'skiff-control.skiff-system.svc:15012');
  assert.equal(b['tracing'] as Json | undefined, undefined, 'no Zipkin address, no tracer');
  assert.ok(!((b['staticResources'] as Json)['clusters'] as Json[]).some((c) => c['name'] === 'zipkin'));
  assert.deepEqual((b['admin'] as Json)['address'], {
    socketAddress: { address: '127.0.0.1', portValue: 25000 },
  });
  const ports = ((b['staticResources'] as Json)['listeners'] as Json[]).map(
    (l) => ((l['address'] as Json)['socketAddress'] as Json)['portValue'],
  );
  assert.deepEqual(ports, [25090, 25021]);
  const patterns = (((b['statsConfig'] as Json)['statsMatcher'] as Json)['inclusionList'] as Json)[
    'patterns'
  ] as Json[];
  assert.deepEqual(patterns.slice(0, 4), [
    { prefix: 'reporter=' },
    { prefix: 'upstream_cx' },
    { prefix: 'http.10.10.0.15_' },
    { prefix: 'cluster_manager' },
  ]);
  const tags = ((b['statsConfig'] as Json)['statsTags'] as Json[]).map((t) => t['tagName']);
  assert.ok(tags.includes('my_tag'));
  const runtime = ((b['layeredRuntime'] as Json)['layers'] as Json[])[0]?.['staticLayer'] as Json;
  assert.equal(runtime['re2.max_program_size.error_level'], undefined);
  assert.equal(runtime['custom.flag'], 'on');
  assert.deepEqual(roundTrip(TYPE_BOOTSTRAP, b).lost, []);
  assert.equal(effectiveProxyConfig(proxy, { mesh, discoveryAddress: 'x:1' })['discoveryAddress'], 'x:1');
});

test('bad metadata never throws: unreadable ports and addresses fall back to the defaults', () => {
  const proxy = proxyFromNode('sidecar~10.0.0.1~p.ns~ns.svc.cluster.local', {
    PROXY_CONFIG: {
      proxyAdminPort: 'x',
      statusPort: -1,
      tracing: { zipkin: { address: 'no-port' } },
      runtimeValues: 3,
    },
    ENVOY_PROMETHEUS_PORT: 99999,
    ANNOTATIONS: 'nope',
  });
  const b = buildBootstrap(proxy);
  assert.deepEqual((b['admin'] as Json)['address'], {
    socketAddress: { address: '127.0.0.1', portValue: 15000 },
  });
  assert.equal((b['node'] as Json)['cluster'], 'istio-proxy.ns');
  assert.equal(b['tracing'], undefined);
  assert.deepEqual(roundTrip(TYPE_BOOTSTRAP, b).lost, []);
});

test('skiff proxy-config bootstrap reads the generated bootstrap', async () => {
  const b = buildBootstrap(catalogProxy());
  const dump = {
    configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: b }],
  };
  const file = join(tempDir(), 'dump.json');
  writeFileSync(file, JSON.stringify(dump));
  const run = await runSkiff(['proxy-config', 'bootstrap', '-f', file, '-o', 'json']);
  assert.equal(run.code, 0, run.stderr);
  const printed = JSON.parse(run.stdout) as Json;
  const node = (printed['bootstrap'] as Json)['node'] as Json;
  assert.equal(node['cluster'], 'catalog.istioinaction');
});
