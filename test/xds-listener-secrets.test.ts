import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPaths, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, Proxy, PushContext } from '../src/xds/index.js';
import {
  buildPushContext,
  buildSecret,
  buildSecrets,
  gatewayCredentialNames,
  proxyForWorkload,
  roundTrip,
  TYPE,
} from '../src/xds/index.js';
import { ROOT } from './helpers.js';

// A self-signed P-256 certificate (CN=catalog.istioinaction.io, valid until 2126) and its key.
const CERT = `-----BEGIN CERTIFICATE-----
MIIBnjCCAUOgAwIBAgIURwfImlS4doDztgpUeeil/0bpG8kwCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYY2F0YWxvZy5pc3Rpb2luYWN0aW9uLmlvMCAXDTI2MTEyNTIz
NDcwOVoYDzIxMjYxMTAxMjM0NzA5WjAjMSEwHwYDVQQDDBhjYXRhbG9nLmlzdGlv
aW5hY3Rpb24uaW8wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQYQFj/5P5YXKVT
AsEo1E4Dd5sBTvkixWzoDlpTPAZFfPEEggQVpGM3TGf12pmIlfaqpi50WrDE0jAF
xGEvXOrWo1MwUTAdBgNVHQ4EFgQUxLCiHQtsaJx71JtnmQ6+7EaZUfIwHwYDVR0j
BBgwFoAUxLCiHQtsaJx71JtnmQ6+7EaZUfIwDwYDVR0TAQH/BAUwAwEB/zAKBggq
hkjOPQQDAgNJADBGAiEAw24SgP5N8/fec3DKMk5RCUd8IAJGebbjk1D879KpF0oC
IQCNKFoO4H7RnnItTaYzJE17kcbAE344mSPQB3u7ZKzgBg==
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgpLdjw8AmogpOxVbK
W11EcrVM0Gp1HeWQ4s4/LPi2LMShRANCAAQYQFj/5P5YXKVTAsEo1E4Dd5sBTvki
xWzoDlpTPAZFfPEEggQVpGM3TGf12pmIlfaqpi50WrDE0jAFxGEvXOrW
-----END PRIVATE KEY-----
`;
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

const SECRETS = `
apiVersion: v1
kind: Secret
metadata: {name: catalog-cert, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: ${b64(CERT)}, tls.key: ${b64(KEY)}, ca.crt: ${b64(CERT)}}
---
apiVersion: v1
kind: Secret
metadata: {name: generic-cert, namespace: istio-system}
stringData: {cert: ${JSON.stringify(CERT)}, key: ${JSON.stringify(KEY)}}
---
apiVersion: v1
kind: Secret
metadata: {name: generic-cert-cacert, namespace: istio-system}
stringData: {cacert: ${JSON.stringify(CERT)}}
---
apiVersion: v1
kind: Secret
metadata: {name: not-a-cert, namespace: istio-system}
data: {tls.crt: ${b64('hello')}, tls.key: ${b64(KEY)}}
---
apiVersion: v1
kind: Secret
metadata: {name: elsewhere, namespace: istioinaction}
data: {tls.crt: ${b64(CERT)}, tls.key: ${b64(KEY)}}
`;

const GATEWAY = `
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: tls-gw, namespace: istioinaction}
spec:
  selector: {istio: ingressgateway}
  servers:
    - hosts: [a.example.com]
      port: {number: 443, name: https-a, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: catalog-cert}
    - hosts: [b.example.com]
      port: {number: 443, name: https-b, protocol: HTTPS}
      tls: {mode: MUTUAL, credentialName: generic-cert}
    - hosts: [c.example.com]
      port: {number: 443, name: https-c, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: missing-cert}
    - hosts: [d.example.com]
      port: {number: 443, name: https-d, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: not-a-cert}
    - hosts: [e.example.com]
      port: {number: 443, name: https-e, protocol: HTTPS}
      tls: {mode: SIMPLE, credentialName: 'kubernetes://istioinaction/elsewhere'}
    - hosts: [f.example.com]
      port: {number: 443, name: https-f, protocol: HTTPS}
      tls: {mode: ISTIO_MUTUAL, credentialName: ignored}
`;

async function push(extra: string): Promise<PushContext> {
  const loaded = await loadPaths([join(ROOT, 'examples', 'lab', 'base')]);
  assert.deepEqual(loaded.errors, []);
  return buildPushContext(
    new ConfigSnapshot([...loaded.resources, ...parseManifests(extra, 'x.yaml').resources]),
  );
}

function ingress(p: PushContext): Proxy {
  const w = p.registry.workloads().find((x) => x.labels['istio'] === 'ingressgateway');
  assert.ok(w);
  return proxyForWorkload(w, { type: 'router' });
}

test('a gateway asks for the credentialNames of its SIMPLE and MUTUAL servers (MUTUAL adds -cacert)', async () => {
  const p = await push(`${SECRETS}\n---\n${GATEWAY}`);
  assert.deepEqual(gatewayCredentialNames(p, ingress(p)), [
    'kubernetes://catalog-cert',
    'kubernetes://generic-cert',
    'kubernetes://generic-cert-cacert',
    'kubernetes://missing-cert',
    'kubernetes://not-a-cert',
    'kubernetes://istioinaction/elsewhere',
  ]);
});

test('secrets carry the key pair or the CA inline; missing, invalid and foreign ones are skipped', async () => {
  const p = await push(`${SECRETS}\n---\n${GATEWAY}`);
  const secrets = buildSecrets(p, ingress(p));
  assert.deepEqual(
    secrets.map((s) => s['name']),
    ['kubernetes://catalog-cert', 'kubernetes://generic-cert', 'kubernetes://generic-cert-cacert'],
  );
  assert.deepEqual(secrets[0], {
    name: 'kubernetes://catalog-cert',
    tlsCertificate: { certificateChain: { inlineBytes: b64(CERT) }, privateKey: { inlineBytes: b64(KEY) } },
  });
  assert.deepEqual(secrets[2], {
    name: 'kubernetes://generic-cert-cacert',
    validationContext: { trustedCa: { inlineBytes: b64(CERT) } },
  });
  for (const s of secrets) {
    const { lost, json } = roundTrip(TYPE.Secret, s);
    assert.deepEqual(lost, [], String(s['name']));
    assert.deepEqual(json, s);
  }
  const decoded = roundTrip(TYPE.Secret, secrets[0]).json;
  const chain = ((decoded['tlsCertificate'] as Json)['certificateChain'] as Json)['inlineBytes'];
  assert.equal(Buffer.from(String(chain), 'base64').toString('utf8'), CERT);
});

test('the CA of a MUTUAL server falls back to ca.crt of the main Secret', async () => {
  const p = await push(SECRETS);
  const ca = buildSecret(p, 'istio-system', 'kubernetes://catalog-cert-cacert');
  assert.deepEqual(ca, {
    name: 'kubernetes://catalog-cert-cacert',
    validationContext: { trustedCa: { inlineBytes: b64(CERT) } },
  });
  assert.equal(buildSecret(p, 'istio-system', 'kubernetes://not-a-cert-cacert'), undefined);
  assert.equal(
    buildSecret(p, 'istio-system', 'kubernetes-gateway://istio-system/catalog-cert')?.['name'],
    'kubernetes-gateway://istio-system/catalog-cert',
  );
  for (const bad of ['', 'default', 'kubernetes://', 'kubernetes-gateway://only-name', 'file-cert:/a~/b']) {
    assert.equal(buildSecret(p, 'istio-system', bad), undefined, bad);
  }
});

test('sidecars and gateways without TLS servers get no secrets', async () => {
  const p = await push(SECRETS);
  assert.deepEqual(buildSecrets(p, ingress(p)), []);
  const catalog = p.registry.workloads().find((w) => w.labels['app'] === 'catalog');
  assert.ok(catalog);
  assert.deepEqual(buildSecrets(p, proxyForWorkload(catalog)), []);
});
