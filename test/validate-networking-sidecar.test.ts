import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one Sidecar spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: Sidecar\nmetadata:\n  name: default\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('Sidecar: realistic namespace-wide and workload sidecars are valid', () => {
  assert.deepEqual(
    check(`
  egress:
  - hosts: ["./*", "istio-system/*", "~/*", "*/api.example.com"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`),
    [],
  );
  assert.deepEqual(
    check(`
  workloadSelector: {labels: {app: ratings}}
  ingress:
  - port: {number: 9080, protocol: HTTP, name: somename}
    defaultEndpoint: 127.0.0.1:8080
    captureMode: NONE
  - port: {number: 9443, protocol: HTTPS, name: https}
    defaultEndpoint: "[::1]:8443"
    tls: {mode: SIMPLE, serverCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem}
  - port: {number: 9090, protocol: GRPC}
    defaultEndpoint: unix:///var/run/app.sock
  egress:
  - port: {number: 0, protocol: HTTP, name: uds}
    bind: unix:///var/run/egress.sock
    captureMode: NONE
    hosts: ["*/*"]
  - port: {number: 3306, protocol: MYSQL, name: mysql}
    bind: 127.0.0.1
    hosts: ["*/mysql.foo.com"]
  - hosts: ["istio-system/*"]
  outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: egress.example.com, port: {number: 3128}}}
`),
    [],
  );
});

test('Sidecar: empty configuration and workload selector', () => {
  assert.deepEqual(check('  workloadSelector: {labels: {}}\n'), [
    'error spec: sidecar: empty configuration provided',
  ]);
  assert.deepEqual(check('  workloadSelector: {labels: {"": x}}\n'), [
    'error spec.workloadSelector.labels: empty key is not supported in selector: "=x"',
  ]);
  assert.deepEqual(check('  workloadSelector: {}\n  egress: [{hosts: ["./*"]}]\n'), [
    'warning spec.workloadSelector: sidecar: workload selector specified without labels, will be applied to all services in namespace',
  ]);
});

test('Sidecar: ingress listeners', () => {
  assert.deepEqual(
    check(`
  ingress:
  - port: {number: 9080, protocol: kafka, name: Bad_Name}
    bind: not-an-ip
    defaultEndpoint: 10.0.0.1:8080
  - port: {number: 9080, protocol: HTTP}
    defaultEndpoint: 127.0.0.1
  - port: {number: 0}
    defaultEndpoint: "unix://relative"
  - defaultEndpoint: 127.0.0.1:80
  - port: {number: 1, protocol: HTTP}
    defaultEndpoint: 127.0.0.1:http
`),
    [
      'error spec.ingress[0].port.name: invalid port name: Bad_Name',
      'error spec.ingress[0].port.protocol: unsupported protocol: kafka',
      'error spec.ingress[0].bind: not-an-ip is not a valid IP',
      'error spec.ingress[0].defaultEndpoint: sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset',
      'error spec.ingress[1].port.number: sidecar: ports on IP bound listeners must be unique',
      'error spec.ingress[1].defaultEndpoint: address 127.0.0.1: missing port in address',
      'error spec.ingress[1].defaultEndpoint: sidecar: defaultEndpoint port () is not a number: strconv.Atoi: parsing "": invalid syntax',
      'error spec.ingress[2].port.number: port number 0 must be in the range 1..65535',
      'error spec.ingress[2].defaultEndpoint: relative is not an absolute path to a file',
      'error spec.ingress[3].port: sidecar: port is required for ingress listeners',
      'error spec.ingress[4].defaultEndpoint: sidecar: defaultEndpoint port (http) is not a number: strconv.Atoi: parsing "http": invalid syntax',
    ],
  );
});

test('Sidecar: ingress TLS', () => {
  assert.deepEqual(
    check(`
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoint: 127.0.0.1:8080
    tls: {mode: ISTIO_MUTUAL, subjectAltNames: [a], httpsRedirect: true, credentialName: c}
  - port: {number: 9443, protocol: HTTPS, name: https}
    defaultEndpoint: 0.0.0.0:8443
    tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}
`),
    [
      'error spec.ingress[0].tls.subjectAltNames: sidecar: subjectAltNames is not supported in ingress tls',
      'error spec.ingress[0].tls.httpsRedirect: sidecar: httpsRedirect is not supported',
      'error spec.ingress[0].tls.credentialName: sidecar: credentialName is not currently supported',
      'error spec.ingress[0].tls.mode: configuration is invalid: cannot set mode to ISTIO_MUTUAL in sidecar ingress tls',
      'error spec.ingress[0].tls: server cannot have TLS settings for non HTTPS/TLS ports',
      'error spec.ingress[0].tls.credentialName: ISTIO_MUTUAL TLS cannot have associated credentialName',
      'error spec.ingress[1].tls.caCertificates: MUTUAL TLS requires a client CA bundle',
    ],
  );
});

test('Sidecar: egress listeners and hosts', () => {
  assert.deepEqual(
    check(`
  egress:
  - hosts: ["./*"]
  - port: {number: 0, protocol: HTTP, name: uds}
    bind: 10.0.0.1
    captureMode: IPTABLES
    hosts: ["bookinfo/reviews.svc", "./reviews.svc", "bookinfo/*", "reviews.svc", "ns/short", "Bad_NS/a.com", "ns/*a.com", "ns/bad_host.com"]
  - port: {number: 9080, protocol: HTTP, name: http}
    hosts: []
  - port: {number: 9080, protocol: HTTP, name: http2}
    bind: "::1"
    hosts: ["*/*", "bookinfo/a.com"]
`),
    [
      'error spec.egress[0]: sidecar: the egress listener with empty port should be the last listener in the list',
      'error spec.egress[1].bind: sidecar: ports with 0 value must have a unix domain socket bind address',
      'error spec.egress[1].captureMode: sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners',
      'warning spec.egress[1].hosts[1]: duplicated egress host: ./reviews.svc',
      'warning spec.egress[1].hosts[2]: duplicated egress host: bookinfo/*',
      'error spec.egress[1].hosts[3]: host must be of form namespace/dnsName',
      'error spec.egress[1].hosts[4]: short names (non FQDN) are not allowed',
      'error spec.egress[1].hosts[5]: invalid namespace value "Bad_NS" in sidecar',
      'error spec.egress[1].hosts[6]: partial wildcard "*a.com" not allowed',
      // Istio reports an invalid sidecar host twice (once as a sidecar host, once because it is not an IP).
      'error spec.egress[1].hosts[7]: domain name "bad_host.com" invalid (label "bad_host" invalid)',
      'error spec.egress[1].hosts[7]: domain name "bad_host.com" invalid (label "bad_host" invalid)',
      'error spec.egress[2].hosts: sidecar: egress listener must contain at least one host',
      'error spec.egress[3].port.number: sidecar: ports on IP bound listeners must be unique',
      'warning spec.egress[3].hosts: `*/*` host select all resources, no other hosts can be added',
    ],
  );
});

test('Sidecar: outbound traffic policy', () => {
  assert.deepEqual(
    check('  outboundTrafficPolicy: {egressProxy: {host: egress.example.com, port: {number: 3128}}}\n'),
    [
      'error spec.outboundTrafficPolicy.egressProxy: sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode',
    ],
  );
  assert.deepEqual(check('  outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: "bad_host"}}\n'), [
    'error spec.outboundTrafficPolicy.egressProxy.host: domain name "bad_host" invalid (label "bad_host" invalid)',
    'error spec.outboundTrafficPolicy.egressProxy.port: sidecar: egress_proxy port must be non-nil',
  ]);
  assert.deepEqual(
    check(
      '  outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: egress.example.com, subset: V_1, port: {number: 0}}}\n',
    ),
    [
      'error spec.outboundTrafficPolicy.egressProxy.subset: subset name is invalid: V_1',
      'error spec.outboundTrafficPolicy.egressProxy.port.number: port number 0 must be in the range 1..65535',
    ],
  );
});

test('Sidecar: an unknown outbound traffic policy mode is a decode error; modes by number decode', () => {
  assert.deepEqual(check('  outboundTrafficPolicy: {mode: ALLOW_ALL}\n'), [
    'error spec.outboundTrafficPolicy.mode: cannot decode spec.outboundTrafficPolicy.mode: unknown value "ALLOW_ALL" for enum istio.networking.v1alpha3.OutboundTrafficPolicy.Mode',
  ]);
  // 1 is ALLOW_ANY, which allows an egress proxy.
  assert.deepEqual(
    check(
      '  outboundTrafficPolicy: {mode: 1, egressProxy: {host: egress.example.com, port: {number: 3128}}}\n',
    ),
    [],
  );
  // Proto3 enums are open: a number without a name decodes (and is not ALLOW_ANY).
  assert.deepEqual(check('  outboundTrafficPolicy: {mode: 5}\n'), []);
  assert.deepEqual(check('  outboundTrafficPolicy: {mode: 5, egressProxy: {host: egress.example.com}}\n'), [
    'error spec.outboundTrafficPolicy.egressProxy: sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode',
  ]);
  assert.deepEqual(check('  outboundTrafficPolicy: {mode: 1.5}\n'), [
    'error spec.outboundTrafficPolicy.mode: cannot decode spec.outboundTrafficPolicy.mode: json: cannot unmarshal number 1.5 into Go value of type protoreflect.EnumNumber',
  ]);
});

test('Sidecar: values of the wrong JSON type are decode errors', () => {
  assert.deepEqual(
    check(`
  workloadSelector: {labels: {app: true}}
  egress: [{hosts: "./*", captureMode: iptables}]
  ingress: [{port: {number: 9080, protocol: HTTP, name: http}, defaultEndpoint: [127.0.0.1:8080]}]
`),
    [
      'error spec.workloadSelector.labels.app: cannot decode spec.workloadSelector.labels.app: json: cannot unmarshal bool into Go value of type string',
      'error spec.ingress[0].defaultEndpoint: cannot decode spec.ingress[0].defaultEndpoint: json: cannot unmarshal array into Go value of type string',
      'error spec.egress[0].captureMode: cannot decode spec.egress[0].captureMode: unknown value "iptables" for enum istio.networking.v1alpha3.CaptureMode',
      'error spec.egress[0].hosts: cannot decode spec.egress[0].hosts: json: cannot unmarshal string into Go value of type []json.RawMessage',
    ],
  );
});
