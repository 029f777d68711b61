import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import {
  AdsServer,
  XdsMetrics,
  buildPushContext,
  generateProxyResources,
  proxyFromNode,
} from '../src/xds/index.js';
import type { ProxyResources } from '../src/xds/index.js';
import {
  CATALOG_NODE,
  CDS,
  EDS,
  FIXTURE,
  LDS,
  RDS,
  TestStream,
  decoded,
  names,
  node,
} from './xds-server-client.js';
import type { Response } from './xds-server-client.js';

/** The fixture plus a mesh VirtualService for catalog and a second service, so sidecars have RDS routes. */
function meshYaml(timeout: string): string {
  return `${FIXTURE}
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: istioinaction}
spec:
  selector: {app: reviews}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: catalog-mesh, namespace: istioinaction}
spec:
  hosts: [catalog.istioinaction.svc.cluster.local]
  http:
    - timeout: ${timeout}
      route:
        - destination: {host: catalog.istioinaction.svc.cluster.local, port: {number: 80}}
`;
}

function snapshotOf(yaml: string): ConfigSnapshot {
  const parsed = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  return new ConfigSnapshot(parsed.resources);
}

/** A sidecar with no workload of its own: all of its config is the shared outbound half. */
const SLEEP_NODE = node('sidecar~10.10.0.99~sleep-1.istioinaction~istioinaction.svc.cluster.local', {
  NAMESPACE: 'istioinaction',
  ISTIO_VERSION: '1.17.8',
  CLUSTER_ID: 'Kubernetes',
  LABELS: { app: 'sleep' },
});

function edsNames(cds: Response): string[] {
  return decoded(cds)
    .filter((c) => c['type'] === 'EDS')
    .map((c) => {
      const eds = c['edsClusterConfig'] as { serviceName?: string } | undefined;
      return eds?.serviceName || String(c['name']);
    });
}

function rdsNames(lds: Response): string[] {
  const out = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (typeof v === 'object' && v !== null) {
      const rds = (v as Record<string, unknown>)['rds'] as { routeConfigName?: string } | undefined;
      if (rds?.routeConfigName) out.add(rds.routeConfigName);
      Object.values(v).forEach(visit);
    }
  };
  visit(decoded(lds));
  return [...out].sort();
}

/** What a stream received: type, then every resource's bytes (nonces and versions differ by design). */
type Transcript = string[];

function record(r: Response): string {
  const bytes = (r.resources ?? []).map((res) => Buffer.from(res['value'] as Uint8Array).toString('hex'));
  return `${r.type_url} ${names(r).join(',')} ${bytes.join(',')}`;
}

/** Reads and ACKs responses until the stream is quiet; EDS/RDS ACKs keep their subscriptions. */
async function drain(s: TestStream, subs: Map<string, string[]>, into: Transcript): Promise<void> {
  for (;;) {
    const r = await s.maybeNext(800);
    if (!r) return;
    into.push(record(r));
    s.ack(r, subs.get(r.type_url) ?? []);
  }
}

async function subscribe(
  s: TestStream,
  n: ReturnType<typeof node>,
  into: Transcript,
): Promise<Map<string, string[]>> {
  const subs = new Map<string, string[]>();
  s.send({ node: n, type_url: CDS });
  const cds = await s.next();
  into.push(record(cds));
  s.ack(cds);
  subs.set(EDS, edsNames(cds));
  s.send({ type_url: EDS, resource_names: subs.get(EDS) });
  const eds = await s.next();
  into.push(record(eds));
  s.ack(eds, subs.get(EDS));
  s.send({ type_url: LDS });
  const lds = await s.next();
  into.push(record(lds));
  s.ack(lds);
  subs.set(RDS, rdsNames(lds));
  s.send({ type_url: RDS, resource_names: subs.get(RDS) });
  const rds = await s.next();
  into.push(record(rds));
  s.ack(rds, subs.get(RDS));
  return subs;
}

/** Two sidecars through sync, one VirtualService change and a forced push; transcripts per phase. */
async function run(
  generator?: (
    push: Parameters<typeof generateProxyResources>[0],
    proxy: Parameters<typeof generateProxyResources>[1],
  ) => ProxyResources,
) {
  const server = new AdsServer({
    snapshot: snapshotOf(meshYaml('10s')),
    debounceAfterMs: 10,
    debounceMaxMs: 200,
    metrics: new XdsMetrics({ processMetrics: false }),
    ...(generator ? { generator } : {}),
  });
  const port = await server.listen('127.0.0.1:0');
  const streams = [new TestStream(`127.0.0.1:${port}`), new TestStream(`127.0.0.1:${port}`)];
  const phases = {
    sync: [] as Transcript,
    change: [] as Transcript,
    unrelated: [] as Transcript,
    full: [] as Transcript,
  };
  try {
    const subs = [
      await subscribe(streams[0] as TestStream, CATALOG_NODE, phases.sync),
      await subscribe(streams[1] as TestStream, SLEEP_NODE, phases.sync),
    ];
    const drainAll = async (into: Transcript) => {
      for (const [i, s] of streams.entries()) await drain(s, subs[i] as Map<string, string[]>, into);
    };
    server.configUpdate({
      snapshot: snapshotOf(meshYaml('7s')),
      endpointsOnly: false,
      configs: ['VirtualService/istioinaction/catalog-mesh'],
    });
    await drainAll(phases.change);
    // A change every sidecar is pushed for (unknown kind) but whose generated config is the same.
    server.configUpdate({ snapshot: snapshotOf(meshYaml('7s')), endpointsOnly: false, configs: [] });
    await drainAll(phases.unrelated);
    server.pushAll();
    await drainAll(phases.full);
  } finally {
    for (const s of streams) s.close();
    await server.close();
  }
  return phases;
}

describe('ADS pushes with the shared outbound half', () => {
  it('send exactly what the per-resource path sends, and only what changed', async () => {
    const shared = await run();
    // Spreading drops the non-enumerable `shared` hint, so this server compares resource by resource.
    const perResource = await run((push, proxy) => ({ ...generateProxyResources(push, proxy) }));
    assert.deepEqual(shared, perResource);

    const types = (t: Transcript) => t.map((line) => line.split(' ')[0]);
    assert.equal(types(shared.sync).length, 8);
    // The VirtualService change reaches both sidecars as one RDS response each, nothing else.
    assert.deepEqual(types(shared.change), [RDS, RDS]);
    assert.ok(
      shared.change.every((l) => !shared.sync.includes(l)),
      'the route configurations changed',
    );
    // Nothing differs: nothing is sent.
    assert.deepEqual(shared.unrelated, []);
    // A forced push resends every type to both, in CDS, EDS, LDS, RDS order.
    assert.deepEqual(types(shared.full), [CDS, EDS, LDS, RDS, CDS, EDS, LDS, RDS]);
  });

  it('marks the shared half of a sidecar, out of JSON, and nothing for a gateway', () => {
    const push = buildPushContext(snapshotOf(meshYaml('10s')));
    const sidecar = proxyFromNode(
      'sidecar~10.10.0.15~catalog-v1.istioinaction~istioinaction.svc.cluster.local',
      {
        NAMESPACE: 'istioinaction',
        ISTIO_VERSION: '1.17.8',
      },
    );
    const r = generateProxyResources(push, sidecar);
    assert.ok(r.shared);
    assert.ok(r.shared.clusters.length > 0 && r.shared.clusters.length <= r.clusters.length);
    r.shared.clusters.forEach((c, i) => assert.equal(c, r.clusters[i]));
    r.shared.listeners.forEach((l, i) => assert.equal(l, r.listeners[i]));
    assert.ok(!Object.keys(r).includes('shared'));
    assert.ok(!JSON.stringify(r).includes('"shared"'));
    const gateway = proxyFromNode(
      'router~10.10.0.5~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local',
      {
        NAMESPACE: 'istio-system',
        ISTIO_VERSION: '1.17.8',
      },
    );
    assert.equal(generateProxyResources(push, gateway).shared, undefined);
  });
});
