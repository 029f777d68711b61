import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../src/api/index.js';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { GatewayProxyInfo, Json } from '../src/xds/index.js';
import { buildGatewayListeners, decodeAny, encodeAny, roundTrip, TYPE } from '../src/xds/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const INGRESS: GatewayProxyInfo = {
  namespace: 'istio-system',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway', 'sidecar.istio.io/inject': 'false' },
};
const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

async function labResources(): Promise<Resource[]> {
  const loaded = await loadPaths([path.join(ROOT, 'examples', 'lab', 'base')]);
  assert.deepEqual(loaded.errors, []);
  return loaded.resources;
}

function listeners(resources: Resource[], proxy = INGRESS): Json[] {
  return buildGatewayListeners(new ConfigSnapshot(resources), proxy);
}

function hcmOf(listener: Json): Json {
  const chains = listener['filterChains'] as Json[];
  const filters = chains[0]?.['filters'] as Json[];
  // 1.17 proxies get istio_authn ahead of the HCM; the HCM is the chain's last filter.
  const hcm = filters.at(-1);
  assert.equal(hcm?.['name'], 'envoy.filters.network.http_connection_manager');
  return hcm?.['typedConfig'] as Json;
}

function gateway(yamlSpec: string): Resource[] {
  return parseManifests(
    `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: extra, namespace: istioinaction }
spec:
${yamlSpec}`,
    'gw.yaml',
  ).resources;
}

test('the lab ingress gateway gets 0.0.0.0_8080 (server port 80 → targetPort 8080) with RDS http.8080', async () => {
  const result = listeners(await labResources());
  assert.deepEqual(
    result.map((l) => l['name']),
    ['0.0.0.0_8080'],
  );
  const [l] = result;
  assert.ok(l);
  assert.deepEqual(l['address'], { socketAddress: { address: '0.0.0.0', portValue: 8080 } });
  assert.equal(l['trafficDirection'], 'OUTBOUND');
  const hcm = hcmOf(l);
  assert.equal(hcm['@type'], HCM_TYPE);
  assert.equal(hcm['statPrefix'], 'outbound_0.0.0.0_8080');
  assert.deepEqual(hcm['rds'], {
    configSource: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
    routeConfigName: 'http.8080',
  });
  assert.equal(hcm['useRemoteAddress'], true);
  assert.equal(hcm['forwardClientCertDetails'], 'SANITIZE_SET');
  const filters = (hcm['httpFilters'] as Json[]).map((f) => f['name']);
  assert.equal(filters.at(-1), 'envoy.filters.http.router');
});

test('the listener and the HCM in its typedConfig round-trip through the Envoy protos', async () => {
  const [l] = listeners(await labResources());
  assert.ok(l);
  const { lost, json } = roundTrip(TYPE.Listener, l);
  assert.deepEqual(lost, []);
  assert.deepEqual(json, l);
  const hcm = hcmOf(l);
  // The HCM on its own, as the Any packed in typedConfig carries it (without the JSON `@type` key).
  const bare = Object.fromEntries(Object.entries(hcm).filter(([k]) => k !== '@type'));
  const decoded = decodeAny(encodeAny(HCM_TYPE, bare));
  assert.equal((decoded['rds'] as Json)['routeConfigName'], 'http.8080');
  assert.deepEqual(decoded, bare);
  assert.deepEqual(roundTrip(HCM_TYPE, bare).lost, []);
});

test('a Gateway selecting other workloads yields nothing for the ingress gateway', async () => {
  const base = (await labResources()).filter((r) => r.kind !== 'Gateway');
  const other = gateway(`  selector: { istio: egressgateway }
  servers:
    - hosts: ['*']
      port: { number: 80, name: http, protocol: HTTP }
`);
  assert.deepEqual(listeners([...base, ...other]), []);
});

test('no Gateway, or a proxy the lab Gateway does not select, gets no listeners', async () => {
  const base = await labResources();
  assert.deepEqual(listeners(base.filter((r) => r.kind !== 'Gateway')), []);
  assert.deepEqual(listeners(base, { namespace: 'istio-system', labels: { istio: 'egressgateway' } }), []);
});

test('a port the gateway Service does not publish binds as written; servers on one port share a listener', async () => {
  const extra = gateway(`  selector: { istio: ingressgateway }
  servers:
    - hosts: ['a.example.com']
      port: { number: 9090, name: http-a, protocol: HTTP }
    - hosts: ['b.example.com']
      port: { number: 80, name: http-b, protocol: HTTP }
`);
  const result = listeners([...(await labResources()), ...extra]);
  assert.deepEqual(
    result.map((l) => l['name']),
    ['0.0.0.0_8080', '0.0.0.0_9090'],
  );
  assert.equal((hcmOf(result[1] ?? {})['rds'] as Json)['routeConfigName'], 'http.9090');
});

test('non-HTTP servers and malformed servers are skipped without crashing', async () => {
  const extra = gateway(`  selector: { istio: ingressgateway }
  servers:
    - hosts: ['*']
      port: { number: 31400, name: tcp, protocol: TCP }
    - hosts: ['*']
      port: { number: 'x', name: bad, protocol: HTTP }
    - 7
`);
  const result = listeners([...(await labResources()), ...extra]);
  assert.deepEqual(
    result.map((l) => l['name']),
    ['0.0.0.0_8080'],
  );
});

test('a gateway Service labelled disable-gateway-port-translation binds the server port as written', async () => {
  const resources = (await labResources()).map((r) => {
    if (r.kind !== 'Service' || r.metadata.name !== 'istio-ingressgateway') return r;
    const labels = {
      ...(r.metadata.labels ?? {}),
      'networking.istio.io/disable-gateway-port-translation': 'true',
    };
    return { ...r, metadata: { ...r.metadata, labels } };
  });
  assert.deepEqual(
    listeners(resources).map((l) => l['name']),
    ['0.0.0.0_80'],
  );
});
