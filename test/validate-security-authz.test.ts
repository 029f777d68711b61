import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';
import { runSkiff } from './helpers.js';

/** Validates one AuthorizationPolicy spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string, name = 'policy'): string[] {
  const yaml = `apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: ${name}\n  namespace: foo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

const P = 'invalid policy policy.foo:';

test('AuthorizationPolicy: realistic ALLOW, DENY, AUDIT and CUSTOM policies are valid', () => {
  // allow-nothing
  assert.deepEqual(check('  {}\n'), []);
  assert.deepEqual(
    check(`
  selector:
    matchLabels: {app: httpbin, version: v1}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
    - source:
        namespaces: ["test"]
        ipBlocks: ["10.0.0.0/16", "2001:db8::/32", "192.168.1.1"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/info*", "*/admin"]
        ports: ["8080"]
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
    - key: request.headers[x-token]
      notValues: ["guest"]
    - key: source.ip
      values: ["10.1.2.3", "10.2.0.0/16"]
    - key: destination.port
      values: ["443"]
    - key: experimental.envoy.filters.network.mysql_proxy[db.table]
      values: ["[update]"]
  - {}
`),
    [],
  );
  assert.deepEqual(
    check(`
  action: DENY
  rules:
  - from:
    - source: {notNamespaces: ["foo"]}
  - to:
    - operation: {ports: ["3306"], methods: ["POST"]}
`),
    [],
  );
  assert.deepEqual(
    check(`
  action: CUSTOM
  provider: {name: my-ext-authz}
  rules:
  - to:
    - operation: {paths: ["/admin/*"]}
    when:
    - key: remote.ip
      values: ["203.0.113.0/24"]
`),
    [],
  );
  assert.deepEqual(check('  action: AUDIT\n  rules:\n  - to: [{operation: {paths: ["/audit"]}}]\n'), []);
});

test('AuthorizationPolicy: DENY and CUSTOM need rules; provider only with CUSTOM', () => {
  const withoutRules = (action: string) =>
    `${action} action without \`rules\` is meaningless as it will never be triggered, add an empty rule \`{}\` if you want it be triggered for every request`;
  assert.deepEqual(check('  action: DENY\n'), [`error spec.rules: ${P} ${withoutRules('DENY')}`]);
  // An empty list decodes to a nil list, exactly like no rules at all.
  assert.deepEqual(check('  action: CUSTOM\n  provider: {name: x}\n  rules: []\n'), [
    `error spec.rules: ${P} ${withoutRules('CUSTOM')}`,
  ]);
  assert.deepEqual(check('  action: CUSTOM\n  rules: [{}]\n'), [
    `error spec.provider: ${P} \`provider.name\` must not be empty`,
  ]);
  assert.deepEqual(check('  action: CUSTOM\n  provider: {}\n  rules: [{}]\n'), [
    `error spec.provider.name: ${P} \`provider.name\` must not be empty`,
  ]);
  assert.deepEqual(check('  provider: {name: ext}\n  rules: [{}]\n', 'allow-ext'), [
    'error spec.provider: invalid policy allow-ext.foo: `provider` must not be with non CUSTOM action, found ALLOW',
  ]);
  // The enum may be given by number: 1 is DENY.
  assert.deepEqual(check('  action: 1\n'), [`error spec.rules: ${P} ${withoutRules('DENY')}`]);
});

test('AuthorizationPolicy: CUSTOM cannot match on identities', () => {
  assert.deepEqual(
    check(`
  action: CUSTOM
  provider: {name: ext}
  rules:
  - from:
    - source: {namespaces: [a], notPrincipals: [b], requestPrincipals: ["*"], ipBlocks: ["1.2.3.4"]}
    when:
    - key: source.namespace
      values: [x]
    - key: request.auth.claims[iss]
      values: [x]
    - key: source.ip
      values: ["1.2.3.4"]
`),
    [
      `error spec.rules[0].from[0].source.namespaces: ${P} From.Namespaces is currently not supported with CUSTOM action`,
      `error spec.rules[0].from[0].source.notPrincipals: ${P} From.NotPrincipals is currently not supported with CUSTOM action`,
      `error spec.rules[0].from[0].source.requestPrincipals: ${P} From.RequestPrincipals is currently not supported with CUSTOM action`,
      `error spec.rules[0].when[0].key: ${P} source.namespace is currently not supported with CUSTOM action`,
      `error spec.rules[0].when[1].key: ${P} request.auth.claims[iss] is currently not supported with CUSTOM action`,
    ],
  );
});

test('AuthorizationPolicy: from, source, to and operation must not be empty', () => {
  assert.deepEqual(
    check(`
  rules:
  - from:
    - {}
    - source: {}
    to:
    - operation: {}
    - {}
  - from:
    - source: {principals: ["a", ""], notIpBlocks: [""]}
    to:
    - operation: {methods: [""], notHosts: ["x", ""]}
`),
    [
      `error spec.rules[0].from[0]: ${P} \`from.source\` must not be nil, found at rule 0`,
      `error spec.rules[0].from[1].source: ${P} \`from.source\` must not be empty, found at rule 0`,
      `error spec.rules[0].to[0].operation: ${P} \`to.operation\` must not be empty, found at rule 0`,
      `error spec.rules[0].to[1]: ${P} \`to.operation\` must not be nil, found at rule 0`,
      `error spec.rules[1].from[0].source.notIpBlocks[0]: ${P} bad IP address ()`,
      `error spec.rules[1].from[0].source.principals[1]: ${P} empty value not allowed, found in Principals`,
      `error spec.rules[1].from[0].source.notIpBlocks[0]: ${P} empty value not allowed, found in NotIpBlocks`,
      `error spec.rules[1].to[0].operation.methods[0]: ${P} empty value not allowed, found in Methods`,
      `error spec.rules[1].to[0].operation.notHosts[1]: ${P} empty value not allowed, found in NotHosts`,
    ],
  );
});

test('AuthorizationPolicy: IP blocks and ports carry Go net/netip and strconv errors', () => {
  assert.deepEqual(
    check(`
  rules:
  - from:
    - source:
        ipBlocks: ["10.0.0.0/33", "1.2.3", "10.0.0.01", "::1/64", "fe80::1%eth0/64", "10.0.0.1/x", "300.1.1.1/8"]
        remote_ip_blocks: ["::g"]
    to:
    - operation: {ports: ["80", "70000", "abc", "99999999999", "-1"]}
`),
    [
      `error spec.rules[0].from[0].source.ipBlocks[0]: ${P} bad CIDR range (10.0.0.0/33): netip.ParsePrefix("10.0.0.0/33"): prefix length out of range`,
      `error spec.rules[0].from[0].source.ipBlocks[1]: ${P} bad IP address (1.2.3)`,
      `error spec.rules[0].from[0].source.ipBlocks[2]: ${P} bad IP address (10.0.0.01)`,
      `error spec.rules[0].from[0].source.ipBlocks[4]: ${P} bad CIDR range (fe80::1%eth0/64): netip.ParsePrefix("fe80::1%eth0/64"): IPv6 zones cannot be present in a prefix`,
      `error spec.rules[0].from[0].source.ipBlocks[5]: ${P} bad CIDR range (10.0.0.1/x): netip.ParsePrefix("10.0.0.1/x"): bad bits after slash: "x"`,
      `error spec.rules[0].from[0].source.ipBlocks[6]: ${P} bad CIDR range (300.1.1.1/8): netip.ParsePrefix("300.1.1.1/8"): ParseAddr("300.1.1.1"): IPv4 field has value >255`,
      // The proto (snake_case) field name is accepted as jsonpb does, and the path keeps it.
      `error spec.rules[0].from[0].source.remote_ip_blocks[0]: ${P} bad IP address (::g)`,
      `error spec.rules[0].to[0].operation.ports[1]: ${P} bad port (70000): <nil>`,
      `error spec.rules[0].to[0].operation.ports[2]: ${P} bad port (abc): strconv.ParseUint: parsing "abc": invalid syntax`,
      `error spec.rules[0].to[0].operation.ports[3]: ${P} bad port (99999999999): strconv.ParseUint: parsing "99999999999": value out of range`,
      `error spec.rules[0].to[0].operation.ports[4]: ${P} bad port (-1): strconv.ParseUint: parsing "-1": invalid syntax`,
    ],
  );
});

test('AuthorizationPolicy: IPv6 blocks are read as Go 1.19/1.20 netip reads them, like the annotation checks', () => {
  assert.deepEqual(
    check(`
  rules:
  - from:
    - source:
        ipBlocks: ["00001::/64", "12345::/64", "::ffff:1.2.3.999/128", "::ffff:1.2.3.4/128"]
`),
    [
      // More than four digits in a group are fine while the value fits 16 bits (later Go versions refuse them).
      `error spec.rules[0].from[0].source.ipBlocks[1]: ${P} bad CIDR range (12345::/64): netip.ParsePrefix("12345::/64"): ParseAddr("12345::"): IPv6 field has value >=2^16 (at "12345::")`,
      // An embedded IPv4 address's own error is nested.
      `error spec.rules[0].from[0].source.ipBlocks[2]: ${P} bad CIDR range (::ffff:1.2.3.999/128): netip.ParsePrefix("::ffff:1.2.3.999/128"): ParseAddr("::ffff:1.2.3.999"): ParseAddr("1.2.3.999"): IPv4 field has value >255 (at "1.2.3.999")`,
    ],
  );
});

test('AuthorizationPolicy: when conditions', () => {
  assert.deepEqual(
    check(`
  rules:
  - when:
    - key: ""
      values: [a]
    - key: source.ip
    - key: source.ip
      values: ["1.1.1.1/40", "x"]
      notValues: [""]
    - key: request.headers
      values: [a]
    - key: destination.port
      values: ["65536"]
    - key: destination.namespace
      values: [a]
    - key: destination.name
      notValues: [a]
    - key: foo
      values: [a]
`),
    [
      `error spec.rules[0].when[0].key: ${P} \`key\` must not be empty`,
      `error spec.rules[0].when[1]: ${P} at least one of \`values\` or \`notValues\` must be set for key source.ip`,
      `error spec.rules[0].when[2].values: ${P} invalid \`value\` for \`key\` source.ip: 2 errors occurred:\n\t* bad CIDR range (1.1.1.1/40): netip.ParsePrefix("1.1.1.1/40"): prefix length out of range\n\t* bad IP address (x)\n\n`,
      `error spec.rules[0].when[2].notValues: ${P} invalid \`notValue\` for \`key\` source.ip: empty value not allowed, found in source.ip`,
      `error spec.rules[0].when[3].values: ${P} invalid \`value\` for \`key\` request.headers: bad key (request.headers): should have format a[b]`,
      `error spec.rules[0].when[3].notValues: ${P} invalid \`notValue\` for \`key\` request.headers: bad key (request.headers): should have format a[b]`,
      `error spec.rules[0].when[4].values: ${P} invalid \`value\` for \`key\` destination.port: 1 error occurred:\n\t* bad port (65536): <nil>\n\n`,
      `error spec.rules[0].when[5].values: ${P} invalid \`value\` for \`key\` destination.namespace: attribute destination.namespace is replaced by the metadata.namespace`,
      `error spec.rules[0].when[5].notValues: ${P} invalid \`notValue\` for \`key\` destination.namespace: attribute destination.namespace is replaced by the metadata.namespace`,
      `error spec.rules[0].when[6].values: ${P} invalid \`value\` for \`key\` destination.name: deprecated attribute destination.name: only supported in v1alpha1`,
      `error spec.rules[0].when[6].notValues: ${P} invalid \`notValue\` for \`key\` destination.name: deprecated attribute destination.name: only supported in v1alpha1`,
      `error spec.rules[0].when[7].values: ${P} invalid \`value\` for \`key\` foo: unknown attribute: foo`,
      `error spec.rules[0].when[7].notValues: ${P} invalid \`notValue\` for \`key\` foo: unknown attribute: foo`,
    ],
  );
});

test('AuthorizationPolicy: selector errors are prefixed too', () => {
  assert.deepEqual(check('  selector:\n    matchLabels: {app: "*", "": v1}\n'), [
    `error spec.selector.matchLabels.app: ${P} wildcard is not supported in selector: "app=*"`,
    `error spec.selector.matchLabels: ${P} empty key is not supported in selector: "=v1"`,
  ]);
});

test('AuthorizationPolicy: a DENY rule with only HTTP attributes warns once, at the last such rule', () => {
  const warning =
    'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port';
  assert.deepEqual(
    check(`
  action: DENY
  rules:
  - to: [{operation: {methods: [GET]}}]
  - from: [{source: {requestPrincipals: ["*"]}}]
  - from: [{source: {principals: ["*"]}}]
`),
    [`warning spec.rules[1]: ${warning}`],
  );
  // Ports, or TCP-capable sources without an operation, keep DENY quiet; ALLOW never warns.
  assert.deepEqual(
    check('  action: DENY\n  rules:\n  - to: [{operation: {methods: [GET], ports: ["80"]}}]\n'),
    [],
  );
  assert.deepEqual(check('  action: ALLOW\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n'), []);
});

test('AuthorizationPolicy: values of the wrong type never crash the validator', () => {
  // Istio's decoder rejects these before any rule runs.
  assert.deepEqual(check('  rules: "x"\n  action: [1]\n  selector: 3\n'), [
    'error spec.selector: cannot decode spec.selector: json: cannot unmarshal number into Go value of type map[string]json.RawMessage',
    'error spec.rules: cannot decode spec.rules: json: cannot unmarshal string into Go value of type []json.RawMessage',
    'error spec.action: cannot decode spec.action: json: cannot unmarshal array into Go value of type protoreflect.EnumNumber',
  ]);
  assert.deepEqual(check('  rules:\n  - from: 1\n    to: {a: 1}\n    when: [null, 3]\n'), [
    'error spec.rules[0].from: cannot decode spec.rules[0].from: json: cannot unmarshal number into Go value of type []json.RawMessage',
    'error spec.rules[0].to: cannot decode spec.rules[0].to: json: cannot unmarshal object into Go value of type []json.RawMessage',
    'error spec.rules[0].when[1]: cannot decode spec.rules[0].when[1]: json: cannot unmarshal number into Go value of type map[string]json.RawMessage',
  ]);
  // null decodes as unset, so the rules still run.
  assert.deepEqual(check('  rules:\n  - when: [null]\n'), [
    `error spec.rules[0].when[0]: ${P} \`key\` must not be empty`,
  ]);
});

test('skiff analyze reports security and telemetry validation errors as IST0106', async () => {
  const manifest = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-get
  namespace: foo
spec:
  action: DENY
  rules:
  - to:
    - operation: {methods: ["GET"], ports: ["70000"]}
---
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  accessLogging:
  - filter: {expression: "response.code >="}
`;
  const run = await runSkiff(['analyze', '--use-kube=false', '-A', '-'], { stdin: manifest });
  assert.match(
    run.stdout,
    /Error \[IST0106\] \(AuthorizationPolicy foo\/deny-get [^)]*\) Schema validation error: invalid policy deny-get\.foo: bad port \(70000\): <nil>\n/,
  );
  assert.match(
    run.stdout,
    /Error \[IST0106\] \(Telemetry istio-system\/mesh-default [^)]*\) Schema validation error: must be a valid CEL expression, <input>:1:15: found > but expecting end of input\n/,
  );
  assert.equal(run.code, 79);
});

test('AuthorizationPolicy: an unknown action is a decode error; an action may be given by number', () => {
  assert.deepEqual(check('  action: REJECT\n  rules: [{}]\n'), [
    'error spec.action: cannot decode spec.action: unknown value "REJECT" for enum istio.security.v1beta1.AuthorizationPolicy.Action',
  ]);
  // 1 is DENY, which needs rules; 0 is ALLOW.
  assert.deepEqual(check('  action: 1\n'), [
    `error spec.rules: ${P} DENY action without \`rules\` is meaningless as it will never be triggered, add an empty rule \`{}\` if you want it be triggered for every request`,
  ]);
  assert.deepEqual(check('  action: 0\n  rules: [{}]\n'), []);
});

test('AuthorizationPolicy: ports are strings; numbers and other wrong JSON types are decode errors', () => {
  assert.deepEqual(check('  rules:\n  - to: [{operation: {ports: ["8080"], notPorts: ["9090"]}}]\n'), []);
  assert.deepEqual(
    check(`
  selector: {matchLabels: {app: {name: httpbin}}}
  rules:
  - from: [{source: {principals: "cluster.local/ns/foo/sa/bar", namespaces: [{name: foo}]}}]
    to: [{operation: {ports: [8080, "9090"], methods: GET}}]
    when: [{key: "request.headers[x]", values: x}]
`),
    [
      'error spec.selector.matchLabels.app: cannot decode spec.selector.matchLabels.app: json: cannot unmarshal object into Go value of type string',
      'error spec.rules[0].from[0].source.principals: cannot decode spec.rules[0].from[0].source.principals: json: cannot unmarshal string into Go value of type []json.RawMessage',
      'error spec.rules[0].from[0].source.namespaces[0]: cannot decode spec.rules[0].from[0].source.namespaces[0]: json: cannot unmarshal object into Go value of type string',
      'error spec.rules[0].to[0].operation.ports[0]: cannot decode spec.rules[0].to[0].operation.ports[0]: json: cannot unmarshal number into Go value of type string',
      'error spec.rules[0].to[0].operation.methods: cannot decode spec.rules[0].to[0].operation.methods: json: cannot unmarshal string into Go value of type []json.RawMessage',
      'error spec.rules[0].when[0].values: cannot decode spec.rules[0].when[0].values: json: cannot unmarshal string into Go value of type []json.RawMessage',
    ],
  );
});
