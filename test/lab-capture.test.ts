import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPaths, parseManifests } from '../src/api/index.js';
import {
  planCapture,
  requestDestination,
  EXAMPLES_DIR,
  sameReceivedConfig,
  withResponse,
} from '../src/lab/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import { compileSnapshot } from '../src/proxy/index.js';
import {
  TYPE,
  buildInboundClusters,
  buildOutboundClusters,
  buildPushContext,
  buildSidecarListeners,
  generateProxyResources,
  proxyFromNode,
  routerNode,
  sidecarNode,
} from '../src/xds/index.js';

const POD = `
apiVersion: v1
kind: Pod
metadata:
  name: catalog-6cf4b97d-7d6gb
  namespace: istioinaction
  labels: {app: catalog, version: v1, security.istio.io/tlsMode: istio}
spec:
  containers:
    - {name: catalog, image: skiff/catalog, ports: [{containerPort: 3000, name: http}]}
    - {name: istio-proxy, image: skiff/proxy}
status: {podIP: 127.10.0.7, phase: Running, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-6bb8fb6549-2mlk2
  namespace: istio-system
  labels: {app: istio-ingressgateway, istio: ingressgateway}
spec:
  containers: [{name: istio-proxy, image: skiff/proxy}]
status: {podIP: 127.10.0.6, phase: Running, conditions: [{type: Ready, status: "True"}]}
`;

async function push() {
  const { resources } = await loadPaths([`${EXAMPLES_DIR}lab/base`], { defaultNamespace: 'default' });
  const pods = parseManifests(POD, 'pods.yaml').resources;
  return buildPushContext(
    new ConfigSnapshot([...resources, ...pods], parseMeshConfig('accessLogFile: /dev/stdout\n')),
  );
}

const SIDECAR = {
  type: 'sidecar',
  podIP: '127.10.0.7',
  appAddress: '127.11.0.7',
  outboundAddress: '127.12.0.7',
} as const;

describe('lab capture plan', () => {
  it('splits virtualInbound per destination port onto the pod address and points inbound clusters at the app', async () => {
    const p = await push();
    const node = sidecarNode({
      ip: '127.10.0.7',
      podName: 'catalog-6cf4b97d-7d6gb',
      namespace: 'istioinaction',
      labels: { app: 'catalog', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
      podPorts: [{ name: 'http', containerPort: 3000 }],
    });
    const proxy = proxyFromNode(node.id, node.metadata);
    const listeners = buildSidecarListeners(p, proxy);
    const clusters = [
      ...buildOutboundClusters(p.registry, p.snapshot, proxy),
      ...buildInboundClusters(p, proxy),
    ];
    assert.ok(
      listeners.some((l) => l['name'] === 'virtualInbound'),
      'the generator makes virtualInbound',
    );
    const plan = planCapture({ listeners, clusters, routes: [], endpoints: [], secrets: [] }, SIDECAR);
    assert.deepEqual([...plan.inboundPorts], [3000]);
    assert.deepEqual(plan.binds.get('virtualInbound|3000'), { address: '127.10.0.7', port: 3000 });
    // Outbound HTTP listeners bind the outbound twin address; TCP-only ones (virtualOutbound, 443) are left out.
    assert.deepEqual(plan.binds.get('0.0.0.0_80'), { address: '127.12.0.7', port: 80 });
    assert.ok(!plan.binds.has('virtualOutbound'));
    assert.ok(!plan.binds.has('0.0.0.0_443'));
    const inbound = (plan.snapshot.listeners as Record<string, unknown>[]).find(
      (l) => l['name'] === 'virtualInbound|3000',
    );
    assert.equal(inbound?.['trafficDirection'], 'INBOUND');
    // PERMISSIVE (the default): the mTLS chain and the plaintext chain, matched by the engine itself; only
    // the destination port is dropped from their matches.
    const chains = inbound?.['filterChains'] as Record<string, Record<string, unknown>>[];
    assert.deepEqual(
      chains.map((c) => c['filterChainMatch']?.['transportProtocol']),
      ['tls', 'raw_buffer'],
    );
    assert.ok(chains.every((c) => c['filterChainMatch']?.['destinationPort'] === undefined));
    assert.ok(chains[0]?.['transportSocket'], 'the mTLS chain keeps its DownstreamTlsContext');
    assert.equal(chains[1]?.['transportSocket'], undefined);
    const compiled = compileSnapshot(plan.snapshot);
    const cluster = compiled.clusters.get('inbound|3000||');
    assert.equal(cluster?.type, 'STATIC');
    assert.deepEqual(
      cluster?.hosts.map((h) => `${h.address}:${h.port}`),
      ['127.11.0.7:3000'],
    );
    const served = compiled.listeners.get('virtualInbound|3000');
    assert.ok(served?.hcm?.inbound);
    assert.equal(served?.chains[0]?.tls?.certSecret, 'default');
    assert.equal(served?.chains[0]?.tls?.caSecret, 'ROOTCA');
    assert.ok(served?.inspect, 'choosing between tls and raw_buffer needs the inspectors');
    // Other clusters are passed on unchanged.
    assert.equal(compiled.clusters.get('outbound|80||catalog.istioinaction.svc.cluster.local')?.type, 'EDS');
  });

  it('binds every gateway listener on the pod address and leaves its config as received', async () => {
    const p = await push();
    const node = routerNode({
      ip: '127.10.0.6',
      podName: 'istio-ingressgateway-6bb8fb6549-2mlk2',
      namespace: 'istio-system',
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    });
    const r = generateProxyResources(p, proxyFromNode(node.id, node.metadata));
    const plan = planCapture({ ...r, version: 'v1' }, { type: 'router', podIP: '127.10.0.6' });
    assert.deepEqual(plan.binds.get('0.0.0.0_8080'), { address: '127.10.0.6', port: 8080 });
    assert.equal(plan.snapshot.clusters, r.clusters);
    assert.equal(plan.inboundPorts.size, 0);
    assert.equal(plan.snapshot.version, 'v1');
  });

  it('keeps every chain of a port (mTLS-only too), leaves out TCP-only ports and chains without a port', () => {
    const hcm = {
      name: 'envoy.filters.network.http_connection_manager',
      typedConfig: {
        '@type':
          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
        statPrefix: 'x',
        routeConfig: { name: 'r' },
      },
    };
    const tcp = { name: 'envoy.filters.network.tcp_proxy', typedConfig: { cluster: 'c' } };
    const virtualInbound = {
      name: 'virtualInbound',
      address: { socketAddress: { address: '0.0.0.0', portValue: 15006 } },
      filterChains: [
        { filterChainMatch: { destinationPort: 9000, transportProtocol: 'tls' }, filters: [hcm] },
        { filterChainMatch: { destinationPort: 9001 }, filters: [tcp] },
        { filterChainMatch: {}, filters: [hcm] },
        { filterChainMatch: { destinationPort: { value: 9002 } }, filters: [hcm] },
        'junk',
      ],
    };
    const plan = planCapture(
      {
        listeners: [virtualInbound, { name: 'broken' }],
        clusters: [],
        routes: [],
        endpoints: [],
        secrets: [],
      },
      SIDECAR,
    );
    assert.deepEqual([...plan.inboundPorts], [9000, 9002]);
    assert.deepEqual([...plan.binds.keys()], ['virtualInbound|9000', 'virtualInbound|9002']);
    const strict = (plan.snapshot.listeners as Record<string, unknown>[])[0];
    assert.deepEqual(strict?.['filterChains'], [
      { filterChainMatch: { transportProtocol: 'tls' }, filters: [hcm] },
    ]);
  });

  it('checks a response against the config it would produce', () => {
    const current = { listeners: [], clusters: [], routes: [], endpoints: [], secrets: [] };
    const next = withResponse(current, TYPE.Cluster, [
      { name: 'a', resource: { name: 'a', type: 'STATIC' } },
    ]);
    assert.equal(next.clusters.length, 1);
    assert.equal(next.listeners, current.listeners);
    assert.equal(withResponse(current, 'type.googleapis.com/unknown', []), current);
    // A route configuration without a name is refused by the engine, so the client would NACK it.
    const bad = withResponse(current, TYPE.RouteConfiguration, [{ name: '', resource: {} }]);
    assert.throws(() => compileSnapshot(planCapture(bad, SIDECAR).snapshot), /without a name/);
  });

  it('recognizes the config it validated once the client holds it, in any order, by identity', () => {
    const [a, b] = [{ name: 'a' }, { name: 'b' }];
    const empty = { listeners: [], routes: [], endpoints: [], secrets: [], version: 'v1' };
    const validated = { ...empty, clusters: [a, b] };
    assert.ok(sameReceivedConfig(validated, { ...empty, clusters: [b, a] }), 'order does not matter');
    assert.equal(
      sameReceivedConfig(validated, { ...empty, clusters: [a, { name: 'b' }] }),
      false,
      'equal is not same',
    );
    assert.equal(sameReceivedConfig(validated, { ...empty, clusters: [a] }), false);
    assert.ok(sameReceivedConfig(validated, { ...empty, clusters: [a, b], version: 'v2' }), 'acked later');
    assert.equal(sameReceivedConfig(validated, { ...empty, clusters: [a, b], routes: [a] }), false);
  });
});

describe('lab outbound front', () => {
  it('reads the destination from absolute-form targets and Host headers', () => {
    assert.deepEqual(requestDestination('http://catalog.istioinaction/items?x=1', undefined), {
      authority: 'catalog.istioinaction',
      host: 'catalog.istioinaction',
      port: 80,
      path: '/items?x=1',
    });
    assert.equal(requestDestination('/items', 'catalog:8080')?.port, 8080);
    assert.equal(requestDestination('/items', '[::1]:81')?.host, '::1');
    assert.equal(requestDestination('/items', undefined), undefined);
    assert.equal(requestDestination('/items', 'host:99999'), undefined);
  });
});
