import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { tempDir } from './helpers.js';
import { CDS, FIXTURE, TestStream, node } from './xds-server-client.js';

const EXTRA = `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog-vs
  namespace: istioinaction
  creationTimestamp: "2025-05-17T11:28:00Z"
  labels: {zeta: z, alpha: a}
spec:
  hosts: [catalog]
  http:
  - route:
    - destination: {host: catalog, subset: v1}
      weight: 100
`;

/** Metadata as the istio-agent sends it, keys in an order unlike NodeMetadata's. */
const SIDECAR = node('sidecar~10.10.0.15~catalog-v1.istioinaction~istioinaction.svc.cluster.local', {
  CLUSTER_ID: 'Kubernetes',
  POD_PORTS: '[\n  {"name":"http","containerPort":3000,"protocol":"TCP"}\n]',
  LABELS: { version: 'v1', app: 'catalog' },
  NAMESPACE: 'istioinaction',
  ENVOY_STATUS_PORT: 15021,
  ISTIO_VERSION: '1.17.8',
  NODE_NAME: 'myk8s-control-plane',
  PROXY_CONFIG: { configPath: './etc/istio/proxy', binaryPath: '/usr/local/bin/envoy' },
  DNS_CAPTURE: 'false',
  NOT_AN_ISTIO_FIELD: 'dropped',
});

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

describe('istiod debug HTTP shapes (pilot/pkg/xds/debug.go, model structs at 1.17)', () => {
  let pilot: PilotHandle;
  const streams: TestStream[] = [];

  before(async () => {
    const dir = tempDir('skiff-debug-http-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    writeFileSync(join(dir, 'extra.yaml'), EXTRA);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      securePort: false,
      env: { POD_NAME: 'istiod-abc-123' },
    });
    for (const n of [
      SIDECAR,
      node('sidecar~10.10.0.16~a-first.istioinaction~istioinaction.svc.cluster.local'),
    ]) {
      const s = new TestStream(pilot.grpcAddress);
      streams.push(s);
      s.send({ node: n, type_url: CDS });
      s.ack(await s.next());
    }
  });
  after(async () => {
    for (const s of streams) s.close();
    await pilot.close();
  });

  it('adsz: clients sorted by id, NodeMetadata fields in struct order and types, labels augmented', async () => {
    const adsz = JSON.parse((await get(pilot.httpPort, '/debug/adsz')).body) as {
      clients: Record<string, unknown>[];
    };
    const ids = adsz.clients.map((c) => String(c['connectionId']));
    assert.deepEqual(ids, [...ids].sort());
    const cat = adsz.clients.find((c) => String(c['connectionId']).startsWith('catalog-v1.'));
    assert.ok(cat);
    assert.deepEqual(Object.keys(cat), [
      'connectionId',
      'connectedAt',
      'address',
      'labels',
      'metadata',
      'locality',
      'watches',
    ]);
    assert.match(String(cat['connectedAt']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$/);
    assert.deepEqual(cat['labels'], {
      app: 'catalog',
      'kubernetes.io/hostname': 'myk8s-control-plane',
      'topology.istio.io/cluster': 'Kubernetes',
      version: 'v1',
    });
    const meta = cat['metadata'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(meta), [
      'PROXY_CONFIG',
      'ISTIO_VERSION',
      'LABELS',
      'NAMESPACE',
      'NODE_NAME',
      'CLUSTER_ID',
      'POD_PORTS',
      'ENVOY_STATUS_PORT',
    ]);
    assert.deepEqual(Object.keys(meta['LABELS'] as object), ['app', 'version']);
    assert.equal(meta['POD_PORTS'], '[{"name":"http","containerPort":3000,"protocol":"TCP"}]');
    assert.equal(meta['ENVOY_STATUS_PORT'], 15021);
    assert.deepEqual(cat['locality'], {});
  });

  it('connections: id, time, address and a null labels (AdsClient.Labels is never set there)', async () => {
    const res = JSON.parse((await get(pilot.httpPort, '/debug/connections')).body) as {
      totalClients: number;
      clients: Record<string, unknown>[];
    };
    assert.equal(res.totalClients, 2);
    for (const c of res.clients) {
      assert.deepEqual(Object.keys(c), ['connectionId', 'connectedAt', 'address', 'labels']);
      assert.equal(c['labels'], null);
    }
  });

  it('registryz: model.Service with its exported Go names, kube attributes and cluster VIPs', async () => {
    const list = JSON.parse((await get(pilot.httpPort, '/debug/registryz')).body) as Record<
      string,
      unknown
    >[];
    const svc = list.find((s) => s['hostname'] === 'catalog.istioinaction.svc.cluster.local');
    assert.ok(svc, 'the catalog service is listed');
    assert.deepEqual(Object.keys(svc), [
      'Attributes',
      'ports',
      'creationTime',
      'hostname',
      'clusterVIPs',
      'defaultAddress',
      'Resolution',
      'MeshExternal',
      'ResourceVersion',
    ]);
    const attrs = svc['Attributes'] as Record<string, unknown>;
    assert.equal(attrs['ServiceRegistry'], 'Kubernetes');
    assert.equal(attrs['Type'], 'ClusterIP');
    assert.deepEqual(attrs['LabelSelectors'], { app: 'catalog' });
    assert.deepEqual(svc['ports'], [{ name: 'http', port: 80, protocol: 'HTTP' }]);
    assert.equal(svc['Resolution'], 0);
    assert.equal(svc['source'], undefined, 'no skiff internals');
  });

  it('configz: Istio config only, as crd.IstioKind with sorted maps and the schema version', async () => {
    const list = JSON.parse((await get(pilot.httpPort, '/debug/configz')).body) as Record<string, unknown>[];
    assert.ok(list.length > 0);
    assert.ok(
      list.every(
        (c) => String(c['apiVersion']).includes('istio.io') || String(c['apiVersion']).includes('k8s.io'),
      ),
    );
    assert.equal(
      list.find((c) => c['kind'] === 'Service'),
      undefined,
      'Kubernetes objects are not config',
    );
    const vs = list.find(
      (c) =>
        c['kind'] === 'VirtualService' && (c['metadata'] as Record<string, unknown>)['name'] === 'catalog-vs',
    );
    assert.ok(vs);
    assert.deepEqual(Object.keys(vs), ['kind', 'apiVersion', 'metadata', 'spec']);
    assert.equal(vs['apiVersion'], 'networking.istio.io/v1alpha3');
    assert.deepEqual(vs['metadata'], {
      name: 'catalog-vs',
      namespace: 'istioinaction',
      creationTimestamp: '2025-05-17T11:28:00Z',
      labels: { alpha: 'a', zeta: 'z' },
    });
    const route = ((vs['spec'] as { http: { route: Record<string, unknown>[] }[] }).http[0]?.route ?? [])[0];
    assert.deepEqual(Object.keys(route ?? {}), ['destination', 'weight']);
    assert.deepEqual(Object.keys((route?.['destination'] as object) ?? {}), ['host', 'subset']);
  });

  it('/version on the monitoring port only, /ready on the HTTP port only', async () => {
    assert.match(
      (await get(pilot.monitoringPort, '/version')).body,
      /^1\.17\.8-skiff-node[\d.]+-Clean-1\.17\.8$/,
    );
    assert.equal((await get(pilot.httpPort, '/version')).status, 404);
    assert.equal((await get(pilot.httpPort, '/ready')).status, 200);
    assert.equal((await get(pilot.monitoringPort, '/ready')).status, 404);
  });
});
