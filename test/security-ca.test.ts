/**
 * The CA: the self-signed root (created once per state dir, Istio's shape), plugged-in cacerts with an
 * intermediate (chain verifies; missing or wrong files are named), and CSR signing rules.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CaError,
  createWorkloadKeyAndCsr,
  issueIntermediateCa,
  loadOrCreateCa,
  signWorkloadCsr,
} from '../src/security/index.js';
import type { CertificateAuthority, GeneratedRoot } from '../src/security/index.js';
import { tempDir } from './helpers.js';

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
const OTHER = 'spiffe://cluster.local/ns/prod/sa/admin';

test('self-signed root: created once in <stateDir>/ca with Istio’s shape, reused on the next load', async () => {
  const stateDir = tempDir('skiff-ca-');
  const first = await loadOrCreateCa({ stateDir });
  const second = await loadOrCreateCa({ stateDir });
  assert.equal(first.source, 'self-signed');
  assert.equal(second.rootCertPem, first.rootCertPem, 'the second load reuses the persisted root');
  assert.equal(readFileSync(join(stateDir, 'ca', 'ca-cert.pem'), 'utf8'), first.signingCertPem);
  assert.equal(statSync(join(stateDir, 'ca', 'ca-key.pem')).mode & 0o777, 0o600);

  const root = new X509Certificate(first.rootCertPem);
  assert.equal(root.subject, 'O=cluster.local');
  assert.equal(root.issuer, 'O=cluster.local');
  assert.equal(root.ca, true);
  assert.equal(root.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(root.checkIssued(root) && root.verify(root.publicKey));
  const years = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / (365 * 24 * 3600 * 1000);
  assert.ok(years > 9.9 && years < 10.1, `10-year root, got ${years}`);
  assert.ok(root.keyUsage === undefined || !root.keyUsage.includes('1.3.6.1.5.5.7.3.1'));

  const other = await loadOrCreateCa({ stateDir: tempDir('skiff-ca-'), trustDomain: 'example.org' });
  assert.notEqual(other.rootCertPem, first.rootCertPem);
  assert.equal(new X509Certificate(other.rootCertPem).subject, 'O=example.org');
});

test('two loads racing on one state dir end with one root; a key left without its cert gets a root over it', async () => {
  const stateDir = tempDir('skiff-ca-');
  const [a, b] = await Promise.all([loadOrCreateCa({ stateDir }), loadOrCreateCa({ stateDir })]);
  assert.equal(a.rootCertPem, b.rootCertPem);
  assert.ok(a.signingKey.equals(b.signingKey));

  rmSync(join(stateDir, 'ca', 'ca-cert.pem'));
  const reissued = await loadOrCreateCa({ stateDir });
  assert.notEqual(reissued.rootCertPem, a.rootCertPem, 'a new root certificate');
  assert.ok(reissued.signingKey.equals(a.signingKey), 'over the kept key');
});

test('a corrupt persisted root is an error naming the file, not silently replaced', async () => {
  const stateDir = tempDir('skiff-ca-');
  await loadOrCreateCa({ stateDir });
  writeFileSync(join(stateDir, 'ca', 'ca-key.pem'), 'not a key');
  await assert.rejects(loadOrCreateCa({ stateDir }), /ca-key\.pem: invalid PEM-encoded key/);
});

const intermediates = new Map<CertificateAuthority, Promise<GeneratedRoot>>();

/** Writes Istio's four cacerts files for an intermediate of `root` (one intermediate per root). */
async function writeCacerts(dir: string, root: CertificateAuthority): Promise<{ interPem: string }> {
  if (!intermediates.has(root)) {
    intermediates.set(
      root,
      issueIntermediateCa(root, { organization: 'Istio', commonName: 'Intermediate CA' }),
    );
  }
  const inter = await intermediates.get(root)!;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ca-cert.pem'), inter.certPem);
  writeFileSync(join(dir, 'ca-key.pem'), inter.keyPem);
  writeFileSync(join(dir, 'root-cert.pem'), root.rootCertPem);
  writeFileSync(join(dir, 'cert-chain.pem'), inter.certPem + root.rootCertPem);
  return { interPem: inter.certPem };
}

test('plugged-in cacerts with an intermediate: leaf → intermediate → root verifies', async () => {
  const root = await loadOrCreateCa();
  const dir = tempDir('skiff-cacerts-');
  const { interPem } = await writeCacerts(dir, root);
  const ca = await loadOrCreateCa({ cacertsDir: dir, stateDir: tempDir('skiff-ca-') });
  assert.equal(ca.source, 'plugged');
  assert.deepEqual(ca.intermediatePems, [interPem]);

  const { csrPem } = await createWorkloadKeyAndCsr(SLEEP);
  const chain = await signWorkloadCsr(ca, csrPem, { identity: SLEEP });
  assert.equal(chain.length, 3, 'leaf, intermediate, root');
  const [leaf, inter, rootCert] = chain.map((p) => new X509Certificate(p)) as [
    X509Certificate,
    X509Certificate,
    X509Certificate,
  ];
  assert.equal(rootCert.raw.equals(new X509Certificate(root.rootCertPem).raw), true, 'root is last');
  assert.ok(leaf.checkIssued(inter) && leaf.verify(inter.publicKey), 'leaf signed by the intermediate');
  assert.ok(
    inter.checkIssued(rootCert) && inter.verify(rootCert.publicKey),
    'intermediate signed by the root',
  );
  assert.equal(leaf.verify(rootCert.publicKey), false, 'the leaf is not signed by the root directly');
});

test('plugged-in cacerts: a missing, unparseable or mismatched file is named in the error', async () => {
  const root = await loadOrCreateCa();
  for (const missing of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem', 'cert-chain.pem']) {
    const dir = tempDir('skiff-cacerts-');
    await writeCacerts(dir, root);
    rmSync(join(dir, missing));
    await assert.rejects(loadOrCreateCa({ cacertsDir: dir }), (e: Error) => {
      assert.match(e.message, new RegExp(`${missing.replace('.', '\\.')} is missing`));
      return true;
    });
  }
  const garbled = tempDir('skiff-cacerts-');
  await writeCacerts(garbled, root);
  writeFileSync(
    join(garbled, 'ca-cert.pem'),
    '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  );
  await assert.rejects(
    loadOrCreateCa({ cacertsDir: garbled }),
    /ca-cert\.pem: certificate 1 is not a valid X\.509 certificate/,
  );

  const mismatched = tempDir('skiff-cacerts-');
  await writeCacerts(mismatched, root);
  writeFileSync(join(mismatched, 'ca-key.pem'), root.signingKey.export({ type: 'pkcs8', format: 'pem' }));
  await assert.rejects(
    loadOrCreateCa({ cacertsDir: mismatched }),
    /ca-key\.pem: the key does not match the certificate in .*ca-cert\.pem/,
  );

  const foreignRoot = tempDir('skiff-cacerts-');
  await writeCacerts(foreignRoot, root);
  writeFileSync(join(foreignRoot, 'root-cert.pem'), (await loadOrCreateCa()).rootCertPem);
  writeFileSync(join(foreignRoot, 'cert-chain.pem'), readFileSync(join(foreignRoot, 'ca-cert.pem')));
  await assert.rejects(
    loadOrCreateCa({ cacertsDir: foreignRoot }),
    /cannot verify the CA certificate up to .*root-cert\.pem/,
  );
});

test('signing: the leaf carries the caller’s identity even when the CSR asks for none', async () => {
  const ca = await loadOrCreateCa();
  const { csrPem } = await createWorkloadKeyAndCsr('');
  const before = Date.now();
  const chain = await signWorkloadCsr(ca, csrPem, { identity: SLEEP });
  assert.equal(chain.length, 2, 'self-signed CA: leaf and root');
  const leaf = new X509Certificate(chain[0]!);
  assert.equal(leaf.subjectAltName, `URI:${SLEEP}`);
  assert.equal(leaf.subject ?? '', '', 'empty subject, as Istio issues');
  assert.equal(leaf.ca, false);
  assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.ok(leaf.checkIssued(new X509Certificate(ca.rootCertPem)));
  const ttlHours = (Date.parse(leaf.validTo) - before) / 3600_000;
  assert.ok(ttlHours > 23.9 && ttlHours <= 24.01, `default TTL 24h, got ${ttlHours}`);
  assert.ok(Date.parse(leaf.validFrom) <= before - 100_000, 'notBefore two minutes back for clock skew');
  assert.match(leaf.serialNumber, /^[0-9A-F]{32}$/);
  const again = new X509Certificate((await signWorkloadCsr(ca, csrPem, { identity: SLEEP }))[0]!);
  assert.notEqual(again.serialNumber, leaf.serialNumber, 'random serials');
});

test('signing: a CSR for another identity, garbage, a forged signature or a TTL above the max are refused', async () => {
  const ca = await loadOrCreateCa();
  const { csrPem: foreign } = await createWorkloadKeyAndCsr(OTHER);
  await assert.rejects(signWorkloadCsr(ca, foreign, { identity: SLEEP }), (e: CaError) => {
    assert.equal(e.type, 'IDENTITY_MISMATCH');
    assert.ok(e.message.includes(OTHER) && e.message.includes(SLEEP), e.message);
    return true;
  });
  await assert.rejects(signWorkloadCsr(ca, 'hello', { identity: SLEEP }), {
    name: 'CaError',
    type: 'CSR_ERROR',
    message: 'certificate signing request is not properly encoded',
  });
  await assert.rejects(
    signWorkloadCsr(ca, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', {
      identity: SLEEP,
    }),
    { type: 'CSR_ERROR', message: 'failed to parse X.509 certificate signing request' },
  );
  const { csrPem } = await createWorkloadKeyAndCsr(SLEEP);
  const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // flip bits inside the signature
  const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(signWorkloadCsr(ca, forged, { identity: SLEEP }), { type: 'CSR_ERROR' });

  await assert.rejects(signWorkloadCsr(ca, csrPem, { identity: SLEEP, ttlSeconds: 90 * 24 * 3600 + 1 }), {
    type: 'TTL_ERROR',
    message: 'requested TTL 2160h0m1s is greater than the max allowed TTL 2160h0m0s',
  });
  const max = await signWorkloadCsr(ca, csrPem, { identity: SLEEP, ttlSeconds: 90 * 24 * 3600 });
  assert.equal(max.length, 2, 'exactly the max is allowed');
  await assert.rejects(signWorkloadCsr(ca, csrPem, { identity: 'sleep' }), { type: 'CSR_ERROR' });
});
