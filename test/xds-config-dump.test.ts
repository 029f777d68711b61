import assert from 'node:assert/strict';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, Proxy, ProxyResources } from '../src/xds/index.js';
import {
  CONFIG_DUMP_TYPE,
  TYPE,
  buildBootstrap,
  buildConfigDump,
  buildPushContext,
  convertProtoJsonKeys,
  envoyRoot,
  generateProxyResources,
  lookupMessageType,
  proxyForWorkload,
  snakeFieldName,
  toEnvoyAdminJson,
} from '../src/xds/index.js';
import { runSkiff } from './helpers.js';

const MESH = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: 9080 }]
---
apiVersion: v1
kind: Pod
metadata: { name: reviews-0, namespace: shop, labels: { app: reviews, version: v1 } }
spec:
  containers: [{ name: reviews, ports: [{ containerPort: 9080 }] }, { name: istio-proxy }]
status:
  phase: Running
  podIP: 10.1.0.5
  conditions: [{ type: Ready, status: 'True' }]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec:
  host: reviews.shop.svc.cluster.local
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 10s }
  subsets: [{ name: v1, labels: { version: v1 } }]
---
apiVersion: v1
kind: Pod
metadata: { name: sleep-0, namespace: shop, labels: { app: sleep } }
spec:
  containers: [{ name: sleep }, { name: istio-proxy }]
status: { phase: Running, podIP: 10.1.0.9 }
---
apiVersion: v1
kind: Pod
metadata: { name: ingress-0, namespace: istio-system, labels: { istio: ingressgateway } }
spec:
  containers: [{ name: istio-proxy, ports: [{ containerPort: 8080 }] }]
status: { phase: Running, podIP: 10.1.0.2 }
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: gw, namespace: shop }
spec:
  selector: { istio: ingressgateway }
  servers: [{ hosts: [reviews.example.com], port: { number: 8080, name: http, protocol: HTTP } }]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: reviews, namespace: shop }
spec:
  hosts: [reviews.example.com]
  gateways: [gw]
  http:
    - match: [{ uri: { regex: '/r[0-9]+' }, headers: { x-user: { exact: jason } } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 5 } } }
      route: [{ destination: { host: reviews.shop.svc.cluster.local, subset: v1 } }]
      retries: { attempts: 3, perTryTimeout: 2s }
`;

function proxyNamed(pod: string, type: 'sidecar' | 'router'): { proxy: Proxy; resources: ProxyResources } {
  const push = buildPushContext(new ConfigSnapshot(parseManifests(MESH, 'mesh.yaml').resources));
  const workload = push.registry.workloads().find((w) => w.name === pod);
  assert.ok(workload);
  const proxy = proxyForWorkload(workload, { type });
  return { proxy, resources: generateProxyResources(push, proxy) };
}

const sleepProxy = () => proxyNamed('sleep-0', 'sidecar');

const T0 = '2026-11-25T12:00:00Z';
const OPTS = { versionInfo: `${T0}/7`, lastUpdated: T0 };

/** A bootstrap with the static resources Istio's has (abridged). */
const BOOTSTRAP: Json = {
  node: {
    id: 'sidecar~10.1.0.9~sleep-0.shop~shop.svc.cluster.local',
    metadata: { ISTIO_VERSION: '1.17.8', LABELS: { app: 'sleep', 'security.istio.io/tlsMode': 'istio' } },
    userAgentBuildVersion: {
      version: { majorNumber: 1, minorNumber: 25 },
      metadata: { 'build.type': 'RELEASE' },
    },
  },
  staticResources: {
    clusters: [
      {
        name: 'agent',
        type: 'STATIC',
        connectTimeout: '0.250s',
        loadAssignment: {
          clusterName: 'agent',
          endpoints: [
            {
              lbEndpoints: [
                { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 15020 } } } },
              ],
            },
          ],
        },
      },
    ],
    listeners: [
      { name: '0.0.0.0_15090', address: { socketAddress: { address: '0.0.0.0', portValue: 15090 } } },
    ],
  },
  layeredRuntime: {
    layers: [
      { name: 'global config', staticLayer: { 'overload.global_downstream_max_connections': 2147483647 } },
    ],
  },
};

const types = (dump: Json) => (dump['configs'] as Json[]).map((c) => c['@type']);

test('sections come in Envoy order with their @type; endpoints only with includeEds', () => {
  const { proxy, resources } = sleepProxy();
  const plain = buildConfigDump(proxy, resources, OPTS);
  assert.deepEqual(types(plain), [
    CONFIG_DUMP_TYPE.bootstrap,
    CONFIG_DUMP_TYPE.clusters,
    CONFIG_DUMP_TYPE.listeners,
    CONFIG_DUMP_TYPE.scopedRoutes,
    CONFIG_DUMP_TYPE.routes,
    CONFIG_DUMP_TYPE.secrets,
  ]);
  const eds = buildConfigDump(proxy, resources, { ...OPTS, includeEds: true });
  assert.equal(types(eds)[2], CONFIG_DUMP_TYPE.endpoints);
  assert.equal(types(eds).length, 7);
});

test('dynamic clusters carry version, @type first and lastUpdated; the node stands in for a bootstrap', () => {
  const { proxy, resources } = sleepProxy();
  const dump = buildConfigDump(proxy, resources, OPTS);
  const [boot, clusters] = dump['configs'] as Json[];
  assert.deepEqual((boot?.['bootstrap'] as Json)['node'], {
    id: proxy.id,
    cluster: 'sleep-0.shop',
    metadata: proxy.metadata,
    userAgentName: 'envoy',
  });
  assert.equal(clusters?.['versionInfo'], `${T0}/7`);
  assert.equal(clusters?.['staticClusters'], undefined);
  const entries = clusters?.['dynamicActiveClusters'] as Json[];
  assert.equal(entries.length, resources.clusters.length);
  const first = entries[0] ?? {};
  assert.deepEqual(Object.keys(first), ['versionInfo', 'cluster', 'lastUpdated']);
  assert.deepEqual(Object.keys(first['cluster'] as Json)[0], '@type');
  assert.equal((first['cluster'] as Json)['@type'], TYPE.Cluster);
  // The generated resources are wrapped, not changed.
  assert.equal(resources.clusters[0]?.['@type'], undefined);
});

test('bootstrap static resources become static clusters, listeners and endpoint configs', () => {
  const { proxy, resources } = sleepProxy();
  const dump = buildConfigDump(proxy, resources, { ...OPTS, bootstrap: BOOTSTRAP, includeEds: true });
  const byType = new Map((dump['configs'] as Json[]).map((c) => [c['@type'], c]));
  const statics = byType.get(CONFIG_DUMP_TYPE.clusters)?.['staticClusters'] as Json[];
  assert.deepEqual(
    statics.map((s) => (s['cluster'] as Json)['name']),
    ['agent'],
  );
  const listeners = byType.get(CONFIG_DUMP_TYPE.listeners)?.['staticListeners'] as Json[];
  assert.equal((listeners[0]?.['listener'] as Json)['@type'], TYPE.Listener);
  const eds = byType.get(CONFIG_DUMP_TYPE.endpoints) ?? {};
  const staticEds = eds['staticEndpointConfigs'] as Json[];
  assert.equal((staticEds[0]?.['endpointConfig'] as Json)['clusterName'], 'agent');
  const dynamicNames = (eds['dynamicEndpointConfigs'] as Json[]).map(
    (e) => (e['endpointConfig'] as Json)['clusterName'],
  );
  assert.ok(dynamicNames.includes('outbound|9080|v1|reviews.shop.svc.cluster.local'));
  assert.equal(byType.get(CONFIG_DUMP_TYPE.bootstrap)?.['bootstrap'], BOOTSTRAP);
});

test('snake_case keeps data keys: metadata, Struct layers, socket-match criteria, node metadata', () => {
  const { proxy, resources } = sleepProxy();
  const dump = buildConfigDump(proxy, resources, {
    ...OPTS,
    bootstrap: BOOTSTRAP,
    snakeCase: true,
    includeEds: true,
  });
  const text = JSON.stringify(dump);
  for (const key of [
    'dynamic_active_clusters',
    'last_updated',
    'version_info',
    'static_clusters',
    'port_value',
  ]) {
    assert.ok(text.includes(`"${key}"`), key);
  }
  assert.ok(!/"(dynamicActiveClusters|lastUpdated|versionInfo|connectTimeout|filterMetadata)"/.test(text));
  // Data keys are left alone.
  assert.ok(text.includes('"ISTIO_VERSION":"1.17.8"'));
  assert.ok(text.includes('"security.istio.io/tlsMode":"istio"'));
  assert.ok(text.includes('"build.type":"RELEASE"'));
  assert.ok(text.includes('"overload.global_downstream_max_connections"'));
  assert.ok(text.includes('"match":{"tlsMode":"istio"}'));
  assert.ok(text.includes('"filter_metadata":{"istio":'));
  // The one field whose snake name the generic rule cannot produce.
  assert.ok(text.includes('"consecutive_5xx":3'));
  // And back: camelCase again is the dump as built.
  assert.deepEqual(
    convertProtoJsonKeys(dump, 'camel'),
    buildConfigDump(proxy, resources, { ...OPTS, bootstrap: BOOTSTRAP, includeEds: true }),
  );
});

test('map keys are names, not fields: typedPerFilterConfig, typedFilterMetadata, RBAC policies', () => {
  const json = {
    typedPerFilterConfig: { 'envoy.filters.http.fault': { '@type': 'x', maxActiveFaults: 1 } },
    metadata: { typedFilterMetadata: { someFilter: { '@type': 'y', fooBar: 1 } } },
    rules: { policies: { 'ns[shop]-policy[allowGet]-rule[0]': { permissions: [{ anyRule: true }] } } },
    typedConfig: {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      typeUrl: 'z',
      value: { camelKey: 1 },
    },
  };
  assert.deepEqual(toEnvoyAdminJson(json), {
    typed_per_filter_config: { 'envoy.filters.http.fault': { '@type': 'x', max_active_faults: 1 } },
    metadata: { typed_filter_metadata: { someFilter: { '@type': 'y', foo_bar: 1 } } },
    rules: { policies: { 'ns[shop]-policy[allowGet]-rule[0]': { permissions: [{ any_rule: true }] } } },
    typed_config: {
      '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct',
      type_url: 'z',
      value: { camelKey: 1 },
    },
  });
  // An RBAC MetadataMatcher under `metadata` is a message, not a Struct.
  assert.deepEqual(
    toEnvoyAdminJson({ principal: { metadata: { filter: 'f', value: { stringMatch: { exact: 'a' } } } } }),
    {
      principal: { metadata: { filter: 'f', value: { string_match: { exact: 'a' } } } },
    },
  );
});

test('snakeFieldName inverts the JSON name of every field of the Envoy protos', () => {
  const camel = (s: string) => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
  const wrong: string[] = [];
  let checked = 0;
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type && nested.fullName.startsWith('.envoy.')) {
        for (const f of nested.fieldsArray) {
          checked++;
          if (snakeFieldName(camel(f.name)) !== f.name) wrong.push(`${nested.fullName}.${f.name}`);
        }
      }
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) walk(nested);
    }
  };
  walk(envoyRoot());
  assert.ok(checked > 1000, `checked ${checked} fields`);
  assert.deepEqual(wrong, []);
});

/** Every key of a snake_case message is a field of its type (Any by @type; maps and Structs are data). */
function unknownFields(type: protobuf.Type, json: unknown, path: string, out: string[]): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return;
  const wellKnown = type.fullName.startsWith('.google.protobuf.');
  if (wellKnown) return;
  for (const [key, value] of Object.entries(json)) {
    if (key === '@type') continue;
    const field = type.fields[key];
    if (!field) {
      out.push(`${path}.${key}`);
      continue;
    }
    field.resolve();
    const element = (v: unknown, p: string) => {
      const t = field.resolvedType;
      if (!(t instanceof protobuf.Type)) return;
      if (t.fullName === '.google.protobuf.Any') {
        const inner = lookupMessageType(String((v as Json)['@type'] ?? ''));
        if (inner) unknownFields(inner, v, p, out);
        return;
      }
      unknownFields(t, v, p, out);
    };
    if (field.map) for (const [k, v] of Object.entries(value as Json)) element(v, `${path}.${key}[${k}]`);
    else if (field.repeated) (value as unknown[]).forEach((v, i) => element(v, `${path}.${key}[${i}]`));
    else element(value, `${path}.${key}`);
  }
}

test('snake_case resources use only proto field names (checked against the Envoy protos)', () => {
  const sidecar = sleepProxy().resources;
  const gateway = proxyNamed('ingress-0', 'router').resources;
  assert.ok(gateway.routes.length > 0 && gateway.listeners.length > 0);
  const merged = (k: Exclude<keyof ProxyResources, 'shared'>) => [...sidecar[k], ...gateway[k]];
  const resources: ProxyResources = {
    clusters: merged('clusters'),
    endpoints: merged('endpoints'),
    listeners: merged('listeners'),
    routes: merged('routes'),
    secrets: merged('secrets'),
  };
  const snake = toEnvoyAdminJson(resources) as Record<string, Json[]>;
  const out: string[] = [];
  const kinds: [string, string][] = [
    ['clusters', TYPE.Cluster],
    ['endpoints', TYPE.ClusterLoadAssignment],
    ['listeners', TYPE.Listener],
    ['routes', TYPE.RouteConfiguration],
  ];
  let count = 0;
  for (const [key, typeUrl] of kinds) {
    const type = lookupMessageType(typeUrl);
    assert.ok(type);
    for (const [i, r] of (snake[key] ?? []).entries()) {
      count++;
      unknownFields(type, r, `${key}[${i}]`, out);
    }
  }
  assert.ok(count >= resources.clusters.length);
  assert.deepEqual(out, []);
  // A camelCase key is caught by the same check.
  const caught: string[] = [];
  unknownFields(lookupMessageType(TYPE.Cluster) as protobuf.Type, { connectTimeout: '1s' }, 'c', caught);
  assert.deepEqual(caught, ['c.connectTimeout']);
});

test('a generated bootstrap in snake_case: only Bootstrap fields, node metadata kept as data', () => {
  const { proxy } = sleepProxy();
  const snake = toEnvoyAdminJson(buildBootstrap(proxy)) as Json;
  const type = lookupMessageType('type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap');
  assert.ok(type);
  const out: string[] = [];
  unknownFields(type, snake, 'bootstrap', out);
  assert.deepEqual(out, []);
  const node = snake['node'] as Json;
  assert.equal((node['metadata'] as Json)['ISTIO_VERSION'], '1.17.8');
  assert.ok(Array.isArray((snake['static_resources'] as Json)['clusters']));
});

test('the proxy-config readers read generated dumps, camelCase and snake_case alike', async () => {
  const { proxy, resources } = sleepProxy();
  const camel = JSON.stringify(buildConfigDump(proxy, resources, { ...OPTS, includeEds: true }));
  const snake = JSON.stringify(
    buildConfigDump(proxy, resources, { ...OPTS, includeEds: true, snakeCase: true }),
  );
  const table = await runSkiff(['pc', 'clusters', '-f', '-'], { stdin: camel });
  assert.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trimEnd().split('\n');
  assert.equal(rows.length, resources.clusters.length + 1);
  assert.match(
    table.stdout,
    /reviews\.shop\.svc\.cluster\.local\s+9080\s+v1\s+outbound\s+EDS\s+reviews\.shop/,
  );
  const fromSnake = await runSkiff(['pc', 'clusters', '-f', '-'], { stdin: snake });
  assert.equal(fromSnake.stdout, table.stdout);
  const eds = await runSkiff(['pc', 'endpoints', '-f', '-'], { stdin: snake });
  assert.equal(eds.code, 0, eds.stderr);
  assert.match(
    eds.stdout,
    /10\.1\.0\.5:9080\s+HEALTHY\s+outbound\|9080\|v1\|reviews\.shop\.svc\.cluster\.local/,
  );
  const json = await runSkiff(['pc', 'clusters', '-f', '-', '--subset', 'v1', '-o', 'json'], {
    stdin: snake,
  });
  const fromCamel = await runSkiff(['pc', 'clusters', '-f', '-', '--subset', 'v1', '-o', 'json'], {
    stdin: camel,
  });
  assert.equal(json.stdout, fromCamel.stdout);
  const parsed = JSON.parse(json.stdout) as Json[];
  assert.equal(parsed[0]?.['name'], 'outbound|9080|v1|reviews.shop.svc.cluster.local');
});
