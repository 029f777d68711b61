/**
 * AdsClient against a minimal ADS server written here with @grpc/grpc-js (real gRPC over 127.0.0.1):
 * the server records every DiscoveryRequest and the test decides each response, so nonces, versions,
 * names and error_detail are asserted exactly as a control plane receives them.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type {
  AdsClientOptions,
  AnyMessage,
  AppliedEvent,
  DiscoveryRequestMessage,
  DiscoveryResponseMessage,
  Json,
} from '../src/xds/index.js';
import {
  AdsClient,
  TYPE,
  adsServiceDefinition,
  encodeAny,
  plainFromStruct,
  sidecarNode,
} from '../src/xds/index.js';

// ---- a minimal ADS server ----

interface Received {
  stream: number;
  type: string;
  version: string;
  nonce: string;
  names: string[];
  error?: { code?: number; message?: string };
  node?: DiscoveryRequestMessage['node'];
}

type AdsCall = grpc.ServerDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;

class TestAdsServer {
  readonly requests: Received[] = [];
  private server: grpc.Server | undefined;
  private calls: AdsCall[] = [];
  private waiters: (() => void)[] = [];
  private nonceSeq = 0;
  port = 0;

  async start(port = 0): Promise<void> {
    const server = new grpc.Server();
    server.addService(adsServiceDefinition(), {
      StreamAggregatedResources: (call: AdsCall) => {
        const stream = this.calls.push(call) - 1;
        call.on('data', (r: DiscoveryRequestMessage) => {
          const received: Received = {
            stream,
            type: r.type_url ?? '',
            version: r.version_info ?? '',
            nonce: r.response_nonce ?? '',
            names: r.resource_names ?? [],
          };
          if (r.error_detail) received.error = r.error_detail;
          if (r.node) received.node = r.node;
          this.requests.push(received);
          for (const w of this.waiters.splice(0)) w();
        });
        call.on('error', () => {});
        call.on('end', () => call.end());
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.server = server;
  }

  /** Kills the server and every stream, as a crashing control plane would. */
  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  get target(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Sends a response on the newest stream; returns its nonce. */
  respond(type: string, version: string, resources: AnyMessage[]): string {
    const call = this.calls.at(-1);
    assert.ok(call, 'no stream open');
    const nonce = `n${++this.nonceSeq}`;
    call.write({ version_info: version, type_url: type, nonce, resources });
    return nonce;
  }

  /** The first request at or after index `from` matching `match`, waiting up to 5 s for it. */
  async waitFor(match: (r: Received) => boolean, from = 0, what = 'request'): Promise<Received> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const found = this.requests.slice(from).find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.requests.slice(from).map((r) => `${short(r.type)} v=${r.version} n=${r.nonce}`);
        assert.fail(`timed out waiting for ${what}; saw: ${seen.join('; ')}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

function short(type: string): string {
  return type.slice(type.lastIndexOf('.') + 1);
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---- resources ----

const CATALOG = 'outbound|80||catalog.istioinaction.svc.cluster.local';
const WEBAPP = 'outbound|80||webapp.istioinaction.svc.cluster.local';
const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';

function edsCluster(name: string, connectTimeout = '10s', initialFetchTimeout: string | null = '0s'): Json {
  return {
    name,
    type: 'EDS',
    connectTimeout,
    edsClusterConfig: {
      serviceName: name,
      edsConfig: {
        ads: {},
        resourceApiVersion: 'V3',
        ...(initialFetchTimeout ? { initialFetchTimeout } : {}),
      },
    },
  };
}

const BLACKHOLE: Json = { name: 'BlackHoleCluster', type: 'STATIC', connectTimeout: '10s' };

function cla(name: string, ip: string): Json {
  return {
    clusterName: name,
    endpoints: [
      { lbEndpoints: [{ endpoint: { address: { socketAddress: { address: ip, portValue: 3000 } } } }] },
    ],
  };
}

function listener(port: number, route: string): Json {
  return {
    name: `0.0.0.0_${port}`,
    address: { socketAddress: { address: '0.0.0.0', portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: {
              '@type': HCM,
              statPrefix: `outbound_0.0.0.0_${port}`,
              rds: {
                configSource: { ads: {}, initialFetchTimeout: '0s', resourceApiVersion: 'V3' },
                routeConfigName: route,
              },
              httpFilters: [{ name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

function routeConfig(name: string, cluster: string): Json {
  return {
    name,
    virtualHosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  };
}

const any = (type: string, json: Json): AnyMessage => encodeAny(type, json);

const NODE = sidecarNode({
  ip: '10.10.0.15',
  podName: 'catalog-6cf4b97d-dkbtp',
  namespace: 'istioinaction',
  labels: { app: 'catalog', version: 'v1' },
  serviceAccount: 'catalog',
});

interface Harness {
  server: TestAdsServer;
  client: AdsClient;
  applied: AppliedEvent[];
}

async function harness(options: Partial<AdsClientOptions> = {}): Promise<Harness> {
  const server = new TestAdsServer();
  await server.start();
  const applied: AppliedEvent[] = [];
  const client = new AdsClient({
    target: server.target,
    node: NODE,
    backoff: { initialMs: 20, maxMs: 100 },
    onApplied: (_t, _v, _n, event) => applied.push(event),
    ...options,
  });
  return { server, client, applied };
}

function shutdown(h: Harness): void {
  h.client.close();
  h.server.stop();
}

const isAck = (type: string, version: string, nonce: string) => (r: Received) =>
  r.type === type && r.version === version && r.nonce === nonce && !r.error;

/** Drives the client through CDS → EDS → LDS → RDS at version `v1`. */
async function bringUp(h: Harness): Promise<void> {
  const { server, client } = h;
  client.start();
  await server.waitFor((r) => r.type === TYPE.Cluster, 0, 'CDS request');
  let mark = server.requests.length;
  const n1 = server.respond(TYPE.Cluster, 'v1', [
    any(TYPE.Cluster, edsCluster(CATALOG)),
    any(TYPE.Cluster, BLACKHOLE),
  ]);
  await server.waitFor((r) => r.type === TYPE.ClusterLoadAssignment, mark, 'EDS request');
  await server.waitFor(isAck(TYPE.Cluster, 'v1', n1), mark, 'CDS ACK');
  mark = server.requests.length;
  server.respond(TYPE.ClusterLoadAssignment, 'v1', [
    any(TYPE.ClusterLoadAssignment, cla(CATALOG, '10.10.0.20')),
  ]);
  await server.waitFor((r) => r.type === TYPE.Listener, mark, 'LDS request');
  mark = server.requests.length;
  server.respond(TYPE.Listener, 'v1', [any(TYPE.Listener, listener(8080, 'http.8080'))]);
  await server.waitFor((r) => r.type === TYPE.RouteConfiguration, mark, 'RDS request');
  mark = server.requests.length;
  const n4 = server.respond(TYPE.RouteConfiguration, 'v1', [
    any(TYPE.RouteConfiguration, routeConfig('http.8080', CATALOG)),
  ]);
  await server.waitFor(isAck(TYPE.RouteConfiguration, 'v1', n4), mark, 'RDS ACK');
}

// ---- tests ----

test('initial CDS → EDS → LDS → RDS with warming, ACKs carrying version and nonce, node on the first request only', async () => {
  const h = await harness();
  const { server, client, applied } = h;
  try {
    const ready = once(client, 'ready');
    client.start();
    const cds = await server.waitFor((r) => r.type === TYPE.Cluster);
    assert.deepEqual([cds.version, cds.nonce, cds.names], ['', '', []]);
    assert.equal(
      cds.node?.id,
      'sidecar~10.10.0.15~catalog-6cf4b97d-dkbtp.istioinaction~istioinaction.svc.cluster.local',
    );
    assert.equal(cds.node?.cluster, 'catalog.istioinaction');
    const metadata = plainFromStruct(cds.node?.metadata);
    assert.equal(metadata['NAMESPACE'], 'istioinaction');
    assert.deepEqual(metadata['LABELS'], { app: 'catalog', version: 'v1' });
    assert.equal(metadata['INSTANCE_IPS'], '10.10.0.15');

    let mark = server.requests.length;
    const n1 = server.respond(TYPE.Cluster, 'v1', [
      any(TYPE.Cluster, edsCluster(CATALOG)),
      any(TYPE.Cluster, BLACKHOLE),
    ]);
    await server.waitFor(isAck(TYPE.Cluster, 'v1', n1), mark, 'CDS ACK');
    const eds = await server.waitFor((r) => r.type === TYPE.ClusterLoadAssignment, mark, 'EDS request');
    assert.deepEqual([eds.version, eds.nonce, eds.names], ['', '', [CATALOG]]);
    // The EDS cluster warms; the static one is active at once; LDS waits for CDS to be warm.
    let snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.clusters), ['BlackHoleCluster']);
    assert.deepEqual(snap.warming.clusters, [CATALOG]);
    assert.equal(server.requests.filter((r) => r.type === TYPE.Listener).length, 0);

    mark = server.requests.length;
    const n2 = server.respond(TYPE.ClusterLoadAssignment, 'e1', [
      any(TYPE.ClusterLoadAssignment, cla(CATALOG, '10.10.0.20')),
      any(TYPE.ClusterLoadAssignment, cla('outbound|9|x|unrequested', '10.0.0.9')),
    ]);
    const edsAck = await server.waitFor(isAck(TYPE.ClusterLoadAssignment, 'e1', n2), mark, 'EDS ACK');
    assert.deepEqual(edsAck.names, [CATALOG]);
    const lds = await server.waitFor((r) => r.type === TYPE.Listener, mark, 'LDS request');
    assert.deepEqual([lds.version, lds.nonce, lds.names], ['', '', []]);
    snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.clusters).sort(), ['BlackHoleCluster', CATALOG]);
    assert.deepEqual(Object.keys(snap.endpoints), [CATALOG], 'unrequested ClusterLoadAssignment ignored');
    assert.deepEqual(snap.warming.clusters, []);

    mark = server.requests.length;
    const n3 = server.respond(TYPE.Listener, 'v1', [any(TYPE.Listener, listener(8080, 'http.8080'))]);
    await server.waitFor(isAck(TYPE.Listener, 'v1', n3), mark, 'LDS ACK');
    const rds = await server.waitFor((r) => r.type === TYPE.RouteConfiguration, mark, 'RDS request');
    assert.deepEqual([rds.version, rds.nonce, rds.names], ['', '', ['http.8080']]);
    snap = client.snapshot();
    assert.deepEqual(snap.listeners, {}, 'listener warms until its route arrives');
    assert.deepEqual(snap.warming.listeners, ['0.0.0.0_8080']);
    assert.equal(client.ready, false);

    mark = server.requests.length;
    const n4 = server.respond(TYPE.RouteConfiguration, 'r1', [
      any(TYPE.RouteConfiguration, routeConfig('http.8080', CATALOG)),
    ]);
    const rdsAck = await server.waitFor(isAck(TYPE.RouteConfiguration, 'r1', n4), mark, 'RDS ACK');
    assert.deepEqual(rdsAck.names, ['http.8080']);
    await ready;
    snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.listeners), ['0.0.0.0_8080']);
    assert.deepEqual(Object.keys(snap.routes), ['http.8080']);
    assert.equal(
      ((snap.routes['http.8080']?.['virtualHosts'] as Json[])[0]?.['routes'] as Json[])[0]?.[
        'route'
      ] instanceof Object,
      true,
    );
    assert.equal((snap.clusters[CATALOG]?.['edsClusterConfig'] as Json)['serviceName'], CATALOG);
    assert.deepEqual(snap.versions, {
      [TYPE.Cluster]: 'v1',
      [TYPE.ClusterLoadAssignment]: 'e1',
      [TYPE.Listener]: 'v1',
      [TYPE.RouteConfiguration]: 'r1',
      [TYPE.Secret]: '',
    });
    assert.equal(snap.connected, true);
    assert.equal(snap.ready, true);
    assert.deepEqual(
      applied.map((e) => [short(e.typeUrl), e.version, e.names.length]),
      [
        ['Cluster', 'v1', 2],
        ['ClusterLoadAssignment', 'e1', 1],
        ['Listener', 'v1', 1],
        ['RouteConfiguration', 'r1', 1],
      ],
    );
    assert.ok(applied.every((e) => e.appliedAt >= e.receivedAt));
    // The whole conversation, request by request: no duplicates, ACK before the dependent subscription.
    assert.deepEqual(
      server.requests.map((r) => [short(r.type), r.version, r.nonce, r.names.join(',')]),
      [
        ['Cluster', '', '', ''],
        ['Cluster', 'v1', n1, ''],
        ['ClusterLoadAssignment', '', '', CATALOG],
        ['ClusterLoadAssignment', 'e1', n2, CATALOG],
        ['Listener', '', '', ''],
        ['Listener', 'v1', n3, ''],
        ['RouteConfiguration', '', '', 'http.8080'],
        ['RouteConfiguration', 'r1', n4, 'http.8080'],
      ],
    );
    assert.equal(server.requests.filter((r) => r.node).length, 1, 'node only on the first request');
    assert.equal(server.requests[0]?.node?.id, NODE.id);
    // No Secret subscription: nothing references an SDS secret.
    assert.equal(server.requests.filter((r) => r.type === TYPE.Secret).length, 0);
  } finally {
    shutdown(h);
  }
});

test('a response the validate hook rejects is NACKed with the previous version, the new nonce and INVALID_ARGUMENT; the old config stays', async () => {
  const rejected: string[] = [];
  const h = await harness({
    validate: (typeUrl, resources) => {
      if (resources.some((r) => r.name === 'boom')) throw new Error('boom exploded');
      return typeUrl === TYPE.Cluster && resources.some((r) => r.name === 'bad')
        ? 'cluster "bad": not allowed'
        : undefined;
    },
    onRejected: (e) => rejected.push(e.message),
  });
  const { server, client } = h;
  try {
    await bringUp(h);
    let mark = server.requests.length;
    const nonce = server.respond(TYPE.Cluster, 'v2', [
      any(TYPE.Cluster, edsCluster(CATALOG)),
      any(TYPE.Cluster, { name: 'bad', type: 'STATIC' }),
    ]);
    const nack = await server.waitFor((r) => r.type === TYPE.Cluster && r.nonce === nonce, mark, 'NACK');
    assert.equal(nack.version, 'v1', 'NACK carries the last accepted version');
    assert.equal(nack.error?.code, 3);
    assert.equal(nack.error?.message, 'cluster "bad": not allowed');
    assert.deepEqual(rejected, ['cluster "bad": not allowed']);
    let snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.clusters).sort(), ['BlackHoleCluster', CATALOG]);
    assert.equal(snap.versions[TYPE.Cluster], 'v1');
    assert.equal(snap.rejected[TYPE.Cluster]?.version, 'v2');
    assert.equal(snap.rejected[TYPE.Cluster]?.nonce, nonce);

    // A validate hook that throws NACKs too, with the thrown message.
    mark = server.requests.length;
    const boom = server.respond(TYPE.Cluster, 'v2b', [any(TYPE.Cluster, { name: 'boom', type: 'STATIC' })]);
    const nack2 = await server.waitFor(
      (r) => r.type === TYPE.Cluster && r.nonce === boom,
      mark,
      'NACK (throw)',
    );
    assert.equal(nack2.version, 'v1');
    assert.equal(nack2.error?.message, 'boom exploded');
    assert.deepEqual(Object.keys(client.snapshot().clusters).sort(), ['BlackHoleCluster', CATALOG]);

    mark = server.requests.length;
    const good = server.respond(TYPE.Cluster, 'v3', [any(TYPE.Cluster, edsCluster(CATALOG))]);
    await server.waitFor(isAck(TYPE.Cluster, 'v3', good), mark, 'ACK after NACK');
    snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.clusters), [CATALOG]);
    assert.equal(snap.versions[TYPE.Cluster], 'v3');
    assert.deepEqual(snap.rejected, {}, 'an accepted response clears the NACK');
  } finally {
    shutdown(h);
  }
});

test('undecodable, mistyped, nameless and duplicate resources are NACKed without breaking the stream', async () => {
  const h = await harness();
  const { server, client } = h;
  try {
    await bringUp(h);
    const before = client.snapshot();
    const cases: [string, AnyMessage[], RegExp][] = [
      [
        'garbage bytes',
        [{ type_url: TYPE.Listener, value: Uint8Array.from([0xff, 0xff, 0xff, 0xff]) }],
        /cannot decode/,
      ],
      ['wrong type', [any(TYPE.Cluster, BLACKHOLE)], /does not match the response type URL/],
      ['no name', [any(TYPE.Listener, { address: {} })], /has no name/],
      [
        'duplicate',
        [any(TYPE.Listener, listener(8080, 'http.8080')), any(TYPE.Listener, listener(8080, 'http.8080'))],
        /duplicate resource name "0.0.0.0_8080"/,
      ],
    ];
    for (const [label, resources, message] of cases) {
      const mark = server.requests.length;
      const nonce = server.respond(TYPE.Listener, `bad-${label}`, resources);
      const nack = await server.waitFor((r) => r.type === TYPE.Listener && r.nonce === nonce, mark, label);
      assert.equal(nack.version, 'v1', label);
      assert.equal(nack.error?.code, 3, label);
      assert.match(nack.error?.message ?? '', message, label);
    }
    // A response of a type the client never asked for is ignored: the next request is the ACK below.
    server.respond('type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig', 'x1', []);
    const mark = server.requests.length;
    const nonce = server.respond(TYPE.Listener, 'v2', [any(TYPE.Listener, listener(8080, 'http.8080'))]);
    await server.waitFor(isAck(TYPE.Listener, 'v2', nonce), mark, 'ACK');
    assert.equal(server.requests.length, mark + 1);
    assert.equal(client.connected, true);
    assert.equal(server.requests.filter((r) => r.stream !== 0).length, 0, 'no reconnect happened');
    const after = client.snapshot();
    assert.deepEqual(after.listeners, before.listeners);
    assert.deepEqual(after.clusters, before.clusters);
  } finally {
    shutdown(h);
  }
});

test('SotW CDS/LDS omissions remove resources and their EDS/RDS children; EDS/RDS subsets keep the rest', async () => {
  const h = await harness();
  const { server, client } = h;
  const updates: string[] = [];
  client.on('update', (t) => updates.push(short(t)));
  try {
    await bringUp(h);
    // Add a second EDS cluster: EDS is re-requested with both names, and the old one stays active.
    let mark = server.requests.length;
    server.respond(TYPE.Cluster, 'v2', [
      any(TYPE.Cluster, edsCluster(CATALOG)),
      any(TYPE.Cluster, edsCluster(WEBAPP)),
      any(TYPE.Cluster, BLACKHOLE),
    ]);
    const eds = await server.waitFor((r) => r.type === TYPE.ClusterLoadAssignment, mark, 'EDS re-request');
    assert.deepEqual(eds.names, [CATALOG, WEBAPP]);
    assert.equal(eds.version, 'v1');
    assert.deepEqual(client.snapshot().warming.clusters, [WEBAPP]);
    mark = server.requests.length;
    const n = server.respond(TYPE.ClusterLoadAssignment, 'v2', [
      any(TYPE.ClusterLoadAssignment, cla(WEBAPP, '10.10.0.30')),
    ]);
    await server.waitFor(isAck(TYPE.ClusterLoadAssignment, 'v2', n), mark, 'EDS ACK');
    let snap = client.snapshot();
    assert.deepEqual(
      Object.keys(snap.endpoints).sort(),
      [CATALOG, WEBAPP],
      'a partial EDS response keeps the others',
    );
    assert.deepEqual(snap.warming.clusters, []);

    // Drop CATALOG from CDS: the cluster and its endpoints go, EDS is narrowed.
    mark = server.requests.length;
    server.respond(TYPE.Cluster, 'v3', [any(TYPE.Cluster, edsCluster(WEBAPP)), any(TYPE.Cluster, BLACKHOLE)]);
    const narrowed = await server.waitFor((r) => r.type === TYPE.ClusterLoadAssignment, mark, 'EDS narrowed');
    assert.deepEqual(narrowed.names, [WEBAPP]);
    snap = client.snapshot();
    assert.deepEqual(Object.keys(snap.clusters).sort(), ['BlackHoleCluster', WEBAPP]);
    assert.deepEqual(Object.keys(snap.endpoints), [WEBAPP]);

    // An empty LDS response removes every listener; RDS is unsubscribed and routes dropped.
    mark = server.requests.length;
    const nl = server.respond(TYPE.Listener, 'v2', []);
    await server.waitFor(isAck(TYPE.Listener, 'v2', nl), mark, 'LDS ACK');
    const unsub = await server.waitFor((r) => r.type === TYPE.RouteConfiguration, mark, 'RDS unsubscribe');
    assert.deepEqual(unsub.names, []);
    snap = client.snapshot();
    assert.deepEqual(snap.listeners, {});
    assert.deepEqual(snap.routes, {});
    assert.ok(updates.includes('Listener') && updates.includes('RouteConfiguration'));

    // A CDS set without EDS clusters unsubscribes EDS (an empty name list once names were sent).
    mark = server.requests.length;
    server.respond(TYPE.Cluster, 'v4', [any(TYPE.Cluster, BLACKHOLE)]);
    const edsOff = await server.waitFor(
      (r) => r.type === TYPE.ClusterLoadAssignment,
      mark,
      'EDS unsubscribe',
    );
    assert.deepEqual(edsOff.names, []);
    assert.deepEqual(client.snapshot().endpoints, {});
  } finally {
    shutdown(h);
  }
});

test('a changed cluster keeps serving its previous version until a new EDS response warms it', async () => {
  const h = await harness();
  const { server, client } = h;
  try {
    await bringUp(h);
    let mark = server.requests.length;
    const n = server.respond(TYPE.Cluster, 'v2', [
      any(TYPE.Cluster, edsCluster(CATALOG, '5s')),
      any(TYPE.Cluster, BLACKHOLE),
    ]);
    await server.waitFor(isAck(TYPE.Cluster, 'v2', n), mark, 'CDS ACK');
    let snap = client.snapshot();
    assert.equal(snap.clusters[CATALOG]?.['connectTimeout'], '10s');
    assert.deepEqual(snap.warming.clusters, [CATALOG]);
    // The EDS names did not change, so the client sends no EDS request; the server pushes EDS itself.
    assert.equal(server.requests.slice(mark).filter((r) => r.type === TYPE.ClusterLoadAssignment).length, 0);
    assert.equal(
      client.entries(TYPE.Cluster).get('BlackHoleCluster')?.version,
      'v1',
      'unchanged keeps its version',
    );
    mark = server.requests.length;
    const e = server.respond(TYPE.ClusterLoadAssignment, 'v2', [
      any(TYPE.ClusterLoadAssignment, cla(CATALOG, '10.10.0.20')),
    ]);
    await server.waitFor(isAck(TYPE.ClusterLoadAssignment, 'v2', e), mark, 'EDS ACK');
    snap = client.snapshot();
    assert.equal(snap.clusters[CATALOG]?.['connectTimeout'], '5s');
    assert.equal(client.entries(TYPE.Cluster).get(CATALOG)?.version, 'v2');
    assert.deepEqual(snap.warming.clusters, []);
  } finally {
    shutdown(h);
  }
});

test('a cluster whose EDS never arrives becomes active after the initial fetch timeout, and LDS follows', async () => {
  const h = await harness({ initialFetchTimeoutMs: 150 });
  const { server, client } = h;
  try {
    client.start();
    await server.waitFor((r) => r.type === TYPE.Cluster);
    const mark = server.requests.length;
    const started = Date.now();
    // No initialFetchTimeout in the EDS config source: the client default (150 ms) applies.
    server.respond(TYPE.Cluster, 'v1', [any(TYPE.Cluster, edsCluster(CATALOG, '10s', null))]);
    await server.waitFor((r) => r.type === TYPE.ClusterLoadAssignment, mark, 'EDS request');
    assert.deepEqual(client.snapshot().clusters, {});
    await server.waitFor((r) => r.type === TYPE.Listener, mark, 'LDS request after the timeout');
    assert.ok(Date.now() - started >= 140, 'LDS waited for the warming timeout');
    assert.deepEqual(Object.keys(client.snapshot().clusters), [CATALOG]);
    assert.deepEqual(client.snapshot().endpoints, {});
  } finally {
    shutdown(h);
  }
});

test('the client keeps its config while the server is down and re-subscribes with the last versions after a restart', async () => {
  const h = await harness();
  const { server, client } = h;
  try {
    await bringUp(h);
    const before = client.snapshot();
    const disconnected = once(client, 'disconnected');
    server.stop();
    await disconnected;
    assert.equal(client.connected, false);
    const during = client.snapshot();
    assert.deepEqual(during.clusters, before.clusters);
    assert.deepEqual(during.listeners, before.listeners);
    assert.deepEqual(during.routes, before.routes);
    assert.equal(during.connected, false);
    // Let a few reconnect attempts fail against the closed port before the server returns.
    await new Promise((r) => setTimeout(r, 150));

    const mark = server.requests.length;
    const connected = once(client, 'connected');
    await server.start(server.port);
    const rds = await server.waitFor((r) => r.type === TYPE.RouteConfiguration, mark, 'RDS re-subscribe');
    const again = server.requests.slice(mark);
    const stream = again[0]?.stream;
    assert.deepEqual(
      again.slice(0, 4).map((r) => [short(r.type), r.version, r.nonce, r.names]),
      [
        ['Cluster', 'v1', '', []],
        ['ClusterLoadAssignment', 'v1', '', [CATALOG]],
        ['Listener', 'v1', '', []],
        ['RouteConfiguration', 'v1', '', ['http.8080']],
      ],
    );
    assert.ok(again.slice(0, 4).every((r) => r.stream === stream));
    assert.equal(rds.stream, stream);
    assert.equal(again[0]?.node?.id, NODE.id, 'the new stream starts with the node');
    assert.equal(again.slice(1).filter((r) => r.node).length, 0);

    // The new stream works: a new CDS version is ACKed with the new stream's nonce.
    const n = server.respond(TYPE.Cluster, 'v2', [
      any(TYPE.Cluster, edsCluster(CATALOG)),
      any(TYPE.Cluster, BLACKHOLE),
    ]);
    await server.waitFor(isAck(TYPE.Cluster, 'v2', n), mark, 'CDS ACK on the new stream');
    await connected;
    assert.equal(client.connected, true);
  } finally {
    shutdown(h);
  }
});

test('types without CDS subscribe LDS at once; unsupported types are refused', async () => {
  assert.throws(
    () => new AdsClient({ target: '127.0.0.1:1', node: NODE, types: ['type.googleapis.com/foo.Bar'] }),
    /unsupported type URL/,
  );
  const h = await harness({ types: [TYPE.Listener] });
  const { server, client } = h;
  try {
    client.start();
    const lds = await server.waitFor((r) => r.type === TYPE.Listener);
    assert.equal(lds.node?.id, NODE.id);
    const mark = server.requests.length;
    const n = server.respond(TYPE.Listener, 'v1', [any(TYPE.Listener, listener(8080, 'http.8080'))]);
    await server.waitFor(isAck(TYPE.Listener, 'v1', n), mark);
    // Without RDS in the types the listener is active at once and no RDS request is made.
    assert.deepEqual(Object.keys(client.snapshot().listeners), ['0.0.0.0_8080']);
    assert.equal(server.requests.filter((r) => r.type !== TYPE.Listener).length, 0);
    assert.equal(client.ready, true);
  } finally {
    shutdown(h);
  }
});

function tlsCluster(name: string, secrets: [string, Json][]): Json {
  return {
    name,
    type: 'STATIC',
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: secrets.map(([n, sdsConfig]) => ({ name: n, sdsConfig })),
        },
      },
    },
  };
}

test('SDS: secrets whose sdsConfig is ADS are requested and applied; agent-served ones only with secretSource "all"', async () => {
  for (const source of ['ads', 'all'] as const) {
    const h = await harness({ secretSource: source, types: [TYPE.Cluster, TYPE.Secret] });
    const { server, client } = h;
    try {
      client.start();
      await server.waitFor((r) => r.type === TYPE.Cluster);
      const mark = server.requests.length;
      const cluster = tlsCluster('tls', [
        ['kubernetes://ingress-cert', { ads: {} }],
        ['default', { apiConfigSource: { apiType: 'GRPC' } }],
      ]);
      server.respond(TYPE.Cluster, 'v1', [any(TYPE.Cluster, cluster)]);
      const sds = await server.waitFor((r) => r.type === TYPE.Secret, mark, 'SDS request');
      assert.deepEqual(
        sds.names,
        source === 'ads' ? ['kubernetes://ingress-cert'] : ['default', 'kubernetes://ingress-cert'],
        source,
      );
      const m2 = server.requests.length;
      const n = server.respond(TYPE.Secret, 's1', [
        any(TYPE.Secret, {
          name: 'kubernetes://ingress-cert',
          tlsCertificate: { certificateChain: { inlineString: 'PEM' } },
        }),
        any(TYPE.Secret, { name: 'unrequested' }),
      ]);
      await server.waitFor(isAck(TYPE.Secret, 's1', n), m2, 'SDS ACK');
      assert.deepEqual(Object.keys(client.snapshot().secrets), ['kubernetes://ingress-cert']);
      assert.equal(client.snapshot().versions[TYPE.Secret], 's1');
    } finally {
      shutdown(h);
    }
  }
});

test('close() stops reconnecting', async () => {
  const h = await harness();
  const { server, client } = h;
  await bringUp(h);
  client.close();
  const mark = server.requests.length;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(server.requests.length, mark);
  assert.equal(client.connected, false);
  assert.ok(Object.keys(client.snapshot().clusters).length > 0, 'config is still readable after close');
  server.stop();
  await until(() => !client.connected, 'closed');
});
