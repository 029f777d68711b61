/**
 * The router's per-request fast paths must forward exactly what the slow paths did: repeated headers and
 * set-cookie lists as Node folds them, bodiless requests ended at once while bodies still stream, and
 * response-code counters resolved once per (cluster, status) under the same names.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Stats } from '../src/proxy/index.js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  edsCluster,
  endpoints,
  F,
  gatewaySnapshot,
  parseTextLine,
  startProxy,
  upstream,
  vhost,
} from './proxy-fixtures.js';

/** Request head lines with repeated and mixed-case names. */
const DUPLICATE_HEADERS = [
  'X-Dup: a',
  'x-dup: b',
  'Cookie: a=1',
  'cookie: b=2',
  'Set-Cookie: s1',
  'set-cookie: s2',
  'User-Agent: u1',
  'user-agent: u2',
  'Accept: x',
  'ACCEPT: y',
  'Authorization: z1',
  'authorization: z2',
  'Content-Type: t1',
  'content-type: t2',
  'X-Mixed-Case: m',
];

/** Sends one raw HTTP/1.1 request (connection: close) and returns the whole response text. */
function rawRequest(port: number, head: string[], body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect(port, '127.0.0.1', () => s.write(`${head.join('\r\n')}\r\n\r\n${body}`));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
  });
}

describe('router fast paths through the proxy', () => {
  const CLUSTER = 'outbound|80|catalog|svc.ns.svc.cluster.local';
  const FLAKY = 'outbound|80|flaky|svc.ns.svc.cluster.local';
  let app: Upstream;
  let flaky: Upstream;
  let h: Harness;
  const bodies: string[] = [];
  /** Resolves when the app has received this much of the body so far (streaming check). */
  let onPartial: ((text: string) => void) | undefined;

  before(async () => {
    app = await upstream('catalog', (req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => {
        text += c.toString();
        onPartial?.(text);
      });
      req.on('end', () => {
        bodies.push(text);
        res.end(`got:${text}`);
      });
    });
    flaky = await upstream('flaky', (_req, res, n) => {
      res.statusCode = n === 1 ? 503 : 200;
      res.end(n === 1 ? 'down' : 'up');
    });
    h = await startProxy(
      gatewaySnapshot(
        [
          vhost([
            {
              match: { prefix: '/flaky' },
              route: {
                cluster: FLAKY,
                timeout: '5s',
                retryPolicy: {
                  retryOn: 'retriable-status-codes',
                  numRetries: 2,
                  retriableStatusCodes: [503],
                  retryBackOff: { baseInterval: '0.001s' },
                },
              },
            },
            { match: { prefix: '/' }, route: { cluster: CLUSTER, timeout: '5s' } },
          ]),
        ],
        [edsCluster(CLUSTER), edsCluster(FLAKY)],
        [endpoints(CLUSTER, [app.port]), endpoints(FLAKY, [flaky.port])],
      ),
    );
  });

  after(async () => {
    await h.close();
    await app.close();
    await flaky.close();
  });

  it('forwards repeated headers, set-cookie lists and TE as before; drops Envoy-internal ones', async () => {
    const before = app.seen.length;
    const reply = await rawRequest(h.port, [
      'GET /dup HTTP/1.1',
      'Host: catalog.istioinaction.io',
      ...DUPLICATE_HEADERS,
      'TE: gzip',
      'te: trailers',
      'X-Envoy-Retry-On: 5xx',
      'Connection: close',
    ]);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    const got = app.seen[before];
    assert.ok(got);
    assert.equal(got['x-dup'], 'a, b');
    assert.equal(got['cookie'], 'a=1; b=2');
    assert.deepEqual(got['set-cookie'], ['s1', 's2']);
    assert.equal(got['user-agent'], 'u1');
    assert.equal(got['accept'], 'x, y');
    assert.equal(got['authorization'], 'z1');
    assert.equal(got['content-type'], 't1');
    assert.equal(got['x-mixed-case'], 'm');
    assert.equal(got['te'], 'trailers');
    assert.equal(got['x-envoy-retry-on'], undefined);
    assert.equal(got['host'], 'catalog.istioinaction.io');
    assert.equal(got['x-forwarded-proto'], 'http');
  });

  it('drops TE when none of its values is trailers', async () => {
    const before = app.seen.length;
    await rawRequest(h.port, [
      'GET /te HTTP/1.1',
      'Host: catalog.istioinaction.io',
      'TE: gzip',
      'Connection: close',
    ]);
    assert.equal(app.seen[before]?.['te'], undefined);
    assert.equal(app.seen[before]?.['host'], 'catalog.istioinaction.io');
  });

  it('answers 400 without a Host header on the raw path', async () => {
    const reply = await rawRequest(h.port, ['GET /nohost HTTP/1.0']);
    assert.match(reply, /^HTTP\/1\.[01] 400 /);
  });

  it('forwards a POST with content-length 0 and one with no body framing', async () => {
    const before = app.seen.length;
    const zero = await rawRequest(h.port, [
      'POST /zero HTTP/1.1',
      'Host: catalog.istioinaction.io',
      'Content-Length: 0',
      'Connection: close',
    ]);
    assert.match(zero, /^HTTP\/1\.1 200 [\s\S]*got:$/);
    assert.equal(app.seen[before]?.['content-length'], '0');
    const bare = await rawRequest(h.port, [
      'POST /bare HTTP/1.1',
      'Host: catalog.istioinaction.io',
      'Connection: close',
    ]);
    assert.match(bare, /^HTTP\/1\.1 200 [\s\S]*got:$/);
    assert.equal(app.paths[before + 1], '/bare');
    const line = h.lines.find((l) => l.includes('"POST /zero HTTP/1.1"'));
    assert.ok(line);
    assert.equal(parseTextLine(line)[F.bytesReceived], '0');
    assert.equal(parseTextLine(line)[F.code], '200');
  });

  it('still forwards a sized body', async () => {
    const reply = await rawRequest(
      h.port,
      ['POST /sized HTTP/1.1', 'Host: catalog.istioinaction.io', 'Content-Length: 5', 'Connection: close'],
      'hello',
    );
    assert.match(reply, /got:hello$/);
    const line = h.lines.find((l) => l.includes('"POST /sized HTTP/1.1"'));
    assert.ok(line);
    assert.equal(parseTextLine(line)[F.bytesReceived], '5');
  });

  it('streams a chunked request body before it ends', async () => {
    const agent = new http.Agent({ keepAlive: false });
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: h.port,
          method: 'POST',
          path: '/chunked',
          headers: { host: 'catalog.istioinaction.io' },
          agent,
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      // The second half goes out only once the app saw the first: the body is streamed, not buffered.
      onPartial = (text) => {
        if (text === 'part1') {
          onPartial = undefined;
          req.end('part2');
        }
      };
      req.write('part1');
    });
    assert.equal(reply, 'got:part1part2');
    assert.equal(bodies.at(-1), 'part1part2');
    const line = h.lines.find((l) => l.includes('"POST /chunked HTTP/1.1"'));
    assert.ok(line);
    assert.equal(parseTextLine(line)[F.bytesReceived], '10');
  });

  it('keeps a keep-alive connection serving bodiless requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port: h.port, path, headers: { host: 'catalog.istioinaction.io' }, agent },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    try {
      const codes = [await get('/ka/1'), await get('/ka/2'), await get('/ka/3')];
      assert.deepEqual(codes, [200, 200, 200]);
      const remotes = new Set(
        h.lines.filter((l) => l.includes(' /ka/')).map((l) => parseTextLine(l)[F.downstreamRemote]),
      );
      assert.equal(remotes.size, 1);
    } finally {
      agent.destroy();
    }
  });

  it('retries a bodiless request and counts codes under the same stat names', async () => {
    const reply = await rawRequest(h.port, [
      'GET /flaky HTTP/1.1',
      'Host: catalog.istioinaction.io',
      'Connection: close',
    ]);
    assert.match(reply, /^HTTP\/1\.1 200 [\s\S]*up$/);
    assert.equal(flaky.seen.length, 2);
    const stats = h.proxy.stats;
    assert.equal(stats.counters.get(`cluster.${FLAKY}.upstream_rq_503`)?.value, 1);
    assert.equal(stats.counters.get(`cluster.${FLAKY}.upstream_rq_200`)?.value, 1);
    assert.equal(stats.counters.get(`cluster.${FLAKY}.upstream_rq_2xx`)?.value, 1);
    // A retried 503 counts its code only, as before: no 5xx class counter appears.
    assert.equal(stats.counters.has(`cluster.${FLAKY}.upstream_rq_5xx`), false);
    assert.ok((stats.counters.get(`cluster.${CLUSTER}.upstream_rq_200`)?.value ?? 0) >= 5);
  });
});

describe('cluster status counters', () => {
  it('resolve to the same tagged counters as Stats.cluster, created on first use', () => {
    const stats = new Stats();
    const codes = stats.clusterStatus('c1');
    assert.equal(stats.counters.has('cluster.c1.upstream_rq_404'), false);
    codes.code(404).value++;
    codes.code(404).value++;
    const c = stats.counters.get('cluster.c1.upstream_rq_404');
    assert.equal(c?.value, 2);
    assert.equal(c, stats.cluster('counter', 'c1', 'upstream_rq_404'));
    assert.deepEqual(c?.tags, [
      ['response_code', '404'],
      ['cluster_name', 'c1'],
    ]);
    assert.equal(c?.tagExtracted, 'cluster.upstream_rq');
    assert.equal(stats.counters.has('cluster.c1.upstream_rq_4xx'), false);
    codes.codeClass(404).value++;
    assert.equal(stats.counters.get('cluster.c1.upstream_rq_4xx')?.value, 1);
    assert.equal(codes.codeClass(499), stats.counters.get('cluster.c1.upstream_rq_4xx'));
    // Another cluster gets its own counters.
    stats.clusterStatus('c2').code(404).value++;
    assert.equal(stats.counters.get('cluster.c1.upstream_rq_404')?.value, 2);
    assert.equal(stats.counters.get('cluster.c2.upstream_rq_404')?.value, 1);
  });
});
