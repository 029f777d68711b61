import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, Proxy, PushContext } from '../src/xds/index.js';
import {
  buildPushContext,
  buildRouterListeners,
  mergeGateways,
  proxyForWorkload,
  roundTrip,
  TYPE,
} from '../src/xds/index.js';
import { ROOT } from './helpers.js';

let lab: Resource[] | undefined;
async function labResources(): Promise<Resource[]> {
  if (!lab) {
    const loaded = await loadPaths(['base', 'routing'].map((d) => join(ROOT, 'examples', 'lab', d)));
    assert.deepEqual(loaded.errors, []);
    lab = loaded.resources;
  }
  return lab;
}

/** The lab plus extra manifests, with the catalog Gateway replaced when `replaceGateway` is set. */
async function pushWith(extra: string, replaceGateway = true): Promise<PushContext> {
  const base = (await labResources()).filter((r) => !(replaceGateway && r.kind === 'Gateway'));
  return buildPushContext(new ConfigSnapshot([...base, ...parseManifests(extra, 'extra.yaml').resources]));
}

function ingress(push: PushContext): Proxy {
  const w = push.registry.workloads().find((x) => x.labels['istio'] === 'ingressgateway');
  assert.ok(w);
  return proxyForWorkload(w, { type: 'router' });
}

function listenersOf(push: PushContext): Json[] {
  const listeners = buildRouterListeners(push, ingress(push));
  for (const l of listeners) {
    const { lost, json } = roundTrip(TYPE.Listener, l);
    assert.deepEqual(lost, [], String(l['name']));
    assert.deepEqual(json, l, String(l['name']));
  }
  return listeners;
}

function named(listeners: Json[], name: string): Json {
  const l = listeners.find((x) => x['name'] === name);
  assert.ok(l, `no listener ${name}; have ${listeners.map((x) => String(x['name'])).join(', ')}`);
  return l;
}

function chains(l: Json): Json[] {
  return l['filterChains'] as Json[];
}

function filters(chain: Json | undefined): Json[] {
  assert.ok(chain);
  return chain['filters'] as Json[];
}

function typedConfig(filter: Json | undefined): Json {
  assert.ok(filter);
  return filter['typedConfig'] as Json;
}

function tlsContext(chain: Json | undefined): Json {
  assert.ok(chain);
  const socket = chain['transportSocket'] as Json;
  assert.equal(socket['name'], 'envoy.transport_sockets.tls');
  return socket['typedConfig'] as Json;
}

const gateway = (servers: string, name = 'gw', ns = 'istioinaction'): string => `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}}
spec:
  selector: {istio: ingressgateway}
  servers:
${servers}`;

const ADS_SDS = { ads: {}, resourceApiVersion: 'V3' };

test('an HTTPS SIMPLE server terminates TLS with its credential over SDS, matched by SNI', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [catalog.istioinaction.io]
      port: {number: 443, name: https, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: catalog-cert}`),
  );
  const l = named(listenersOf(push), '0.0.0.0_8443');
  assert.deepEqual(l['listenerFilters'], [
    {
      name: 'envoy.filters.listener.tls_inspector',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
      },
    },
  ]);
  const [chain] = chains(l);
  assert.deepEqual(chain?.['filterChainMatch'], { serverNames: ['catalog.istioinaction.io'] });
  assert.deepEqual(tlsContext(chain), {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: 'kubernetes://catalog-cert', sdsConfig: ADS_SDS }],
      alpnProtocols: ['h2', 'http/1.1'],
    },
    requireClientCertificate: false,
  });
  assert.deepEqual(
    filters(chain).map((f) => f['name']),
    ['istio_authn', 'envoy.filters.network.http_connection_manager'],
  );
  const hcm = typedConfig(filters(chain)[1]);
  assert.equal(hcm['statPrefix'], 'outbound_0.0.0.0_8443');
  assert.equal((hcm['rds'] as Json)['routeConfigName'], 'https.443.https.gw.istioinaction');
  assert.equal(hcm['useRemoteAddress'], true);
  assert.equal(hcm['forwardClientCertDetails'], 'SANITIZE_SET');
  assert.deepEqual(hcm['setCurrentClientCertDetails'], { subject: true, cert: true, uri: true, dns: true });
  assert.deepEqual(hcm['httpProtocolOptions'], {});
  assert.equal(l['trafficDirection'], 'OUTBOUND');
  assert.equal(l['bindToPort'], undefined, 'gateways bind');
});

test('MUTUAL adds the -cacert validation context and requires client certificates', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [catalog.istioinaction.io]
      port: {number: 443, name: https, protocol: HTTPS}
      tls:
        mode: MUTUAL
        credentialName: catalog-cert
        subjectAltNames: [client.example.com]
        minProtocolVersion: TLSV1_2
        cipherSuites: [ECDHE-RSA-AES256-GCM-SHA384]`),
  );
  const ctx = tlsContext(chains(named(listenersOf(push), '0.0.0.0_8443'))[0]);
  assert.equal(ctx['requireClientCertificate'], true);
  const common = ctx['commonTlsContext'] as Json;
  assert.deepEqual(common['tlsParams'], {
    tlsMinimumProtocolVersion: 'TLSv1_2',
    cipherSuites: ['ECDHE-RSA-AES256-GCM-SHA384'],
  });
  assert.deepEqual(common['combinedValidationContext'], {
    defaultValidationContext: { matchSubjectAltNames: [{ exact: 'client.example.com' }] },
    validationContextSdsSecretConfig: { name: 'kubernetes://catalog-cert-cacert', sdsConfig: ADS_SDS },
  });
});

test('ISTIO_MUTUAL uses the workload certificate; file-mounted certificates become file-cert/file-root', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [a.example.com]
      port: {number: 443, name: https-a, protocol: HTTPS}
      tls: {mode: ISTIO_MUTUAL, subjectAltNames: [spiffe://cluster.local/ns/x/sa/y]}
    - hosts: [b.example.com]
      port: {number: 443, name: https-b, protocol: HTTPS}
      tls: {mode: MUTUAL, serverCertificate: /etc/certs/tls.crt, privateKey: /etc/certs/tls.key, caCertificates: /etc/certs/ca.crt}`),
  );
  const [a, b] = chains(named(listenersOf(push), '0.0.0.0_8443'));
  const ac = tlsContext(a)['commonTlsContext'] as Json;
  assert.deepEqual(
    (ac['tlsCertificateSdsSecretConfigs'] as Json[]).map((s) => s['name']),
    ['default'],
  );
  const acv = ac['combinedValidationContext'] as Json;
  assert.deepEqual(acv['defaultValidationContext'], {
    matchSubjectAltNames: [{ exact: 'spiffe://cluster.local/ns/x/sa/y' }],
  });
  assert.equal((acv['validationContextSdsSecretConfig'] as Json)['name'], 'ROOTCA');
  const bc = tlsContext(b)['commonTlsContext'] as Json;
  const certSds = (bc['tlsCertificateSdsSecretConfigs'] as Json[])[0];
  assert.deepEqual(certSds, {
    name: 'file-cert:/etc/certs/tls.crt~/etc/certs/tls.key',
    sdsConfig: {
      apiConfigSource: {
        apiType: 'GRPC',
        transportApiVersion: 'V3',
        grpcServices: [{ envoyGrpc: { clusterName: 'sds-grpc' } }],
        setNodeOnFirstMessageOnly: true,
      },
      resourceApiVersion: 'V3',
    },
  });
  assert.equal(
    ((bc['combinedValidationContext'] as Json)['validationContextSdsSecretConfig'] as Json)['name'],
    'file-root:/etc/certs/ca.crt',
  );
});

test('HTTPS servers on one port get a chain and route each; the server name is the stat prefix; * drops SNI', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [b.example.com, a.example.com]
      name: shop-b
      port: {number: 443, name: https-b, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: b-cert}
    - hosts: ['*']
      port: {number: 443, name: https-any, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: any-cert}`),
  );
  const [first, second] = chains(named(listenersOf(push), '0.0.0.0_8443'));
  assert.deepEqual(first?.['filterChainMatch'], { serverNames: ['a.example.com', 'b.example.com'] });
  const h1 = typedConfig(filters(first).at(-1));
  assert.equal(h1['statPrefix'], 'shop-b');
  assert.equal((h1['rds'] as Json)['routeConfigName'], 'https.443.https-b.gw.istioinaction');
  assert.equal(second?.['filterChainMatch'], undefined);
  assert.equal(
    (typedConfig(filters(second).at(-1))['rds'] as Json)['routeConfigName'],
    'https.443.https-any.gw.istioinaction',
  );
  const merged = mergeGateways(push.snapshot, ingress(push), push.registry);
  assert.deepEqual(
    [...merged.serversByRouteName.keys()],
    ['https.443.https-b.gw.istioinaction', 'https.443.https-any.gw.istioinaction'],
  );
});

test('a TLS host already served on a port by an older Gateway is dropped', async () => {
  const older = gateway(
    `    - hosts: [a.example.com]
      port: {number: 443, name: https, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: a}`,
    'first',
  ).replace(
    'metadata: {name: first, namespace: istioinaction}',
    'metadata: {name: first, namespace: istioinaction, creationTimestamp: "2024-01-01T00:00:00Z"}',
  );
  const newer = gateway(
    `    - hosts: [a.example.com]
      port: {number: 443, name: https, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: b}`,
    'second',
  ).replace(
    'metadata: {name: second, namespace: istioinaction}',
    'metadata: {name: second, namespace: istioinaction, creationTimestamp: "2024-02-01T00:00:00Z"}',
  );
  const push = await pushWith(`${newer}\n---\n${older}`);
  const l = named(listenersOf(push), '0.0.0.0_8443');
  assert.equal(chains(l).length, 1);
  const ctx = tlsContext(chains(l)[0])['commonTlsContext'] as Json;
  assert.equal((ctx['tlsCertificateSdsSecretConfigs'] as Json[])[0]?.['name'], 'kubernetes://a');
});

test('TLS PASSTHROUGH routes SNI to the VirtualService tls destinations', async () => {
  const push = await pushWith(`${gateway(`    - hosts: ['*.example.com']
      port: {number: 443, name: tls, protocol: TLS}
      tls: {mode: PASSTHROUGH}`)}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: tls-vs, namespace: istioinaction}
spec:
  hosts: [a.example.com, b.example.com]
  gateways: [gw]
  tls:
    - match: [{sniHosts: [a.example.com], port: 443}]
      route: [{destination: {host: catalog, port: {number: 80}}}]
    - match: [{sniHosts: [b.example.com], gateways: [other]}]
      route: [{destination: {host: catalog}}]
    - match: [{sniHosts: [a.example.com]}]
      route: [{destination: {host: catalog}}]
`);
  const l = named(listenersOf(push), '0.0.0.0_8443');
  const cs = chains(l);
  // The second match names another gateway; the third repeats an SNI already routed.
  assert.equal(cs.length, 1);
  assert.deepEqual(cs[0]?.['filterChainMatch'], { serverNames: ['a.example.com'] });
  assert.equal(cs[0]?.['transportSocket'], undefined);
  assert.deepEqual(
    filters(cs[0]).map((f) => f['name']),
    ['istio_authn', 'envoy.filters.network.tcp_proxy'],
  );
  assert.deepEqual(typedConfig(filters(cs[0])[1]), {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
    statPrefix: 'outbound|80||catalog.istioinaction.svc.cluster.local',
    cluster: 'outbound|80||catalog.istioinaction.svc.cluster.local',
  });
});

test('AUTO_PASSTHROUGH gets a chain per mesh service port and subset, keyed by the SNI-DNAT cluster name', async () => {
  const push = await pushWith(
    gateway(`    - hosts: ['*.istioinaction.svc.cluster.local']
      port: {number: 443, name: tls, protocol: TLS}
      tls: {mode: AUTO_PASSTHROUGH}`),
  );
  const cs = chains(named(listenersOf(push), '0.0.0.0_8443'));
  const sni = cs.map((c) => ((c['filterChainMatch'] as Json)['serverNames'] as string[])[0]);
  assert.deepEqual(sni, [
    'outbound_.80_._.catalog.istioinaction.svc.cluster.local',
    'outbound_.80_.version-v1_.catalog.istioinaction.svc.cluster.local',
    'outbound_.80_.version-v2_.catalog.istioinaction.svc.cluster.local',
  ]);
  assert.deepEqual((cs[0]?.['filterChainMatch'] as Json)['applicationProtocols'], [
    'istio',
    'istio-peer-exchange',
    'istio-http/1.0',
    'istio-http/1.1',
    'istio-h2',
  ]);
  assert.equal(typedConfig(filters(cs[1]).at(-1))['cluster'], sni[1]);
  assert.ok(mergeGateways(push.snapshot, ingress(push), push.registry).autoPassthrough);
});

test('TCP servers proxy to the first matching VirtualService tcp route; none gives no listener', async () => {
  const servers = `    - hosts: ['*']
      port: {number: 31400, name: tcp, protocol: TCP}
    - hosts: ['*']
      port: {number: 31500, name: tcp-mtls, protocol: TCP}
      tls: {mode: ISTIO_MUTUAL}
    - hosts: ['*']
      port: {number: 31600, name: tcp-none, protocol: TCP}`;
  const push = await pushWith(`${gateway(servers)}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: tcp-vs, namespace: istioinaction}
spec:
  hosts: ['*']
  gateways: [istioinaction/gw]
  tcp:
    - match: [{port: 31400}]
      route: [{destination: {host: catalog, port: {number: 80}}}]
    - match: [{port: 31500}]
      route:
        - {destination: {host: catalog, subset: version-v1}, weight: 50}
        - {destination: {host: catalog, subset: version-v2}, weight: 50}
`);
  const listeners = listenersOf(push);
  assert.ok(!listeners.some((l) => l['name'] === '0.0.0.0_31600'));
  const plain = named(listeners, '0.0.0.0_31400');
  assert.equal(plain['listenerFilters'], undefined);
  assert.deepEqual(
    filters(chains(plain)[0]).map((f) => f['name']),
    ['istio_authn', 'envoy.filters.network.tcp_proxy'],
  );
  const mtls = named(listeners, '0.0.0.0_31500');
  const [chain] = chains(mtls);
  assert.deepEqual(
    filters(chain).map((f) => f['name']),
    ['istio.metadata_exchange', 'istio_authn', 'envoy.filters.network.tcp_proxy'],
  );
  assert.deepEqual(typedConfig(filters(chain)[2])['weightedClusters'], {
    clusters: [
      { name: 'outbound|80|version-v1|catalog.istioinaction.svc.cluster.local', weight: 50 },
      { name: 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local', weight: 50 },
    ],
  });
  assert.deepEqual((tlsContext(chain)['commonTlsContext'] as Json)['alpnProtocols'], [
    'istio-peer-exchange',
    'h2',
    'http/1.1',
  ]);
});

test('HTTP servers on a port merge under http.<port>; an HTTPS redirect stays on the HTTP listener', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [a.example.com]
      port: {number: 80, name: http-a, protocol: HTTP}
      tls: {httpsRedirect: true}
    - hosts: [b.example.com]
      port: {number: 80, name: http-b, protocol: HTTP2}
    - hosts: [c.example.com]
      port: {number: 80, name: tcp-c, protocol: TCP}`),
  );
  const listeners = listenersOf(push);
  const l = named(listeners, '0.0.0.0_8080');
  assert.equal(chains(l).length, 1);
  assert.equal((typedConfig(filters(chains(l)[0]).at(-1))['rds'] as Json)['routeConfigName'], 'http.8080');
  assert.equal(l['listenerFilters'], undefined);
  const merged = mergeGateways(push.snapshot, ingress(push), push.registry);
  assert.deepEqual(
    merged.serversByRouteName.get('http.8080')?.map((s) => s.hosts[0]),
    ['a.example.com', 'b.example.com'],
  );
  assert.equal(merged.ports.length, 1, 'the TCP server conflicts with HTTP on the port and is dropped');
});

test('gateways of older proxies get no istio_authn; malformed servers and TLS blocks never throw', async () => {
  const push = await pushWith(
    gateway(`    - hosts: [a.example.com]
      port: {number: 443, name: https, protocol: HTTPS}
      tls: {mode: BOGUS, credentialName: 7, subjectAltNames: bad}
    - port: {number: 0, name: zero, protocol: HTTP}
    - hosts: 5
      port: {number: 8081, name: h, protocol: 9}
    - 'nonsense'
    - hosts: [x]
      bind: unix:///sock
      port: {number: 9000, name: u, protocol: HTTP}`),
  );
  const proxy = ingress(push);
  const old = { ...proxy, istioVersion: '1.16.2' };
  const listeners = buildRouterListeners(push, old);
  for (const l of listeners) {
    for (const c of chains(l)) {
      assert.ok(!filters(c).some((f) => f['name'] === 'istio_authn'));
    }
    assert.deepEqual(roundTrip(TYPE.Listener, l).lost, []);
  }
  // BOGUS reads as PASSTHROUGH (the enum's zero value): no VirtualService, no chain, no listener.
  assert.ok(!listeners.some((l) => l['name'] === '0.0.0.0_8443'));
});
