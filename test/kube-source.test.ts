/**
 * The control plane against a Kubernetes-style API server: skiff's store REST API on a real socket (with
 * one CRD group hidden, as a cluster without those CRDs answers), a kubeconfig pointing at it, `startPilot`
 * with a KubeConfigSource, and a real xDS client on the pilot's gRPC port.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KIND, parseManifests } from '../src/api/index.js';
import { KubeConfigSource, startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { ObjectStore, storeApiHandler } from '../src/store/index.js';
import { TYPE } from '../src/xds/index.js';
import { SimulatedProxy } from './pilot-fixtures.js';
import { tempDir } from './helpers.js';
import { eventually } from './xds-server-client.js';

const CATALOG_CLUSTER = 'outbound|80||catalog.shop.svc.cluster.local';
const REVIEWS_CLUSTER = 'outbound|9080||reviews.shop.svc.cluster.local';

const SEED = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: shop
spec:
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
      targetPort: 3000
---
apiVersion: v1
kind: Service
metadata:
  name: webapp
  namespace: shop
spec:
  selector:
    app: webapp
  ports:
    - name: http
      port: 80
      targetPort: 8080
${pod('catalog-1', 'catalog', '10.0.0.5')}
${pod('webapp-1', 'webapp', '10.0.0.9')}
---
apiVersion: v1
kind: Endpoints
metadata:
  name: catalog
  namespace: shop
subsets:
  - addresses:
      - ip: 10.0.0.5
    ports:
      - name: http
        port: 3000
`;

function pod(name: string, app: string, ip: string): string {
  return `---
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: shop
  labels:
    app: ${app}
    security.istio.io/tlsMode: istio
spec:
  containers:
    - name: ${app}
      image: skiff/${app}
      ports:
        - containerPort: 3000
          name: http
    - name: istio-proxy
      image: docker.io/istio/proxyv2:1.17.8
status:
  phase: Running
  podIP: ${ip}
  podIPs:
    - ip: ${ip}
  conditions:
    - type: Ready
      status: "True"
`;
}

const VS = {
  apiVersion: 'networking.istio.io/v1beta1',
  kind: 'VirtualService',
  metadata: { name: 'catalog', namespace: 'shop' },
  spec: {
    hosts: ['catalog.shop.svc.cluster.local'],
    http: [{ timeout: '3s', route: [{ destination: { host: 'catalog.shop.svc.cluster.local' } }] }],
  },
};

function seed(store: ObjectStore, text: string): void {
  for (const r of parseManifests(text, 'seed.yaml').resources) store.create(structuredClone(r.object));
}

/**
 * The API server: the store's REST handler on a real socket, answering 404 for the groups in `hidden`
 * as a cluster without those CRDs does. It can be stopped and started again on the same port.
 */
class ApiServer {
  readonly hidden = new Set<string>();
  private server: Server | undefined;
  private readonly handler;
  port = 0;

  constructor(store: ObjectStore) {
    this.handler = storeApiHandler(store);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const group = /^\/apis\/([^/]+)/.exec(req.url ?? '')?.[1];
      if (group && this.hidden.has(group)) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: 'the server could not find the requested resource',
            reason: 'NotFound',
            code: 404,
          }),
        );
        return;
      }
      this.handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.handler.closeWatches();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function writeKubeconfig(dir: string, port: number): string {
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: skiff
    cluster:
      server: http://127.0.0.1:${port}
  - name: nowhere
    cluster:
      server: http://127.0.0.1:1
users:
  - name: admin
    user:
      token: not-checked
contexts:
  - name: skiff
    context: { cluster: skiff, user: admin }
  - name: nowhere
    context: { cluster: nowhere, user: admin }
current-context: nowhere
`,
  );
  return file;
}

async function apiRequest(port: number, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.text();
  return res.status;
}

describe('skiff pilot over a Kubernetes API server (KubeConfigSource)', () => {
  let store: ObjectStore;
  let api: ApiServer;
  let pilot: PilotHandle;
  let source: KubeConfigSource;
  let proxy: SimulatedProxy;
  const logs: string[] = [];
  /** Type URLs of the responses the proxy applied, in order. */
  const received: string[] = [];

  before(async () => {
    // A short history, so a watch resuming after a long outage gets 410 Gone and lists again.
    store = ObjectStore.open({ stateDir: null, historyLimit: 8 });
    seed(store, SEED);
    api = new ApiServer(store);
    api.hidden.add('security.istio.io');
    await api.start();
    const kubeconfig = writeKubeconfig(tempDir('skiff-kube-'), api.port);
    source = new KubeConfigSource({
      kubeconfig,
      context: 'skiff',
      env: {},
      retryInitialMs: 50,
      retryMaxMs: 200,
      missingRetryMs: 200,
      syncTimeoutMs: 10_000,
      logger: {
        debug: () => undefined,
        info: (scope, m) => logs.push(`info\t${scope}\t${m}`),
        warn: (scope, m) => logs.push(`warn\t${scope}\t${m}`),
        error: (scope, m) => logs.push(`error\t${scope}\t${m}`),
      },
    });
    pilot = await startPilot({
      source,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      securePort: false,
      debounceAfterMs: 20,
      debounceMaxMs: 500,
      log: (line) => logs.push(line),
      env: {},
    });
    proxy = SimulatedProxy.sidecar(pilot.grpcAddress, {
      ip: '10.0.0.9',
      podName: 'webapp-1',
      namespace: 'shop',
      labels: { app: 'webapp' },
      istioVersion: '1.17.8',
    });
    proxy.client.on('applied', (e) => received.push(e.typeUrl));
    await proxy.start();
  });

  after(async () => {
    await proxy?.close();
    await pilot?.close();
    await api?.stop();
    store?.close();
  });

  it('serves the listed config: a cluster for a Service in the API server, endpoints from its Pods', async () => {
    const snap = proxy.client.snapshot();
    assert.ok(snap.clusters[CATALOG_CLUSTER], Object.keys(snap.clusters).join(' '));
    assert.equal(snap.clusters[REVIEWS_CLUSTER], undefined);
    const cla = await eventually(() => proxy.client.snapshot().endpoints[CATALOG_CLUSTER]);
    assert.match(JSON.stringify(cla), /10\.0\.0\.5/);
    assert.ok(
      logs.some((l) =>
        /\tkube\tLoaded \d+ objects from the Kubernetes API server http:\/\/127\.0\.0\.1:\d+ \(context skiff\)/.test(
          l,
        ),
      ),
    );
    const status = source.status();
    assert.equal(status.connected, true);
    assert.equal(
      status.kinds.find((k) => k.kind === 'networking.istio.io/VirtualService')?.version,
      'v1beta1',
    );
  });

  it('a missing CRD group is a warning per kind, not a failure, and is picked up once installed', async () => {
    const skipped = logs.filter((l) =>
      /^warn\tkube\tSkipping CRD security\.istio\.io\/v1beta1\/\w+ as it is not present$/.test(l),
    );
    assert.deepEqual(skipped.map((l) => l.split('/')[2]?.split(' ')[0]).sort(), [
      'AuthorizationPolicy',
      'PeerAuthentication',
      'RequestAuthentication',
    ]);
    assert.equal(
      source.status().kinds.find((k) => k.kind === 'security.istio.io/PeerAuthentication')?.state,
      'missing',
    );
    // "Install" the CRDs: the source looks again and starts watching them.
    api.hidden.delete('security.istio.io');
    const watching = await eventually(
      () =>
        source.status().kinds.find((k) => k.kind === 'security.istio.io/PeerAuthentication')?.state ===
        'synced',
      10_000,
    );
    assert.ok(watching, JSON.stringify(source.status()));
    const code = await apiRequest(
      api.port,
      'POST',
      '/apis/security.istio.io/v1beta1/namespaces/shop/peerauthentications',
      {
        apiVersion: 'security.istio.io/v1beta1',
        kind: 'PeerAuthentication',
        metadata: { name: 'default', namespace: 'shop' },
        spec: { mtls: { mode: 'STRICT' } },
      },
    );
    assert.equal(code, 201);
    const seen = await eventually(() =>
      pilot.server.push.snapshot.get(KIND.PeerAuthentication, 'shop', 'default'),
    );
    assert.ok(seen);
    // Still one warning per kind.
    assert.equal(
      logs.filter((l) => l.includes('Skipping CRD security.istio.io/v1beta1/PeerAuthentication')).length,
      1,
    );
  });

  it('a VirtualService created through the API changes the route config the proxy holds', async () => {
    const before = JSON.stringify(proxy.client.snapshot().routes['80'] ?? {});
    assert.doesNotMatch(before, /"timeout":"3s"/);
    assert.equal(
      await apiRequest(
        api.port,
        'POST',
        '/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices',
        VS,
      ),
      201,
    );
    const route = await eventually(
      () => /"timeout":"3s"/.test(JSON.stringify(proxy.client.snapshot().routes['80'] ?? {})),
      10_000,
    );
    assert.ok(route, JSON.stringify(proxy.client.snapshot().routes['80']));
  });

  it('Endpoints and Pod changes are EDS-only pushes', async () => {
    const mark = received.length;
    const logMark = logs.length;
    // As the endpoints controller does when a pod becomes ready: the Endpoints object and the Pod change.
    const endpoints = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'catalog', namespace: 'shop' },
      subsets: [
        { addresses: [{ ip: '10.0.0.5' }, { ip: '10.0.0.6' }], ports: [{ name: 'http', port: 3000 }] },
      ],
    };
    assert.equal(
      await apiRequest(api.port, 'PUT', '/api/v1/namespaces/shop/endpoints/catalog', endpoints),
      200,
    );
    const [newPod] = parseManifests(pod('catalog-2', 'catalog', '10.0.0.6'), 'pod.yaml').resources;
    assert.equal(await apiRequest(api.port, 'POST', '/api/v1/namespaces/shop/pods', newPod?.object), 201);
    const eds = await eventually(
      () => /10\.0\.0\.6/.test(JSON.stringify(proxy.client.snapshot().endpoints[CATALOG_CLUSTER] ?? {})),
      10_000,
    );
    assert.ok(eds, JSON.stringify(proxy.client.snapshot().endpoints[CATALOG_CLUSTER]));
    const pushes = () => logs.slice(logMark).filter((l) => /\tPush debounce stable\[\d+\]/.test(l));
    assert.ok(
      await eventually(() => pushes().some((l) => l.includes('Endpoints/shop/catalog')), 10_000),
      logs.slice(logMark).join(''),
    );
    // Every push since the change was endpoints-only, and the proxy got EDS before anything else.
    for (const line of pushes()) assert.match(line, /full=false\n?$/);
    assert.equal(received[mark], TYPE.ClusterLoadAssignment);
    assert.ok(
      received.slice(mark).every((t) => t === TYPE.ClusterLoadAssignment),
      received.slice(mark).join(' '),
    );
  });

  it('reads the mesh config from the istio ConfigMap, and keeps the last good one when it breaks', async () => {
    assert.equal(pilot.server.push.snapshot.mesh.accessLogEncoding, 'TEXT');
    const cm = (mesh: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'istio', namespace: 'istio-system' },
      data: { mesh },
    });
    assert.equal(
      await apiRequest(api.port, 'POST', '/api/v1/namespaces', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: 'istio-system' },
      }),
      201,
    );
    assert.equal(
      await apiRequest(
        api.port,
        'POST',
        '/api/v1/namespaces/istio-system/configmaps',
        cm('accessLogFile: /dev/stdout\naccessLogEncoding: JSON\n'),
      ),
      201,
    );
    assert.ok(await eventually(() => pilot.server.push.snapshot.mesh.accessLogEncoding === 'JSON', 10_000));
    // Another ConfigMap in the namespace is not watched at all.
    const other = {
      ...cm('accessLogEncoding: TEXT'),
      metadata: { name: 'other', namespace: 'istio-system' },
    };
    assert.equal(
      await apiRequest(api.port, 'POST', '/api/v1/namespaces/istio-system/configmaps', other),
      201,
    );
    assert.equal(
      await apiRequest(
        api.port,
        'PUT',
        '/api/v1/namespaces/istio-system/configmaps/istio',
        cm('accessLogEncoding: ['),
      ),
      200,
    );
    assert.ok(
      await eventually(
        () => logs.some((l) => /^warn\tkube\tistio ConfigMap: data\.mesh does not parse/.test(l)),
        10_000,
      ),
    );
    assert.equal(source.snapshot().mesh.accessLogEncoding, 'JSON');
    assert.equal(source.snapshot().get(KIND.ConfigMap, 'istio-system', 'other'), undefined);
  });

  it('deleting a Service through the API removes its cluster', async () => {
    assert.equal(await apiRequest(api.port, 'DELETE', '/api/v1/namespaces/shop/services/catalog'), 200);
    const gone = await eventually(
      () => proxy.client.snapshot().clusters[CATALOG_CLUSTER] === undefined,
      10_000,
    );
    assert.ok(gone);
    // Put it back for the outage tests.
    seed(store, SEED.split('---')[1] as string);
    assert.ok(await eventually(() => proxy.client.snapshot().clusters[CATALOG_CLUSTER], 10_000));
  });

  it('keeps serving the last config while the API server is down, and resumes from its resourceVersion', async () => {
    const serviceLists = () => source.status().kinds.find((k) => k.kind === 'Service')?.lists ?? 0;
    const listsBefore = serviceLists();
    await api.stop();
    assert.ok(await eventually(() => !source.status().connected, 10_000), 'the source never noticed');
    assert.ok(
      logs.some((l) =>
        /^warn\tkube\tLost the watch of \S+ on the Kubernetes API server .*; serving the last good config \(\d+ objects\) and retrying$/.test(
          l,
        ),
      ),
    );
    // The proxy keeps its config, and the pilot's snapshot still has the Service.
    assert.ok(proxy.client.snapshot().clusters[CATALOG_CLUSTER]);
    assert.ok(source.snapshot().get(KIND.Service, 'shop', 'catalog'));
    // A change made while the watch is down arrives once it is back (replayed from its resourceVersion).
    seed(store, svc('reviews', 9080));
    await api.start();
    assert.ok(
      await eventually(() => proxy.client.snapshot().clusters[REVIEWS_CLUSTER], 10_000),
      'no reviews cluster',
    );
    assert.ok(await eventually(() => source.status().connected, 10_000));
    assert.ok(logs.some((l) => /^info\tkube\tWatching the Kubernetes API server http:\S+ again$/.test(l)));
    assert.equal(serviceLists(), listsBefore, 'the Service watch resumed without listing again');
  });

  it('lists again when the resourceVersion expired (410 Gone) and drops what was deleted meanwhile', async () => {
    const serviceLists = () => source.status().kinds.find((k) => k.kind === 'Service')?.lists ?? 0;
    const listsBefore = serviceLists();
    await api.stop();
    assert.ok(await eventually(() => !source.status().connected, 10_000));
    store.delete('/Service', 'shop', 'reviews');
    // More writes than the store's history keeps.
    for (let i = 0; i < 10; i++) seed(store, svc(`filler-${i}`, 8000 + i));
    await api.start();
    assert.ok(
      await eventually(() => proxy.client.snapshot().clusters[REVIEWS_CLUSTER] === undefined, 10_000),
      'reviews still there',
    );
    assert.ok(
      await eventually(
        () => proxy.client.snapshot().clusters['outbound|8009||filler-9.shop.svc.cluster.local'],
        10_000,
      ),
      `${Object.keys(proxy.client.snapshot().clusters).join(' ')} ${JSON.stringify(source.status())}`,
    );
    assert.ok(serviceLists() > listsBefore, 'the Service kind was listed again');
  });
});

function svc(name: string, port: number): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: shop
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: ${port}
`;
}
