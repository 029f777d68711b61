import assert from 'node:assert/strict';
import { X509Certificate, createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { forwardedClientCert, rfc2253Subject, xfccOptionsFromHcm, xfccPeer } from '../src/proxy/index.js';
import { makeCa, makeLeaf, spiffe } from './proxy-tls-fixtures.js';

const ca = await makeCa();
const leaf = new X509Certificate((await makeLeaf(ca, spiffe('istioinaction', 'webapp'))).certPem);
const ours = [spiffe('istioinaction', 'catalog')];
const hash = createHash('sha256').update(leaf.raw).digest('hex');

// What Istio 1.17 puts on a sidecar's inbound HCM and on a gateway's.
const sidecarInbound = xfccOptionsFromHcm({
  forwardClientCertDetails: 'APPEND_FORWARD',
  setCurrentClientCertDetails: { subject: true, uri: true, dns: true },
});
const gateway = xfccOptionsFromHcm({
  forwardClientCertDetails: 'SANITIZE_SET',
  setCurrentClientCertDetails: { subject: true, cert: true, uri: true, dns: true },
});

describe('x-forwarded-client-cert (Envoy mutateXfccRequestHeader)', () => {
  it('sidecar inbound over mTLS: By, Hash, Subject, URI in Envoy order, appended to what came in', () => {
    const peer = xfccPeer([leaf], ours);
    const element = `By=${ours[0]};Hash=${hash};Subject="O=workload";URI=${spiffe('istioinaction', 'webapp')}`;
    assert.equal(forwardedClientCert(undefined, sidecarInbound, peer), element);
    assert.equal(forwardedClientCert('By=a;URI=b', sidecarInbound, peer), `By=a;URI=b,${element}`);
  });

  it('gateway SANITIZE_SET replaces the header and carries the URL-encoded certificate', () => {
    const value = forwardedClientCert('forged', gateway, xfccPeer([leaf], [])) ?? '';
    assert.ok(value?.startsWith(`Hash=${hash};Cert="-----BEGIN%20CERTIFICATE-----%0A`), value);
    assert.ok(!value.includes('forged'));
    assert.ok(!/[\n+/]/.test(value.slice(0, value.indexOf('";Subject='))));
    assert.ok(value.endsWith(`";Subject="O=workload";URI=${spiffe('istioinaction', 'webapp')}`), value);
  });

  it('plaintext downstreams and SANITIZE drop the header; forward-only modes keep it untouched', () => {
    assert.equal(forwardedClientCert('forged', sidecarInbound, undefined), undefined);
    assert.equal(forwardedClientCert('x', xfccOptionsFromHcm({}), xfccPeer([leaf], ours)), undefined);
    const forwardOnly = xfccOptionsFromHcm({ forwardClientCertDetails: 'FORWARD_ONLY' });
    assert.equal(forwardedClientCert('x', forwardOnly, xfccPeer([leaf], ours)), 'x');
    assert.equal(forwardedClientCert('x', forwardOnly, undefined), undefined);
    const always = xfccOptionsFromHcm({ forwardClientCertDetails: 'ALWAYS_FORWARD_ONLY' });
    assert.equal(forwardedClientCert('x', always, undefined), 'x');
    // Unknown modes fall back to Envoy's default.
    assert.equal(xfccOptionsFromHcm({ forwardClientCertDetails: 7 }).mode, 'SANITIZE');
  });

  it('prints subjects in RFC 2253 order with escapes, and "URI=" for a certificate without URI SANs', () => {
    assert.equal(rfc2253Subject('C=US\nO=Acme, Inc.\nCN=gw'), 'CN=gw,O=Acme\\, Inc.,C=US');
    assert.equal(rfc2253Subject(undefined), '');
    const found = xfccPeer([leaf], []);
    assert.ok(found);
    const peer = { ...found, uriSans: [] };
    assert.equal(
      forwardedClientCert(undefined, sidecarInbound, peer),
      `Hash=${hash};Subject="O=workload";URI=`,
    );
  });
});
