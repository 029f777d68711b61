import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import type { ChainMatch, ProxyEngine, ProxySnapshot } from '../src/proxy/index.js';
import {
  compileChainMatch,
  createProxy,
  DebugLog,
  inspectFirstBytes as inspect,
  selectChain,
} from '../src/proxy/index.js';
import type { Ca } from './proxy-tls-fixtures.js';
import { certSecret, makeCa, makeLeaf } from './proxy-tls-fixtures.js';

/** The first bytes a real TLS client sends (its ClientHello). */
async function clientHello(servername: string | undefined, alpn: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        server.close();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      const c = tls.connect({
        host: '127.0.0.1',
        port,
        servername,
        ALPNProtocols: alpn,
        rejectUnauthorized: false,
      });
      c.on('error', () => undefined);
    });
    server.on('error', reject);
  });
}

describe('tls_inspector and http_inspector', () => {
  it('reads SNI and ALPN from a ClientHello, waiting for the whole of it', async () => {
    const hello = await clientHello('outbound_.9080_._.reviews.default.svc.cluster.local', [
      'istio-peer-exchange',
      'istio',
    ]);
    assert.deepEqual(inspect(hello), {
      transportProtocol: 'tls',
      serverName: 'outbound_.9080_._.reviews.default.svc.cluster.local',
      applicationProtocols: ['istio-peer-exchange', 'istio'],
    });
    assert.equal(inspect(hello.subarray(0, 40)), undefined, 'a partial ClientHello needs more bytes');
    const bare = inspect(await clientHello(undefined, []));
    assert.equal(bare?.transportProtocol, 'tls');
    assert.equal(bare?.serverName, undefined);
  });

  it('tells HTTP/1.0, HTTP/1.1 and h2c apart, and gives up on other bytes', () => {
    assert.deepEqual(inspect(Buffer.from('GET /items HTTP/1.1\r\nhost: x\r\n')), {
      transportProtocol: 'raw_buffer',
      applicationProtocols: ['http/1.1'],
    });
    assert.deepEqual(inspect(Buffer.from('GET / HTTP/1.0\r\n'))?.applicationProtocols, ['http/1.0']);
    assert.deepEqual(inspect(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'))?.applicationProtocols, ['h2c']);
    assert.equal(inspect(Buffer.from('GET /ite')), undefined);
    assert.deepEqual(inspect(Buffer.from('\u0000\u0001binary')), {
      transportProtocol: 'raw_buffer',
      applicationProtocols: [],
    });
    assert.deepEqual(inspect(Buffer.from('GET /ite'), true)?.applicationProtocols, []);
  });
});

describe('filter chain match', () => {
  const chains = (list: Record<string, unknown>[]): { id: string; m: ChainMatch }[] =>
    list.map((m, i) => ({ id: String(m['id'] ?? i), m: compileChainMatch(m) }));
  const facts = {
    destinationIp: '10.0.0.5',
    destinationPort: 9080,
    sourceIp: '10.0.0.9',
    sourcePort: 40000,
    transportProtocol: 'tls',
    applicationProtocols: ['istio-peer-exchange', 'istio'],
  };
  const pick = (
    list: { id: string; m: ChainMatch }[],
    f: Partial<typeof facts> & { serverName?: string } = {},
  ) => selectChain(list, (c) => c.m, { ...facts, ...f })?.id;

  it('narrows by port first, with no fallback to the wildcard port', () => {
    const list = chains([
      { id: 'port-raw', destinationPort: 9080, transportProtocol: 'raw_buffer' },
      { id: 'any-tls', transportProtocol: 'tls' },
    ]);
    assert.equal(pick(list), undefined, 'the 9080 chains decide, and none takes TLS');
    assert.equal(pick(list, { destinationPort: 8080 }), 'any-tls');
    assert.equal(pick(list, { transportProtocol: 'raw_buffer' }), 'port-raw');
  });

  it('prefers exact server names, then longer wildcards, then chains without names', () => {
    const list = chains([
      { id: 'wild', serverNames: ['*.example.com'] },
      { id: 'exact', serverNames: ['a.example.com'] },
      { id: 'deeper', serverNames: ['*.b.example.com'] },
      { id: 'none' },
    ]);
    assert.equal(pick(list, { serverName: 'a.example.com' }), 'exact');
    assert.equal(pick(list, { serverName: 'x.b.example.com' }), 'deeper');
    assert.equal(pick(list, { serverName: 'c.example.com' }), 'wild');
    assert.equal(pick(list, { serverName: 'other.org' }), 'none');
    assert.equal(pick(list), 'none');
  });

  it('takes the first offered ALPN a chain names, then chains without ALPN; then transport and prefixes', () => {
    const list = chains([
      { id: 'http', transportProtocol: 'tls', applicationProtocols: ['istio-http/1.1'] },
      { id: 'tcp', transportProtocol: 'tls', applicationProtocols: ['istio-peer-exchange', 'istio'] },
      { id: 'tls-any', transportProtocol: 'tls' },
      { id: 'raw', transportProtocol: 'raw_buffer' },
    ]);
    assert.equal(pick(list), 'tcp');
    assert.equal(pick(list, { applicationProtocols: ['istio-http/1.1', 'istio'] }), 'http');
    assert.equal(pick(list, { applicationProtocols: ['h2'] }), 'tls-any');
    assert.equal(pick(list, { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1'] }), 'raw');
    const ranges = chains([
      { id: 'v4', prefixRanges: [{ addressPrefix: '0.0.0.0', prefixLen: 0 }] },
      { id: 'narrow', prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: 24 }] },
    ]);
    assert.equal(pick(ranges), 'narrow');
    assert.equal(pick(ranges, { destinationIp: '192.168.1.1' }), 'v4');
    assert.equal(pick(ranges, { destinationIp: '::1' }), undefined);
  });
});

describe('gateway TLS by SNI with SDS secrets from the snapshot', () => {
  let ca: Ca;
  let engine: ProxyEngine;
  const debug: string[] = [];
  const TYPE = 'type.googleapis.com/';
  const chain = (names: string[], secret: string, body: string): unknown => ({
    filterChainMatch: { serverNames: names },
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': `${TYPE}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
        commonTlsContext: {
          tlsCertificateSdsSecretConfigs: [
            { name: secret, sdsConfig: { ads: {}, resourceApiVersion: 'V3' } },
          ],
          alpnProtocols: ['h2', 'http/1.1'],
        },
      },
    },
    filters: [
      {
        name: 'envoy.filters.network.http_connection_manager',
        typedConfig: {
          '@type': `${TYPE}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
          statPrefix: 'outbound_0.0.0.0_8443',
          routeConfig: {
            name: 'r',
            virtualHosts: [
              {
                name: 'v',
                domains: ['*'],
                routes: [
                  { match: { prefix: '/' }, directResponse: { status: 200, body: { inlineString: body } } },
                ],
              },
            ],
          },
          httpFilters: [
            {
              name: 'envoy.filters.http.router',
              typedConfig: { '@type': `${TYPE}envoy.extensions.filters.http.router.v3.Router` },
            },
          ],
        },
      },
    ],
  });

  before(async () => {
    ca = await makeCa('gateway');
    const a = await makeLeaf(ca, 'spiffe://example/a');
    const wild = await makeLeaf(ca, 'spiffe://example/wild');
    const snapshot: ProxySnapshot = {
      listeners: [
        {
          name: '0.0.0.0_8443',
          address: { socketAddress: { address: '0.0.0.0', portValue: 8443 } },
          filterChains: [
            chain(['a.example.com'], 'kubernetes://a-cert', 'a'),
            chain(['*.example.com'], 'kubernetes://wild-cert', 'wild'),
            chain(['missing.example.org'], 'kubernetes://not-there', 'never'),
          ],
        },
      ],
      secrets: [certSecret(a, 'kubernetes://a-cert'), certSecret(wild, 'kubernetes://wild-cert')],
    };
    const log = new DebugLog((l) => debug.push(l));
    log.setLevel('connection', 'debug');
    engine = await createProxy(snapshot, { bind: () => ({ address: '127.0.0.1', port: 0 }), debugLog: log });
  });
  after(() => engine.close());

  const get = (servername: string): Promise<{ body: string; san: string | undefined }> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: engine.address('0.0.0.0_8443')?.port,
          servername,
          headers: { host: servername },
          ca: ca.pem,
          checkServerIdentity: () => undefined,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          const san = (res.socket as tls.TLSSocket).getPeerCertificate().subjectaltname;
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ body: Buffer.concat(chunks).toString(), san }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  it('serves each name with its chain and certificate; a missing secret closes the handshake', async () => {
    assert.deepEqual(await get('a.example.com'), { body: 'a', san: 'URI:spiffe://example/a' });
    assert.deepEqual(await get('b.example.com'), { body: 'wild', san: 'URI:spiffe://example/wild' });
    await assert.rejects(get('other.org'), 'no chain for the name');
    await assert.rejects(get('missing.example.org'), 'the secret has not arrived');
    assert.ok(debug.some((l) => l.includes('TLS error: Secret is not supplied by SDS')));
    assert.equal(engine.stats.counters.get('listener.0.0.0.0_8443.no_filter_chain_match')?.value, 1);
  });
});
