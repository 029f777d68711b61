/**
 * The agent side: WorkloadCertManager renews before expiry over real gRPC/TLS, retries after failures,
 * serves SDS `default`/`ROOTCA` in the shape Envoy's Secret proto accepts; rotation timing; the root
 * ConfigMap.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  WorkloadCertManager,
  addCaService,
  caAuthenticator,
  istiodServerCredentials,
  issueServiceAccountToken,
  loadOrCreateCa,
  loadOrCreateTokenKey,
  rootCertConfigMap,
  rotationDelayMs,
  signWorkloadCsr,
  parseSpiffeUri,
} from '../src/security/index.js';
import type { CertificateAuthority, SdsSecret } from '../src/security/index.js';
import { TYPE, roundTrip } from '../src/xds/index.js';

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
let ca: CertificateAuthority;
let server: grpc.Server;
let address: string;
const key = loadOrCreateTokenKey();

before(async () => {
  ca = await loadOrCreateCa();
  server = new grpc.Server();
  addCaService(server, ca, caAuthenticator({ tokenKey: key }));
  const creds = await istiodServerCredentials(ca);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});

after(() => server.forceShutdown());

test('WorkloadCertManager: a 2-second certificate is renewed (new serial) before it expires', async () => {
  const manager = new WorkloadCertManager({
    identity: SLEEP,
    caAddress: address,
    rootCertPem: ca.rootCertPem,
    token: () => issueServiceAccountToken(key, 'default', 'sleep'),
    ttlSeconds: 2,
    keyAlgorithm: 'ECDSA',
  });
  const updates: { serial: string; at: number; expires: number }[] = [];
  manager.onUpdate((_secrets, cert) =>
    updates.push({ serial: cert.serialNumber, at: Date.now(), expires: cert.expiresAt.getTime() }),
  );
  try {
    await manager.start();
    assert.equal(updates.length, 1);
    const first = manager.current()!;
    assert.equal(new X509Certificate(first.certChainPem).subjectAltName, `URI:${SLEEP}`);
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(updates.length >= 2, `renewed at least once, got ${updates.length} certificates`);
    const [a, b] = updates as [(typeof updates)[0], (typeof updates)[0]];
    assert.notEqual(b.serial, a.serial);
    assert.ok(b.at < a.expires, 'the renewal arrived before the first certificate expired');
    const info = manager.certInfo();
    assert.deepEqual(
      info.map((i) => [i.resourceName, i.type, i.valid]),
      [
        ['default', 'Cert Chain', true],
        ['ROOTCA', 'CA', true],
      ],
    );
    assert.equal(info[0]!.serialNumber, manager.current()!.serialNumber);
    assert.match(info[0]!.serialNumber, /^[1-9a-f][0-9a-f]*$/);
  } finally {
    manager.close();
  }
  const count = updates.length;
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(updates.length, count, 'close() stops renewals');
});

test('SDS secrets have Istio’s shape and survive the Envoy Secret proto round trip', async () => {
  const manager = new WorkloadCertManager({
    identity: SLEEP,
    caAddress: address,
    rootCertPem: ca.rootCertPem,
    token: issueServiceAccountToken(key, 'default', 'sleep'),
  });
  assert.deepEqual(manager.secrets(), [], 'nothing before the first certificate');
  try {
    await manager.start();
    const [workload, root] = manager.secrets() as [SdsSecret, SdsSecret];
    assert.deepEqual(Object.keys(workload), ['name', 'tlsCertificate']);
    assert.equal(workload.name, 'default');
    const chain = Buffer.from(workload.tlsCertificate!.certificateChain.inlineBytes, 'base64').toString();
    const keyPem = Buffer.from(workload.tlsCertificate!.privateKey.inlineBytes, 'base64').toString();
    assert.equal(chain, manager.current()!.certChainPem);
    assert.match(keyPem, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.equal(root.name, 'ROOTCA');
    assert.equal(
      Buffer.from(root.validationContext!.trustedCa.inlineBytes, 'base64').toString(),
      ca.rootCertPem,
    );
    const hours = (manager.current()!.expiresAt.getTime() - Date.now()) / 3600_000;
    assert.ok(hours > 23.9 && hours <= 24, `SECRET_TTL 24h by default, got ${hours}`);
    for (const secret of [workload, root]) {
      const rt = roundTrip(TYPE.Secret, secret);
      assert.deepEqual(rt.lost, [], `${secret.name} lost fields`);
      assert.deepEqual(rt.json, secret);
    }
  } finally {
    manager.close();
  }
});

test('WorkloadCertManager keeps retrying with backoff until the CA accepts it', async () => {
  let calls = 0;
  const errors: string[] = [];
  const manager = new WorkloadCertManager({
    identity: SLEEP,
    caAddress: 'unused',
    rootCertPem: ca.rootCertPem,
    retryInitialMs: 20,
    onError: (e) => errors.push(e.message),
    requester: async (opts) => {
      calls++;
      if (calls < 3) throw new Error(`CA unavailable (${calls})`);
      return signWorkloadCsr(ca, opts.csrPem, { identity: SLEEP, ttlSeconds: opts.ttlSeconds ?? 0 });
    },
  });
  try {
    await manager.start();
    assert.equal(calls, 3);
    assert.deepEqual(errors, ['CA unavailable (1)', 'CA unavailable (2)']);
    assert.ok(manager.current());
  } finally {
    manager.close();
  }
  const pending = new WorkloadCertManager({
    identity: SLEEP,
    caAddress: 'unused',
    rootCertPem: ca.rootCertPem,
    retryInitialMs: 10,
    requester: () => Promise.reject(new Error('down')),
  });
  const started = pending.start();
  pending.close();
  await assert.rejects(started, /closed/);
});

test('rotation: at half the lifetime, ± the jitter share, never in the past', () => {
  const day = 24 * 3600_000;
  const base = { createdMs: 0, expireMs: day, nowMs: 0 };
  assert.equal(rotationDelayMs({ ...base, graceRatioJitter: 0 }), day / 2);
  const early = rotationDelayMs({ ...base, random: () => 0.99 }); // jitter +, sign +: earlier
  const late = rotationDelayMs({ ...base, random: () => 0.0 }); // no jitter
  assert.ok(early < day / 2 && early > day / 2 - 0.011 * day, String(early));
  assert.equal(late, day / 2);
  const seq = [0.5, 0.1]; // jitter half of max, sign negative: later
  assert.ok(rotationDelayMs({ ...base, random: () => seq.shift()! }) > day / 2);
  assert.equal(rotationDelayMs({ ...base, nowMs: day }), 0);
  assert.equal(rotationDelayMs({ createdMs: 10, expireMs: 5, nowMs: 20 }), 0);
});

test('istio-ca-root-cert ConfigMap and SPIFFE parsing', () => {
  assert.deepEqual(rootCertConfigMap('default', 'PEM'), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'istio-ca-root-cert', namespace: 'default', labels: { 'istio.io/config': 'true' } },
    data: { 'root-cert.pem': 'PEM' },
  });
  assert.deepEqual(parseSpiffeUri(SLEEP), {
    trustDomain: 'cluster.local',
    namespace: 'default',
    serviceAccount: 'sleep',
  });
  for (const bad of [
    'spiffe://cluster.local/ns/default',
    'http://x/ns/a/sa/b',
    'spiffe://td/namespace/a/sa/b',
  ]) {
    assert.throws(() => parseSpiffeUri(bad), /identity is not a spiffe format/);
  }
});
