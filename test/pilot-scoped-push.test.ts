import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { generateProxyResources, sidecarScopeFor } from '../src/xds/index.js';
import type { Proxy, PushContext } from '../src/xds/index.js';
import { tempDir } from './helpers.js';
import { httpGet } from './pilot-fixtures.js';
import { CDS, RDS, TestStream, decoded, eventually, names, node } from './xds-server-client.js';

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: a}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: reviews-1, namespace: a, labels: {app: reviews}}
spec: {containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 10.20.0.1, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: b}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata: {name: ratings-1, namespace: b, labels: {app: ratings}}
spec: {containers: [{name: app, image: x}]}
status: {phase: Running, podIP: 10.20.1.1, conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: a}
spec:
  egress: [{hosts: ["./*"]}]
`;

const SIDECAR_B = (hosts: string[]) => `
apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: b}
spec:
  egress: [{hosts: ${JSON.stringify(hosts)}}]
`;

const VS_A = (timeout: string) => `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: a}
spec:
  hosts: [reviews.a.svc.cluster.local]
  http:
    - timeout: ${timeout}
      route: [{destination: {host: reviews.a.svc.cluster.local}}]
`;

const RATINGS_B = (ports: number[]) => `
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: b}
spec:
  selector: {app: ratings}
  ports: ${JSON.stringify(ports.map((p) => ({ name: `http-${p}`, port: p })))}
`;

const A_NODE = node('sidecar~10.20.0.1~reviews-1.a~a.svc.cluster.local', {
  NAMESPACE: 'a',
  ISTIO_VERSION: '1.17.8',
  CLUSTER_ID: 'Kubernetes',
  LABELS: { app: 'reviews' },
});
const B_NODE = node('sidecar~10.20.1.1~ratings-1.b~b.svc.cluster.local', {
  NAMESPACE: 'b',
  ISTIO_VERSION: '1.17.8',
  CLUSTER_ID: 'Kubernetes',
  LABELS: { app: 'ratings' },
});
const GW_NODE = node('router~10.20.9.9~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local', {
  NAMESPACE: 'istio-system',
  ISTIO_VERSION: '1.17.8',
  CLUSTER_ID: 'Kubernetes',
  LABELS: { istio: 'ingressgateway' },
});

/** Route name carrying one imported VirtualService's timeout, so a test can see which VS a sidecar holds. */
const vsRoute = (ns: string, name: string) => `vs.${ns}.${name}`;

/** The real generator, plus one RouteConfiguration per VirtualService in the sidecar's scope. */
function countingGenerator(counts: Map<string, number>) {
  return (push: PushContext, proxy: Proxy) => {
    counts.set(proxy.name, (counts.get(proxy.name) ?? 0) + 1);
    const base = generateProxyResources(push, proxy);
    if (proxy.type !== 'sidecar') return base;
    const routes = sidecarScopeFor(push, proxy).virtualServices.map((vs) => {
      const spec = vs.object['spec'] as { http?: { timeout?: string }[] };
      return {
        name: vsRoute(vs.metadata.namespace ?? '', vs.metadata.name),
        virtualHosts: [
          {
            name: 'all',
            domains: ['*'],
            routes: [
              { match: { prefix: '/' }, route: { cluster: 'c', timeout: spec.http?.[0]?.timeout ?? '0s' } },
            ],
          },
        ],
      };
    });
    return { ...base, routes };
  };
}

async function metric(pilot: PilotHandle, name: string, labels: string): Promise<number> {
  const text = (await httpGet(pilot.monitoringPort, '/metrics')).body;
  const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('pushes limited to the proxies a change concerns', () => {
  let dir: string;
  let pilot: PilotHandle;
  const counts = new Map<string, number>();
  let a: TestStream;
  let b: TestStream;
  let gw: TestStream;

  /** Subscribes CDS (wildcard) and the proxy's VS route, and acknowledges both. */
  async function subscribe(s: TestStream, n: unknown, route: string): Promise<void> {
    s.send({ node: n, type_url: CDS });
    s.ack(await s.next());
    s.send({ type_url: RDS, resource_names: [route] });
    const r = await s.next();
    s.ack(r, [route]);
  }

  /** Writes a file and waits until the control plane has pushed the change to every connection. */
  async function change(file: string, text: string): Promise<void> {
    const version = pilot.server.push.version;
    writeFileSync(join(dir, file), text);
    assert.ok(await eventually(() => pilot.server.push.version !== version, 5000), `${file} was reloaded`);
    assert.ok(await eventually(() => pilot.server.pendingPushes === 0, 5000), 'pushes drained');
  }

  before(async () => {
    dir = tempDir('skiff-scope-');
    writeFileSync(join(dir, 'base.yaml'), BASE);
    writeFileSync(join(dir, 'sidecar-b.yaml'), SIDECAR_B(['./*']));
    writeFileSync(join(dir, 'vs-a.yaml'), VS_A('1s'));
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 20,
      env: {},
      generator: countingGenerator(counts),
    });
    a = new TestStream(pilot.grpcAddress);
    b = new TestStream(pilot.grpcAddress);
    gw = new TestStream(pilot.grpcAddress);
    await subscribe(a, A_NODE, vsRoute('a', 'reviews'));
    await subscribe(b, B_NODE, vsRoute('a', 'reviews'));
    gw.send({ node: GW_NODE, type_url: CDS });
    gw.ack(await gw.next());
  });
  after(async () => {
    for (const s of [a, b, gw]) s.close();
    await pilot.close();
  });

  it('a VirtualService change in namespace a pushes only the proxy of a (and the gateway, as istiod)', async () => {
    const before = new Map(counts);
    const skipped = pilot.server.skippedPushes;
    const triggers = await metric(pilot, 'pilot_push_triggers', 'type="config"');
    await change('vs-a.yaml', VS_A('2s'));
    const pushed = await a.next(5000);
    assert.equal(pushed.type_url, RDS);
    assert.deepEqual(names(pushed), [vsRoute('a', 'reviews')]);
    assert.match(JSON.stringify(decoded(pushed)), /"timeout":"2s"/);
    a.ack(pushed, [vsRoute('a', 'reviews')]);
    assert.equal(await b.maybeNext(400), undefined, 'b is not pushed');
    assert.equal(counts.get('ratings-1.b'), before.get('ratings-1.b'), 'b is not even regenerated');
    assert.equal(counts.get('reviews-1.a'), (before.get('reviews-1.a') ?? 0) + 1);
    assert.equal(
      counts.get('istio-ingressgateway-1.istio-system'),
      (before.get('istio-ingressgateway-1.istio-system') ?? 0) + 1,
      'routers depend on every VirtualService',
    );
    assert.equal(pilot.server.skippedPushes, skipped + 1);
    // istiod counts the trigger for every connection dequeued, pushed or not.
    assert.equal(await metric(pilot, 'pilot_push_triggers', 'type="config"'), triggers + 3);
  });

  it('a Service change in namespace b pushes b and the gateway, not a, and counts as a service trigger', async () => {
    const before = new Map(counts);
    const triggers = await metric(pilot, 'pilot_push_triggers', 'type="service"');
    await change('ratings.yaml', RATINGS_B([9080, 9091]));
    const pushed = await b.next(5000);
    assert.equal(pushed.type_url, CDS);
    assert.ok(names(pushed).includes('outbound|9091||ratings.b.svc.cluster.local'));
    b.ack(pushed);
    const gwPush = await gw.next(5000);
    assert.ok(names(gwPush).includes('outbound|9091||ratings.b.svc.cluster.local'));
    gw.ack(gwPush);
    assert.equal(await a.maybeNext(400), undefined, 'a is not pushed');
    assert.equal(counts.get('reviews-1.a'), before.get('reviews-1.a'));
    assert.equal(await metric(pilot, 'pilot_push_triggers', 'type="service"'), triggers + 3);
  });

  it('a Sidecar change concerns the sidecars it selects, before or after, and never gateways', async () => {
    const before = new Map(counts);
    await change('sidecar-b.yaml', SIDECAR_B(['./*', 'a/*']));
    // b now imports a's VirtualService (clusters may follow too, when the generator scopes them).
    let rds = await b.next(5000);
    if (rds.type_url === CDS) {
      b.ack(rds);
      rds = await b.next(5000);
    }
    assert.equal(rds.type_url, RDS);
    assert.match(JSON.stringify(decoded(rds)), /"timeout":"2s"/);
    b.ack(rds, [vsRoute('a', 'reviews')]);
    assert.equal(counts.get('reviews-1.a'), before.get('reviews-1.a'));
    assert.equal(
      counts.get('istio-ingressgateway-1.istio-system'),
      before.get('istio-ingressgateway-1.istio-system'),
    );
    assert.equal(await a.maybeNext(300), undefined);
    assert.equal(await gw.maybeNext(100), undefined);
  });

  it('kinds the sidecar scope does not know (PeerAuthentication) concern every proxy', async () => {
    const before = new Map(counts);
    await change(
      'pa.yaml',
      'apiVersion: security.istio.io/v1beta1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: b}\nspec:\n  mtls: {mode: STRICT}\n',
    );
    for (const name of ['reviews-1.a', 'ratings-1.b', 'istio-ingressgateway-1.istio-system']) {
      assert.equal(counts.get(name), (before.get(name) ?? 0) + 1, name);
    }
  });
});
