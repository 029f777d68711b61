import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one ServiceEntry spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: ServiceEntry\nmetadata:\n  name: external\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('ServiceEntry: realistic DNS, STATIC and selector entries are valid', () => {
  assert.deepEqual(
    check(`
  hosts: [api.example.com, www.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 443, name: https, protocol: TLS}
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
  exportTo: ["."]
`),
    [],
  );
  assert.deepEqual(
    check(`
  hosts: [db.internal]
  addresses: [10.1.0.0/16, 192.168.0.1]
  ports: [{number: 5432, name: tcp-postgres, protocol: TCP, targetPort: 15432}]
  resolution: STATIC
  endpoints:
  - {address: 10.1.2.3, ports: {tcp-postgres: 5433}, labels: {zone: a}}
  - {address: 10.1.2.4}
  exportTo: ["~"]
`),
    [],
  );
  assert.deepEqual(
    check(`
  hosts: [vm.bookinfo.svc.cluster.local]
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: ratings-vm}}
`),
    [],
  );
});

test('ServiceEntry: hosts, addresses and ports', () => {
  assert.deepEqual(
    check(`
  hosts: ["*", "bad_host.com"]
  addresses: [10.0.0.0/8, 300.1.1.1]
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 80, name: http, protocol: kafka, targetPort: 70000}
  - {number: 0, name: "Bad_Name"}
  - null
  resolution: DNS
  endpoints: [{address: a.com}]
`),
    [
      'error spec.hosts[0]: invalid host *',
      'error spec.hosts[1]: domain name "bad_host.com" invalid (label "bad_host" invalid)',
      'error spec.addresses[1]: 300.1.1.1 is not a valid IP',
      'error spec.addresses: CIDR addresses are allowed only for NONE/STATIC resolution types',
      'error spec.ports[1].name: service entry port name "http" already defined',
      'error spec.ports[1].number: service entry port 80 already defined',
      'error spec.ports[1].targetPort: port number 70000 must be in the range 1..65535',
      'error spec.ports[1].protocol: unsupported protocol: kafka',
      'error spec.ports[2].name: invalid port name: Bad_Name',
      'error spec.ports[2].number: port number 0 must be in the range 1..65535',
      'error spec.ports[3]: service entry port may not be null',
      'error spec.ports: multiple hosts provided with non-HTTP, non-TLS ports',
    ],
  );
  assert.deepEqual(check('  ports: [{number: 3306, name: mysql}]\n'), [
    'error spec.hosts: service entry must have at least one host',
    'warning spec.ports[0]: addresses are required for ports serving TCP (or unset) protocol',
  ]);
});

test('ServiceEntry: resolution modes and endpoints', () => {
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
`),
    ['error spec.endpoints: no endpoints should be provided for resolution type none'],
  );
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http2, protocol: HTTP}]
  resolution: STATIC
  endpoints:
  - {address: a.example.com, ports: {grpc: 9000}}
  - {address: "unix://run/sock", ports: {http: 80}, labels: {"bad key!": x}}
`),
    [
      'error spec.endpoints[0].address: a.example.com is not a valid IP',
      'error spec.endpoints[0].ports: endpoint port 9000 is not defined by the service entry',
      'error spec.endpoints[1].address: run/sock is not an absolute path to a file',
      'error spec.endpoints[1].ports: unix endpoint unix://run/sock must not include ports',
      'error spec.endpoints[1].labels: invalid tag key: "bad key!"',
      'error spec.ports: exactly 1 service port required for unix endpoints',
    ],
  );
  assert.deepEqual(
    check(`
  hosts: ["*.example.com", short]
  addresses: [240.0.0.1]
  ports: [{number: 443, name: https, protocol: HTTPS}]
  resolution: DNS
`),
    [
      'error spec.hosts[0]: hosts must be FQDN if no endpoints are provided for resolution mode DNS',
      'warning spec.hosts: service entry can not have more than one host specified simultaneously with address and tcp port',
    ],
  );
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: a.example.com}, {address: "not a host"}]
`),
    [
      'error spec.endpoints: there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN',
      'error spec.endpoints[1].address: endpoint address "not a host" is not a valid FQDN or an IP address',
    ],
  );
});

test('ServiceEntry: workload selector and exportTo', () => {
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {labels: {app: "*"}}
  endpoints: [{address: 10.0.0.1}]
`),
    // Selector errors stop the validation.
    ['error spec.workloadSelector.labels.app: wildcard is not supported in selector: "app=*"'],
  );
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  workloadSelector: {}
  endpoints: [{address: 10.0.0.1}]
  exportTo: ["~", "*"]
`),
    [
      'warning spec.workloadSelector: service entry: workload selector specified without labels, will be applied to all services in namespace',
      'error spec: only one of WorkloadSelector or Endpoints is allowed in Service Entry',
      'error spec.exportTo: cannot have both public (*) and non-public exportTo values for a resource',
      'error spec.exportTo: cannot export service entry to no one (~) and someone',
    ],
  );
});

test('ServiceEntry: an unknown resolution is a decode error; enums by number and quoted ports decode', () => {
  assert.deepEqual(
    check(`
  hosts: [a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_RR
  location: EXTERNAL
`),
    [
      'error spec.location: cannot decode spec.location: unknown value "EXTERNAL" for enum istio.networking.v1alpha3.ServiceEntry.Location',
      'error spec.resolution: cannot decode spec.resolution: unknown value "DNS_RR" for enum istio.networking.v1alpha3.ServiceEntry.Resolution',
    ],
  );
  // 2 is DNS, so wildcard hosts need endpoints.
  assert.deepEqual(
    check(`
  hosts: ["*.example.com"]
  ports: [{number: "443", name: https, protocol: HTTPS}]
  resolution: 2
`),
    ['error spec.hosts[0]: hosts must be FQDN if no endpoints are provided for resolution mode DNS'],
  );
});

test('ServiceEntry: values of the wrong JSON type are decode errors', () => {
  assert.deepEqual(
    check(`
  hosts: a.example.com
  ports: {number: 80, name: http}
  resolution: STATIC
  endpoints: [{address: 10.0.0.1, ports: {http: http}, weight: -1}]
`),
    [
      'error spec.hosts: cannot decode spec.hosts: json: cannot unmarshal string into Go value of type []json.RawMessage',
      'error spec.ports: cannot decode spec.ports: json: cannot unmarshal object into Go value of type []json.RawMessage',
      "error spec.endpoints[0].ports.http: cannot decode spec.endpoints[0].ports.http: invalid character 'h' looking for beginning of value",
      'error spec.endpoints[0].weight: cannot decode spec.endpoints[0].weight: json: cannot unmarshal number -1 into Go value of type uint32',
    ],
  );
});
