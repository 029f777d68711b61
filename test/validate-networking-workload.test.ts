import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one object of `kind` with the given spec (YAML under `spec:`); returns `level path: message` lines. */
function check(kind: string, spec: string): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: ${kind}\nmetadata:\n  name: vm\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('WorkloadEntry: IP, hostname and socket addresses are valid', () => {
  const spec = (address: string) =>
    `  address: ${address}\n  labels: {app: ratings, version: v1}\n  serviceAccount: ratings\n  network: vm-net\n`;
  assert.deepEqual(check('WorkloadEntry', `${spec('10.0.0.1')}  ports: {http: 9080}\n`), []);
  assert.deepEqual(check('WorkloadEntry', spec('vm1.example.com')), []);
  assert.deepEqual(check('WorkloadEntry', spec('"2001:db8::1"')), []);
  assert.deepEqual(check('WorkloadEntry', spec('unix:///var/run/ratings.sock')), []);
});

test('WorkloadEntry: address, ports and labels', () => {
  assert.deepEqual(check('WorkloadEntry', '  labels: {"bad key": x}\n'), [
    'error spec.address: address must be set',
  ]);
  assert.deepEqual(
    check(
      'WorkloadEntry',
      '  address: "bad address"\n  ports: {Bad_Name: 70000}\n  labels: {app: "bad value!", "example.com/name": ok}\n',
    ),
    [
      'error spec.address: endpoint address "bad address" is not a valid FQDN or an IP address',
      'error spec.labels.app: invalid tag value: "bad value!"',
      'error spec.ports: invalid port name: Bad_Name',
      'error spec.ports: port number 70000 must be in the range 1..65535',
    ],
  );
  assert.deepEqual(check('WorkloadEntry', '  address: "unix://@abstract"\n  ports: {http: 80}\n'), [
    'error spec.ports: unix endpoint unix://@abstract must not include ports',
  ]);
});

test('WorkloadGroup: a realistic group is valid', () => {
  assert.deepEqual(
    check(
      'WorkloadGroup',
      `
  metadata: {labels: {app: ratings}, annotations: {a: b}}
  template: {ports: {http: 9080}, serviceAccount: ratings, network: vm-net}
  probe:
    initialDelaySeconds: 5
    periodSeconds: 4
    httpGet: {path: /ready, port: 9080, scheme: HTTPS, httpHeaders: [{name: x-probe, value: "1"}]}
`,
    ),
    [],
  );
  assert.deepEqual(
    check('WorkloadGroup', '  template: {}\n  probe: {exec: {command: [cat, /tmp/healthy]}}\n'),
    [],
  );
});

test('WorkloadGroup: template, labels and probes', () => {
  assert.deepEqual(check('WorkloadGroup', '  metadata: {labels: {app: ratings}}\n'), [
    'error spec.template: template is required',
  ]);
  // Istio wraps the label errors in one message, keeping Go's multierror list text.
  assert.deepEqual(
    check('WorkloadGroup', '  template: {}\n  metadata: {labels: {"bad key": x, app: "a b"}}\n'),
    [
      'error spec.metadata.labels: invalid labels: 2 errors occurred:\n\t* invalid tag key: "bad key"\n\t* invalid tag value: "a b"\n\n',
    ],
  );
  assert.deepEqual(check('WorkloadGroup', '  template: {}\n  metadata: {labels: {"bad key": x}}\n'), [
    'error spec.metadata.labels: invalid labels: 1 error occurred:\n\t* invalid tag key: "bad key"\n\n',
  ]);
  assert.deepEqual(
    check(
      'WorkloadGroup',
      `
  template: {}
  probe:
    initialDelaySeconds: -1
    timeoutSeconds: -1
    periodSeconds: -1
    successThreshold: -1
    failureThreshold: -1
    httpGet: {port: 0, scheme: http, httpHeaders: [{value: x}, null]}
`,
    ),
    [
      'error spec.probe.periodSeconds: periodSeconds must be non-negative',
      'error spec.probe.initialDelaySeconds: initialDelaySeconds must be non-negative',
      'error spec.probe.timeoutSeconds: timeoutSeconds must be non-negative',
      'error spec.probe.successThreshold: successThreshold must be non-negative',
      'error spec.probe.failureThreshold: failureThreshold must be non-negative',
      'error spec.probe.httpGet.port: port number 0 must be in the range 1..65535',
      'error spec.probe.httpGet.scheme: httpGet.scheme must be one of "http", "https"',
      'error spec.probe.httpGet.httpHeaders[0].name: header name cannot be empty',
      'error spec.probe.httpGet.httpHeaders[1]: invalid nil header',
    ],
  );
  assert.deepEqual(check('WorkloadGroup', '  template: {}\n  probe: {tcpSocket: {port: 70000}}\n'), [
    'error spec.probe.tcpSocket.port: port number 70000 must be in the range 1..65535',
  ]);
  assert.deepEqual(check('WorkloadGroup', '  template: {}\n  probe: {exec: {}}\n'), [
    'error spec.probe.exec.command: exec.command is required',
  ]);
  assert.deepEqual(check('WorkloadGroup', '  template: {}\n  probe: {periodSeconds: 5}\n'), [
    'error spec.probe: unknown health check method <nil>',
  ]);
});
