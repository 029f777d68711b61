/**
 * What a lab proxy process loads before it is ready: the xDS client but not the config generators or the
 * ADS server, no @peculiar/x509 (the workload CSR is DER-encoded by hand) and no @grpc/proto-loader (the
 * CA service is described in code) — and the hand-made CSR is one the real CA accepts, for RSA and ECDSA
 * keys, with the SPIFFE SAN and nothing else.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CaError,
  createWorkloadKeyAndCsr,
  issueServerCertificate,
  loadOrCreateCa,
  signWorkloadCsr,
  spiffeIdsOf,
} from '../src/security/index.js';
import { tempDir } from './helpers.js';

const SLEEP = 'spiffe://cluster.local/ns/default/sa/sleep';
const OTHER = 'spiffe://cluster.local/ns/prod/sa/admin';

/** Every module URL a fresh node process resolves while importing `file`. */
function modulesLoadedBy(file: string): string[] {
  const dir = tempDir('skiff-proxy-load-');
  const out = join(dir, 'loaded.txt');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(out)}, r.url + '\\n');
  return r;
}
`,
  );
  const register = join(dir, 'register.mjs');
  writeFileSync(
    register,
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
  );
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(register).href,
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

test('the proxy runtime loads the xDS client only: no generators, ADS server, analyzers, @peculiar/x509 or proto-loader', () => {
  const runtime = fileURLToPath(new URL('../src/lab/proxy-runtime.js', import.meta.url));
  const loaded = modulesLoadedBy(runtime);
  const has = (part: string) => loaded.some((u) => u.includes(part));
  // Positive: the trace sees what the proxy does need.
  assert.ok(has('/src/xds/client/client.js'), 'the ADS client is loaded');
  assert.ok(has('/src/security/ca-client.js'), 'the CA client is loaded');
  assert.ok(has('/src/security/csr.js'), 'the CSR builder is loaded');
  // Negative: what only istiod, the CLI or the CA side need.
  for (const part of [
    '@peculiar/x509',
    'reflect-metadata',
    '@grpc/proto-loader',
    '/src/xds/server/',
    '/src/xds/generate/generate.js',
    '/src/xds/generate/listeners.js',
    '/src/xds/index.js',
    '/src/api/',
    '/src/registry/',
    '/src/model/',
    '/src/analyze/',
    'prom-client',
    '/yaml/',
  ])
    assert.ok(!has(part), `the proxy runtime must not load ${part}`);
});

test('the CA accepts the hand-built CSR for RSA and ECDSA keys and issues the SPIFFE identity', async () => {
  const ca = await loadOrCreateCa();
  for (const keyAlgorithm of ['RSA', 'ECDSA'] as const) {
    const { keyPem, csrPem } = await createWorkloadKeyAndCsr(SLEEP, { keyAlgorithm });
    assert.match(
      csrPem,
      /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+\n-----END CERTIFICATE REQUEST-----\n$/,
    );
    assert.match(keyPem, keyAlgorithm === 'RSA' ? /BEGIN RSA PRIVATE KEY/ : /BEGIN EC PRIVATE KEY/);
    const [leafPem] = await signWorkloadCsr(ca, csrPem, { identity: SLEEP });
    const leaf = new X509Certificate(leafPem ?? '');
    assert.equal(leaf.subjectAltName, `URI:${SLEEP}`);
    assert.ok(!leaf.subject, 'an empty subject, as the CSR asked');
    assert.equal(leaf.publicKey.asymmetricKeyType, keyAlgorithm === 'RSA' ? 'rsa' : 'ec');
    if (keyAlgorithm === 'ECDSA') assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(spiffeIdsOf(leaf.raw), [SLEEP]);
  }
  // A CSR without an identity asks for no SAN and still verifies.
  const bare = await createWorkloadKeyAndCsr('', { keyAlgorithm: 'ECDSA' });
  const [bareLeaf] = await signWorkloadCsr(ca, bare.csrPem, { identity: SLEEP });
  assert.equal(new X509Certificate(bareLeaf ?? '').subjectAltName, `URI:${SLEEP}`);
});

test('the CA rejects a hand-built CSR for another identity or with a broken signature', async () => {
  const ca = await loadOrCreateCa();
  const { csrPem } = await createWorkloadKeyAndCsr(OTHER, { keyAlgorithm: 'ECDSA' });
  await assert.rejects(
    signWorkloadCsr(ca, csrPem, { identity: SLEEP }),
    (e: unknown) => e instanceof CaError && e.type === 'IDENTITY_MISMATCH',
  );
  // Flip a byte of the signature (the DER's last bytes): the self-signature no longer verifies.
  const { csrPem: good } = await createWorkloadKeyAndCsr(SLEEP, { keyAlgorithm: 'RSA' });
  const body = good.replace(/-----[A-Z ]+-----/g, '').replace(/\s/g, '');
  const der = Buffer.from(body, 'base64');
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  const broken = `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
  await assert.rejects(
    signWorkloadCsr(ca, broken, { identity: SLEEP }),
    (e: unknown) => e instanceof CaError && e.type === 'CSR_ERROR',
  );
});

test('spiffeIdsOf reads URI SANs with Node’s parser: SPIFFE only, nothing from other SANs or junk', async () => {
  const ca = await loadOrCreateCa();
  const server = await issueServerCertificate(ca, {
    hosts: [
      'istiod.istio-system.svc',
      '10.0.0.1',
      'spiffe://cluster.local/ns/a,b/sa/c',
      'https://x.example/',
    ],
    keyAlgorithm: 'ECDSA',
  });
  const leaf = new X509Certificate(server.certChainPem);
  // The comma makes Node quote that value; it must come back unquoted.
  assert.deepEqual(spiffeIdsOf(leaf.raw), ['spiffe://cluster.local/ns/a,b/sa/c']);
  const dnsOnly = await issueServerCertificate(ca, {
    hosts: ['istiod.istio-system.svc'],
    keyAlgorithm: 'ECDSA',
  });
  assert.deepEqual(spiffeIdsOf(new X509Certificate(dnsOnly.certChainPem).raw), []);
  assert.deepEqual(spiffeIdsOf(Buffer.from('not a certificate')), []);
  assert.deepEqual(spiffeIdsOf(new Uint8Array()), []);
});
