/**
 * The data plane's TLS caches: session resumption between two sidecars (a new upstream connection resumes
 * the pool's session instead of a full handshake, and the identities stay those of the first handshake),
 * and the peer-verification cache (a chain found trusted is trusted again only under the same roots and
 * inside every certificate's validity window).
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { ProxyEngine } from '../src/proxy/index.js';
import { verifyPeer } from '../src/proxy/index.js';
import type { Upstream } from './proxy-fixtures.js';
import { upstream } from './proxy-fixtures.js';
import type { Ca, Leaf, TlsSide } from './proxy-tls-fixtures.js';
import {
  certSecret,
  CLUSTER,
  clientSnapshot,
  makeCa,
  makeLeaf,
  rootSecret,
  serverSnapshot,
  spiffe,
  startTlsSide,
} from './proxy-tls-fixtures.js';

/** Requests on fresh client connections (agent: false), so the sidecar's pool decides the upstream side. */
function get(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/items', headers: { host: 'server' }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end();
  });
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function counter(engine: ProxyEngine, suffix: string): number {
  let n = 0;
  for (const c of engine.stats.counters.values()) if (c.name.endsWith(suffix)) n += c.value;
  return n;
}

/** Whether each completed server-side handshake resumed a session (Node's own answer). */
const serverResumed: boolean[] = [];
type Emit = (this: tls.TLSSocket, event: string | symbol, ...args: unknown[]) => boolean;
const originalEmit = tls.TLSSocket.prototype.emit as Emit;

describe('TLS session resumption between two sidecars', () => {
  let ca: Ca;
  let other: Ca;
  let clientLeaf: Leaf;
  let serverLeaf: Leaf;
  let app: Upstream;
  const sides: TlsSide[] = [];

  before(async () => {
    ca = await makeCa();
    other = await makeCa('other.local');
    clientLeaf = await makeLeaf(ca, spiffe('default', 'client'));
    serverLeaf = await makeLeaf(ca, spiffe('default', 'server'));
    app = await upstream('app', (_req, res) => res.end('ok'));
    const emit: Emit = function (this: tls.TLSSocket, event, ...args) {
      const own = this as tls.TLSSocket & { _tlsOptions?: { isServer?: boolean } };
      if (event === 'secure' && own._tlsOptions?.isServer) serverResumed.push(this.isSessionReused());
      return originalEmit.call(this, event, ...args);
    };
    tls.TLSSocket.prototype.emit = emit as typeof tls.TLSSocket.prototype.emit;
  });
  after(async () => {
    tls.TLSSocket.prototype.emit = originalEmit as typeof tls.TLSSocket.prototype.emit;
    await Promise.all(sides.map((s) => s.engine.close()));
    await app.close();
  });

  async function pair(): Promise<{ server: TlsSide; client: TlsSide }> {
    const server = await startTlsSide(serverSnapshot('STRICT', app.port), 'virtualInbound|9080', [
      certSecret(serverLeaf),
      rootSecret(ca),
    ]);
    const client = await startTlsSide(clientSnapshot(server.port), '0.0.0.0_80', [
      certSecret(clientLeaf),
      rootSecret(ca),
    ]);
    sides.push(server, client);
    return { server, client };
  }

  it('new upstream connections resume the first session; no handshake fails; identities are kept', async () => {
    const { server, client } = await pair();
    serverResumed.length = 0;
    assert.equal(await get(client.port), 200);
    await wait(50); // the session ticket follows the handshake
    // Concurrent requests need more connections than the pool has: those resume.
    const codes = await Promise.all(Array.from({ length: 8 }, () => get(client.port)));
    assert.deepEqual(
      codes,
      Array.from({ length: 8 }, () => 200),
    );
    await wait(20);
    assert.equal(counter(server.engine, '.ssl.connection_error'), 0);
    assert.equal(counter(client.engine, '.ssl.connection_error'), 0);
    assert.equal(serverResumed[0], false, 'the first connection is a full handshake');
    assert.ok(
      serverResumed.slice(1).some((r) => r),
      `later connections resume: ${JSON.stringify(serverResumed)}`,
    );
    assert.equal(server.infos.length, 9);
    for (const s of server.infos) assert.equal(s.downstreamPeerUriSan, spiffe('default', 'client'));
    for (const c of client.infos) assert.equal(c.upstreamPeerUriSan, spiffe('default', 'server'));
  });

  it('a session does not outlive the trust it was made under: new roots refuse the client', async () => {
    const { server, client } = await pair();
    assert.equal(await get(client.port), 200);
    await wait(50);
    // The server stops trusting the client's CA. Concurrent requests need new connections (one may still
    // use the pooled one, established before the change), and those offer the old session.
    server.engine.updateSecrets([certSecret(serverLeaf), rootSecret(other)]);
    const before = counter(server.engine, '.ssl.connection_error');
    const codes = await Promise.all(Array.from({ length: 4 }, () => get(client.port)));
    await wait(20);
    assert.ok(codes.filter((c) => c !== 200).length >= 3, `refused: ${codes.join(',')}`);
    assert.ok(counter(server.engine, '.ssl.connection_error') > before);
  });
});

describe('tcp_proxy upstream TLS sessions', () => {
  let ca: Ca;
  let echo: net.Server;
  let echoPort = 0;
  const engines: ProxyEngine[] = [];

  before(async () => {
    ca = await makeCa();
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as net.AddressInfo).port;
    const emit: Emit = function (this: tls.TLSSocket, event, ...args) {
      const own = this as tls.TLSSocket & { _tlsOptions?: { isServer?: boolean } };
      if (event === 'secure' && own._tlsOptions?.isServer) serverResumed.push(this.isSessionReused());
      return originalEmit.call(this, event, ...args);
    };
    tls.TLSSocket.prototype.emit = emit as typeof tls.TLSSocket.prototype.emit;
  });
  after(async () => {
    tls.TLSSocket.prototype.emit = originalEmit as typeof tls.TLSSocket.prototype.emit;
    await Promise.all(engines.map((e) => e.close()));
    await new Promise((r) => echo.close(r));
  });

  const tcpProxy = (cluster: string): unknown => ({
    name: 'envoy.filters.network.tcp_proxy',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
      statPrefix: cluster,
      cluster,
    },
  });

  function echoOnce(port: number, text: string): Promise<string> {
    return new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(text));
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.length >= text.length) s.end();
      });
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
  }

  it("a second connection resumes the first one's session and keeps both identities", async () => {
    const inbound = serverSnapshot('STRICT', echoPort);
    const listener = inbound.listeners[0] as { filterChains: Record<string, unknown>[] };
    for (const chain of listener.filterChains) chain['filters'] = [tcpProxy('inbound|9080||')];
    const server = await startTlsSide(inbound, 'virtualInbound|9080', [
      certSecret(await makeLeaf(ca, spiffe('default', 'server'))),
      rootSecret(ca),
    ]);
    const outbound = clientSnapshot(server.port);
    outbound.listeners = [
      {
        name: '0.0.0.0_9000',
        address: { socketAddress: { address: '0.0.0.0', portValue: 9000 } },
        filterChains: [{ filters: [tcpProxy(CLUSTER)] }],
      },
    ];
    const client = await startTlsSide(outbound, '0.0.0.0_9000', [
      certSecret(await makeLeaf(ca, spiffe('default', 'client'))),
      rootSecret(ca),
    ]);
    engines.push(server.engine, client.engine);
    serverResumed.length = 0;
    assert.equal(await echoOnce(client.port, 'first connection'), 'first connection');
    await wait(50);
    assert.equal(await echoOnce(client.port, 'second connection'), 'second connection');
    await wait(50);
    assert.deepEqual(serverResumed, [false, true]);
    assert.equal(server.infos.length, 2);
    for (const s of server.infos) assert.equal(s.downstreamPeerUriSan, spiffe('default', 'client'));
    for (const c of client.infos) assert.equal(c.upstreamPeerUriSan, spiffe('default', 'server'));
  });
});

describe('peer verification cache', () => {
  let ca: Ca;
  let other: Ca;
  let leaf: Leaf;

  before(async () => {
    ca = await makeCa();
    other = await makeCa('other.local');
    leaf = await makeLeaf(ca, spiffe('default', 'client'));
  });

  const resolved = (root: Ca): { context: tls.SecureContext; roots: X509Certificate[] } => ({
    context: tls.createSecureContext(),
    roots: [new X509Certificate(root.pem)],
  });

  it('a trusted chain stays trusted under the same roots, and only there', () => {
    const chain = [new X509Certificate(leaf.certPem)];
    const mine = resolved(ca);
    assert.equal(verifyPeer(chain, mine, []), undefined);
    assert.equal(verifyPeer(chain, mine, []), undefined, 'again, from the cache');
    const theirs = resolved(other);
    assert.match(verifyPeer(chain, theirs, [])?.detail ?? '', /unable to get local issuer certificate/);
    // And the failure is not remembered either: the trusting context still trusts it.
    assert.equal(verifyPeer(chain, mine, []), undefined);
  });

  it('a cached chain is checked for dates again: past its validity it fails with the expiry reason', () => {
    const chain = [new X509Certificate(leaf.certPem)];
    const mine = resolved(ca);
    assert.equal(verifyPeer(chain, mine, []), undefined);
    const later = Date.parse(chain[0]?.validTo ?? '') + 60_000;
    assert.equal(
      verifyPeer(chain, mine, [], later)?.detail,
      'X509_verify_cert: certificate verification error at depth 0: certificate has expired',
    );
  });

  it('SAN matchers are applied on every call, cached chain or not', () => {
    const chain = [new X509Certificate(leaf.certPem)];
    const mine = resolved(ca);
    assert.equal(
      verifyPeer(chain, mine, [{ exact: spiffe('default', 'client'), ignoreCase: false }]),
      undefined,
    );
    assert.equal(
      verifyPeer(chain, mine, [{ exact: spiffe('default', 'someone-else'), ignoreCase: false }])?.detail,
      'verify cert failed: SAN matcher',
    );
  });
});
