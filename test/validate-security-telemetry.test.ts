import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

function check(apiVersion: string, kind: string, spec: string): string[] {
  const yaml = `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: t\n  namespace: foo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

const telemetry = (spec: string) => check('telemetry.istio.io/v1alpha1', 'Telemetry', spec);
const wasm = (spec: string) => check('extensions.istio.io/v1alpha1', 'WasmPlugin', spec);

/** The Telemetry error for one access-log filter expression, or undefined when it parses. */
function filterError(expression: string): string | undefined {
  const issues = telemetry(
    `  accessLogging:\n  - filter:\n      expression: ${JSON.stringify(expression)}\n`,
  );
  assert.ok(issues.length <= 1, issues.join('\n'));
  const prefix = 'error spec.accessLogging[0].filter.expression: must be a valid CEL expression, ';
  if (issues[0] === undefined) return undefined;
  assert.ok(issues[0].startsWith(prefix), issues[0]);
  return issues[0].slice(prefix.length);
}

test('Telemetry: realistic metrics, tracing and access logging are valid', () => {
  assert.deepEqual(
    telemetry(`
  selector:
    matchLabels: {app: reviews}
  metrics:
  - providers: [{name: prometheus}]
    overrides:
    - match: {metric: REQUEST_COUNT, mode: CLIENT_AND_SERVER}
      tagOverrides:
        request_host: {value: "request.host"}
        response_code: {operation: REMOVE}
    - match: {customMetric: my_metric}
      disabled: true
  tracing:
  - providers: [{name: zipkin}]
    randomSamplingPercentage: 10.5
    customTags:
      cluster: {literal: {value: east}}
      pod: {environment: {name: POD_NAME, defaultValue: unknown}}
      user: {header: {name: x-user}}
  accessLogging:
  - providers: [{name: envoy}]
    filter:
      expression: "response.code >= 400 || xds.cluster_name.startsWith('outbound') && !connection.mtls"
  - filter:
      expression: |
        // errors and slow requests
        response.code in [500, 503] ||
        (response.duration > duration('1s') ? true : false) ||
        request.headers['x-debug'] == "on"
`),
    [],
  );
});

test('Telemetry: providers, overrides and custom metrics', () => {
  assert.deepEqual(
    telemetry(`
  metrics:
  - providers: [{name: prometheus}, {}, {name: ""}]
    overrides:
    - match: {customMetric: ""}
      tagOverrides:
        request_host: {value: ""}
        "": {operation: REMOVE, value: x}
        removed: {operation: 1}
`),
    [
      'error spec.metrics[0].providers[1]: providers.name may not be empty',
      'error spec.metrics[0].overrides[0].tagOverrides.request_host: tagOverrides.value must be set set when operation is UPSERT',
      'warning spec.metrics[0].overrides[0].tagOverrides: tagOverrides.name may not be empty',
      'error spec.metrics[0].overrides[0].tagOverrides: tagOverrides.value may only be set when operation is UPSERT',
      'error spec.metrics[0].overrides[0].match.customMetric: customMetric may not be empty',
    ],
  );
});

test('Telemetry: tracing checks', () => {
  assert.deepEqual(
    telemetry(`
  tracing:
  - providers: [{name: a}, {name: b}]
    randomSamplingPercentage: 100.5
    customTags:
      "": {literal: {value: x}}
      lit: {literal: {}}
      env: {environment: {defaultValue: x}}
      hdr: {header: {name: ""}}
  - randomSamplingPercentage: -1
`),
    [
      'warning spec.tracing: multiple tracing is not currently supported',
      'warning spec.tracing[0].providers: multiple providers is not currently supported',
      'error spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage must be in range [0.0, 100.0]',
      'error spec.tracing[0].customTags: tag name may not be empty',
      'error spec.tracing[0].customTags.lit.literal: literal tag value may not be empty',
      'error spec.tracing[0].customTags.env.environment: environment tag name may not be empty',
      'error spec.tracing[0].customTags.hdr.header: header tag name may not be empty',
      'error spec.tracing[1].randomSamplingPercentage: randomSamplingPercentage must be in range [0.0, 100.0]',
    ],
  );
});

test('Telemetry: access log filters must parse as CEL, with @bufbuild/cel error texts', () => {
  assert.equal(filterError('response.code >= 400'), undefined);
  assert.equal(filterError('has(request.headers.foo)'), undefined);
  assert.equal(filterError('-9223372036854775808 < 1'), undefined);
  assert.equal(filterError('response.code >= 400 &&'), '<input>:1:22: found & but expecting end of input');
  assert.equal(filterError('a | b'), '<input>:1:3: found | but expecting end of input');
  assert.equal(filterError('{"a": 1}."a"'), '<input>:1:9: found . but expecting end of input');
  assert.equal(filterError('self.true == 1'), '<input>:1:6: reserved keyword');
  assert.equal(filterError('{a}'), "<input>:1:3: found } but expecting ':'");
  assert.equal(filterError('if'), '<input>:1:1: reserved identifier');
  // Optional syntax is not part of the language Istio 1.17 parses, nor of the library's default one.
  assert.equal(filterError('a.?b'), '<input>:1:2: found . but expecting end of input');
  // Positions count lines and columns.
  assert.equal(filterError('a &&\n  "ü" == b +'), '<input>:2:12: found + but expecting end of input');
  // Errors the parser throws outside its syntax errors are reported too, never a crash.
  assert.equal(filterError('"\\xFh"'), 'Invalid code point NaN');
  // An empty expression is not a valid one.
  assert.deepEqual(telemetry('  accessLogging:\n  - filter: {}\n'), [
    "error spec.accessLogging[0].filter: must be a valid CEL expression, <input>:1:1: found end of input but expecting '!', '(', '-', '.', '[', '{', boolean literal, bytes literal, comment, float literal, identifier, integer literal, null literal, selector, string literal, unsigned integer literal, or whitespace",
  ]);
});

test('Telemetry: CEL that Istio 1.17 (cel-go) rejects after parsing, but @bufbuild/cel accepts', () => {
  // Known deviations since the switch to @bufbuild/cel: istioctl reports these (invalid double literal,
  // invalid int literal, invalid argument to has() macro, argument must be a simple name, invalid \u
  // escape, expression recursion limit exceeded: 250); skiff does not.
  assert.equal(filterError('1.99e90000009'), undefined);
  assert.equal(filterError('9223372036854775808 > 1'), undefined);
  assert.equal(filterError('has(a)'), undefined);
  assert.equal(filterError('[1].all(x.y, true)'), undefined);
  assert.equal(filterError('"\\u12"'), undefined);
  assert.equal(filterError(Array(300).fill('a').join(' + ')), undefined);
});

test('Telemetry: very deep or very long CEL is an error, not a crash', () => {
  const deep = `${'('.repeat(30_000)}a${')'.repeat(30_000)}`;
  assert.equal(filterError(deep), 'Maximum call stack size exceeded');
  assert.equal(filterError(`${'('.repeat(200)}a${')'.repeat(200)}`), undefined);
  // cel-go's size limit, checked before parsing, with cel-go's text.
  const long = `"${'x'.repeat(100_000)}"`;
  assert.equal(
    filterError(long),
    'ERROR: <input>:-1:0: expression code point size exceeds limit: size: 100002, limit 100000',
  );
  // At the limit it parses.
  assert.equal(filterError(`"${'x'.repeat(99_998)}"`), undefined);
});

test('WasmPlugin: a realistic plugin is valid', () => {
  assert.deepEqual(
    wasm(`
  selector:
    matchLabels: {istio: ingressgateway}
  url: oci://ghcr.io/istio-ecosystem/wasm-extensions/basic_auth:1.12.0
  sha256: 9a9f2b4b81b7b2a4b4d4d8b0d0f4a0e0c4b4a4d4e4f4a4b4c4d4e4f4a4b4c4d4
  imagePullPolicy: IfNotPresent
  phase: AUTHN
  priority: 10
  pluginConfig:
    basic_auth_rules:
    - prefix: "/productpage"
      request_methods: ["GET", "POST"]
  vmConfig:
    env:
    - name: POD_NAME
      valueFrom: HOST
    - name: TRUST_DOMAIN
      value: cluster.local
  match:
  - mode: SERVER
    ports: [{number: 8080}]
`),
    [],
  );
  assert.deepEqual(wasm('  url: file:///opt/filters/plugin.wasm\n'), []);
  assert.deepEqual(wasm('  url: plugin.wasm\n'), []);
});

test('WasmPlugin: url, sha256, env and match ports', () => {
  assert.deepEqual(
    wasm(`
  url: s3://bucket/plugin.wasm
  sha256: ABCDEF
  vmConfig:
    env: [{name: A}, {name: A}, {name: ""}]
  match:
  - ports: [{number: 80}, {}]
  - ports: [{number: 70000}]
`),
    [
      'error spec.url: url contains unsupported scheme: s3',
      'error spec.sha256: sha256 field must be 64 characters long',
      'error spec.vmConfig.env[1]: duplicate env',
      'error spec.match[0].ports[1]: spec.Match[0].Ports[1] is out of range: 0',
    ],
  );
  assert.deepEqual(
    wasm(`
  sha256: 9A9F2B4B81B7B2A4B4D4D8B0D0F4A0E0C4B4A4D4E4F4A4B4C4D4E4F4A4B4C4D4
  vmConfig: {env: [{value: x}]}
  match: [{ports: [{number: 70000}]}]
`),
    [
      'error spec.url: url field needs to be set',
      'error spec.sha256: sha256 field must match [a-f0-9]{64} pattern',
      'error spec.vmConfig.env[0]: spec.vmConfig.env invalid',
      'error spec.match[0].ports[0]: spec.Match[0].Ports[0] is out of range: 70000',
    ],
  );
  assert.deepEqual(wasm('  url: "http://[::1"\n'), [
    'error spec.url: failed to parse url: parse "http://[::1": missing \']\' in host',
  ]);
  assert.deepEqual(wasm('  url: "https://example.com/a\\u0001"\n'), [
    'error spec.url: failed to parse url: parse "https://example.com/a\\x01": net/url: invalid control character in URL',
  ]);
  assert.deepEqual(wasm('  url: "oci://reg.io/p:v1"\n  selector: {matchLabels: {"": x}}\n'), [
    'error spec.selector.matchLabels: empty key is not supported in selector: "=x"',
  ]);
});
