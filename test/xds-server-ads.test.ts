import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import '@grpc/proto-loader';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Root } from 'protobufjs';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { AdsServer, XdsMetrics } from '../src/xds/index.js';
import {
  CATALOG_NODE,
  CDS,
  EDS,
  FIXTURE,
  GATEWAY_NODE,
  LDS,
  RDS,
  TestStream,
  decoded,
  eventually,
  names,
  node,
} from './xds-server-client.js';

const require = createRequire(import.meta.url);

/** The CSDS ClientConfig type, loaded from the bundled protos (the server encodes it by hand). */
function clientConfigType() {
  const { loadProtosWithOptionsSync } = require('@grpc/proto-loader/build/src/util') as {
    loadProtosWithOptionsSync(files: string[], options: { keepCase: boolean; includeDirs: string[] }): Root;
  };
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const root = loadProtosWithOptionsSync(['envoy/service/status/v3/csds.proto'], {
    keepCase: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d)),
  });
  return root.lookupType('envoy.service.status.v3.ClientConfig');
}

const CATALOG_CLUSTER = 'outbound|80||catalog.istioinaction.svc.cluster.local';

function snapshotOf(yaml: string): ConfigSnapshot {
  const parsed = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  return new ConfigSnapshot(parsed.resources);
}

async function startServer(
  yaml = FIXTURE,
  extra: Partial<ConstructorParameters<typeof AdsServer>[0]> = {},
): Promise<{ server: AdsServer; address: string }> {
  const server = new AdsServer({
    snapshot: snapshotOf(yaml),
    debounceAfterMs: 10,
    debounceMaxMs: 200,
    metrics: new XdsMetrics({ processMetrics: false }),
    ...extra,
  });
  const port = await server.listen('127.0.0.1:0');
  return { server, address: `127.0.0.1:${port}` };
}

/** The fixture without the catalog Service document. */
const WITHOUT_CATALOG_SERVICE = FIXTURE.split('\n---\n')
  .filter((doc) => !(doc.includes('kind: Service\n') && doc.includes('  name: catalog\n')))
  .join('\n---\n');

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('ADS server (state of the world)', () => {
  let server: AdsServer;
  let address: string;
  const streams: TestStream[] = [];
  const open = (kind: 'sotw' | 'delta' = 'sotw') => {
    const s = new TestStream(address, kind);
    streams.push(s);
    return s;
  };

  before(async () => {
    ({ server, address } = await startServer());
  });
  after(async () => {
    for (const s of streams) s.close();
    await server.close();
  });

  it('answers a wildcard CDS subscription, is SYNCED after the ACK and does not resend', async () => {
    const s = open();
    s.send({ node: CATALOG_NODE, type_url: CDS });
    const r = await s.next();
    assert.equal(r.type_url, CDS);
    assert.match(r.version_info ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\/\d+$/);
    assert.ok(names(r).includes(CATALOG_CLUSTER), names(r).join(','));
    const con = server.connections().find((c) => c.proxy.name === 'catalog-v1.istioinaction');
    assert.ok(con);
    assert.match(con.id, /^catalog-v1\.istioinaction-\d+$/);
    assert.equal(server.statusOf(con, CDS), 'STALE');
    s.ack(r);
    await eventually(() => server.statusOf(con, CDS) === 'SYNCED');
    assert.equal(server.statusOf(con, CDS), 'SYNCED');
    assert.equal(await s.maybeNext(300), undefined, 'an ACK is not answered');
    const row = server.syncz().find((x) => x.proxy === 'catalog-v1.istioinaction');
    assert.ok(row);
    assert.equal(row.cluster_sent, r.nonce);
    assert.equal(row.cluster_acked, r.nonce);
    assert.equal(row.cluster_id, 'Kubernetes');
    assert.equal(row.istio_version, '1.17.8');
    assert.equal(row.listener_sent, undefined, 'types never sent are omitted');
  });

  it('answers EDS for the requested names only, with an empty assignment for unknown ones', async () => {
    const s = open();
    s.send({
      node: CATALOG_NODE,
      type_url: EDS,
      resource_names: [CATALOG_CLUSTER, 'outbound|81||nope.example'],
    });
    const r = await s.next();
    assert.deepEqual(names(r).sort(), [CATALOG_CLUSTER, 'outbound|81||nope.example'].sort());
    const cla = decoded(r).find((x) => x['clusterName'] === CATALOG_CLUSTER);
    assert.match(JSON.stringify(cla), /10\.10\.0\.15/);
    const empty = decoded(r).find((x) => x['clusterName'] === 'outbound|81||nope.example');
    assert.deepEqual(empty, { clusterName: 'outbound|81||nope.example' });
    // ACK that also adds a name: only the added name comes back.
    const added = 'outbound|80||istio-ingressgateway.istio-system.svc.cluster.local';
    s.ack(r, [CATALOG_CLUSTER, 'outbound|81||nope.example', added]);
    const r2 = await s.next();
    assert.deepEqual(names(r2), [added]);
    // ACK dropping a name: no response (removal is implicit in SotW EDS).
    s.ack(r2, [CATALOG_CLUSTER, added]);
    assert.equal(await s.maybeNext(300), undefined);
  });

  it('records a NACK as ERROR with its message, counts it, and does not resend', async () => {
    const s = open();
    s.send({ node: CATALOG_NODE, type_url: CDS });
    const r = await s.next();
    s.send({
      type_url: CDS,
      version_info: '',
      response_nonce: r.nonce,
      error_detail: { code: 3, message: 'cluster catalog: bad lb policy' },
    });
    const con = await eventually(() =>
      server
        .connections()
        .find((c) => c.watches.get(CDS)?.lastError !== '' && c.watches.get(CDS)?.nonceSent === r.nonce),
    );
    assert.ok(con);
    assert.equal(server.statusOf(con, CDS), 'ERROR');
    assert.equal(con.watches.get(CDS)?.lastError, 'cluster catalog: bad lb policy');
    assert.equal(await s.maybeNext(300), undefined, 'a NACK is not answered');
    const text = await server.metrics.text();
    assert.ok((metricValue(text, 'pilot_total_xds_rejects{type="cds"}') ?? 0) >= 1, text);
    assert.equal(
      metricValue(text, 'pilot_xds_cds_reject{node="catalog-v1.istioinaction",err="InvalidArgument"}'),
      1,
    );
    // The same config pushed again is not resent to the proxy that rejected it.
    server.configUpdate({ snapshot: snapshotOf(FIXTURE), endpointsOnly: false, configs: ['Service/x/y'] });
    assert.equal(await s.maybeNext(400), undefined);
    assert.equal(server.statusOf(con, CDS), 'ERROR');
  });

  it('ignores a request with a stale nonce', async () => {
    const s = open();
    s.send({ node: CATALOG_NODE, type_url: CDS });
    const r = await s.next();
    const before = metricValue(await server.metrics.text(), 'pilot_xds_expired_nonce{type="cds"}') ?? 0;
    s.send({ type_url: CDS, version_info: r.version_info, response_nonce: 'not-the-nonce-we-sent' });
    assert.equal(await s.maybeNext(300), undefined);
    const after = metricValue(await server.metrics.text(), 'pilot_xds_expired_nonce{type="cds"}') ?? 0;
    assert.equal(after, before + 1);
    const con = server.connections().find((c) => c.watches.get(CDS)?.nonceSent === r.nonce);
    assert.ok(con);
    assert.equal(server.statusOf(con, CDS), 'STALE', 'a stale nonce is not an ACK');
  });

  it('ends a stream with a bad node id with INVALID_ARGUMENT and leaves other streams alone', async () => {
    const good = open();
    good.send({ node: CATALOG_NODE, type_url: CDS });
    await good.next();
    const bad = open();
    bad.send({ node: node('not-a-node-id'), type_url: CDS });
    const status = await bad.ended;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /must have 4 parts/);
    const missing = open();
    missing.send({ type_url: CDS });
    const status2 = await missing.ended;
    assert.equal(status2.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(status2.details, 'missing node information');
    good.send({ type_url: EDS, resource_names: [CATALOG_CLUSTER] });
    assert.deepEqual(names(await good.next()), [CATALOG_CLUSTER]);
  });

  it('keeps a watch on an unknown type URL without answering it, and the stream keeps working', async () => {
    const s = open();
    s.send({ node: CATALOG_NODE, type_url: 'type.googleapis.com/example.Unknown', resource_names: ['x'] });
    assert.equal(await s.maybeNext(300), undefined);
    s.send({ type_url: CDS });
    const r = await s.next();
    assert.equal(r.type_url, CDS);
    const con = server.connections().find((c) => c.watches.has('type.googleapis.com/example.Unknown'));
    assert.ok(con);
    assert.equal(server.statusOf(con, 'type.googleapis.com/example.Unknown'), 'NOT_SENT');
  });
});

describe('ADS server pushes', () => {
  it('drops deleted clusters from the next SotW CDS response and pushes CDS, EDS, LDS, RDS in order', async () => {
    const { server, address } = await startServer();
    const s = new TestStream(address);
    try {
      s.send({ node: GATEWAY_NODE, type_url: CDS });
      const cds = await s.next();
      assert.ok(names(cds).includes(CATALOG_CLUSTER));
      s.ack(cds);
      s.send({ type_url: EDS, resource_names: [CATALOG_CLUSTER] });
      s.ack(await s.next(), [CATALOG_CLUSTER]);
      s.send({ type_url: LDS });
      const lds = await s.next();
      assert.ok(names(lds).length > 0, 'the gateway has a listener for its HTTP server');
      s.ack(lds);
      s.send({ type_url: RDS, resource_names: ['http.8080'] });
      const rds = await s.next();
      assert.deepEqual(names(rds), ['http.8080']);
      s.ack(rds, ['http.8080']);

      // A full forced push goes out in make-before-break order.
      assert.equal(server.pushAll(), 1);
      const order: string[] = [];
      for (let i = 0; i < 4; i++) {
        const r = await s.next();
        order.push(r.type_url);
        s.ack(r, r.type_url === EDS ? [CATALOG_CLUSTER] : r.type_url === RDS ? ['http.8080'] : []);
      }
      assert.deepEqual(order, [CDS, EDS, LDS, RDS]);

      // Deleting the catalog Service removes its cluster from the next (complete) CDS response.
      const without = WITHOUT_CATALOG_SERVICE;
      assert.ok(!without.includes('targetPort: 3000'));
      server.configUpdate({
        snapshot: snapshotOf(without),
        endpointsOnly: false,
        configs: ['Service/istioinaction/catalog'],
      });
      const next = await s.next();
      assert.equal(next.type_url, CDS);
      assert.ok(!names(next).includes(CATALOG_CLUSTER));
      assert.ok(names(next).length > 0, 'the other clusters are still there');
    } finally {
      s.close();
      await server.close();
    }
  });

  it('pushes only EDS for an endpoint-only change', async () => {
    const { server, address } = await startServer();
    const s = new TestStream(address);
    try {
      s.send({ node: CATALOG_NODE, type_url: CDS });
      s.ack(await s.next());
      s.send({ type_url: EDS, resource_names: [CATALOG_CLUSTER] });
      s.ack(await s.next(), [CATALOG_CLUSTER]);
      const moved = FIXTURE.replace('podIP: 10.10.0.15', 'podIP: 10.10.0.16');
      server.configUpdate({
        snapshot: snapshotOf(moved),
        endpointsOnly: true,
        configs: ['Pod/istioinaction/catalog-v1'],
      });
      const r = await s.next();
      assert.equal(r.type_url, EDS);
      assert.match(JSON.stringify(decoded(r)), /10\.10\.0\.16/);
      assert.equal(await s.maybeNext(300), undefined, 'no CDS follows');
      const text = await server.metrics.text();
      assert.equal(metricValue(text, 'pilot_push_triggers{type="endpoint"}'), 1);
      assert.equal(metricValue(text, 'pilot_proxy_convergence_time_count'), 1);
    } finally {
      s.close();
      await server.close();
    }
  });

  it('encodes a resource once for proxies that receive identical content', async () => {
    const { server, address } = await startServer();
    const a = new TestStream(address);
    const b = new TestStream(address);
    try {
      a.send({ node: CATALOG_NODE, type_url: CDS });
      const ra = await a.next();
      const misses = server.cache.misses;
      // A second connection of the same workload (as after an Envoy hot restart) gets identical content.
      b.send({ node: CATALOG_NODE, type_url: CDS });
      const rb = await b.next();
      assert.deepEqual(names(rb), names(ra));
      assert.equal(server.cache.misses, misses, 'the second proxy reused every encoded cluster');
      assert.ok(server.cache.hits >= names(rb).length);
    } finally {
      a.close();
      b.close();
      await server.close();
    }
  });

  it('cleans up a client that disconnects in the middle of a push', async () => {
    const { server, address } = await startServer(FIXTURE, { pushThrottle: 1 });
    const clients = Array.from({ length: 5 }, () => new TestStream(address));
    try {
      clients.forEach((c, i) =>
        c.send({
          node: node(`sidecar~10.10.1.${i}~p${i}.istioinaction~istioinaction.svc.cluster.local`, {}),
          type_url: CDS,
        }),
      );
      for (const c of clients) c.ack(await c.next());
      server.pushAll();
      clients[0]?.close();
      clients[3]?.close();
      await eventually(() => server.connections().length === 3 && server.pendingPushes === 0);
      assert.equal(server.connections().length, 3);
      assert.equal(server.pendingPushes, 0);
      const text = await server.metrics.text();
      assert.equal(metricValue(text, 'pilot_xds{version=""}'), 3);
    } finally {
      for (const c of clients) c.close();
      await server.close();
    }
    assert.equal(server.connections().length, 0);
  });
});

describe('ADS debug type istio.io/debug/syncz', () => {
  it('answers a debug client with a CSDS ClientConfig per proxy, as istioctl proxy-status reads it', async () => {
    const { server, address } = await startServer();
    const proxy = new TestStream(address);
    const plain = new TestStream(address);
    const debug = new TestStream(address);
    try {
      proxy.send({
        node: node('router~10.10.0.5~istio-ingressgateway-1.istio-system~istio-system.svc.cluster.local', {
          NAMESPACE: 'istio-system',
          CLUSTER_ID: 'Kubernetes',
          PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
        }),
        type_url: CDS,
      });
      proxy.ack(await proxy.next());
      proxy.send({ type_url: RDS, resource_names: ['http.8080'] });
      await proxy.next();
      plain.send({ node: CATALOG_NODE, type_url: CDS });
      await plain.next();
      await eventually(() => server.connections().some((c) => c.watches.get(CDS)?.nonceAcked));
      debug.send({ node: node('debug~0.0.0.0~istioctl~cluster.local'), type_url: 'istio.io/debug/syncz' });
      const r = await debug.next();
      assert.equal(r.type_url, 'istio.io/debug/syncz');
      assert.equal(r.resources?.length, 1, 'only connections with PROXY_CONFIG metadata are listed');
      const any = (r.resources ?? [])[0] as { type_url: string; value: Buffer };
      assert.equal(any.type_url, 'type.googleapis.com/envoy.service.status.v3.ClientConfig');
      const T = clientConfigType();
      const cc = T.toObject(T.decode(any.value), { enums: String }) as {
        node: { id: string; metadata: { fields: Record<string, { stringValue: string }> } };
        generic_xds_configs: { type_url: string; config_status?: string }[];
      };
      assert.equal(cc.node.id, 'istio-ingressgateway-1.istio-system');
      assert.equal(cc.node.metadata.fields['CLUSTER_ID']?.stringValue, 'Kubernetes');
      assert.deepEqual(
        cc.generic_xds_configs.map((g) => [g.type_url.split('.').at(-1), g.config_status]),
        [
          ['Listener', 'NOT_SENT'],
          ['RouteConfiguration', 'STALE'],
          ['ClusterLoadAssignment', 'NOT_SENT'],
          ['Cluster', 'SYNCED'],
          ['TypedExtensionConfig', 'NOT_SENT'],
        ],
      );
    } finally {
      proxy.close();
      plain.close();
      debug.close();
      await server.close();
    }
  });
});

describe('ADS server (delta)', () => {
  it('subscribes, ACKs, and reports deleted clusters in removed_resources', async () => {
    const { server, address } = await startServer();
    const s = new TestStream(address, 'delta');
    try {
      s.send({ node: CATALOG_NODE, type_url: CDS, resource_names_subscribe: ['*'] });
      const r = await s.next();
      assert.ok(names(r).includes(CATALOG_CLUSTER));
      const version = (r.resources ?? []).find((x) => x['name'] === CATALOG_CLUSTER)?.['version'];
      assert.match(String(version), /^[0-9a-f]{16}$/);
      s.send({ type_url: CDS, response_nonce: r.nonce });
      const con = await eventually(() => server.connections().find((c) => c.kind === 'delta'));
      assert.ok(con);
      await eventually(() => server.statusOf(con, CDS) === 'SYNCED');
      assert.equal(server.statusOf(con, CDS), 'SYNCED');
      assert.equal(await s.maybeNext(200), undefined);

      const without = WITHOUT_CATALOG_SERVICE;
      server.configUpdate({
        snapshot: snapshotOf(without),
        endpointsOnly: false,
        configs: ['Service/istioinaction/catalog'],
      });
      const removal = await s.next();
      // The pod's inbound cluster goes too: without the Service the pod serves no service port.
      assert.deepEqual(removal.removed_resources, [CATALOG_CLUSTER, 'inbound|3000||']);
      assert.deepEqual(removal.resources ?? [], [], 'unchanged clusters are not resent');

      // A named EDS subscription, then unsubscribing it: no response to the unsubscribe.
      s.send({
        type_url: EDS,
        resource_names_subscribe: ['outbound|80||istio-ingressgateway.istio-system.svc.cluster.local'],
      });
      const eds = await s.next();
      assert.deepEqual(names(eds), ['outbound|80||istio-ingressgateway.istio-system.svc.cluster.local']);
      s.send({
        type_url: EDS,
        response_nonce: eds.nonce,
        resource_names_unsubscribe: ['outbound|80||istio-ingressgateway.istio-system.svc.cluster.local'],
      });
      assert.equal(await s.maybeNext(300), undefined);
    } finally {
      s.close();
      await server.close();
    }
  });
});
