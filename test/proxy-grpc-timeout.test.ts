/**
 * gRPC deadlines and stream duration limits through the proxy, as Envoy handles them: RouteAction
 * MaxStreamDuration (the HCM's max-duration timer: grpc_timeout_header_max / _offset, max_stream_duration)
 * and the deprecated max_grpc_timeout (the router's global timeout). A grpc-js client whose deadline sets
 * `grpc-timeout` calls a slow grpc-js server behind the proxy.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  compileMaxStreamDuration,
  compileRouteConfig,
  durationTimer,
  formatGrpcTimeout,
  legacyGrpcGlobalTimeout,
  parseGrpcTimeout,
} from '../src/proxy/index.js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  edsCluster,
  endpoints,
  F,
  gatewaySnapshot,
  h2ProtocolOptions,
  parseTextLine,
  startProxy,
  upstream,
  waitFor,
} from './proxy-fixtures.js';

const AUTHORITY = 'slow.test.svc.cluster.local';
const CLUSTER = 'outbound|9000||slow.test.svc.cluster.local';
const HUNG = 'outbound|80||hung.test.svc.cluster.local';
const STATS_PREFIX = 'http.outbound_0.0.0.0_8080';

const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };

/** The method path's last segment picks the route; the request body is how long the server waits (ms). */
const SLEEP: grpc.MethodDefinition<Buffer, Buffer> = {
  path: '/test.Slow/Sleep',
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes.serialize,
  requestDeserialize: bytes.deserialize,
  responseSerialize: bytes.serialize,
  responseDeserialize: bytes.deserialize,
};

interface SlowApp {
  port: number;
  /** Request metadata per method path. */
  seen: Map<string, grpc.Metadata>;
  /**
   * The deadline each call arrived with, as milliseconds left when the handler ran (grpc-js turns the
   * grpc-timeout header into the call's deadline and keeps the header itself from the metadata).
   */
  deadlines: Map<string, number>;
  close: () => Promise<void>;
}

async function slowApp(): Promise<SlowApp> {
  const seen = new Map<string, grpc.Metadata>();
  const deadlines = new Map<string, number>();
  const server = new grpc.Server();
  const handler = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): void => {
    seen.set(call.getPath(), call.metadata);
    const deadline = call.getDeadline();
    const at = deadline instanceof Date ? deadline.getTime() : deadline;
    deadlines.set(call.getPath(), Number.isFinite(at) ? at - Date.now() : Infinity);
    const wait = Number(call.request.toString()) || 0;
    setTimeout(() => cb(null, Buffer.from(`slept ${wait}`)), wait).unref();
  };
  // One handler under several paths, so each test has its own route.
  const names = ['Capped', 'Offset', 'Inbound', 'Legacy', 'LegacyPerTry', 'Duration'];
  const service: grpc.ServiceDefinition = Object.fromEntries(
    names.map((name) => [name, { ...SLEEP, path: `/test.Slow/${name}` }]),
  );
  const impl: grpc.UntypedServiceImplementation = Object.fromEntries(names.map((n) => [n, handler]));
  server.addService(service, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { port, seen, deadlines, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

interface CallResult {
  err: grpc.ServiceError | null;
  value?: string;
}

function call(client: grpc.Client, name: string, sleepMs: number, deadlineMs?: number): Promise<CallResult> {
  return new Promise((resolve) => {
    const options: grpc.CallOptions = deadlineMs === undefined ? {} : { deadline: Date.now() + deadlineMs };
    client.makeUnaryRequest(
      `/test.Slow/${name}`,
      bytes.serialize,
      bytes.deserialize,
      Buffer.from(String(sleepMs)),
      new grpc.Metadata(),
      options,
      (err, value) => resolve(value ? { err, value: value.toString() } : { err }),
    );
  });
}

function route(name: string, action: Record<string, unknown>): unknown {
  return { name, match: { path: `/test.Slow/${name}` }, route: { cluster: CLUSTER, ...action } };
}

describe('grpc-timeout and max stream duration through the proxy', () => {
  let app: SlowApp;
  let hung: Upstream;
  let h: Harness;
  let client: grpc.Client;

  before(async () => {
    app = await slowApp();
    // An HTTP/1 app that never answers.
    hung = await upstream('hung', () => undefined);
    const routes = [
      {
        name: `${AUTHORITY}:9000`,
        domains: [AUTHORITY],
        routes: [
          route('Capped', { timeout: '0s', maxStreamDuration: { grpcTimeoutHeaderMax: '0.2s' } }),
          route('Offset', {
            timeout: '0s',
            maxStreamDuration: { grpcTimeoutHeaderMax: '0s', grpcTimeoutHeaderOffset: '4.8s' },
          }),
          // Istio's inbound passthrough route: no limit, and the route timeout is not the router's.
          route('Inbound', {
            timeout: '0.1s',
            maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
          }),
          route('Legacy', { timeout: '0s', maxGrpcTimeout: '0.2s' }),
          route('LegacyPerTry', {
            timeout: '0s',
            maxGrpcTimeout: '0s',
            retryPolicy: { retryOn: 'cancelled', numRetries: 0, perTryTimeout: '3s' },
          }),
          route('Duration', { timeout: '0s', maxStreamDuration: { maxStreamDuration: '0.2s' } }),
          {
            name: 'http-duration',
            match: { prefix: '/http' },
            route: { cluster: HUNG, timeout: '0s', maxStreamDuration: { maxStreamDuration: '0.2s' } },
          },
        ],
      },
    ];
    const h2 = { typedExtensionProtocolOptions: h2ProtocolOptions() };
    h = await startProxy(
      gatewaySnapshot(
        routes,
        [edsCluster(CLUSTER, h2), edsCluster(HUNG)],
        [endpoints(CLUSTER, [app.port]), endpoints(HUNG, [hung.port])],
      ),
    );
    client = new grpc.Client(`127.0.0.1:${h.port}`, grpc.credentials.createInsecure(), {
      'grpc.default_authority': AUTHORITY,
    });
  });

  after(async () => {
    client.close();
    await h.close();
    await Promise.all([app.close(), hung.close()]);
  });

  async function logLine(needle: string): Promise<string[]> {
    await waitFor(() => h.lines.some((l) => l.includes(needle)));
    return parseTextLine(h.lines.filter((l) => l.includes(needle)).at(-1) ?? '');
  }

  /**
   * The app saw a deadline of at most `ms` (the rewritten grpc-timeout), not the client's 5 s one; the
   * lower bound only leaves room for the hop from the proxy to the handler.
   */
  function assertDeadline(method: string, ms: number): void {
    const left = app.deadlines.get(`/test.Slow/${method}`);
    assert.ok(left !== undefined && left <= ms && left > ms - 1000, `deadline left: ${String(left)}`);
  }

  function counter(name: string): number {
    return h.proxy.stats.counters.get(name)?.value ?? 0;
  }

  it('parses and writes grpc-timeout as Envoy does', () => {
    assert.equal(parseGrpcTimeout('2H'), 7_200_000);
    assert.equal(parseGrpcTimeout('3M'), 180_000);
    assert.equal(parseGrpcTimeout('5S'), 5000);
    assert.equal(parseGrpcTimeout('250m'), 250);
    assert.equal(parseGrpcTimeout('1500u'), 2); // rounded up
    assert.equal(parseGrpcTimeout('1n'), 1);
    assert.equal(parseGrpcTimeout('0m'), 0);
    for (const bad of ['', 'm', '10', '10x', '-5m', '123456789m', '1.5S', undefined])
      assert.equal(parseGrpcTimeout(bad), undefined, String(bad));
    assert.equal(formatGrpcTimeout(200), '200m');
    assert.equal(formatGrpcTimeout(99_999_999), '99999999m');
    assert.equal(formatGrpcTimeout(100_000_000), '100000S');
    assert.equal(formatGrpcTimeout(100_000_000_000_000), '27777777H');
  });

  it('computes the duration limit as refreshDurationTimeout does', () => {
    const msd = compileMaxStreamDuration({ grpcTimeoutHeaderMax: '1s', grpcTimeoutHeaderOffset: '0.1s' });
    assert.deepEqual(msd, { grpcTimeoutHeaderMaxMs: 1000, grpcTimeoutHeaderOffsetMs: 100 });
    if (!msd) return;
    // Capped by the max, then the offset taken off.
    assert.deepEqual(durationTimer(msd, 5000, true), { timeoutMs: 900, grpcTimeout: '900m' });
    assert.deepEqual(durationTimer(msd, 500, true), { timeoutMs: 400, grpcTimeout: '400m' });
    // An offset at least the timeout leaves 0 (fires at once).
    assert.deepEqual(durationTimer(msd, 50, false), { timeoutMs: 0 });
    // No grpc-timeout: max_stream_duration, which is unset here: no timer.
    assert.deepEqual(durationTimer(msd, undefined, true), {});
    // A header max of 0 does not cap; max_stream_duration 0 means no limit.
    const inbound = { maxStreamDurationMs: 0, grpcTimeoutHeaderMaxMs: 0 };
    assert.deepEqual(durationTimer(inbound, 7000, true), { timeoutMs: 7000, grpcTimeout: '7000m' });
    assert.deepEqual(durationTimer(inbound, undefined, true), {});
    assert.deepEqual(durationTimer({ maxStreamDurationMs: 300 }, 7000, false), { timeoutMs: 300 });
    assert.equal(compileMaxStreamDuration('nonsense'), undefined);
    // The deprecated max_grpc_timeout: the offset only when smaller, then the cap (0: none).
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 0 }, 700), 700);
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 0 }, undefined), 0);
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 200 }, undefined), 200);
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 200 }, 700), 200);
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 0, offsetMs: 100 }, 700), 600);
    assert.equal(legacyGrpcGlobalTimeout({ maxMs: 0, offsetMs: 800 }, 700), 700);
  });

  it('compiles the generator route shapes (inbound passthrough, proxyless gRPC, max_grpc_timeout)', () => {
    const rc = compileRouteConfig({
      name: 'r',
      virtualHosts: [
        {
          name: 'v',
          domains: ['*'],
          routes: [
            route('Inbound', {
              timeout: '0s',
              maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
            }),
            route('Proxyless', { timeout: '5s', maxStreamDuration: { maxStreamDuration: '5s' } }),
            route('Sidecar', { timeout: '0s', maxGrpcTimeout: '0s' }),
          ],
        },
      ],
    });
    const actions = rc.fallback?.routes.map((r) => r.action);
    const [inbound, proxyless, sidecar] = actions ?? [];
    assert.ok(inbound?.kind === 'forward' && proxyless?.kind === 'forward' && sidecar?.kind === 'forward');
    assert.deepEqual(inbound.maxStreamDuration, { maxStreamDurationMs: 0, grpcTimeoutHeaderMaxMs: 0 });
    assert.deepEqual(proxyless.maxStreamDuration, { maxStreamDurationMs: 5000 });
    assert.equal(sidecar.maxStreamDuration, undefined);
    assert.deepEqual(sidecar.legacyGrpcTimeout, { maxMs: 0 });
  });

  it('caps the client deadline by grpc_timeout_header_max: DEADLINE_EXCEEDED, max_duration_timeout', async () => {
    const before = counter(`${STATS_PREFIX}.downstream_rq_max_duration_reached`);
    const r = await call(client, 'Capped', 1500, 5000);
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(r.err?.details, 'downstream duration timeout');
    const f = await logLine('/test.Slow/Capped');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], '-');
    assert.equal(f[F.details], 'max_duration_timeout');
    // The upstream learns the capped deadline; the router has no timeout of its own to announce.
    assertDeadline('Capped', 200);
    assert.deepEqual(app.seen.get('/test.Slow/Capped')?.get('x-envoy-expected-rq-timeout-ms'), []);
    assert.equal(counter(`${STATS_PREFIX}.downstream_rq_max_duration_reached`), before + 1);
    assert.equal(counter(`cluster.${CLUSTER}.upstream_rq_timeout`), 0);
  });

  it('takes grpc_timeout_header_offset off the client deadline', async () => {
    const r = await call(client, 'Offset', 1500, 5000);
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    // About 5000 ms less the 4800 ms offset.
    assertDeadline('Offset', 200);
    const f = await logLine('/test.Slow/Offset');
    assert.equal(f[F.details], 'max_duration_timeout');
  });

  it('lets a call without grpc-timeout run past the route timeout on a MaxStreamDuration route', async () => {
    const r = await call(client, 'Inbound', 300);
    assert.equal(r.err, null);
    assert.equal(r.value, 'slept 300');
    const f = await logLine('/test.Slow/Inbound');
    assert.equal(f[F.flags], '-');
    assert.equal(f[F.details], 'via_upstream');
    assert.deepEqual(app.seen.get('/test.Slow/Inbound')?.get('x-envoy-expected-rq-timeout-ms'), []);
  });

  it('bounds the stream by max_stream_duration alone (no grpc_timeout_header_max)', async () => {
    const r = await call(client, 'Duration', 1500, 5000);
    assert.equal(r.err?.code, grpc.status.DEADLINE_EXCEEDED);
    // Without grpc_timeout_header_max the client's deadline is rewritten to the stream limit.
    assertDeadline('Duration', 200);
  });

  it('turns a capped deadline under max_grpc_timeout into the route timeout: UT, UNAVAILABLE', async () => {
    const before = counter(`cluster.${CLUSTER}.upstream_rq_timeout`);
    const r = await call(client, 'Legacy', 1500, 5000);
    assert.equal(r.err?.code, grpc.status.UNAVAILABLE);
    assert.equal(r.err?.details, 'upstream request timeout');
    const f = await logLine('/test.Slow/Legacy');
    assert.equal(f[F.code], '200');
    assert.equal(f[F.flags], 'UT');
    assert.equal(f[F.details], 'response_timeout');
    assertDeadline('Legacy', 200);
    assert.deepEqual(app.seen.get('/test.Slow/Legacy')?.get('x-envoy-expected-rq-timeout-ms'), ['200']);
    assert.equal(counter(`cluster.${CLUSTER}.upstream_rq_timeout`), before + 1);
  });

  it('announces the per-try timeout in grpc-timeout under max_grpc_timeout', async () => {
    const r = await call(client, 'LegacyPerTry', 10, 5000);
    assert.equal(r.err, null);
    assertDeadline('LegacyPerTry', 3000);
    assert.deepEqual(app.seen.get('/test.Slow/LegacyPerTry')?.get('x-envoy-expected-rq-timeout-ms'), [
      '3000',
    ]);
  });

  it('answers a plain HTTP request 504 when it was received whole, 408 while its body still comes', async () => {
    const whole = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: h.port, path: '/http/whole', headers: { host: AUTHORITY }, agent: false },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(whole.status, 504);
    assert.equal(whole.body, 'downstream duration timeout');
    const f = await logLine('/http/whole');
    assert.equal(f[F.code], '504');
    assert.equal(f[F.flags], '-');
    assert.equal(f[F.details], 'max_duration_timeout');

    const partial = await new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: h.port,
          method: 'POST',
          path: '/http/partial',
          headers: { host: AUTHORITY, 'content-length': '100' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('only part of the body');
    });
    assert.equal(partial, 408);
    const g = await logLine('/http/partial');
    assert.equal(g[F.details], 'max_duration_timeout');
  });
});
