import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one Gateway spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string, name = 'public-gw'): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n  name: ${name}\n  namespace: istio-system\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('Gateway: a realistic HTTP + HTTPS + passthrough gateway is valid', () => {
  const issues = check(`
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["bookinfo/*.example.com", "./reviews.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*/*.example.com", "example.com", "10.0.0.1"]
    tls: {mode: SIMPLE, credentialName: example-cert}
  - port: {number: 8443, name: tls-passthrough, protocol: TLS}
    hosts: ["*"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 15443, name: mtls, protocol: TLS}
    hosts: ["*.local"]
    tls: {mode: ISTIO_MUTUAL, minProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, "-AES128-SHA"]}
  - port: {number: 0, name: uds, protocol: HTTP}
    hosts: ["*"]
    bind: unix:///var/run/gw.sock
`);
  assert.deepEqual(issues, []);
});

test('Gateway: name, servers, hosts and ports', () => {
  assert.deepEqual(check('  servers: []\n', 'my.gw'), [
    'error metadata.name: invalid gateway name: "my.gw"',
    'error spec.servers: gateway must have at least one server',
  ]);
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["~/a.com", "reviews", "*foo.com", "ns/bad_host.com", "/a.com"]
  - port: {number: 70000, name: http, protocol: kafka}
  - hosts: ["a.com"]
`),
    [
      'error spec.servers[0].hosts[0]: invalid namespace value "~" in gateway',
      'error spec.servers[0].hosts[1]: short names (non FQDN) are not allowed',
      'error spec.servers[0].hosts[2]: partial wildcard "*foo.com" not allowed',
      'error spec.servers[0].hosts[3]: domain name "bad_host.com" invalid (label "bad_host" invalid)',
      'error spec.servers[0].hosts[4]: config namespace and dnsName in host entry cannot be empty',
      'error spec.servers[0].hosts[4]: invalid namespace value "" in gateway',
      'error spec.servers[1].hosts: server config must contain at least one host',
      'error spec.servers[1].port.protocol: invalid protocol "kafka", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP',
      'error spec.servers[1].port.number: port number 70000 must be in the range 1..65535',
      'error spec.servers[2].port: port is required',
      'error spec.servers[1].port.name: port names in servers must be unique: duplicate name http',
    ],
  );
});

test('Gateway: port name, bind and duplicate port names', () => {
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 80, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 81, name: a, protocol: HTTP}
    hosts: ["*"]
    bind: unix://relative.sock
  - port: {number: 82, name: b, protocol: HTTP}
    hosts: ["*"]
    bind: not-an-ip
`),
    [
      'error spec.servers[0].port.name: port name must be set: number:80 protocol:"HTTP"',
      'error spec.servers[1].bind: relative.sock is not an absolute path to a file',
      'error spec.servers[1].port.number: port number must be 0 for unix domain socket: number:81 protocol:"HTTP" name:"a"',
      'error spec.servers[2].bind: not-an-ip is not a valid IP',
    ],
  );
});

test('Gateway: protocol and TLS settings must agree', () => {
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: c}
  - port: {number: 81, name: http2, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true, serverCertificate: /c.pem}
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
`),
    [
      'error spec.servers[0].tls: server must have TLS settings for HTTPS/TLS protocols',
      'error spec.servers[1].tls: server cannot have TLS settings for plain text HTTP ports',
      'warning spec.servers[2].tls.mode: PASSTHROUGH mode does not use certificates, they will be ignored',
      'error spec.servers[2].tls: server cannot have TLS settings for plain text HTTP ports',
      'error spec.servers[3].tls: server cannot have TLS settings for non HTTPS/TLS ports',
      'warning spec.servers[3].tls.httpsRedirect: tls.httpsRedirect should only be used with http servers',
    ],
  );
});

test('Gateway: TLS modes, certificates and cipher suites', () => {
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 443, name: a, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE}
  - port: {number: 444, name: b, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: MUTUAL, serverCertificate: /c.pem}
  - port: {number: 445, name: c, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: ISTIO_MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem, caCertificates: /ca.pem, credentialName: s}
  - port: {number: 446, name: d, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: s, minProtocolVersion: TLSV1_0, cipherSuites: [BOGUS, AES128-SHA, AES128-SHA]}
`),
    [
      'error spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate',
      'error spec.servers[0].tls.privateKey: SIMPLE TLS requires a private key',
      'error spec.servers[1].tls.privateKey: MUTUAL TLS requires a private key',
      'error spec.servers[1].tls.caCertificates: MUTUAL TLS requires a client CA bundle',
      'error spec.servers[2].tls.serverCertificate: ISTIO_MUTUAL TLS cannot have associated server certificate',
      'error spec.servers[2].tls.privateKey: ISTIO_MUTUAL TLS cannot have associated private key',
      'error spec.servers[2].tls.caCertificates: ISTIO_MUTUAL TLS cannot have associated CA bundle',
      'error spec.servers[2].tls.credentialName: ISTIO_MUTUAL TLS cannot have associated credentialName',
      'warning spec.servers[3].tls.cipherSuites: ignoring invalid cipher suites: [BOGUS]',
      'warning spec.servers[3].tls.cipherSuites: ignoring duplicate cipher suites: [AES128-SHA]',
    ],
  );
  // TLS below 1.2 needs explicit ciphers.
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 443, name: a, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: s, minProtocolVersion: TLSV1_1}
`),
    [
      'warning spec.servers[0].tls.minProtocolVersion: TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    ],
  );
});

test('Gateway: a malformed spec does not crash the validator', () => {
  // Values of the wrong JSON type stop Istio's decoder, so they are all that is reported.
  assert.deepEqual(check('  servers: [null, "text", {port: "80", hosts: [1, null]}]\n'), [
    'error spec.servers[1]: cannot decode spec.servers[1]: json: cannot unmarshal string into Go value of type map[string]json.RawMessage',
    'error spec.servers[2].port: cannot decode spec.servers[2].port: json: cannot unmarshal string into Go value of type map[string]json.RawMessage',
    'error spec.servers[2].hosts[0]: cannot decode spec.servers[2].hosts[0]: json: cannot unmarshal number into Go value of type string',
  ]);
  const issues = check('  servers: [null, {port: {number: 80}, hosts: [null]}]\n');
  assert.ok(issues.includes('error spec.servers[0]: cannot have nil server'));
  assert.ok(issues.includes('error spec.servers[0]: server may not be nil'));
  assert.ok(issues.every((i) => !i.includes('internal validation failure')));
});

test('Gateway: an unknown TLS mode is one decode error, though the rules read the mode twice', () => {
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {mode: ISTIO, httpsRedirect: true, credentialName: c}
`),
    [
      'error spec.servers[0].tls.mode: cannot decode spec.servers[0].tls.mode: unknown value "ISTIO" for enum istio.networking.v1alpha3.ServerTLSSettings.TLSmode',
    ],
  );
  // By number: 1 is SIMPLE, 4 is ISTIO_MUTUAL, and 3 (TLSV1_2) a protocol version.
  assert.deepEqual(
    check(`
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: 1}
  - port: {number: "8443", name: mtls, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: 4, minProtocolVersion: 3}
`),
    [
      'error spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate',
      'error spec.servers[0].tls.privateKey: SIMPLE TLS requires a private key',
    ],
  );
});

test('Gateway: values of the wrong JSON type are decode errors', () => {
  assert.deepEqual(
    check(`
  selector: {istio: [ingressgateway]}
  servers:
  - port: {number: eighty, name: {a: b}, protocol: HTTP}
    hosts: "*"
    tls: {httpsRedirect: yes please}
`),
    [
      "error spec.servers[0].port.number: cannot decode spec.servers[0].port.number: invalid character 'e' looking for beginning of value",
      'error spec.servers[0].port.name: cannot decode spec.servers[0].port.name: json: cannot unmarshal object into Go value of type string',
      'error spec.servers[0].hosts: cannot decode spec.servers[0].hosts: json: cannot unmarshal string into Go value of type []json.RawMessage',
      'error spec.servers[0].tls.httpsRedirect: cannot decode spec.servers[0].tls.httpsRedirect: json: cannot unmarshal string into Go value of type bool',
      'error spec.selector.istio: cannot decode spec.selector.istio: json: cannot unmarshal array into Go value of type string',
    ],
  );
});
