import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { LightProxy, SharedResponses, parseResponseEnvelope } from '../src/pilot/index.js';
import {
  AdsClient,
  AdsServer,
  ResourceCache,
  XDS_TYPE,
  XdsMetrics,
  ResponseBodies,
  encodeResourcesField,
  encodeSotwResponse,
  envoyRoot,
  sidecarNode,
  sotwResponseHead,
  watchStatus,
} from '../src/xds/index.js';
import type { AppliedEvent, EncodedResource } from '../src/xds/index.js';
import { FIXTURE, eventually } from './xds-server-client.js';

const ROUTE = XDS_TYPE.route;

function routes(cache: ResourceCache, ...timeouts: string[]): EncodedResource[] {
  return timeouts.map((t, i) =>
    cache.encode(ROUTE, {
      name: `r${i}`,
      virtualHosts: [
        { name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { timeout: t } }] },
      ],
    }),
  );
}

describe('SotW responses as a per-proxy head and a shared body', () => {
  it('decode to the same DiscoveryResponse as the one-piece encoding', () => {
    const resources = routes(new ResourceCache(), '1s', '2s', '3s');
    const envelope = { versionInfo: 'v1', typeUrl: ROUTE, nonce: 'n-1', controlPlane: '{"ID":"x"}' };
    const body = encodeResourcesField(resources);
    const head = sotwResponseHead(envelope, body.length);
    assert.equal(head[0], 0, 'uncompressed');
    assert.equal(head.readUInt32BE(1), head.length - 5 + body.length, 'the prefix counts head and body');
    const type = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    const split = type.toObject(type.decode(Buffer.concat([head.subarray(5), body])));
    const whole = type.toObject(type.decode(encodeSotwResponse({ ...envelope, resources })));
    assert.deepEqual(split, whole);
    assert.equal((split['resources'] as unknown[]).length, 3);
    // The bench's envelope reader finds the same fields and the resources as one contiguous run.
    const raw = parseResponseEnvelope(Buffer.concat([head.subarray(5), body]));
    assert.deepEqual([raw.versionInfo, raw.typeUrl, raw.nonce], ['v1', ROUTE, 'n-1']);
    const { message, start, end } = raw.resources;
    assert.ok(message.equals(start, end, body));
  });

  it('share one body between equal lists and build another for different content', () => {
    const cache = new ResourceCache();
    const bodies = new ResponseBodies();
    const a = routes(cache, '1s', '2s');
    const b = routes(cache, '1s', '2s');
    const c = routes(cache, '1s', '5s');
    assert.equal(bodies.forList(a), bodies.forList([...b]), 'same names and contents: the same Buffer');
    assert.notEqual(bodies.forList(a), bodies.forList(c));
    assert.ok(bodies.forList(c).equals(encodeResourcesField(c)));
    assert.equal(bodies.misses, 2);
  });

  it('keep at most maxBytes of bodies by content, dropping the least recently used', () => {
    const cache = new ResourceCache();
    const one = routes(cache, '1s');
    const size = encodeResourcesField(one).length;
    const bodies = new ResponseBodies(size * 2);
    const first = bodies.forList(one);
    bodies.forList(routes(cache, '2s'));
    bodies.forList(routes(cache, '3s'));
    assert.equal(bodies.size, 2);
    assert.notEqual(bodies.forList(routes(cache, '1s')), first, 'the oldest body was dropped and rebuilt');
  });
});

describe('ADS server writing shared bodies to real clients', () => {
  let server: AdsServer;
  let address: string;
  const closers: (() => void)[] = [];

  before(async () => {
    const parsed = parseManifests(FIXTURE, 'test.yaml');
    server = new AdsServer({
      snapshot: new ConfigSnapshot(parsed.resources),
      debounceAfterMs: 10,
      debounceMaxMs: 200,
      metrics: new XdsMetrics({ processMetrics: false }),
    });
    address = `127.0.0.1:${await server.listen('127.0.0.1:0')}`;
  });
  after(async () => {
    for (const close of closers) close();
    await server.close();
  });

  const node = (i: number) =>
    sidecarNode({ ip: `10.9.0.${i}`, podName: `frame-${i}`, namespace: 'istioinaction' });

  it('writes straight to the HTTP/2 stream, and AdsClient and LightProxy both sync and ACK', async () => {
    const full = new AdsClient({ target: address, node: node(1), initialFetchTimeoutMs: 0 });
    const light = new LightProxy({ target: address, node: node(2), shared: new SharedResponses() });
    closers.push(
      () => full.close(),
      () => light.close(),
    );
    const ready = [full, light].map((c) => new Promise<void>((r) => c.once('ready', () => r())));
    full.start();
    light.start();
    await Promise.all(ready);
    await eventually(() => server.connections().length === 2 && server.pendingPushes === 0);
    const cons = server.connections();
    assert.ok(
      cons.every((c) => c.writer.direct),
      'grpc-js internals moved: responses fell back to call.write',
    );
    await eventually(() =>
      cons.every((c) => [...c.watches.values()].every((w) => watchStatus(w) === 'SYNCED')),
    );
    for (const t of [XDS_TYPE.cluster, XDS_TYPE.endpoint, XDS_TYPE.listener, XDS_TYPE.route]) {
      assert.notEqual(light.version(t), '', `light proxy holds ${t}`);
      assert.equal(light.version(t), full.version(t));
    }
    const routeNames = [...full.resources(ROUTE).keys()].sort();
    assert.ok(routeNames.length > 0);

    // A forced push resends everything: both apply it, the light proxy sees no change in content.
    const applied: AppliedEvent[] = [];
    light.on('applied', (e: AppliedEvent) => applied.push(e));
    server.pushAll();
    await eventually(() => applied.length >= 4 && server.pendingPushes === 0);
    assert.ok(applied.every((e) => e.changes.added.length + e.changes.updated.length === 0));
    await eventually(() =>
      cons.every((c) => [...c.watches.values()].every((w) => watchStatus(w) === 'SYNCED')),
    );
  });

  it('counts config size per proxy although the bytes are shared', async () => {
    const text = await server.metrics.registry.metrics();
    const line = text
      .split('\n')
      .find((l) => l.startsWith('pilot_xds_config_size_bytes_count') && l.includes(ROUTE));
    assert.ok(line, 'pilot_xds_config_size_bytes has an RDS series');
    // Two proxies, each sent RDS at least twice (sync and the forced push).
    assert.ok(Number(line.split(' ').at(-1)) >= 4, line);
  });
});
