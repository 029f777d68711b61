/**
 * The upstream side of the proxy's HTTP/2 support: upstreams that break the protocol (Envoy's UPE with
 * `protocol_error` details), the per-protocol connection counters upstream_cx_http1_total /
 * upstream_cx_http2_total, and request mirroring through the mirror cluster's HTTP/2 pool.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  edsCluster,
  endpoints,
  F,
  gatewaySnapshot,
  h2ProtocolOptions,
  parseTextLine,
  request,
  startProxy,
  upstream,
  waitFor,
} from './proxy-fixtures.js';

const AUTHORITY = 'up.test.svc.cluster.local';
const SETTINGS_FRAME = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

const H2 = { typedExtensionProtocolOptions: h2ProtocolOptions() };

const GARBAGE_H2 = 'outbound|81||garbage.test.svc.cluster.local';
const BAD_FRAME_H2 = 'outbound|82||badframe.test.svc.cluster.local';
const GARBAGE_H1 = 'outbound|83||garbage1.test.svc.cluster.local';
const APP_H2 = 'outbound|84||app.test.svc.cluster.local';
const APP_H1 = 'outbound|85||plain.test.svc.cluster.local';
const SHADOW_H2 = 'outbound|86||shadow.test.svc.cluster.local';

/** A TCP server that reads the client's first bytes and answers with whatever `reply` writes. */
async function rawServer(
  reply: (s: net.Socket) => void,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.once('data', () => reply(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A node:http2 (h2c) app answering gRPC-style, recording each stream's request headers. */
async function h2App(): Promise<{
  port: number;
  seen: http2.IncomingHttpHeaders[];
  close: () => Promise<void>;
}> {
  const seen: http2.IncomingHttpHeaders[] = [];
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    seen.push(headers);
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      // One empty gRPC message.
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };

function grpcCall(port: number, path: string): Promise<grpc.ServiceError | null> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': AUTHORITY,
  });
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      bytes.serialize,
      bytes.deserialize,
      Buffer.from('x'),
      new grpc.Metadata(),
      { deadline: Date.now() + 5000 },
      (err) => {
        client.close();
        resolve(err);
      },
    );
  });
}

describe('HTTP/2 upstreams: protocol errors, connection stats, mirroring', () => {
  let h: Harness;
  let garbageH2: { port: number; close: () => Promise<void> };
  let badFrameH2: { port: number; close: () => Promise<void> };
  let garbageH1: { port: number; close: () => Promise<void> };
  let app: Awaited<ReturnType<typeof h2App>>;
  let shadow: Awaited<ReturnType<typeof h2App>>;
  let plain: Upstream;

  before(async () => {
    // An HTTP/1 answer to the HTTP/2 preface.
    garbageH2 = await rawServer((s) => s.write('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
    // A valid SETTINGS, then HEADERS on an even (server-initiated) stream id: a connection error.
    badFrameH2 = await rawServer((s) => {
      s.write(SETTINGS_FRAME);
      s.write(Buffer.from([0, 0, 1, 0x01, 0x05, 0, 0, 0, 2, 0x88]));
    });
    // Not HTTP at all for an HTTP/1 request.
    garbageH1 = await rawServer((s) => s.write('SSH-2.0-OpenSSH_9.0\r\nnot http\r\n\r\n'));
    app = await h2App();
    shadow = await h2App();
    plain = await upstream('plain');
    const forward = (name: string, prefix: string, cluster: string, extra: Record<string, unknown> = {}) => ({
      name,
      match: { prefix },
      route: { cluster, timeout: '0s', ...extra },
    });
    const routes = [
      {
        name: `${AUTHORITY}:80`,
        domains: [AUTHORITY],
        routes: [
          forward('garbage', '/garbage', GARBAGE_H2),
          forward('badframe', '/badframe', BAD_FRAME_H2),
          forward('garbage1', '/garbage1', GARBAGE_H1),
          forward('plain', '/plain', APP_H1),
          forward('mirrored', '/test.Mirror/', APP_H2, { requestMirrorPolicies: [{ cluster: SHADOW_H2 }] }),
          forward('app', '/', APP_H2),
        ],
      },
    ];
    const clusters = [
      edsCluster(GARBAGE_H2, H2),
      edsCluster(BAD_FRAME_H2, H2),
      edsCluster(GARBAGE_H1),
      edsCluster(APP_H2, H2),
      edsCluster(APP_H1),
      edsCluster(SHADOW_H2, H2),
    ];
    const eps = [
      endpoints(GARBAGE_H2, [garbageH2.port]),
      endpoints(BAD_FRAME_H2, [badFrameH2.port]),
      endpoints(GARBAGE_H1, [garbageH1.port]),
      endpoints(APP_H2, [app.port]),
      endpoints(APP_H1, [plain.port]),
      endpoints(SHADOW_H2, [shadow.port]),
    ];
    h = await startProxy(gatewaySnapshot(routes, clusters, eps));
  });

  after(async () => {
    await h.close();
    await Promise.all([
      garbageH2.close(),
      badFrameH2.close(),
      garbageH1.close(),
      app.close(),
      shadow.close(),
      plain.close(),
    ]);
  });

  async function logLine(needle: string): Promise<string[]> {
    await waitFor(() => h.lines.some((l) => l.includes(needle)));
    return parseTextLine(h.lines.filter((l) => l.includes(needle)).at(-1) ?? '');
  }

  function counter(cluster: string, stat: string): number {
    return h.proxy.stats.counters.get(`cluster.${cluster}.${stat}`)?.value ?? 0;
  }

  it('reports an upstream that does not speak HTTP/2 as a protocol error: 503 UPE', async () => {
    const r = await request(h.port, { path: '/garbage', host: AUTHORITY });
    assert.equal(r.status, 503);
    assert.equal(
      r.body,
      'upstream connect error or disconnect/reset before headers. reset reason: protocol error',
    );
    const f = await logLine('GET /garbage ');
    assert.equal(f[F.flags], 'UPE');
    assert.equal(f[F.details], 'upstream_reset_before_response_started{protocol_error}');
  });

  it('reports an invalid HTTP/2 frame to a gRPC caller as UNAVAILABLE, logged 200 UPE', async () => {
    const err = await grpcCall(h.port, '/badframe.Svc/Call');
    assert.equal(err?.code, grpc.status.UNAVAILABLE);
    assert.match(err?.details ?? '', /reset reason: protocol error$/);
    const f = await logLine('/badframe.Svc/Call');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], 'UPE');
    assert.equal(f[F.details], 'upstream_reset_before_response_started{protocol_error}');
  });

  it('reports an HTTP/1 response the codec cannot parse as UPE too', async () => {
    const r = await request(h.port, { path: '/garbage1', host: AUTHORITY });
    assert.equal(r.status, 503);
    assert.match(r.body, /reset reason: protocol error$/);
    const f = await logLine('GET /garbage1 ');
    assert.equal(f[F.flags], 'UPE');
    assert.equal(f[F.details], 'upstream_reset_before_response_started{protocol_error}');
  });

  it('counts new upstream connections per protocol (upstream_cx_http1_total / upstream_cx_http2_total)', async () => {
    assert.equal(await grpcCall(h.port, '/test.App/One'), null);
    assert.equal(await grpcCall(h.port, '/test.App/Two'), null);
    assert.equal((await request(h.port, { path: '/plain', host: AUTHORITY })).status, 200);
    // Both gRPC calls share one multiplexed connection.
    assert.equal(counter(APP_H2, 'upstream_cx_http2_total'), 1);
    assert.equal(counter(APP_H2, 'upstream_cx_http1_total'), 0);
    assert.equal(counter(APP_H2, 'upstream_cx_total'), 1);
    assert.equal(counter(APP_H1, 'upstream_cx_http1_total'), 1);
    assert.equal(counter(APP_H1, 'upstream_cx_http2_total'), 0);
    const text = h.proxy.stats.renderText();
    assert.match(
      text,
      new RegExp(`^cluster\\.${APP_H2.replaceAll('|', '\\|')}\\.upstream_cx_http2_total: 1$`, 'm'),
    );
    assert.match(
      text,
      new RegExp(`^cluster\\.${APP_H1.replaceAll('|', '\\|')}\\.upstream_cx_http1_total: 1$`, 'm'),
    );
  });

  it('mirrors a gRPC request through the shadow cluster’s HTTP/2 pool with -shadow on the authority', async () => {
    assert.equal(await grpcCall(h.port, '/test.Mirror/Call'), null);
    await waitFor(() => shadow.seen.some((s) => s[':path'] === '/test.Mirror/Call'));
    const copy = shadow.seen.find((s) => s[':path'] === '/test.Mirror/Call');
    assert.equal(copy?.[':authority'], `${AUTHORITY}-shadow`);
    assert.equal(copy?.['content-type'], 'application/grpc');
    assert.equal(copy?.[':method'], 'POST');
    const main = app.seen.find((s) => s[':path'] === '/test.Mirror/Call');
    assert.equal(main?.[':authority'], AUTHORITY);
    assert.equal(counter(SHADOW_H2, 'upstream_rq_total'), 1);
    // Requests on other routes are not mirrored.
    assert.equal(
      shadow.seen.some((s) => s[':path'] !== '/test.Mirror/Call'),
      false,
    );
  });
});
