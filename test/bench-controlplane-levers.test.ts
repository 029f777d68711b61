// The chapter 11 levers do what docs/tuning.md claims, measured where it is cheap (the generator and a
// pilot on ephemeral ports): a Sidecar scoped to istio-system/* leaves the istioinaction services out of
// a sleep proxy's clusters, discoverySelectors drop an excluded namespace's services, and with
// PILOT_DEBOUNCE_AFTER=2500ms a burst of 20 changes becomes one push.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPaths, parseManifests } from '../src/api/index.js';
import type { Resource } from '../src/api/index.js';
import { withDiscoverySelectors, workspaceObjects, workspaceSetName } from '../src/cli/index.js';
import { DEMO_MESH_CONFIG } from '../src/lab/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import type { MeshConfig } from '../src/model/index.js';
import { startPilot } from '../src/pilot/index.js';
import type { ConfigChange, ConfigSource, PilotHandle } from '../src/pilot/index.js';
import { buildPushContext, generateProxyResources, proxyForWorkload } from '../src/xds/index.js';
import { ROOT } from './helpers.js';
import { CDS, GATEWAY_NODE, TestStream, names } from './xds-server-client.js';

const CH11 = join(ROOT, 'examples', 'ch11');
const SETS = 20;

async function ch11Resources(extra: string[] = []): Promise<Resource[]> {
  const loaded = await loadPaths([join(CH11, 'base'), ...extra.map((f) => join(CH11, f))]);
  assert.deepEqual(loaded.errors, []);
  const sets = parseManifests(
    workspaceObjects(SETS)
      .map((o) => JSON.stringify(o))
      .join('\n---\n'),
    'sets.yaml',
  );
  return [...loaded.resources, ...sets.resources];
}

function clustersOf(
  resources: Resource[],
  app: string,
  mesh?: MeshConfig,
): { clusters: string[]; bytes: number } {
  const push = buildPushContext(new ConfigSnapshot(resources, mesh));
  const workload = push.registry
    .workloads()
    .find((w) => w.labels['app'] === app && w.namespace === 'istioinaction');
  assert.ok(workload, `a ${app} workload`);
  const generated = generateProxyResources(push, proxyForWorkload(workload, { type: 'sidecar' }));
  const clusters = generated.clusters.map((c) => String((c as { name?: unknown }).name));
  return { clusters, bytes: Buffer.byteLength(JSON.stringify(generated)) };
}

const wsCluster = (i: number) => `outbound|80||${workspaceSetName(i)}.istioinaction.svc.cluster.local`;

describe('lever: Sidecar resources (generator)', () => {
  it('a sleep proxy under the mesh-wide Sidecar (egress istio-system/*) gets no istioinaction clusters', async () => {
    const open = clustersOf(await ch11Resources(), 'sleep');
    assert.ok(open.clusters.includes(wsCluster(0)), 'without a Sidecar every service is a cluster');
    assert.ok(open.clusters.includes(wsCluster(SETS - 1)));
    assert.ok(open.clusters.includes('outbound|80||catalog.istioinaction.svc.cluster.local'));

    const scoped = clustersOf(await ch11Resources(['sidecar-mesh-wide.yaml']), 'sleep');
    const istioinaction = scoped.clusters.filter((c) => c.endsWith('.istioinaction.svc.cluster.local'));
    assert.deepEqual(istioinaction, []);
    assert.ok(
      scoped.clusters.some((c) => c.endsWith('istio-ingressgateway.istio-system.svc.cluster.local')),
      'istio-system services stay',
    );
    assert.ok(scoped.bytes * 2 < open.bytes, `config shrinks: ${open.bytes} → ${scoped.bytes} bytes`);
  });

  it('the workload Sidecar lets sleep reach catalog and still none of the 200-style services', async () => {
    const files = ['sidecar-mesh-wide.yaml', 'sidecar-namespace-wide.yaml', 'sidecar-workload-specific.yaml'];
    const sleep = clustersOf(await ch11Resources(files), 'sleep');
    assert.ok(sleep.clusters.includes('outbound|80||catalog.istioinaction.svc.cluster.local'));
    assert.ok(!sleep.clusters.includes(wsCluster(0)));
    const catalog = clustersOf(await ch11Resources(files), 'catalog');
    assert.ok(
      !catalog.clusters.includes('outbound|80||catalog.istioinaction.svc.cluster.local'),
      'namespace default',
    );
  });
});

describe('lever: discoverySelectors (mesh config)', () => {
  const LEGACY = `
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {istio-exclude: "true"}}
---
apiVersion: v1
kind: Service
metadata: {name: old-billing, namespace: legacy}
spec:
  selector: {app: old-billing}
  ports: [{name: http, port: 80}]
`;

  it("an excluded namespace's services leave the clusters; other namespaces stay", async () => {
    const resources = [...(await ch11Resources()), ...parseManifests(LEGACY, 'legacy.yaml').resources];
    const legacy = 'outbound|80||old-billing.legacy.svc.cluster.local';
    assert.ok(clustersOf(resources, 'sleep', parseMeshConfig(DEMO_MESH_CONFIG)).clusters.includes(legacy));
    const selected = parseMeshConfig(withDiscoverySelectors(DEMO_MESH_CONFIG));
    const after = clustersOf(resources, 'sleep', selected).clusters;
    assert.ok(!after.includes(legacy), 'the excluded namespace is gone');
    assert.ok(after.includes(wsCluster(0)), 'istioinaction is not labelled, so it stays');
  });
});

/** A config source the test drives: every `add` is one change event, as one store write is. */
class DrivenSource implements ConfigSource {
  private readonly listeners = new Set<(c: ConfigChange) => void>();
  private resources: Resource[];

  constructor(initial: Resource[]) {
    this.resources = initial;
  }

  snapshot(): ConfigSnapshot {
    return new ConfigSnapshot(this.resources);
  }

  onChange(listener: (c: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }

  addService(name: string): void {
    const yaml = `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: perf}\nspec:\n  selector: {app: x}\n  ports: [{name: http, port: 80}]\n`;
    this.resources = [...this.resources, ...parseManifests(yaml, `${name}.yaml`).resources];
    const change: ConfigChange = {
      snapshot: this.snapshot(),
      changed: [{ kind: 'Service', namespace: 'perf', name }],
      endpointsOnly: false,
    };
    for (const l of this.listeners) l(change);
  }
}

const BASE = `
apiVersion: v1
kind: Namespace
metadata: {name: perf}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('lever: PILOT_DEBOUNCE_AFTER (environment at start)', () => {
  const pilots: PilotHandle[] = [];
  const streams: TestStream[] = [];
  after(async () => {
    for (const s of streams) s.close();
    for (const p of pilots) await p.close();
  });

  /** A pilot started with `env`, and a gateway subscribed to CDS with its first response acknowledged. */
  async function gatewayOn(env: NodeJS.ProcessEnv): Promise<{ source: DrivenSource; gw: TestStream }> {
    const source = new DrivenSource(parseManifests(BASE, 'base.yaml').resources);
    const pilot = await startPilot({ source, grpcPort: 0, httpPort: 0, monitoringPort: 0, env });
    pilots.push(pilot);
    const gw = new TestStream(pilot.grpcAddress);
    streams.push(gw);
    gw.send({ node: GATEWAY_NODE, type_url: CDS });
    gw.ack(await gw.next());
    return { source, gw };
  }

  /** CDS responses until none arrives for `quietMs`, acknowledging each. */
  async function drain(gw: TestStream, quietMs: number): Promise<string[][]> {
    const pushes: string[][] = [];
    for (let r = await gw.maybeNext(quietMs); r; r = await gw.maybeNext(quietMs)) {
      gw.ack(r);
      pushes.push(names(r));
    }
    return pushes;
  }

  it('with 2500ms a burst of 20 changes (50 ms apart) is one push carrying all 20', async () => {
    const { source, gw } = await gatewayOn({ PILOT_DEBOUNCE_AFTER: '2500ms' });
    for (let i = 0; i < 20; i++) {
      source.addService(`burst-${i}`);
      await sleep(50);
    }
    assert.equal(await gw.maybeNext(1500), undefined, 'nothing is pushed inside the quiet period');
    const pushes = await drain(gw, 3000);
    assert.equal(pushes.length, 1, `one push, got ${pushes.length}`);
    for (let i = 0; i < 20; i++)
      assert.ok(pushes[0]?.includes(`outbound|80||burst-${i}.perf.svc.cluster.local`));
  });

  it('with the default 100ms the same kind of changes, 300 ms apart, are pushed one by one', async () => {
    const { source, gw } = await gatewayOn({});
    const pushes: string[][] = [];
    for (let i = 0; i < 5; i++) {
      source.addService(`slow-${i}`);
      pushes.push(...(await drain(gw, 300)));
    }
    pushes.push(...(await drain(gw, 500)));
    assert.ok(pushes.length >= 4, `a push per change, got ${pushes.length}`);
  });
});
