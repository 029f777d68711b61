import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PILOT_ID_HEADER, startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { tempDir } from './helpers.js';
import { httpGet } from './pilot-fixtures.js';
import { CATALOG_NODE, CDS, FIXTURE, TestStream, node } from './xds-server-client.js';

const EXTRA = `
apiVersion: v1
kind: Service
metadata: {name: orphan, namespace: istioinaction}
spec:
  selector: {app: orphan}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: catalog-a, namespace: istioinaction}
spec:
  host: catalog
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: catalog-b, namespace: istioinaction}
spec:
  host: catalog.istioinaction.svc.cluster.local
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: istioinaction
  creationTimestamp: "2024-01-02T00:00:00Z"
spec: {}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: allow-get
  namespace: istioinaction
  creationTimestamp: "2024-01-01T00:00:00Z"
  annotations: {owner: team-a}
spec:
  selector: {matchLabels: {app: catalog}}
  action: ALLOW
  rules: [{to: [{operation: {methods: [GET]}}]}]
`;

describe('istiod debug endpoints: push_status, authorizationz, endpointz, connections', () => {
  let pilot: PilotHandle;
  const streams: TestStream[] = [];

  before(async () => {
    const dir = tempDir('skiff-debugz-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    writeFileSync(join(dir, 'extra.yaml'), EXTRA);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      env: { POD_NAME: 'istiod-abc-123' },
    });
    // A sidecar some service selects, and one no service selects.
    for (const n of [
      CATALOG_NODE,
      node('sidecar~10.10.0.99~loner.istioinaction~istioinaction.svc.cluster.local', {
        NAMESPACE: 'istioinaction',
        ISTIO_VERSION: '1.17.8',
        LABELS: { app: 'loner' },
      }),
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

  it('/debug/push_status lists the push conditions in istiod metric names, keys sorted, 4-space JSON', async () => {
    const res = await httpGet(pilot.httpPort, '/debug/push_status');
    assert.equal(res.status, 200);
    assert.equal(res.type, 'application/json');
    assert.equal(
      res.body,
      JSON.stringify(
        {
          pilot_destrule_subsets: {
            'catalog.istioinaction.svc.cluster.local': {
              message:
                'Duplicate subset v1 found while merging destination rules for catalog.istioinaction.svc.cluster.local',
            },
          },
          pilot_eds_no_instances: {
            'outbound|8080||orphan.istioinaction.svc.cluster.local': {},
          },
          pilot_no_ip: { 'loner.istioinaction': { proxy: 'loner.istioinaction' } },
        },
        null,
        4,
      ),
      'the catalog sidecar is selected by a service, so only the loner is listed',
    );
  });

  it('/debug/authorizationz groups policies by namespace in creation order, with the root namespace', async () => {
    const res = await httpGet(pilot.httpPort, '/debug/authorizationz');
    assert.equal(res.type, 'application/json');
    assert.deepEqual(JSON.parse(res.body), {
      authorization_policies: {
        namespace_to_policies: {
          istioinaction: [
            {
              name: 'allow-get',
              namespace: 'istioinaction',
              annotations: { owner: 'team-a' },
              spec: {
                selector: { matchLabels: { app: 'catalog' } },
                // ALLOW is the enum's zero value, which Istio's JSON marshaller leaves out.
                rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
              },
            },
            { name: 'deny-all', namespace: 'istioinaction', annotations: null, spec: {} },
          ],
        },
        root_namespace: 'istio-system',
      },
    });
  });

  it('/debug/endpointz lists every service port with its instances (istiod ServiceInstance fields)', async () => {
    const list = JSON.parse((await httpGet(pilot.httpPort, '/debug/endpointz')).body) as {
      svc: string;
      ep:
        | {
            service: { hostname: string };
            servicePort: { port: number };
            endpoint: Record<string, unknown>;
          }[]
        | null;
    }[];
    const catalog = list.find((e) => e.svc === 'catalog.istioinaction.svc.cluster.local:http');
    assert.ok(catalog?.ep);
    assert.equal(catalog.ep.length, 1);
    assert.equal(catalog.ep[0]?.service.hostname, 'catalog.istioinaction.svc.cluster.local');
    assert.equal(catalog.ep[0]?.servicePort.port, 80);
    assert.equal(catalog.ep[0]?.endpoint['Address'], '10.10.0.15');
    assert.equal(catalog.ep[0]?.endpoint['EndpointPort'], 3000);
    assert.equal(catalog.ep[0]?.endpoint['Namespace'], 'istioinaction');
    const orphan = list.find((e) => e.svc === 'orphan.istioinaction.svc.cluster.local:http');
    assert.ok(orphan);
    assert.equal(orphan.ep, null, 'no instances is null, as a nil Go slice');
  });

  it('/debug/connections lists each client with id, time and address; syncz names the control plane', async () => {
    const res = JSON.parse((await httpGet(pilot.httpPort, '/debug/connections')).body) as {
      totalClients: number;
      clients: Record<string, unknown>[];
    };
    assert.equal(res.totalClients, 2);
    for (const c of res.clients) {
      assert.deepEqual(Object.keys(c), ['connectionId', 'connectedAt', 'address', 'labels']);
      assert.match(String(c['address']), /^(ipv4:)?127\.0\.0\.1:\d+$|^\[?::1\]?:\d+$|^ipv6/);
    }
    const syncz = await httpGet(pilot.httpPort, '/debug/syncz');
    assert.equal(syncz.headers.get(PILOT_ID_HEADER), 'istiod-abc-123');
  });
});
