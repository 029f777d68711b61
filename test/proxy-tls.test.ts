import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { ProxyEngine, ProxySnapshot, StreamInfo } from '../src/proxy/index.js';
import { createProxy, DebugLog } from '../src/proxy/index.js';
import type { Upstream } from './proxy-fixtures.js';
import { deadPort, upstream } from './proxy-fixtures.js';
import type { Ca, Leaf } from './proxy-tls-fixtures.js';
import {
  certSecret,
  CLUSTER,
  clientSnapshot,
  makeCa,
  makeLeaf,
  rootSecret,
  SERVER_SNI,
  serverSnapshot,
  spiffe,
} from './proxy-tls-fixtures.js';

interface Side {
  engine: ProxyEngine;
  port: number;
  infos: StreamInfo[];
  lines: string[];
  debug: string[];
}

async function startSide(
  snapshot: ProxySnapshot,
  listener: string,
  secrets: unknown[],
  peer?: string,
): Promise<Side> {
  const infos: StreamInfo[] = [];
  const lines: string[] = [];
  const debug: string[] = [];
  const log = new DebugLog((l) => debug.push(l));
  log.setLevel('connection', 'debug');
  log.setLevel('conn_handler', 'debug');
  const engine = await createProxy(snapshot, {
    bind: () => ({ address: '127.0.0.1', port: 0 }),
    accessLog: { encoding: 'TEXT', format: '', sink: (l) => lines.push(l) },
    accessLoggers: [{ format: () => '', sink: () => undefined }].map((l) => ({
      ...l,
      format: (s: StreamInfo) => {
        infos.push(s);
        return '';
      },
    })),
    debugLog: log,
    ...(peer
      ? { peer: { name: peer, namespace: 'default', workloadName: peer, labels: { app: peer } } }
      : {}),
  });
  engine.updateSecrets(secrets);
  return { engine, port: engine.address(listener)?.port ?? 0, infos, lines, debug };
}

function get(port: number, host = 'server'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/items', headers: { host }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A direct TLS client to the server sidecar, with the given key pair. */
function tlsGet(port: number, ca: Ca, leaf: Leaf | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/items',
        headers: { host: 'server' },
        agent: false,
        ca: ca.pem,
        ...(leaf ? { cert: leaf.certPem, key: leaf.keyPem } : {}),
        ALPNProtocols: ['istio-http/1.1', 'istio'],
        rejectUnauthorized: false,
      } as https.RequestOptions & ConnectionOptions,
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('proxy mTLS between two sidecars', () => {
  let ca: Ca;
  let foreign: Ca;
  let clientLeaf: Leaf;
  let serverLeaf: Leaf;
  let app: Upstream;
  const sides: Side[] = [];

  before(async () => {
    ca = await makeCa();
    foreign = await makeCa('evil.local');
    clientLeaf = await makeLeaf(ca, spiffe('default', 'client'));
    serverLeaf = await makeLeaf(ca, spiffe('default', 'server'));
    app = await upstream('app', (req, res) => res.end(`app saw ${req.headers['x-forwarded-proto'] ?? '-'}`));
  });
  after(async () => {
    await Promise.all(sides.map((s) => s.engine.close()));
    await app.close();
  });

  async function pair(
    mode: 'STRICT' | 'PERMISSIVE' | 'DISABLE',
    client: Parameters<typeof clientSnapshot>[1] = {},
    serverSecrets: unknown[] = [certSecret(serverLeaf), rootSecret(ca)],
    clientSecrets: unknown[] = [certSecret(clientLeaf), rootSecret(ca)],
  ): Promise<{ server: Side; client: Side }> {
    const server = await startSide(
      serverSnapshot(mode, app.port),
      'virtualInbound|9080',
      serverSecrets,
      'server',
    );
    const c = await startSide(clientSnapshot(server.port, client), '0.0.0.0_80', clientSecrets, 'client');
    sides.push(server, c);
    return { server, client: c };
  }

  it('serves a request over mTLS; the server sees the client identity, SNI and TLS version', async () => {
    const { server, client } = await pair('STRICT');
    const reply = await get(client.port);
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'app saw http');
    await wait(20);
    const s = server.infos.at(-1);
    assert.equal(s?.downstreamPeerUriSan, spiffe('default', 'client'));
    assert.equal(s?.downstreamLocalUriSan, spiffe('default', 'server'));
    assert.equal(s?.downstreamTlsVersion, 'TLSv1.3');
    assert.equal(s?.requestedServerName, SERVER_SNI);
    // %REQUESTED_SERVER_NAME% in Istio's default format.
    assert.ok(server.lines.at(-1)?.includes(` ${SERVER_SNI} default`), server.lines.at(-1));
    const c = client.infos.at(-1);
    assert.equal(c?.upstreamPeerUriSan, spiffe('default', 'server'));
    assert.equal(c?.upstreamLocalUriSan, spiffe('default', 'client'));
    // Istio's metrics: principals on both reporters, mutual_tls on the destination.
    const dest = [...server.engine.stats.counters.keys()].find(
      (m) => m.startsWith('istiocustom.istio_requests_total.') && m.includes('reporter=.=destination'),
    );
    assert.ok(dest?.includes(`source_principal=.=${spiffe('default', 'client')}`), dest);
    assert.ok(dest?.includes(`destination_principal=.=${spiffe('default', 'server')}`), dest);
    assert.ok(dest?.includes('connection_security_policy=.=mutual_tls'), dest);
    const src = [...client.engine.stats.counters.keys()].find(
      (m) => m.startsWith('istiocustom.istio_requests_total.') && m.includes('reporter=.=source'),
    );
    assert.ok(src?.includes(`destination_principal=.=${spiffe('default', 'server')}`), src);
    assert.ok(src?.includes('connection_security_policy=.=unknown'), src);
  });

  it('STRICT refuses plaintext (filter_chain_not_found); PERMISSIVE serves it', async () => {
    const strict = await pair('STRICT');
    await assert.rejects(get(strict.server.port));
    await wait(20);
    assert.match(strict.server.lines.at(-1) ?? '', / 0 NR filter_chain_not_found /);
    assert.ok(strict.server.debug.some((l) => l.includes('no matching filter chain found')));
    const permissive = await pair('PERMISSIVE');
    assert.equal((await get(permissive.server.port)).status, 200);
    assert.equal((await get(permissive.client.port)).status, 200);
    await wait(20);
    assert.equal(permissive.server.infos.at(-1)?.downstreamPeerUriSan, spiffe('default', 'client'));
    assert.equal(permissive.server.infos.at(-2)?.downstreamPeerUriSan, undefined);
  });

  it('sends plaintext to endpoints without the tlsMode label (DISABLE server)', async () => {
    const { server, client } = await pair('DISABLE', { tlsMode: false });
    assert.equal((await get(client.port)).status, 200);
    await wait(20);
    assert.equal(server.infos.at(-1)?.downstreamTlsVersion, undefined);
  });

  it('refuses client certificates from a foreign CA, expired ones, and none', async () => {
    const { server } = await pair('STRICT');
    assert.equal(await tlsGet(server.port, ca, clientLeaf), 200);
    const evil = await makeLeaf(foreign, spiffe('default', 'client'));
    await assert.rejects(tlsGet(server.port, ca, evil));
    const expired = await makeLeaf(ca, spiffe('default', 'client'), { expired: true });
    await assert.rejects(tlsGet(server.port, ca, expired));
    await assert.rejects(tlsGet(server.port, ca, undefined));
    await wait(20);
    const debug = server.debug.join('');
    assert.match(debug, /unable to get local issuer certificate/);
    assert.match(debug, /certificate has expired/);
    assert.match(debug, /CERTIFICATE_VERIFY_FAILED/);
    assert.match(debug, /PEER_DID_NOT_RETURN_A_CERTIFICATE/);
    assert.equal(server.engine.stats.counters.get('listener.127.0.0.1_9080.ssl.fail_verify_error')?.value, 2);
  });

  it('a server with the wrong SAN is a connection failure: 503 UF with the TLS error', async () => {
    const { client } = await pair('STRICT', { sans: [spiffe('default', 'other')] });
    const reply = await get(client.port);
    assert.equal(reply.status, 503);
    assert.equal(
      reply.body,
      'upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED',
    );
    await wait(20);
    const line = client.lines.at(-1) ?? '';
    assert.ok(
      line.includes(
        '503 UF upstream_reset_before_response_started{connection_failure,TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED} - "TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"',
      ),
      line,
    );
    assert.equal(client.engine.stats.counters.get(`cluster.${CLUSTER}.upstream_cx_connect_fail`)?.value, 1);
  });

  it('without its secrets a sidecar fails TLS cleanly: 503 UF (client), connection closed (server)', async () => {
    const { client } = await pair('STRICT', {}, [certSecret(serverLeaf), rootSecret(ca)], [rootSecret(ca)]);
    const reply = await get(client.port);
    assert.equal(reply.status, 503);
    assert.match(reply.body, /transport failure reason: TLS error: Secret is not supplied by SDS$/);
    const bare = await pair('STRICT', {}, [], [certSecret(clientLeaf), rootSecret(ca)]);
    assert.equal((await get(bare.client.port)).status, 503);
    await wait(20);
    assert.ok(bare.server.debug.some((l) => l.includes('TLS error: Secret is not supplied by SDS')));
    // The secret arrives: the next connection succeeds.
    bare.server.engine.updateSecrets([certSecret(serverLeaf), rootSecret(ca)]);
    assert.equal((await get(bare.client.port)).status, 200);
  });

  it('rotating the default secret mid-traffic drops no request', async () => {
    const { server, client } = await pair('STRICT');
    let stop = false;
    const statuses: number[] = [];
    const loop = async (): Promise<void> => {
      while (!stop) statuses.push((await get(client.port).catch(() => ({ status: -1 }))).status);
    };
    const loops = [loop(), loop(), loop(), loop()];
    let rotated: Leaf = serverLeaf;
    for (let i = 0; i < 4; i++) {
      await wait(60);
      rotated = await makeLeaf(ca, spiffe('default', 'server'));
      server.engine.updateSecrets([certSecret(rotated)]);
      client.engine.updateSecrets([certSecret(await makeLeaf(ca, spiffe('default', 'client')))]);
    }
    await wait(60);
    stop = true;
    await Promise.all(loops);
    assert.ok(statuses.length > 20, `only ${statuses.length} requests`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
    // New connections get the new certificate.
    const served = await new Promise<string>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port: server.port,
          path: '/',
          headers: { host: 'server' },
          agent: false,
          cert: clientLeaf.certPem,
          key: clientLeaf.keyPem,
          rejectUnauthorized: false,
        },
        (res) => {
          res.resume();
          resolve(
            res.socket && 'getPeerCertificate' in res.socket
              ? (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber
              : '',
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(served.toLowerCase().replace(/^0+/, ''), rotated.serial.replace(/^0+/, ''));
  });
});

describe('tcp_proxy over mTLS', () => {
  let ca: Ca;
  let echo: net.Server;
  let echoPort = 0;
  const engines: ProxyEngine[] = [];

  before(async () => {
    ca = await makeCa();
    echo = net.createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  after(async () => {
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

  it('copies bytes both ways through two sidecars and logs %BYTES_*% with the peer identity', async () => {
    const inbound = serverSnapshot('STRICT', echoPort);
    const listener = inbound.listeners[0] as { filterChains: Record<string, unknown>[] };
    for (const chain of listener.filterChains) chain['filters'] = [tcpProxy('inbound|9080||')];
    const server = await startSide(
      inbound,
      'virtualInbound|9080',
      [certSecret(await makeLeaf(ca, spiffe('default', 'server'))), rootSecret(ca)],
      'server',
    );
    const outbound = clientSnapshot(server.port);
    outbound.listeners = [
      {
        name: '0.0.0.0_9000',
        address: { socketAddress: { address: '0.0.0.0', portValue: 9000 } },
        filterChains: [{ filters: [tcpProxy(CLUSTER)] }],
      },
    ];
    const client = await startSide(
      outbound,
      '0.0.0.0_9000',
      [certSecret(await makeLeaf(ca, spiffe('default', 'client'))), rootSecret(ca)],
      'client',
    );
    engines.push(server.engine, client.engine);
    const echoed = await new Promise<string>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: client.port }, () => s.write('hello over mtls'));
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString();
        if (got.length >= 15) s.end();
      });
      s.on('close', () => resolve(got));
      s.on('error', reject);
    });
    assert.equal(echoed, 'hello over mtls');
    await wait(50);
    const c = client.infos.at(-1);
    assert.equal(c?.bytesReceived, 15);
    assert.equal(c?.bytesSent, 15);
    assert.equal(c?.upstreamPeerUriSan, spiffe('default', 'server'));
    assert.match(client.lines.at(-1) ?? '', /"- - -" 0 - - - "-" 15 15 \d+ /);
    assert.equal(server.infos.at(-1)?.downstreamPeerUriSan, spiffe('default', 'client'));
    const tcp = [...server.engine.stats.counters.keys()].find((k) =>
      k.startsWith('istiocustom.istio_tcp_received_bytes_total.'),
    );
    assert.ok(tcp?.includes('connection_security_policy=.=mutual_tls'), tcp);
  });

  it('closes the connection with UF when the upstream cannot be reached', async () => {
    const outbound = clientSnapshot(await deadPort(), { tlsMode: false });
    outbound.listeners = [
      {
        name: '0.0.0.0_9000',
        address: { socketAddress: { address: '0.0.0.0', portValue: 9000 } },
        filterChains: [{ filters: [tcpProxy(CLUSTER)] }],
      },
    ];
    const client = await startSide(outbound, '0.0.0.0_9000', []);
    engines.push(client.engine);
    await new Promise<void>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: client.port });
      s.on('error', () => undefined);
      s.on('close', () => resolve());
    });
    await wait(20);
    assert.match(client.lines.at(-1) ?? '', / 0 UF /);
  });
});
