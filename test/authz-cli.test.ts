import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';
import { authzCheckTable } from '../src/cli/index.js';
import { authorizationDebug } from '../src/pilot/index.js';
import type { Json } from '../src/xds/index.js';
import { buildConfigDump, generateProxyResources, toEnvoyAdminJson } from '../src/xds/index.js';
import { proxyOf, pushFor } from './authz-fixtures.js';
import { runSkiff, tempDir } from './helpers.js';

const POLICIES = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: shop, creationTimestamp: "2026-01-01T00:00:02Z" }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - to: [{ operation: { methods: [GET] } }]
  - from: [{ source: { namespaces: [shop] } }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-admin
  namespace: istio-system
  creationTimestamp: "2026-01-01T00:00:01Z"
  annotations: { team: sec, a-first: "1" }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: audit, namespace: shop }
spec: { action: AUDIT }
`;

function dumpFor(policies: string, snake: boolean): Json {
  const push = pushFor(policies);
  const proxy = proxyOf(push, 'reviews-0');
  const dump = buildConfigDump(proxy, generateProxyResources(push, proxy), {
    versionInfo: 'v1',
    lastUpdated: '2026-11-25T12:00:00Z',
  });
  return (snake ? toEnvoyAdminJson(dump) : dump) as Json;
}

test('x authz check table from a config dump our generator produced (camelCase and snake_case)', () => {
  for (const snake of [false, true]) {
    const table = authzCheckTable(dumpFor(POLICIES, snake));
    const lines = table.split('\n');
    // Go tabwriter, padding 3: every cell is padded to the widest in its column plus three spaces.
    assert.deepEqual(lines, [
      'ACTION   AuthorizationPolicy       RULES',
      'DENY     deny-admin.istio-system   1',
      'ALLOW    allow-get.shop            2',
      'LOG      audit.shop                1',
      '',
    ]);
  }
});

test('x authz check: no policies prints only the header; an empty ALLOW filter is _anonymous_match_nothing_', () => {
  assert.equal(authzCheckTable(dumpFor('', false)), 'ACTION   AuthorizationPolicy   RULES\n');
  const onlyTcpAllow = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: get-only, namespace: shop }
spec: { rules: [{ to: [{ operation: { methods: [GET] } }] }] }
`;
  const table = authzCheckTable(dumpFor(onlyTcpAllow, false));
  // HTTP chains carry the policy; TCP chains an ALLOW filter whose only rule was dropped.
  assert.match(table, /^ALLOW +get-only\.shop +1$/m);
  assert.match(table, /^ALLOW +_anonymous_match_nothing_ +1$/m);
});

test('skiff x authz check -f reads a dump file; errors name the problem', async () => {
  const dir = tempDir('skiff-authz-');
  const file = join(dir, 'dump.json');
  writeFileSync(file, JSON.stringify(dumpFor(POLICIES, true)));
  const ok = await runSkiff(['x', 'authz', 'check', '-f', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^DENY +deny-admin\.istio-system +1$/m);
  const missing = await runSkiff(['x', 'authz', 'check', '-f', join(dir, 'nope.json')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /failed to get config dump from file .*nope\.json/);
  const none = await runSkiff(['x', 'authz', 'check']);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /expecting pod name or config dump, found: 0/);
});

test('/debug/authorizationz has istiod shape: namespaces sorted, policies oldest first, jsonpb specs', () => {
  const debug = authorizationDebug(pushFor(POLICIES)) as Json;
  const body = debug['authorization_policies'] as Json;
  assert.deepEqual(Object.keys(body), ['namespace_to_policies', 'root_namespace']);
  assert.equal(body['root_namespace'], 'istio-system');
  const byNs = body['namespace_to_policies'] as Record<string, Json[]>;
  assert.deepEqual(Object.keys(byNs), ['istio-system', 'shop']);
  assert.deepEqual(
    byNs['shop']?.map((p) => p['name']),
    ['audit', 'allow-get'],
    'no timestamp sorts before any',
  );
  assert.deepEqual(byNs['istio-system']?.[0], {
    name: 'deny-admin',
    namespace: 'istio-system',
    annotations: { 'a-first': '1', team: 'sec' },
    spec: { rules: [{ to: [{ operation: { paths: ['/admin'] } }] }], action: 'DENY' },
  });
  // ALLOW is jsonpb's zero value; no annotations is null.
  const allow = byNs['shop']?.[1];
  assert.equal(allow?.['annotations'], null);
  assert.deepEqual(Object.keys(allow?.['spec'] as Json), ['selector', 'rules']);
  // The seed's empty mesh.
  assert.deepEqual(authorizationDebug(pushFor('')), {
    authorization_policies: { namespace_to_policies: {}, root_namespace: 'istio-system' },
  });
});

test('a malformed AuthorizationPolicy is refused by validation', () => {
  const [bad] = parseManifests(
    `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: bad, namespace: shop }
spec:
  action: DENY
`,
    'bad.yaml',
  ).resources;
  assert.ok(bad);
  const errors = validateResource(bad).filter((i) => i.level === 'error');
  assert.ok(errors.length > 0, 'DENY without rules is rejected');
  const [good] = parseManifests(POLICIES, 'good.yaml').resources;
  assert.ok(good);
  assert.deepEqual(
    validateResource(good).filter((i) => i.level === 'error'),
    [],
  );
});
