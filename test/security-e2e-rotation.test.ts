/**
 * Certificate rotation end to end without a lab: the real CA (src/security) serving CreateCertificate over
 * gRPC/TLS with service-account tokens, one WorkloadCertManager per sidecar asking for 4-second
 * certificates, and two data-plane engines in STRICT mTLS fed by the managers' SDS secrets. Requests run
 * in a loop across several renewals of both sides with no failure; afterwards the server presents its
 * newest certificate, and client certificates that expired or come from another CA are refused and logged.
 * (A CSR for another identity over the wire is covered by security-grpc.test.ts.)
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { ProxyEngine, ProxySnapshot } from '../src/proxy/index.js';
import { createProxy, DebugLog } from '../src/proxy/index.js';
import type { CertificateAuthority, WorkloadCert } from '../src/security/index.js';
import {
  WorkloadCertManager,
  addCaService,
  caAuthenticator,
  concatCerts,
  createWorkloadKeyAndCsr,
  istiodServerCredentials,
  issueServiceAccountToken,
  loadOrCreateCa,
  loadOrCreateTokenKey,
  signWorkloadCsr,
} from '../src/security/index.js';
import type { Upstream } from './proxy-fixtures.js';
import { upstream } from './proxy-fixtures.js';
import { clientSnapshot, serverSnapshot, spiffe } from './proxy-tls-fixtures.js';

const TTL_SECONDS = 4;

interface Side {
  engine: ProxyEngine;
  port: number;
  manager: WorkloadCertManager;
  certs: WorkloadCert[];
  debug: string[];
}

function get(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: '/items', headers: { host: 'server' }, agent: false, timeout: 3000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Straight to the server sidecar with a given client key pair; resolves to the status and the served serial. */
function tlsGet(port: number, cert: string, key: string): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/items',
        headers: { host: 'server' },
        agent: false,
        cert,
        key,
        rejectUnauthorized: false,
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber ?? '';
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const normSerial = (s: string): string => s.toLowerCase().replace(/^0+(?=.)/, '');

describe('workload certificates rotate under traffic (real CA over gRPC, two sidecars, STRICT mTLS)', () => {
  let ca: CertificateAuthority;
  let caServer: grpc.Server;
  let caAddress = '';
  const tokenKey = loadOrCreateTokenKey();
  let app: Upstream;
  let server: Side;
  let client: Side;

  async function side(sa: string, snapshot: ProxySnapshot, listener: string): Promise<Side> {
    const debug: string[] = [];
    const log = new DebugLog((l) => debug.push(l));
    log.setLevel('connection', 'debug');
    const engine = await createProxy(snapshot, {
      bind: () => ({ address: '127.0.0.1', port: 0 }),
      debugLog: log,
      peer: { name: sa, namespace: 'default', workloadName: sa, labels: { app: sa } },
    });
    const manager = new WorkloadCertManager({
      identity: spiffe('default', sa),
      caAddress,
      rootCertPem: ca.rootCertPem,
      token: () => issueServiceAccountToken(tokenKey, 'default', sa),
      ttlSeconds: TTL_SECONDS,
      keyAlgorithm: 'ECDSA',
    });
    const certs: WorkloadCert[] = [];
    // As the agent does: every new certificate goes to the proxy over SDS.
    manager.onUpdate((secrets, cert) => {
      certs.push(cert);
      engine.updateSecrets(secrets);
    });
    await manager.start();
    return { engine, port: engine.address(listener)?.port ?? 0, manager, certs, debug };
  }

  before(async () => {
    ca = await loadOrCreateCa();
    caServer = new grpc.Server();
    addCaService(caServer, ca, caAuthenticator({ tokenKey }));
    const creds = await istiodServerCredentials(ca);
    const port = await new Promise<number>((resolve, reject) =>
      caServer.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    caAddress = `127.0.0.1:${port}`;
    app = await upstream('app', (_req, res) => res.end('ok'));
    server = await side('server', serverSnapshot('STRICT', app.port), 'virtualInbound|9080');
    client = await side('sleep', clientSnapshot(server.port), '0.0.0.0_80');
  });

  after(async () => {
    for (const s of [server, client]) {
      s?.manager.close();
      await s?.engine.close();
    }
    await app?.close();
    caServer?.forceShutdown();
  });

  it('requests keep succeeding across at least two renewals of each side, past the first certificates’ expiry', async () => {
    const firstServer = server.certs[0]!;
    const firstClient = client.certs[0]!;
    assert.equal(
      new X509Certificate(firstServer.certChainPem).subjectAltName,
      `URI:${spiffe('default', 'server')}`,
    );
    const lifetime = firstServer.expiresAt.getTime() - Date.now();
    assert.ok(
      lifetime > 0 && lifetime <= TTL_SECONDS * 1000,
      `a ${TTL_SECONDS}-second certificate: ${lifetime} ms`,
    );
    let stop = false;
    const statuses: (number | string)[] = [];
    const loop = async (): Promise<void> => {
      while (!stop) {
        statuses.push(await get(client.port).catch((e: Error) => e.message));
        await wait(5);
      }
    };
    const loops = [loop(), loop(), loop()];
    const deadline = Date.now() + 15_000;
    // Until both sides renewed twice and the first certificates are past their notAfter.
    while (
      Date.now() < deadline &&
      (server.certs.length < 3 ||
        client.certs.length < 3 ||
        Date.now() < firstServer.expiresAt.getTime() + 300)
    ) {
      await wait(100);
    }
    stop = true;
    await Promise.all(loops);
    assert.ok(server.certs.length >= 3, `server renewals: ${server.certs.length - 1}`);
    assert.ok(client.certs.length >= 3, `client renewals: ${client.certs.length - 1}`);
    assert.ok(Date.now() > firstClient.expiresAt.getTime(), 'the first client certificate expired meanwhile');
    assert.equal(
      new Set(server.certs.map((c) => c.serialNumber)).size,
      server.certs.length,
      'new serial each time',
    );
    // Each renewal came before the certificate it replaced expired.
    for (const certs of [server.certs, client.certs]) {
      for (let i = 1; i < certs.length; i++) {
        assert.ok(certs[i]!.createdAt.getTime() < certs[i - 1]!.expiresAt.getTime(), `renewal ${i} in time`);
      }
    }
    assert.ok(statuses.length > 50, `only ${statuses.length} requests`);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
    );
  });

  it('new connections get the newest server certificate; an expired or foreign client certificate is refused and logged', async () => {
    const newestClient = client.manager.current()!;
    const served = await tlsGet(server.port, newestClient.certChainPem, newestClient.keyPem);
    assert.equal(served.status, 200);
    assert.equal(normSerial(served.serial), server.manager.current()!.serialNumber);

    // The sleep workload's first certificate, signed by the mesh CA but expired by now.
    const expired = client.certs[0]!;
    assert.ok(expired.expiresAt.getTime() < Date.now());
    await assert.rejects(tlsGet(server.port, expired.certChainPem, expired.keyPem));

    // A certificate for the same identity from another CA.
    const foreign = await loadOrCreateCa();
    const { csrPem, keyPem } = await createWorkloadKeyAndCsr(spiffe('default', 'sleep'), {
      keyAlgorithm: 'ECDSA',
    });
    const chain = await signWorkloadCsr(foreign, csrPem, {
      identity: spiffe('default', 'sleep'),
      ttlSeconds: 3600,
    });
    await assert.rejects(tlsGet(server.port, concatCerts(chain), keyPem));
    await wait(50);
    const debug = server.debug.join('');
    assert.match(debug, /certificate has expired/);
    assert.match(debug, /unable to get local issuer certificate|CERTIFICATE_VERIFY_FAILED/);
    const failed = [...server.engine.stats.counters.values()].find((c) =>
      c.name.endsWith('.ssl.fail_verify_error'),
    );
    assert.equal(failed?.value, 2, 'two verification failures counted');
  });
});
