/** The ADS client's pure helpers: Istio node identity, Struct conversion, backoff, resource references. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Backoff,
  DecodeCache,
  SKIFF_ISTIO_VERSION,
  TYPE,
  adsCodecs,
  decodeResources,
  edsServiceName,
  encodeAny,
  listenerRouteNames,
  plainFromStruct,
  proxyFromNode,
  routerNode,
  secretNames,
  sidecarNode,
  structFromPlain,
} from '../src/xds/index.js';

test('sidecarNode builds the Istio node id, service cluster and the metadata istiod reads back', () => {
  const node = sidecarNode({
    ip: '10.10.0.15',
    podName: 'catalog-6cf4b97d-dkbtp',
    namespace: 'istioinaction',
    labels: { app: 'catalog', version: 'v1' },
    serviceAccount: 'catalog',
    podPorts: [{ name: 'http', containerPort: 3000 }],
  });
  assert.equal(
    node.id,
    'sidecar~10.10.0.15~catalog-6cf4b97d-dkbtp.istioinaction~istioinaction.svc.cluster.local',
  );
  assert.equal(node.cluster, 'catalog.istioinaction');
  const md = node.metadata ?? {};
  assert.equal(md['NAMESPACE'], 'istioinaction');
  assert.equal(md['WORKLOAD_NAME'], 'catalog');
  assert.equal(md['ISTIO_VERSION'], SKIFF_ISTIO_VERSION);
  assert.equal(md['CLUSTER_ID'], 'Kubernetes');
  assert.equal(md['INSTANCE_IPS'], '10.10.0.15');
  assert.equal(md['INTERCEPTION_MODE'], 'REDIRECT');
  assert.equal(md['POD_PORTS'], '[{"name":"http","containerPort":3000,"protocol":"TCP"}]');
  assert.equal((md['PROXY_CONFIG'] as Record<string, unknown>)['concurrency'], 2);
  // istiod's side of the same node (the generators' proxy model) reads it back.
  const proxy = proxyFromNode(node.id, md);
  assert.equal(proxy.type, 'sidecar');
  assert.equal(proxy.name, 'catalog-6cf4b97d-dkbtp.istioinaction');
  assert.deepEqual(proxy.labels, { app: 'catalog', version: 'v1' });
  assert.equal(proxy.workloadName, 'catalog');
  assert.deepEqual(proxy.ipAddresses, ['10.10.0.15']);
});

test('routerNode: gateway id, no interception mode or concurrency, cluster from the app label or workload', () => {
  const node = routerNode({
    ip: '10.10.0.7',
    podName: 'istio-ingressgateway-85df6b84b7-md4m2',
    namespace: 'istio-system',
    labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    instanceIps: ['10.10.0.7', 'fd00::7'],
    locality: { region: 'r1', zone: 'z1' },
    extraMetadata: { UNPRIVILEGED_POD: 'true' },
  });
  assert.equal(
    node.id,
    'router~10.10.0.7~istio-ingressgateway-85df6b84b7-md4m2.istio-system~istio-system.svc.cluster.local',
  );
  assert.equal(node.cluster, 'istio-ingressgateway.istio-system');
  const md = node.metadata ?? {};
  assert.equal(md['INTERCEPTION_MODE'], undefined);
  assert.equal((md['PROXY_CONFIG'] as Record<string, unknown>)['concurrency'], undefined);
  assert.equal(md['INSTANCE_IPS'], '10.10.0.7,fd00::7');
  assert.equal(md['WORKLOAD_NAME'], 'istio-ingressgateway');
  assert.equal(md['UNPRIVILEGED_POD'], 'true');
  assert.deepEqual(node.locality, { region: 'r1', zone: 'z1' });
  // Without an app label the workload names the cluster; a pod name without hashes is its own workload.
  assert.equal(routerNode({ ip: '1.1.1.1', podName: 'gw', namespace: 'ns' }).cluster, 'gw.ns');
});

test('structFromPlain / plainFromStruct round-trip metadata through the real Node proto', () => {
  const plain = {
    s: 'x',
    n: 15021,
    b: true,
    z: null,
    list: ['a', 1, false, { k: 'v' }],
    nested: { LABELS: { app: 'catalog' } },
  };
  const { request } = adsCodecs();
  const bytes = request.serialize({
    node: { id: 'n', metadata: structFromPlain(plain) },
    type_url: TYPE.Cluster,
  });
  const back = request.deserialize(bytes);
  assert.deepEqual(plainFromStruct(back.node?.metadata), plain);
  // Values JSON cannot carry are left out rather than crashing; malformed structs read as empty.
  assert.deepEqual(plainFromStruct(structFromPlain({ f: () => 1, u: undefined, ok: 1 } as never)), { ok: 1 });
  assert.deepEqual(plainFromStruct(undefined), {});
  assert.deepEqual(plainFromStruct({ fields: { a: 'not a value' } }), { a: null });
});

test('Backoff doubles its ceiling from the initial delay up to the maximum, jitters below it, and resets', () => {
  const low = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0 });
  const high = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
  const lows = Array.from({ length: 9 }, () => low.next());
  const highs = Array.from({ length: 9 }, () => high.next());
  assert.deepEqual(highs, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.deepEqual(lows, [250, 500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  low.reset();
  assert.equal(low.next(), 250);
  const defaults = new Backoff();
  assert.equal(defaults.ceilingMs(), 500);
  for (let i = 0; i < 100; i++) defaults.next();
  assert.equal(defaults.ceilingMs(), 30_000);
});

test('references: EDS service names, RDS route names and SDS secret names', () => {
  assert.equal(edsServiceName({ name: 'a', type: 'EDS', edsClusterConfig: { serviceName: 'svc' } }), 'svc');
  assert.equal(edsServiceName({ name: 'a', type: 'EDS' }), 'a');
  assert.equal(edsServiceName({ name: 'a', type: 'STRICT_DNS' }), undefined);
  assert.equal(edsServiceName({ name: 'a' }), undefined);
  const hcm = (rds: unknown): unknown => ({
    '@type':
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    ...(rds ? { rds } : { routeConfig: { name: 'inline' } }),
  });
  const listener = {
    name: 'l',
    filterChains: [
      { filters: [{ name: 'hcm', typedConfig: hcm({ routeConfigName: 'b' }) }] },
      { filters: [{ name: 'hcm', typedConfig: hcm({ routeConfigName: 'a' }) }, 'junk'] },
      { filters: [{ name: 'inline', typedConfig: hcm(undefined) }] },
    ],
    defaultFilterChain: { filters: [{ typedConfig: hcm({ routeConfigName: 'b' }) }] },
    apiListener: { apiListener: hcm({ routeConfigName: 'c' }) },
  };
  assert.deepEqual(listenerRouteNames(listener), ['a', 'b', 'c']);
  assert.deepEqual(listenerRouteNames({ filterChains: 'nonsense' }), []);
  const tls = {
    transportSocket: {
      typedConfig: {
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: [{ name: 'default' }],
          combinedValidationContext: { validationContextSdsSecretConfig: { name: 'ROOTCA' } },
        },
      },
    },
  };
  assert.deepEqual(secretNames(tls), ['ROOTCA', 'default']);
  assert.deepEqual(secretNames(tls, 'ads'), [], 'no sdsConfig: not fetched over ADS');
  const viaAds = {
    transportSocket: {
      typedConfig: {
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: [
            { name: 'kubernetes://cert', sdsConfig: { ads: {} } },
            { name: 'agent', sdsConfig: { apiConfigSource: {} } },
          ],
          validationContextSdsSecretConfig: { name: 'self-ca', sdsConfig: { self: {} } },
        },
      },
    },
  };
  assert.deepEqual(secretNames(viaAds, 'ads'), ['kubernetes://cert', 'self-ca']);
  assert.deepEqual(secretNames(viaAds, 'all'), ['agent', 'kubernetes://cert', 'self-ca']);
  assert.deepEqual(secretNames({ transportSocket: 7 }), []);
});

test('decodeResources turns Anys into named proto3 JSON and refuses bad input with a reason', () => {
  const cluster = { name: 'c1', type: 'EDS', connectTimeout: '1s', edsClusterConfig: { serviceName: 'c1' } };
  const [decoded] = decodeResources(TYPE.Cluster, [encodeAny(TYPE.Cluster, cluster)]);
  assert.equal(decoded?.name, 'c1');
  assert.deepEqual(decoded?.resource, cluster);
  const cla = decodeResources(TYPE.ClusterLoadAssignment, [
    encodeAny(TYPE.ClusterLoadAssignment, { clusterName: 'x' }),
  ]);
  assert.equal(cla[0]?.name, 'x');
  assert.throws(
    () => decodeResources(TYPE.Cluster, [{ type_url: TYPE.Cluster, value: Uint8Array.from([0x0a, 0x05]) }]),
    /resource index 0: cannot decode/,
  );
  assert.throws(() => decodeResources(TYPE.Cluster, [{} as never]), /type URL "" does not match/);
  assert.deepEqual(decodeResources(TYPE.Cluster, []), []);
});

test('a shared DecodeCache decodes equal bytes once and hands out the same object; bad bytes still throw', () => {
  const cache = new DecodeCache(2);
  const a = encodeAny(TYPE.Cluster, { name: 'a', connectTimeout: '1s' });
  const b = encodeAny(TYPE.Cluster, { name: 'b' });
  const first = decodeResources(TYPE.Cluster, [a, b], cache);
  const second = decodeResources(
    TYPE.Cluster,
    [{ type_url: a.type_url, value: Uint8Array.from(a.value) }],
    cache,
  );
  assert.equal(second[0]?.resource, first[0]?.resource);
  assert.deepEqual(second[0]?.resource, { name: 'a', connectTimeout: '1s' });
  assert.equal(cache.size, 2);
  // Same bytes under another type URL are another entry; the oldest goes when the cache is full.
  decodeResources(TYPE.Listener, [encodeAny(TYPE.Listener, { name: 'a' })], cache);
  assert.equal(cache.size, 2);
  const bad = { type_url: TYPE.Cluster, value: Uint8Array.from([0x0a, 0x05]) };
  assert.throws(() => decodeResources(TYPE.Cluster, [bad], cache), /cannot decode/);
  assert.throws(() => decodeResources(TYPE.Cluster, [bad], cache), /cannot decode/);
});

test('a DecodeCache bounded in bytes keeps the most recently used resources', () => {
  const big = (name: string) => encodeAny(TYPE.Cluster, { name, altStatName: 'x'.repeat(1000) });
  const [a, b, c] = [big('a'), big('b'), big('c')];
  const size = a.value.length;
  const cache = new DecodeCache(100, size * 2 + 10);
  const first = decodeResources(TYPE.Cluster, [a, b], cache);
  assert.equal(cache.bytes, size * 2);
  // `a` used again, then `c` needs room: `b`, the least recently used, goes.
  decodeResources(TYPE.Cluster, [a], cache);
  decodeResources(TYPE.Cluster, [c], cache);
  assert.equal(cache.size, 2);
  assert.ok(cache.bytes <= size * 2 + 10);
  assert.equal(decodeResources(TYPE.Cluster, [a], cache)[0]?.resource, first[0]?.resource, 'a kept');
  assert.notEqual(
    decodeResources(TYPE.Cluster, [b], cache)[0]?.resource,
    first[1]?.resource,
    'b decoded anew',
  );
});
