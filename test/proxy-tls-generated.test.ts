/**
 * The engine over the config skiff's own generator and lab capture produce (not hand-written shapes):
 * a catalog sidecar's PERMISSIVE `virtualInbound|3000` and the gateway's auto-mTLS cluster to catalog.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { EXAMPLES_DIR, planCapture } from '../src/lab/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import type { ProxyEngine, StreamInfo } from '../src/proxy/index.js';
import { createProxy } from '../src/proxy/index.js';
import {
  buildPushContext,
  generateProxyResources,
  proxyFromNode,
  routerNode,
  sidecarNode,
} from '../src/xds/index.js';
import type { Upstream } from './proxy-fixtures.js';
import { upstream } from './proxy-fixtures.js';
import { certSecret, makeCa, makeLeaf, rootSecret, spiffe } from './proxy-tls-fixtures.js';

const PODS = `
apiVersion: v1
kind: Pod
metadata:
  name: catalog-6cf4b97d-7d6gb
  namespace: istioinaction
  labels: {app: catalog, version: v1, security.istio.io/tlsMode: istio}
spec:
  serviceAccountName: catalog
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

type Json = Record<string, unknown>;
const CATALOG = 'outbound|80||catalog.istioinaction.svc.cluster.local';

describe('mTLS over generated sidecar and gateway config', () => {
  const engines: ProxyEngine[] = [];
  let app: Upstream;
  before(async () => {
    app = await upstream('catalog');
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await app.close();
  });

  it('the gateway reaches the catalog sidecar over mTLS; the sidecar sees the gateway identity', async () => {
    const { resources } = await loadPaths([`${EXAMPLES_DIR}lab/base`], { defaultNamespace: 'default' });
    const push = buildPushContext(
      new ConfigSnapshot([...resources, ...parseManifests(PODS, 'pods.yaml').resources], parseMeshConfig('')),
    );
    const ca = await makeCa();
    // The catalog sidecar, as lab capture serves it (the app on 127.0.0.1 at the test upstream's port).
    const sidecar = sidecarNode({
      ip: '127.10.0.7',
      podName: 'catalog-6cf4b97d-7d6gb',
      namespace: 'istioinaction',
      labels: { app: 'catalog', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
      podPorts: [{ name: 'http', containerPort: 3000 }],
      serviceAccount: 'catalog',
    });
    const sidecarConfig = generateProxyResources(push, proxyFromNode(sidecar.id, sidecar.metadata));
    const plan = planCapture(sidecarConfig, {
      type: 'sidecar',
      podIP: '127.0.0.1',
      appAddress: '127.0.0.1',
      outboundAddress: '127.0.0.1',
    });
    const clusters = (plan.snapshot.clusters as Json[]).map((c) =>
      c['name'] === 'inbound|3000||'
        ? {
            ...c,
            loadAssignment: {
              clusterName: 'inbound|3000||',
              endpoints: [
                {
                  lbEndpoints: [
                    {
                      endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: app.port } } },
                    },
                  ],
                },
              ],
            },
          }
        : c,
    );
    const infos: StreamInfo[] = [];
    const server = await createProxy(
      {
        ...plan.snapshot,
        listeners: (plan.snapshot.listeners as Json[]).filter((l) => l['name'] === 'virtualInbound|3000'),
        clusters,
      },
      {
        bind: () => ({ address: '127.0.0.1', port: 0 }),
        accessLoggers: [{ format: (s) => (infos.push(s), ''), sink: () => undefined }],
      },
    );
    engines.push(server);
    server.updateSecrets([
      certSecret(await makeLeaf(ca, spiffe('istioinaction', 'catalog'))),
      rootSecret(ca),
    ]);
    const serverPort = server.address('virtualInbound|3000')?.port ?? 0;

    // The gateway's generated cluster to catalog (auto mTLS: tlsMode-istio), its endpoint moved to the sidecar.
    const gw = routerNode({
      ip: '127.10.0.6',
      podName: 'istio-ingressgateway-6bb8fb6549-2mlk2',
      namespace: 'istio-system',
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
    });
    const gwConfig = generateProxyResources(push, proxyFromNode(gw.id, gw.metadata));
    const cluster = gwConfig.clusters.find((c) => c['name'] === CATALOG);
    assert.ok(cluster?.['transportSocketMatches'], 'the generator uses auto mTLS');
    const cla = structuredClone(gwConfig.endpoints.find((e) => e['clusterName'] === CATALOG)) as Json;
    const lb = ((cla['endpoints'] as Json[])[0]?.['lbEndpoints'] as Json[])[0] as Json;
    ((lb['endpoint'] as Json)['address'] as Json)['socketAddress'] = {
      address: '127.0.0.1',
      portValue: serverPort,
    };
    const gateway = await createProxy(
      {
        listeners: [
          {
            name: 'gw',
            address: { socketAddress: { address: '0.0.0.0', portValue: 8080 } },
            filterChains: [
              {
                filters: [
                  {
                    name: 'envoy.filters.network.http_connection_manager',
                    typedConfig: {
                      '@type':
                        'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                      statPrefix: 'gw',
                      routeConfig: {
                        name: 'r',
                        virtualHosts: [
                          {
                            name: 'v',
                            domains: ['*'],
                            routes: [{ match: { prefix: '/' }, route: { cluster: CATALOG } }],
                          },
                        ],
                      },
                    },
                  },
                ],
              },
            ],
          },
        ],
        clusters: [cluster],
        endpoints: [cla],
      },
      { bind: () => ({ address: '127.0.0.1', port: 0 }) },
    );
    engines.push(gateway);
    const gatewayLeaf = await makeLeaf(ca, spiffe('istio-system', 'istio-ingressgateway-service-account'));
    gateway.updateSecrets([certSecret(gatewayLeaf), rootSecret(ca)]);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: gateway.address('gw')?.port,
          path: '/items',
          headers: { host: 'catalog' },
          agent: false,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
    });
    assert.equal(status, 200);
    // Istio's inbound HCM (APPEND_FORWARD; subject, URI, DNS): the app learns who called, as Envoy tells it.
    const hash = new X509Certificate(gatewayLeaf.certPem).fingerprint256.replace(/:/g, '').toLowerCase();
    assert.equal(
      app.seen.at(-1)?.['x-forwarded-client-cert'],
      `By=${spiffe('istioinaction', 'catalog')};Hash=${hash};Subject="O=workload";` +
        `URI=${spiffe('istio-system', 'istio-ingressgateway-service-account')}`,
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(
      infos.at(-1)?.downstreamPeerUriSan,
      spiffe('istio-system', 'istio-ingressgateway-service-account'),
    );
    assert.equal(
      infos.at(-1)?.requestedServerName,
      'outbound_.80_._.catalog.istioinaction.svc.cluster.local',
    );
  });
});
