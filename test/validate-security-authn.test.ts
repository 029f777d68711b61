import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one object of `kind` with the given spec and returns `level path: message` lines. */
function check(kind: string, spec: string): string[] {
  const yaml = `apiVersion: security.istio.io/v1beta1\nkind: ${kind}\nmetadata:\n  name: p\n  namespace: foo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

const pa = (spec: string) => check('PeerAuthentication', spec);
const ra = (spec: string) => check('RequestAuthentication', spec);

// An RSA public key set from Istio's own validation tests.
const JWKS =
  '{ "keys":[ {"e":"AQAB","kid":"DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ","kty":"RSA","n":"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9VswgsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgXfkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85jp6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ"}]}';

test('PeerAuthentication: realistic mesh, namespace and workload policies are valid', () => {
  assert.deepEqual(pa('  mtls: {mode: STRICT}\n'), []);
  assert.deepEqual(pa('  {}\n'), []);
  assert.deepEqual(
    pa(`
  selector:
    matchLabels: {app: finance}
  mtls: {mode: STRICT}
  portLevelMtls:
    8080: {mode: DISABLE}
    "9090": {mode: PERMISSIVE}
`),
    [],
  );
});

test('PeerAuthentication: port-level mTLS needs a selector, at least one port, and no port 0', () => {
  assert.deepEqual(pa('  portLevelMtls:\n    8080: {mode: DISABLE}\n'), [
    'error spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS',
  ]);
  // An empty matchLabels counts as no selector.
  assert.deepEqual(pa('  selector: {matchLabels: {}}\n  portLevelMtls:\n    "0": {mode: DISABLE}\n'), [
    'error spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS',
    'error spec.portLevelMtls.0: port cannot be 0',
  ]);
  // jsonpb decodes an empty map as present, unlike an empty list.
  assert.deepEqual(pa('  selector: {matchLabels: {app: a}}\n  portLevelMtls: {}\n'), [
    'error spec.portLevelMtls: port level mTLS, if defined, must have at least one element',
  ]);
  assert.deepEqual(pa('  selector: {matchLabels: {"app": "a*"}}\n'), [
    'error spec.selector.matchLabels.app: wildcard is not supported in selector: "app=a*"',
  ]);
});

test('RequestAuthentication: realistic JWT rules are valid', () => {
  assert.deepEqual(
    ra(`
  selector:
    matchLabels: {istio: ingressgateway}
  jwtRules:
  - issuer: "testing@secure.istio.io"
    jwksUri: "https://raw.githubusercontent.com/istio/istio/release-1.17/security/tools/jwt/samples/jwks.json"
    audiences: ["app.example.com"]
    fromHeaders:
    - name: x-jwt-assertion
      prefix: "Bearer "
    fromParams: ["token"]
    outputClaimToHeaders:
    - header: x-jwt-sub
      claim: sub
    forwardOriginalToken: true
  - issuer: "https://accounts.google.com"
    jwks_uri: "http://[::1]:8080/certs"
  - issuer: inline
    jwks: '${JWKS}'
`),
    [],
  );
});

test('RequestAuthentication: jwtRules field checks', () => {
  assert.deepEqual(
    ra(`
  jwtRules:
  - {}
  - issuer: a
    audiences: ["ok", ""]
    fromHeaders: [{prefix: "Bearer "}]
    fromParams: [""]
    outputClaimToHeaders:
    - {header: "", claim: sub}
    - {header: "abc%123", claim: sub}
    - {header: "x-ok", claim: sub}
`),
    [
      'error spec.jwtRules[0].issuer: issuer must be set',
      'error spec.jwtRules[1].audiences[1]: audience must be non-empty string',
      'error spec.jwtRules[1].fromHeaders[0]: location header name must be non-empty string',
      'error spec.jwtRules[1].fromParams[0]: location query must be non-empty string',
      'error spec.jwtRules[1].outputClaimToHeaders[0]: outputClaimToHeaders header and claim value must be non-empty string',
      "error spec.jwtRules[1].outputClaimToHeaders[1].header: header value configuration: invalid header configuration. Un-terminated variable expression 'abc%123'",
    ],
  );
});

test('RequestAuthentication: jwksUri goes through Go url.Parse and must be http(s)', () => {
  const uri = (u: string) => ra(`  jwtRules:\n  - issuer: a\n    jwksUri: "${u}"\n`);
  assert.deepEqual(uri('foo.com'), ['error spec.jwtRules[0].jwksUri: URI scheme "" is not supported']);
  assert.deepEqual(uri('ftp://foo.com/jwks'), [
    'error spec.jwtRules[0].jwksUri: URI scheme "ftp" is not supported',
  ]);
  assert.deepEqual(uri('https://foo.com:not-a-number'), [
    'error spec.jwtRules[0].jwksUri: parse "https://foo.com:not-a-number": invalid port ":not-a-number" after host',
  ]);
  assert.deepEqual(uri('https://exa mple.com/x'), [
    'error spec.jwtRules[0].jwksUri: parse "https://exa mple.com/x": invalid character " " in host name',
  ]);
  assert.deepEqual(uri('https://foo.com/%zz'), [
    'error spec.jwtRules[0].jwksUri: parse "https://foo.com/%zz": invalid URL escape "%zz"',
  ]);
  assert.deepEqual(uri(':foo'), ['error spec.jwtRules[0].jwksUri: parse ":foo": missing protocol scheme']);
  assert.deepEqual(uri('http://foo.com:99999999999999999999/x'), [
    'error spec.jwtRules[0].jwksUri: strconv.Atoi: parsing "99999999999999999999": value out of range',
  ]);
  assert.deepEqual(uri('HTTPS://foo.com:8443/keys?x=1#frag'), []);
});

test('RequestAuthentication: inline jwks is parsed like jwx does', () => {
  const jwks = (j: string) => ra(`  jwtRules:\n  - issuer: a\n    jwks: '${j}'\n`);
  const prefix = 'error spec.jwtRules[0].jwks: jwks parse error: failed to unmarshal JWK set:';
  assert.deepEqual(jwks('foo'), [`${prefix} invalid character 'o' in literal false (expecting 'a')`]);
  assert.deepEqual(jwks('{"keys": [}'), [`${prefix} invalid character '}' looking for beginning of value`]);
  assert.deepEqual(jwks('{"keys": []'), [`${prefix} unexpected end of JSON input`]);
  assert.deepEqual(jwks('{"keys": [1.]}'), [
    `${prefix} invalid character ']' after decimal point in numeric literal`,
  ]);
  assert.deepEqual(jwks('[]'), [`${prefix} expected '{', but got '['`]);
  assert.deepEqual(jwks('{"keys": {}}'), [
    `${prefix} failed to decode "keys": json: cannot unmarshal object into Go value of type []json.RawMessage`,
  ]);
  assert.deepEqual(jwks('{"keys": [{"kty": "foo"}]}'), [
    `${prefix} failed to decode key #0 in "keys": invalid key type from JSON (foo)`,
  ]);
  assert.deepEqual(jwks('{"keys": [{"kty": "RSA", "e": "AQAB"}]}'), [
    `${prefix} failed to decode key #0 in "keys": failed to unmarshal JSON into key (*jwk.rsaPublicKey): required field n is missing`,
  ]);
  // A document without "keys" is read as a single key.
  assert.deepEqual(jwks('{"kty": "EC", "crv": "P-256", "x": "a"}'), [
    `${prefix} failed to parse sole key in key set: failed to unmarshal JSON into key (*jwk.ecdsaPublicKey): required field y is missing`,
  ]);
  assert.deepEqual(jwks('{"kty": 1}'), [
    `${prefix} failed to parse sole key in key set: failed to unmarshal JSON into key hint: json: cannot unmarshal number into Go struct field .kty of type string`,
  ]);
  assert.deepEqual(jwks('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}'), []);
});
