/**
 * HTTP/2 and gRPC through the proxy with real processes' sockets on 127.0.0.1: a grpc-js client → the
 * proxy (h2c downstream, HTTP/2 upstream pool) → a grpc-js server; plain node:http2 upstreams to watch
 * connections and streams; HTTP/1.1 and h2c clients on one listener; malformed HTTP/2 input.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  deadPort,
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

const AUTHORITY = 'grpc.test.svc.cluster.local';

/** The generator's HttpProtocolOptions for a gRPC / http2 port. */
function h2Options(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    typedExtensionProtocolOptions: h2ProtocolOptions(),
    ...extra,
  };
}

// ---- a small gRPC service over raw bytes (no .proto needed) ----

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };

function method(path: string, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  };
}

const SERVICE = {
  Echo: method('/test.Echo/Echo', false),
  Slow: method('/test.Echo/Slow', false),
  Fail: method('/test.Echo/Fail', false),
  Stream: method('/test.Echo/Stream', true),
};

interface GrpcApp {
  port: number;
  /** Request metadata each call arrived with. */
  seen: grpc.Metadata[];
  close: () => Promise<void>;
}

async function grpcApp(): Promise<GrpcApp> {
  const seen: grpc.Metadata[] = [];
  const server = new grpc.Server();
  server.addService(SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.push(call.metadata);
      const md = new grpc.Metadata();
      md.set('x-app', 'echo');
      call.sendMetadata(md);
      const trailer = new grpc.Metadata();
      trailer.set('x-trailer', `done-${String(call.metadata.get('x-client')[0] ?? '')}`);
      cb(null, Buffer.from(`echo:${call.request.toString()}`), trailer);
    },
    Slow: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.push(call.metadata);
      setTimeout(() => cb(null, Buffer.from('late')), 1500).unref();
    },
    Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      seen.push(call.metadata);
      cb({ code: grpc.status.NOT_FOUND, details: 'no such item' });
    },
    Stream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      seen.push(call.metadata);
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(`${call.request.toString()}-${i}`));
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    seen,
    close: () => new Promise<void>((r) => server.tryShutdown(() => r())),
  };
}

function grpcClient(port: number, authority = AUTHORITY): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
    'grpc.default_authority': authority,
  });
}

interface UnaryResult {
  err: grpc.ServiceError | null;
  value?: Buffer;
  headers?: grpc.Metadata;
  status?: grpc.StatusObject;
}

function unary(
  client: grpc.Client,
  path: string,
  arg: string,
  md = new grpc.Metadata(),
): Promise<UnaryResult> {
  return new Promise((resolve) => {
    const out: UnaryResult = { err: null };
    let pending = 2;
    const done = (): void => {
      if (--pending === 0) resolve(out);
    };
    const call = client.makeUnaryRequest(
      path,
      bytes.serialize,
      bytes.deserialize,
      Buffer.from(arg),
      md,
      { deadline: Date.now() + 10_000 },
      (err, value) => {
        out.err = err;
        if (value) out.value = value;
        done();
      },
    );
    call.on('metadata', (m: grpc.Metadata) => {
      out.headers = m;
    });
    call.on('status', (s: grpc.StatusObject) => {
      out.status = s;
      done();
    });
  });
}

/** An h2c client request (prior knowledge) with its response status, headers, body and trailers. */
interface H2Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  trailers?: http2.IncomingHttpHeaders;
}

function h2Get(session: http2.ClientHttp2Session, path: string, headers: http2.OutgoingHttpHeaders = {}) {
  return new Promise<H2Reply>((resolve, reject) => {
    const req = session.request({ ':path': path, ':authority': AUTHORITY, ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => {
      head = h;
    });
    req.on('trailers', (t) => {
      trailers = t;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply: H2Reply = {
        status: Number(head[':status']),
        headers: head,
        body: Buffer.concat(chunks).toString(),
      };
      if (trailers) reply.trailers = trailers;
      resolve(reply);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A node:http2 upstream (h2c) that counts its sessions and streams. */
interface H2App {
  port: number;
  sessions: number;
  streams: number;
  close: () => Promise<void>;
}

async function h2App(
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
) {
  const server = http2.createServer();
  const app: H2App = { port: 0, sessions: 0, streams: 0, close: async () => undefined };
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    app.sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('stream', (stream, headers) => {
    app.streams++;
    stream.on('error', () => undefined);
    onStream(stream, headers);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise<void>((r) => {
      for (const s of open) s.destroy();
      server.close(() => r());
    });
  return app;
}

const GRPC = 'outbound|9000||grpc.test.svc.cluster.local';
const GRPC_DEAD = 'outbound|9000|dead|grpc.test.svc.cluster.local';
const PLAIN = 'outbound|80||plain.test.svc.cluster.local';
const MUX = 'outbound|81||mux.test.svc.cluster.local';
const LIMITED = 'outbound|82||limited.test.svc.cluster.local';
const RESET = 'outbound|83||reset.test.svc.cluster.local';

describe('HTTP/2 and gRPC through the proxy', () => {
  let app: GrpcApp;
  let plain: Upstream;
  let mux: H2App;
  let limited: H2App;
  let resets: H2App;
  let h: Harness;
  let client: grpc.Client;
  const held: http2.ServerHttp2Stream[] = [];
  const heldLimited: http2.ServerHttp2Stream[] = [];

  before(async () => {
    app = await grpcApp();
    plain = await upstream('plain', (req, res) => res.end(`plain saw HTTP/${req.httpVersion}`));
    // Answers once five streams are open at the same time, so they must have been multiplexed.
    mux = await h2App((stream) => {
      held.push(stream);
      if (held.length < 5) return;
      for (const s of held.splice(0)) {
        s.respond({ ':status': 200 });
        s.end('mux');
      }
    });
    limited = await h2App((stream) => {
      heldLimited.push(stream);
      if (heldLimited.length < 2) return;
      for (const s of heldLimited.splice(0)) {
        s.respond({ ':status': 200 });
        s.end('limited');
      }
    });
    resets = await h2App((stream, headers) => {
      const path = String(headers[':path']);
      if (path.startsWith('/refused')) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else if (path === '/midway') {
        stream.respond({ ':status': 200 });
        stream.write('partial');
        setTimeout(() => stream.destroy(new Error('app failed mid-response')), 20);
      } else stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    });
    const dead = await deadPort();
    const routes = [
      {
        name: 'grpc.test.svc.cluster.local:9000',
        domains: [AUTHORITY],
        routes: [
          {
            name: 'nc',
            match: { prefix: '/test.Missing/' },
            route: { cluster: 'outbound|9000|nope|x', timeout: '0s' },
          },
          { name: 'slow', match: { prefix: '/test.Echo/Slow' }, route: { cluster: GRPC, timeout: '0.3s' } },
          { name: 'dead', match: { prefix: '/test.Dead/' }, route: { cluster: GRPC_DEAD, timeout: '0s' } },
          { name: 'grpc', match: { prefix: '/test.Echo/' }, route: { cluster: GRPC, timeout: '0s' } },
          { name: 'plain', match: { prefix: '/plain' }, route: { cluster: PLAIN, timeout: '0s' } },
          { name: 'mux', match: { prefix: '/mux' }, route: { cluster: MUX, timeout: '0s' } },
          { name: 'limited', match: { prefix: '/limited' }, route: { cluster: LIMITED, timeout: '0s' } },
          {
            name: 'refused-retry',
            match: { prefix: '/refused-retry' },
            route: {
              cluster: RESET,
              timeout: '0s',
              retryPolicy: {
                retryOn: 'refused-stream',
                numRetries: 1,
                retryBackOff: { baseInterval: '0.001s' },
              },
            },
          },
          { name: 'reset', match: { prefix: '/' }, route: { cluster: RESET, timeout: '0s' } },
        ],
      },
    ];
    const clusters = [
      edsCluster(GRPC, h2Options()),
      edsCluster(GRPC_DEAD, h2Options()),
      edsCluster(PLAIN),
      edsCluster(MUX, h2Options()),
      edsCluster(LIMITED, h2Options({ circuitBreakers: { thresholds: [{ maxRequests: 2 }] } })),
      edsCluster(RESET, h2Options()),
    ];
    const eps = [
      endpoints(GRPC, [app.port]),
      endpoints(GRPC_DEAD, [dead]),
      endpoints(PLAIN, [plain.port]),
      endpoints(MUX, [mux.port]),
      endpoints(LIMITED, [limited.port]),
      endpoints(RESET, [resets.port]),
    ];
    // An AuthorizationPolicy DENY on one gRPC service, as Istio's RBAC filter carries it.
    const rbac = {
      name: 'envoy.filters.http.rbac',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
        rules: {
          action: 'DENY',
          policies: {
            'ns[default]-policy[deny-admin]-rule[0]': {
              permissions: [{ urlPath: { path: { prefix: '/test.Admin/' } } }],
              principals: [{ any: true }],
            },
          },
        },
      },
    };
    const router = {
      name: 'envoy.filters.http.router',
      typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
    };
    h = await startProxy(gatewaySnapshot(routes, clusters, eps, { httpFilters: [rbac, router] }));
    client = grpcClient(h.port);
  });

  after(async () => {
    client.close();
    await h.close();
    await Promise.all([app.close(), plain.close(), mux.close(), limited.close(), resets.close()]);
  });

  /** The access-log line whose request field contains `needle`. */
  async function logLine(needle: string): Promise<string[]> {
    await waitFor(() => h.lines.some((l) => l.includes(needle)));
    const line = h.lines.filter((l) => l.includes(needle)).at(-1) ?? '';
    return parseTextLine(line);
  }

  it('serves a unary call; metadata, response headers and trailers pass both ways', async () => {
    const md = new grpc.Metadata();
    md.set('x-client', 'c1');
    const r = await unary(client, '/test.Echo/Echo', 'hello', md);
    assert.equal(r.err, null);
    assert.equal(r.value?.toString(), 'echo:hello');
    assert.deepEqual(r.headers?.get('x-app'), ['echo']);
    assert.equal(r.status?.code, grpc.status.OK);
    assert.deepEqual(r.status?.metadata.get('x-trailer'), ['done-c1']);
    const seen = app.seen.at(-1);
    assert.deepEqual(seen?.get('x-client'), ['c1']);
    // The router's request headers reach the app; hop-by-hop headers do not.
    assert.equal(typeof seen?.get('x-request-id')[0], 'string');
    assert.deepEqual(seen?.get('x-forwarded-proto'), ['http']);
    const f = await logLine('/test.Echo/Echo');
    assert.equal(f[F.request], 'POST /test.Echo/Echo HTTP/2');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], '-');
    assert.equal(f[F.details], 'via_upstream');
    assert.equal(f[F.cluster], GRPC);
    assert.equal(f[F.authority], AUTHORITY);
  });

  it('streams server messages and the final status', async () => {
    const got: string[] = [];
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = client.makeServerStreamRequest(
        '/test.Echo/Stream',
        bytes.serialize,
        bytes.deserialize,
        Buffer.from('s'),
        new grpc.Metadata(),
        {},
      );
      call.on('data', (b: Buffer) => got.push(b.toString()));
      call.on('error', () => undefined);
      call.on('status', resolve);
    });
    assert.deepEqual(got, ['s-1', 's-2', 's-3']);
    assert.equal(status.code, grpc.status.OK);
  });

  it('passes an application error status in trailers; Istio metrics read it from the trailers', async () => {
    const r = await unary(client, '/test.Echo/Fail', 'x');
    assert.equal(r.err?.code, grpc.status.NOT_FOUND);
    assert.equal(r.err?.details, 'no such item');
    const f = await logLine('/test.Echo/Fail');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.details], 'via_upstream');
    const series = h.proxy.stats
      .renderPrometheus()
      .split('\n')
      .filter((l) => l.startsWith('istio_requests_total{'));
    assert.ok(series.some((l) => /request_protocol="grpc"/.test(l) && /grpc_response_status="5"/.test(l)));
    assert.ok(series.some((l) => /grpc_response_status="0"/.test(l)));
  });

  it('answers a route to a missing cluster with a trailers-only UNAVAILABLE, logged 200 NC', async () => {
    const r = await unary(client, '/test.Missing/Call', 'x');
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    const f = await logLine('/test.Missing/Call');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], 'NC');
    assert.equal(f[F.details], 'cluster_not_found');
  });

  it('maps no route to UNIMPLEMENTED and the route timeout to UNAVAILABLE with its message', async () => {
    const other = grpcClient(h.port, 'unknown.example.com');
    try {
      const nr = await unary(other, '/test.Echo/Echo', 'x');
      assert.equal(nr.err?.code, grpc.status.UNIMPLEMENTED);
    } finally {
      other.close();
    }
    const nrLine = await logLine('route_not_found');
    assert.equal(nrLine[F.code], '200');
    assert.equal(nrLine[F.flags], 'NR');

    const ut = await unary(client, '/test.Echo/Slow', 'x');
    assert.equal(ut.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(ut.err?.details, 'upstream request timeout');
    const f = await logLine('/test.Echo/Slow');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], 'UT');
    assert.equal(f[F.details], 'response_timeout');
  });

  it('maps an RBAC denial to PERMISSION_DENIED with its body as grpc-message, logged 200', async () => {
    const r = await unary(client, '/test.Admin/Drop', 'x');
    assert.equal(r.err?.code, grpc.status.PERMISSION_DENIED);
    assert.equal(r.err?.details, 'RBAC: access denied');
    const f = await logLine('/test.Admin/Drop');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], '-');
    assert.equal(f[F.details], 'rbac_access_denied_matched_policy[ns[default]-policy[deny-admin]-rule[0]]');
  });

  it('reports a connect failure to an HTTP/2 upstream as UNAVAILABLE, logged UF', async () => {
    const r = await unary(client, '/test.Dead/Call', 'x');
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    assert.match(r.err?.details ?? '', /reset reason: connection failure/);
    const f = await logLine('/test.Dead/Call');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], 'UF');
    assert.match(f[F.details] ?? '', /^upstream_reset_before_response_started\{connection_failure/);
  });

  it('serves HTTP/1.1 and h2c clients on the same listener', async () => {
    const one = await request(h.port, { path: '/plain', host: AUTHORITY });
    assert.equal(one.status, 200);
    assert.equal(one.body, 'plain saw HTTP/1.1');
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    session.on('error', () => undefined);
    try {
      const two = await h2Get(session, '/plain');
      assert.equal(two.status, 200);
      assert.equal(two.body, 'plain saw HTTP/1.1');
      assert.equal(two.headers['server'], 'istio-envoy');
    } finally {
      session.close();
    }
    await waitFor(() => h.lines.filter((l) => l.includes('/plain')).length >= 2);
    const protocols = h.lines.filter((l) => l.includes('/plain')).map((l) => parseTextLine(l)[F.request]);
    assert.ok(protocols.includes('GET /plain HTTP/1.1'));
    assert.ok(protocols.includes('GET /plain HTTP/2'));
    const stats = h.proxy.stats.counters;
    assert.ok((stats.get('http.outbound_0.0.0.0_8080.downstream_rq_http2_total')?.value ?? 0) >= 1);
    assert.ok((stats.get('http.outbound_0.0.0.0_8080.downstream_rq_http1_total')?.value ?? 0) >= 1);
  });

  it('multiplexes concurrent requests over one upstream HTTP/2 connection', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    session.on('error', () => undefined);
    try {
      // Three over h2c and two over HTTP/1.1: all five are open upstream at once.
      const replies = await Promise.all([
        h2Get(session, '/mux/1'),
        h2Get(session, '/mux/2'),
        h2Get(session, '/mux/3'),
        request(h.port, { path: '/mux/4', host: AUTHORITY }),
        request(h.port, { path: '/mux/5', host: AUTHORITY }),
      ]);
      assert.deepEqual(
        replies.map((r) => r.status),
        [200, 200, 200, 200, 200],
      );
      assert.ok(replies.every((r) => r.body === 'mux'));
    } finally {
      session.close();
    }
    assert.equal(mux.streams, 5);
    assert.equal(mux.sessions, 1);
  });

  it('bounds concurrent upstream streams by the circuit breaker max_requests (UO beyond)', async () => {
    const replies = await Promise.all(
      [1, 2, 3].map((i) => request(h.port, { path: `/limited/${i}`, host: AUTHORITY })),
    );
    const codes = replies.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 200, 503]);
    const overflow = replies.find((r) => r.status === 503);
    assert.match(overflow?.body ?? '', /reset reason: overflow/);
    assert.equal(limited.sessions, 1);
    await waitFor(() => h.lines.filter((l) => l.includes('/limited/')).length === 3);
    const flags = h.lines.filter((l) => l.includes('/limited/')).map((l) => parseTextLine(l)[F.flags]);
    assert.deepEqual(flags.sort(), ['-', '-', 'UO']);
  });

  it('reports upstream stream resets as Envoy does: 503 UR before the response, UR after it started', async () => {
    const reset = await request(h.port, { path: '/reset', host: AUTHORITY });
    assert.equal(reset.status, 503);
    assert.equal(
      reset.body,
      'upstream connect error or disconnect/reset before headers. reset reason: remote reset',
    );
    const f = await logLine('GET /reset ');
    assert.equal(f[F.flags], 'UR');
    assert.equal(f[F.details], 'upstream_reset_before_response_started{remote_reset}');

    const refused = await request(h.port, { path: '/refused', host: AUTHORITY });
    assert.equal(refused.status, 503);
    assert.match(refused.body, /reset reason: remote refused stream reset$/);
    const g = await logLine('GET /refused ');
    assert.equal(g[F.details], 'upstream_reset_before_response_started{remote_refused_stream_reset}');

    const before = resets.streams;
    const retried = await request(h.port, { path: '/refused-retry', host: AUTHORITY });
    assert.equal(retried.status, 503);
    assert.equal(
      retried.body,
      'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote refused stream reset',
    );
    assert.equal(resets.streams - before, 2);
    const rr = await logLine('GET /refused-retry ');
    assert.equal(rr[F.flags], 'UR,URX');

    await assert.rejects(request(h.port, { path: '/midway', host: AUTHORITY }));
    const m = await logLine('GET /midway ');
    assert.equal(m[F.code], '200');
    assert.match(m[F.flags] ?? '', /UR/);
    assert.equal(m[F.details], 'upstream_reset_after_response_started{remote_reset}');
  });

  it('survives malformed HTTP/2 input and oversized header blocks', async () => {
    // A preface followed by a frame that is not a SETTINGS frame: a connection error (GOAWAY), no crash.
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect(h.port, '127.0.0.1', () => {
        s.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        s.write(Buffer.from([0, 0, 4, 0x01, 0x05, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]));
      });
      s.on('error', () => resolve(true));
      s.on('close', () => resolve(true));
      s.resume();
      setTimeout(() => {
        s.destroy();
        resolve(false);
      }, 3000).unref();
    });
    assert.equal(closed, true);

    // A header block beyond max_request_headers_kb (60 KiB) ends in a stream or session error.
    const session = http2.connect(`http://127.0.0.1:${h.port}`, { maxSendHeaderBlockLength: 1 << 20 });
    session.on('error', () => undefined);
    const outcome = await new Promise<string>((resolve) => {
      const req = session.request({
        ':path': '/plain',
        ':authority': AUTHORITY,
        'x-big': 'a'.repeat(70_000),
      });
      req.on('response', (hd) => resolve(`status ${String(hd[':status'])}`));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? ''}`));
      req.on('close', () => resolve(`closed ${req.rstCode ?? ''}`));
      req.end();
    });
    session.destroy();
    assert.notEqual(outcome, 'status 200');

    // The proxy still serves both codecs afterwards.
    const ok = await request(h.port, { path: '/plain', host: AUTHORITY });
    assert.equal(ok.status, 200);
    const r = await unary(client, '/test.Echo/Echo', 'again');
    assert.equal(r.value?.toString(), 'echo:again');
  });

  it('answers non-gRPC HTTP/2 requests with plain local replies and gRPC ones trailers-only', async () => {
    const session = http2.connect(`http://127.0.0.1:${h.port}`);
    session.on('error', () => undefined);
    try {
      const nc = await h2Get(session, '/test.Missing/x');
      assert.equal(nc.status, 503);
      assert.equal(nc.headers['grpc-status'], undefined);
      const grpcNc = await h2Get(session, '/test.Missing/y', {
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      assert.equal(grpcNc.status, 200);
      assert.equal(grpcNc.headers['grpc-status'], '14');
      assert.equal(grpcNc.headers['content-type'], 'application/grpc');
      assert.equal(grpcNc.trailers, undefined);
      assert.equal(grpcNc.body, '');
    } finally {
      session.close();
    }
  });
});
