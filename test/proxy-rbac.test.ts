/**
 * AuthorizationPolicy enforcement in the data plane over config skiff's own generator produces: a sidecar's
 * inbound listener (lab capture's `virtualInbound|9080`) with its HTTP RBAC filters and path
 * normalization, mTLS principals, remote_ip from XFF, and a TCP chain's network RBAC.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { planCapture } from '../src/lab/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import type { ProxyEngine, ProxySnapshot, StreamInfo } from '../src/proxy/index.js';
import { createProxy, DebugLog, textFormatter } from '../src/proxy/index.js';
import { buildPushContext, generateProxyResources, proxyFromNode, sidecarNode } from '../src/xds/index.js';
import type { Upstream } from './proxy-fixtures.js';
import { request, upstream, waitFor } from './proxy-fixtures.js';
import type { Ca } from './proxy-tls-fixtures.js';
import { certSecret, makeCa, makeLeaf, rootSecret, spiffe } from './proxy-tls-fixtures.js';

type Json = Record<string, unknown>;

const WORKLOAD = `
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: shop }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080, targetPort: 9080 }, { name: tcp-db, port: 5432, targetPort: 5432 }]
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-0
  namespace: shop
  labels: { app: reviews, version: v1, security.istio.io/tlsMode: istio }
spec:
  serviceAccountName: reviews
  containers:
    - { name: reviews, ports: [{ containerPort: 9080, name: http }, { containerPort: 5432, name: tcp-db }] }
    - { name: istio-proxy }
status: { phase: Running, podIP: 127.10.0.5, conditions: [{ type: Ready, status: "True" }] }
`;

const policy = (name: string, spec: string): string => `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: shop }
spec:
  selector: { matchLabels: { app: reviews } }
${spec}`;

const DENY_ADMIN = policy(
  'deny-admin',
  `  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin"] } }] }]`,
);

/** The sidecar's generated config, as lab capture serves it. */
function sidecarConfig(policies: string, meshYaml = ''): { snapshot: ProxySnapshot; generated: Json[] } {
  const resources = parseManifests(`${WORKLOAD}\n---\n${policies}`, 'test.yaml').resources;
  const push = buildPushContext(new ConfigSnapshot(resources, parseMeshConfig(meshYaml)));
  const node = sidecarNode({
    ip: '127.10.0.5',
    podName: 'reviews-0',
    namespace: 'shop',
    labels: { app: 'reviews', version: 'v1', 'security.istio.io/tlsMode': 'istio' },
    podPorts: [
      { name: 'http', containerPort: 9080 },
      { name: 'tcp-db', containerPort: 5432 },
    ],
    serviceAccount: 'reviews',
  });
  const generated = generateProxyResources(push, proxyFromNode(node.id, node.metadata));
  const plan = planCapture(generated, {
    type: 'sidecar',
    podIP: '127.0.0.1',
    appAddress: '127.0.0.1',
    outboundAddress: '127.0.0.1',
  });
  return { snapshot: plan.snapshot, generated: generated.listeners };
}

/** `inbound|<port>||` as a STATIC cluster to the test app. */
function inboundCluster(port: number, appPort: number): Json {
  const name = `inbound|${port}||`;
  return {
    name,
    type: 'STATIC',
    connectTimeout: '1s',
    loadAssignment: {
      clusterName: name,
      endpoints: [
        {
          lbEndpoints: [
            { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: appPort } } } },
          ],
        },
      ],
    },
  };
}

interface Sidecar {
  engine: ProxyEngine;
  port: number;
  infos: StreamInfo[];
  lines: string[];
  debug: string[];
}

const engines: ProxyEngine[] = [];
let app: Upstream;
let ca: Ca;

/** An engine serving the sidecar's `virtualInbound|9080` (and its mTLS secrets) in front of the app. */
async function startSidecar(policies: string, meshYaml = ''): Promise<Sidecar> {
  const { snapshot } = sidecarConfig(policies, meshYaml);
  const infos: StreamInfo[] = [];
  const lines: string[] = [];
  const debug: string[] = [];
  const log = new DebugLog((line) => void debug.push(line));
  log.setLevel('rbac', 'debug');
  const format = textFormatter();
  const engine = await createProxy(
    {
      ...snapshot,
      listeners: (snapshot.listeners as Json[]).filter((l) => l['name'] === 'virtualInbound|9080'),
      clusters: [inboundCluster(9080, app.port)],
    },
    {
      bind: () => ({ address: '127.0.0.1', port: 0 }),
      debugLog: log,
      accessLoggers: [{ format: (s) => (infos.push(s), format(s)), sink: (line) => void lines.push(line) }],
    },
  );
  engines.push(engine);
  engine.updateSecrets([certSecret(await makeLeaf(ca, spiffe('shop', 'reviews'))), rootSecret(ca)]);
  return { engine, port: engine.address('virtualInbound|9080')?.port ?? 0, infos, lines, debug };
}

/** A request over mTLS with a SPIFFE certificate, offering Istio's ALPN as a sidecar does. */
async function mtlsRequest(
  port: number,
  sa: string,
  opts: { path?: string; method?: string } = {},
): Promise<{ status: number; body: string }> {
  const leaf = await makeLeaf(ca, spiffe('shop', sa));
  const options: https.RequestOptions & tls.ConnectionOptions = {
    host: '127.0.0.1',
    port,
    path: opts.path ?? '/items',
    method: opts.method ?? 'GET',
    headers: { host: 'reviews.shop.svc.cluster.local:9080' },
    cert: leaf.certPem,
    key: leaf.keyPem,
    ca: ca.pem,
    rejectUnauthorized: false,
    ALPNProtocols: ['istio-http/1.1', 'istio', 'http/1.1'],
    servername: 'outbound_.9080_._.reviews.shop.svc.cluster.local',
    agent: false,
  };
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const get = (port: number, path: string, extra: { method?: string; headers?: Record<string, string> } = {}) =>
  request(port, { path, host: 'reviews.shop.svc.cluster.local:9080', ...extra });

/** The last access-log line's response flags and details fields (Istio's TEXT format). */
function flagsAndDetails(line: string | undefined): [string, string] {
  const m = /" (\d+) (\S+) (\S+) /.exec(line ?? '');
  return [m?.[2] ?? '', m?.[3] ?? ''];
}

function counter(engine: ProxyEngine, suffix: string): number {
  for (const [name, c] of engine.stats.counters) if (name.endsWith(suffix)) return c.value;
  return 0;
}

before(async () => {
  app = await upstream('reviews');
  ca = await makeCa();
});

after(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await app.close();
});

describe('HTTP RBAC from generated AuthorizationPolicies', () => {
  it('DENY on a path answers 403 RBAC: access denied with the matched policy in the access log', async () => {
    const s = await startSidecar(DENY_ADMIN);
    const denied = await get(s.port, '/admin');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, 'RBAC: access denied');
    assert.equal(denied.headers['content-type'], 'text/plain');
    await waitFor(() => s.lines.length === 1);
    const [flags, details] = flagsAndDetails(s.lines[0]);
    // Envoy's RBAC filter sets response code details only: there is no RBAC response flag.
    assert.equal(flags, '-');
    assert.equal(details, 'rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]');
    assert.equal(counter(s.engine, '.rbac.denied'), 1);
    assert.ok(
      s.debug.some((l) => l.includes('enforced denied, matched policy ns[shop]-policy[deny-admin]-rule[0]')),
      'the rbac logger explains the denial',
    );
    assert.ok(
      s.debug.some((l) =>
        /\tdebug\tenvoy rbac external\/envoy\/source\/extensions\/filters\/http\/rbac\//.test(l),
      ),
    );

    const before = app.paths.length;
    const ok = await get(s.port, '/reviews/1');
    assert.equal(ok.status, 200);
    assert.equal(ok.body, 'reviews');
    assert.equal(app.paths.length, before + 1);
    assert.equal(counter(s.engine, '.rbac.allowed'), 1);
    assert.ok(!app.paths.includes('/admin'), 'the denied request never reached the app');
  });

  it('ALLOW only GET: a POST gets 403 with [none]', async () => {
    const s = await startSidecar(
      policy('get-only', `  action: ALLOW\n  rules: [{ to: [{ operation: { methods: ["GET"] } }] }]`),
    );
    assert.equal((await get(s.port, '/reviews/1')).status, 200);
    const post = await get(s.port, '/reviews/1', { method: 'POST' });
    assert.equal(post.status, 403);
    assert.equal(post.body, 'RBAC: access denied');
    await waitFor(() => s.lines.length === 2);
    assert.equal(flagsAndDetails(s.lines[1])[1], 'rbac_access_denied_matched_policy[none]');
    assert.equal(s.infos[1]?.details, 'rbac_access_denied_matched_policy[none]');
    assert.ok(s.debug.some((l) => l.includes('enforced denied, matched policy none')));
    assert.ok(
      s.debug.some((l) => l.includes('enforced allowed, matched policy ns[shop]-policy[get-only]-rule[0]')),
    );
  });

  it('normalized paths reach the same decision as the canonical path; case is kept', async () => {
    const s = await startSidecar(DENY_ADMIN);
    for (const path of ['/admin/../admin', '/./admin', '/x/../admin', '/%61dmin', '/admin?x=1']) {
      const r = await get(s.port, path);
      assert.equal(r.status, 403, path);
    }
    const upper = await get(s.port, '/ADMIN');
    assert.equal(upper.status, 200, '/ADMIN is not /admin');
    assert.equal(app.paths.at(-1), '/ADMIN');
    // The app sees the normalized path too.
    assert.equal((await get(s.port, '/a/./b/../reviews?x=/..')).status, 200);
    assert.equal(app.paths.at(-1), '/a/reviews?x=/..');
    // Default mesh config keeps escaped slashes: %2Fadmin is not /admin.
    const escaped = await get(s.port, '/%2Fadmin');
    assert.equal(escaped.status, 200);
    assert.equal(app.paths.at(-1), '/%2Fadmin');
  });

  it('DECODE_AND_MERGE_SLASHES decodes %2F / %2f and merges slashes before RBAC', async () => {
    const s = await startSidecar(
      DENY_ADMIN,
      'pathNormalization: { normalization: DECODE_AND_MERGE_SLASHES }',
    );
    for (const path of ['/%2Fadmin', '/%2fadmin', '//admin', '/x/..%2Fadmin']) {
      const r = await get(s.port, path);
      assert.equal(r.status, 403, path);
    }
    assert.equal((await get(s.port, '/%2Freviews')).status, 200);
    assert.equal(app.paths.at(-1), '/reviews');
  });

  it('principals over mTLS: webapp is allowed, another service account is denied', async () => {
    const s = await startSidecar(
      policy(
        'from-webapp',
        `  action: ALLOW\n  rules: [{ from: [{ source: { principals: ["cluster.local/ns/shop/sa/webapp"] } }] }]`,
      ),
    );
    const allowed = await mtlsRequest(s.port, 'webapp');
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body, 'reviews');
    const other = await mtlsRequest(s.port, 'sleep');
    assert.equal(other.status, 403);
    assert.equal(other.body, 'RBAC: access denied');
    // Plaintext has no principal at all.
    assert.equal((await get(s.port, '/items')).status, 403);
    await waitFor(() => s.infos.length === 3);
    assert.equal(s.infos[0]?.downstreamPeerUriSan, spiffe('shop', 'webapp'));
    assert.equal(s.infos[1]?.details, 'rbac_access_denied_matched_policy[none]');
    const peer = textFormatter(
      '%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_LOCAL_URI_SAN% %DOWNSTREAM_TLS_VERSION%',
    );
    const [sa, local, version] = peer(s.infos[0] as StreamInfo)
      .trim()
      .split(' ');
    assert.equal(sa, spiffe('shop', 'webapp'));
    assert.equal(local, spiffe('shop', 'reviews'));
    assert.match(version ?? '', /^TLSv1\.[23]$/);
    assert.equal(peer(s.infos[2] as StreamInfo), '- - -\n');
  });

  it('remoteIpBlocks read the client address from XFF on a sidecar (use_remote_address false)', async () => {
    const s = await startSidecar(
      policy(
        'deny-net',
        `  action: DENY\n  rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }]`,
      ),
    );
    assert.equal(
      (await get(s.port, '/items', { headers: { 'x-forwarded-for': '203.0.113.7' } })).status,
      403,
    );
    assert.equal(
      (await get(s.port, '/items', { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } })).status,
      200,
      'only the last XFF entry counts without trusted hops',
    );
    assert.equal((await get(s.port, '/items')).status, 200);
  });

  it('a bad RBAC filter is refused (the NACK names the listener)', async () => {
    const { snapshot } = sidecarConfig(DENY_ADMIN);
    const listeners = structuredClone(
      (snapshot.listeners as Json[]).filter((l) => l['name'] === 'virtualInbound|9080'),
    );
    const filters = (listeners[0]?.['filterChains'] as Json[]).flatMap((c) => c['filters'] as Json[]);
    const hcm = filters.find((f) => f['name'] === 'envoy.filters.network.http_connection_manager');
    const rbac = ((hcm?.['typedConfig'] as Json)['httpFilters'] as Json[]).find(
      (f) => f['name'] === 'envoy.filters.http.rbac',
    );
    assert.ok(rbac, 'the generator put an RBAC filter in the inbound HCM');
    ((rbac['typedConfig'] as Json)['rules'] as Json)['policies'] = {
      bad: { permissions: [{ any: true }], principals: [{ remoteIp: { addressPrefix: 'not-an-ip' } }] },
    };
    await assert.rejects(
      createProxy(
        { ...snapshot, listeners, clusters: [] },
        { bind: () => ({ address: '127.0.0.1', port: 0 }) },
      ),
      /virtualInbound\|9080.*malformed IP address/,
    );
  });
});

describe('network RBAC on a TCP chain', () => {
  /** The generated virtualInbound chains of one port as a listener the engine serves (TCP: capture skips it). */
  async function tcpSidecar(
    policies: string,
    echo: number,
  ): Promise<{ engine: ProxyEngine; port: number; infos: StreamInfo[] }> {
    const { generated } = sidecarConfig(policies);
    const vi = generated.find((l) => l['name'] === 'virtualInbound') as Json;
    const chains = (vi['filterChains'] as Json[])
      .filter((c) => (c['filterChainMatch'] as Json | undefined)?.['destinationPort'] === 5432)
      .map((c) => {
        const { destinationPort: _p, ...match } = c['filterChainMatch'] as Json;
        return { ...c, filterChainMatch: match };
      });
    assert.ok(chains.length > 0);
    const infos: StreamInfo[] = [];
    const engine = await createProxy(
      {
        listeners: [
          {
            name: 'virtualInbound|5432',
            address: { socketAddress: { address: '127.0.0.1', portValue: 5432 } },
            trafficDirection: 'INBOUND',
            filterChains: chains,
          },
        ],
        clusters: [inboundCluster(5432, echo)],
      },
      {
        bind: () => ({ address: '127.0.0.1', port: 0 }),
        accessLoggers: [{ format: (s) => (infos.push(s), ''), sink: () => undefined }],
        upstreamBindAddress: '127.0.0.1',
      },
    );
    engines.push(engine);
    return { engine, port: engine.address('virtualInbound|5432')?.port ?? 0, infos };
  }

  let echo: net.Server;
  let echoPort = 0;
  const received: string[] = [];
  before(async () => {
    echo = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        received.push(d.toString());
        s.write(d);
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => echo.close(() => r())));

  /** Sends a line and collects what comes back until the connection closes. */
  function exchange(port: number, text: string): Promise<{ reply: string; closed: boolean }> {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      let reply = '';
      socket.on('data', (d: Buffer) => {
        reply += d.toString();
        if (reply === text) {
          socket.end();
          resolve({ reply, closed: false });
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve({ reply, closed: true }));
      socket.write(text);
    });
  }

  it('a DENY policy on the port closes the connection and logs the matched policy', async () => {
    const s = await tcpSidecar(
      policy('deny-db', `  action: DENY\n  rules: [{ to: [{ operation: { ports: ["5432"] } }] }]`),
      echoPort,
    );
    const r = await exchange(s.port, 'SELECT 1;\r\n');
    assert.equal(r.reply, '');
    assert.equal(r.closed, true);
    assert.ok(!received.includes('SELECT 1;\r\n'), 'nothing reached the upstream');
    await waitFor(() => s.infos.length === 1);
    assert.equal(
      s.infos[0]?.connectionTerminationDetails,
      'rbac_access_denied_matched_policy[ns[shop]-policy[deny-db]-rule[0]]',
    );
    assert.equal(counter(s.engine, 'tcp.rbac.denied'), 1);
  });

  it('a policy for another port lets bytes through, and upstream connections leave from the bind address', async () => {
    const s = await tcpSidecar(
      policy('deny-other', `  action: DENY\n  rules: [{ to: [{ operation: { ports: ["6000"] } }] }]`),
      echoPort,
    );
    const r = await exchange(s.port, 'hello\r\n');
    assert.equal(r.reply, 'hello\r\n');
    await waitFor(() => s.infos.length === 1);
    assert.equal(s.infos[0]?.connectionTerminationDetails, undefined);
    assert.match(s.infos[0]?.upstreamLocalAddress ?? '', /^127\.0\.0\.1:\d+$/);
    assert.equal(counter(s.engine, 'tcp.rbac.allowed'), 1);
  });
});

describe('upstream bind address', () => {
  it('HTTP upstream connections leave from upstreamBindAddress', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.socket.remoteAddress ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const { snapshot } = sidecarConfig('');
    const infos: StreamInfo[] = [];
    const engine = await createProxy(
      {
        ...snapshot,
        listeners: (snapshot.listeners as Json[]).filter((l) => l['name'] === 'virtualInbound|9080'),
        clusters: [inboundCluster(9080, port)],
      },
      {
        bind: () => ({ address: '127.0.0.1', port: 0 }),
        upstreamBindAddress: '127.0.0.2',
        accessLoggers: [{ format: (s) => (infos.push(s), ''), sink: () => undefined }],
      },
    );
    engines.push(engine);
    const r = await get(engine.address('virtualInbound|9080')?.port ?? 0, '/x');
    assert.equal(r.status, 200);
    assert.equal(seen[0]?.replace(/^::ffff:/, ''), '127.0.0.2');
    await waitFor(() => infos.length === 1);
    assert.match(infos[0]?.upstreamLocalAddress ?? '', /^127\.0\.0\.2:\d+$/);
    await new Promise<void>((res) => {
      server.closeAllConnections();
      server.close(() => res());
    });
  });
});
