/**
 * The control plane under abuse: garbage on the wire, unknown type URLs, a client that never reads,
 * 1,000 clients connecting at once, and a restart with every client reconnecting and re-syncing.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import {
  ADS_STREAM_METHOD,
  AdsClient,
  DecodeCache,
  XDS_TYPE,
  adsCodecs,
  sidecarNode,
} from '../src/xds/index.js';
import { tempDir } from './helpers.js';
import { CATALOG_NODE, CDS, TestStream, eventually, names, sleep } from './xds-server-client.js';

/** `count` Services with one ready Pod each, in namespace `default`. */
function services(count: number): string {
  const docs: string[] = [];
  for (let i = 0; i < count; i++) {
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc-${i}, namespace: default}
spec:
  selector: {app: svc-${i}}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: svc-${i}-0, namespace: default, labels: {app: svc-${i}}}
spec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}
status:
  phase: Running
  podIP: 10.1.${Math.floor(i / 250)}.${(i % 250) + 1}
  conditions: [{type: Ready, status: 'True'}]`);
  }
  return docs.join('\n---\n');
}

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function proxyNode(i: number) {
  return sidecarNode({
    ip: `10.9.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    podName: `load-${i}`,
    namespace: 'default',
  });
}

async function startWith(
  dir: string,
  extra: Partial<Parameters<typeof startPilot>[0]> = {},
): Promise<PilotHandle> {
  return startPilot({
    configDir: dir,
    grpcPort: 0,
    httpPort: 0,
    monitoringPort: 0,
    debounceAfterMs: 20,
    debounceMaxMs: 500,
    env: {},
    ...extra,
  });
}

describe('pilot robustness', () => {
  let dir: string;
  let pilot: PilotHandle;

  before(async () => {
    dir = tempDir('skiff-robust-');
    writeFileSync(join(dir, 'services.yaml'), services(300));
    pilot = await startWith(dir, { sendTimeoutMs: 500 });
  });
  after(async () => {
    await pilot.close();
  });

  /** A well-behaved client gets its CDS answer: the server is still serving. */
  async function stillServes(): Promise<void> {
    const s = new TestStream(pilot.grpcAddress);
    try {
      s.send({ node: CATALOG_NODE, type_url: CDS });
      const r = await s.next(5000);
      assert.ok(names(r).length >= 300, `CDS answered with ${names(r).length} clusters`);
    } finally {
      s.close();
    }
  }

  it('ends a stream that sends bytes that are not a DiscoveryRequest, and keeps serving others', async () => {
    const client = new grpc.Client(pilot.grpcAddress, grpc.credentials.createInsecure());
    try {
      for (const garbage of [
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]),
        Buffer.from('\u0000not protobuf\u0007'),
      ]) {
        const call = client.makeBidiStreamRequest<Buffer, Buffer>(
          ADS_STREAM_METHOD,
          (b) => b,
          (b) => b,
        );
        const ended = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
        call.on('error', () => {});
        call.on('data', () => {});
        call.write(garbage);
        const status = await ended;
        assert.notEqual(status.code, grpc.status.OK, 'the malformed stream is ended with an error');
      }
    } finally {
      client.close();
    }
    await stillServes();
  });

  it('refuses a first request without a node, and answers nothing for unknown or empty type URLs', async () => {
    const noNode = new TestStream(pilot.grpcAddress);
    noNode.send({ type_url: CDS });
    const status = await noNode.ended;
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /missing node/);
    noNode.close();

    const s = new TestStream(pilot.grpcAddress);
    try {
      s.send({ node: CATALOG_NODE, type_url: 'type.googleapis.com/no.such.Type', resource_names: ['x'] });
      s.send({ type_url: '', resource_names: [] });
      s.send({ type_url: 'x'.repeat(10_000) });
      assert.equal(await s.maybeNext(300), undefined, 'no answer for types without a generator');
      s.send({ type_url: CDS });
      const r = await s.next();
      assert.equal(r.type_url, CDS, 'the same stream still works');
    } finally {
      s.close();
    }
  });

  it('times out a client that never reads without delaying the others', async () => {
    const timeoutsBefore = await metric(pilot.monitoringPort, 'pilot_xds_write_timeout');
    // A raw HTTP/2 stream that sends one request and never reads: flow control stops the server's writes.
    // (grpc-js's own client keeps draining the socket even with nobody reading the call.)
    const session = http2.connect(`http://${pilot.grpcAddress}`);
    session.on('error', () => {});
    const stuck = session.request({
      ':method': 'POST',
      ':path': ADS_STREAM_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stuck.on('error', () => {});
    stuck.pause();
    const body = adsCodecs().request.serialize({
      node: { id: 'sidecar~10.9.9.9~load-999.default~default.svc.cluster.local' },
      type_url: CDS,
    });
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    stuck.write(frame);
    const healthy = new TestStream(pilot.grpcAddress);
    try {
      healthy.send({ node: CATALOG_NODE, type_url: CDS });
      healthy.ack(await healthy.next());
      await eventually(() => pilot.server.connections().length >= 2);
      // Forced pushes resend the full CDS (~100 KB) to both; the stuck one stops draining after a few.
      for (let i = 0; i < 20; i++) {
        const t0 = Date.now();
        pilot.server.pushAll('debug');
        const pushed = await healthy.next(3000);
        assert.ok(Date.now() - t0 < 2500, `push ${i} reached the healthy client in ${Date.now() - t0} ms`);
        healthy.ack(pushed);
        if ((await metric(pilot.monitoringPort, 'pilot_xds_write_timeout')) > timeoutsBefore) break;
        await sleep(100);
      }
      // The client cannot see the end of a stream it does not read; the server has dropped it.
      assert.ok(
        await eventually(() => !pilot.server.connections().some((c) => c.proxy.name === 'load-999.default')),
        'the stuck connection was closed',
      );
      assert.ok((await metric(pilot.monitoringPort, 'pilot_xds_write_timeout')) > timeoutsBefore);
    } finally {
      healthy.close();
      session.destroy();
    }
    await stillServes();
  });
});

describe('pilot under many clients', () => {
  it('brings 1,000 clients connecting at once to SYNCED', async () => {
    const dir = tempDir('skiff-robust-many-');
    writeFileSync(join(dir, 'services.yaml'), services(20));
    const pilot = await startWith(dir);
    const cache = new DecodeCache();
    const clients: AdsClient[] = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < 1000; i++) {
        clients.push(
          new AdsClient({
            target: pilot.grpcAddress,
            node: proxyNode(i),
            decodeCache: cache,
            initialFetchTimeoutMs: 0,
          }),
        );
      }
      const ready = clients.map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve())));
      for (const c of clients) c.start();
      await Promise.all(ready);
      const readyMs = Date.now() - t0;
      assert.equal(pilot.server.connections().length, 1000);
      const synced = await eventually(
        () =>
          pilot.server
            .connections()
            .every((con) =>
              [XDS_TYPE.cluster, XDS_TYPE.endpoint].every((t) => pilot.server.statusOf(con, t) === 'SYNCED'),
            ),
        10_000,
      );
      assert.ok(synced, 'every connection has CDS and EDS acked');
      assert.ok(clients.every((c) => c.resources(XDS_TYPE.cluster).size >= 20));
      assert.ok(readyMs < 60_000, `all ready in ${readyMs} ms`);
    } finally {
      for (const c of clients) c.close();
      await pilot.close();
    }
  });

  it('lets clients reconnect with backoff and re-sync after a control-plane restart', async () => {
    const dir = tempDir('skiff-robust-restart-');
    writeFileSync(join(dir, 'services.yaml'), services(10));
    const port = await freePort();
    let pilot = await startWith(dir, { grpcPort: port });
    const clients = Array.from(
      { length: 20 },
      (_, i) =>
        new AdsClient({
          target: `127.0.0.1:${port}`,
          node: proxyNode(i),
          initialFetchTimeoutMs: 0,
          backoff: { initialMs: 100, maxMs: 1000 },
        }),
    );
    let held: number[] = [];
    try {
      const ready = clients.map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve())));
      for (const c of clients) c.start();
      await Promise.all(ready);
      const disconnected = clients.map(
        (c) => new Promise<void>((resolve) => c.once('disconnected', () => resolve())),
      );
      await pilot.close();
      await Promise.all(disconnected);
      assert.ok(clients.every((c) => !c.connected));
      held = clients.map((c) => c.resources(XDS_TYPE.cluster).size);
      assert.ok(
        held.every((n) => n >= 10 && n === held[0]),
        'config is kept while away',
      );
      // Down for a while: several reconnect attempts fail and back off.
      await sleep(1500);
      writeFileSync(join(dir, 'services.yaml'), services(12));
      const reconnected = clients.map(
        (c) => new Promise<void>((resolve) => c.once('connected', () => resolve())),
      );
      pilot = await startWith(dir, { grpcPort: port });
      await Promise.all(reconnected);
      const resynced = await eventually(
        () =>
          pilot.server.connections().length === 20 &&
          clients.every((c, i) => c.resources(XDS_TYPE.cluster).size === (held[i] ?? 0) + 2) &&
          pilot.server
            .connections()
            .every((con) => pilot.server.statusOf(con, XDS_TYPE.cluster) === 'SYNCED'),
        10_000,
      );
      assert.ok(resynced, 'every client holds the config of the restarted control plane and is SYNCED');
    } finally {
      for (const c of clients) c.close();
      await pilot.close();
    }
  });
});
