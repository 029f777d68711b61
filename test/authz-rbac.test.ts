import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CompiledRbac, RbacAttributes } from '../src/proxy/index.js';
import {
  ConfigError,
  RBAC_DENIED_BODY,
  compileRbacFilter,
  evaluateRbac,
  rbacDynamicMetadata,
  rbacResponseCodeDetails,
} from '../src/proxy/index.js';
import type { Json } from '../src/xds/index.js';
import { httpRbac, pushFor, resourcesOf, tcpRbac } from './authz-fixtures.js';

const SLEEP = 'spiffe://cluster.local/ns/shop/sa/sleep';

function req(path: string, extra: Partial<RbacAttributes> = {}, headers: Json = {}): RbacAttributes {
  return {
    directRemoteAddress: '10.1.0.9',
    destinationPort: 9080,
    peerPrincipal: SLEEP,
    headers: { ':authority': 'reviews:9080', ':method': 'GET', ':path': path, ...headers } as Record<
      string,
      string
    >,
    ...extra,
  };
}

/** Runs the generated HTTP filters in order, as the engine will: the first denial wins. */
function chain(filters: CompiledRbac[], attrs: RbacAttributes): { allowed: boolean; details?: string } {
  for (const f of filters) {
    const d = evaluateRbac(f, attrs);
    if (!d.allowed) return { allowed: false, details: rbacResponseCodeDetails(d) };
  }
  return { allowed: true };
}

const POLICIES = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: shop }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin*] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: allow-api, namespace: shop }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from: [{ source: { principals: [cluster.local/ns/shop/sa/sleep, cluster.local/ns/shop/sa/admin] } }]
    to: [{ operation: { methods: [GET], paths: ["/*"], notPaths: [/api/private*] } }]
  - from: [{ source: { ipBlocks: [192.168.0.0/16], notIpBlocks: [192.168.7.0/24] } }]
  - when: [{ key: "request.headers[x-token]", values: [secret*] }]
`;

function compiled(policies = POLICIES): CompiledRbac[] {
  return httpRbac(resourcesOf(pushFor(policies), 'reviews-0')).map(compileRbacFilter);
}

test('DENY is checked before ALLOW: an allowed principal is still denied /admin', () => {
  const filters = compiled();
  assert.deepEqual(chain(filters, req('/reviews/1')), { allowed: true });
  const denied = chain(filters, req('/admin/users'));
  assert.equal(denied.allowed, false);
  assert.equal(denied.details, 'rbac_access_denied_matched_policy[ns[shop]-policy[deny-admin]-rule[0]]');
  assert.equal(RBAC_DENIED_BODY, 'RBAC: access denied');
});

test('default deny with an ALLOW policy: nothing matched → denied with [none]', () => {
  const filters = compiled();
  const stranger = req('/reviews/1', { peerPrincipal: 'spiffe://cluster.local/ns/dev/sa/x' });
  assert.deepEqual(chain(filters, stranger), {
    allowed: false,
    details: 'rbac_access_denied_matched_policy[none]',
  });
  // Plaintext (no peer certificate) cannot match a principal either.
  assert.equal(chain(filters, req('/reviews/1', { peerPrincipal: undefined })).allowed, false);
  // POST is not GET.
  assert.equal(chain(filters, req('/reviews/1', {}, { ':method': 'POST' })).allowed, false);
});

test('notPaths carve out of paths; the query string is not part of url_path', () => {
  const filters = compiled();
  assert.equal(chain(filters, req('/api/private/keys')).allowed, false);
  assert.equal(chain(filters, req('/api/public?x=/api/private')).allowed, true);
  // Paths are case-sensitive: /ADMIN is not /admin (normalization does not fold case).
  assert.equal(chain(filters, req('/ADMIN')).allowed, true);
});

test('ipBlocks and notIpBlocks match CIDRs on the direct peer address', () => {
  const filters = compiled();
  const anon = (ip: string, remote?: string): RbacAttributes =>
    req('/x', {
      peerPrincipal: undefined,
      directRemoteAddress: ip,
      ...(remote ? { remoteAddress: remote } : {}),
    });
  assert.equal(chain(filters, anon('192.168.1.20')).allowed, true);
  assert.equal(chain(filters, anon('192.168.7.20')).allowed, false);
  assert.equal(chain(filters, anon('10.0.0.1')).allowed, false);
  // IPv4-mapped IPv6 peers count as IPv4; an XFF-derived remote address is not the direct one.
  assert.equal(chain(filters, anon('::ffff:192.168.1.20')).allowed, true);
  assert.equal(chain(filters, anon('10.0.0.1', '192.168.1.20')).allowed, false);
});

test('header conditions: prefix match on a request header, missing header does not match', () => {
  const filters = compiled();
  const anon = (headers: Json): RbacAttributes =>
    req('/x', { peerPrincipal: undefined, directRemoteAddress: '10.0.0.1' }, headers);
  assert.equal(chain(filters, anon({ 'x-token': 'secret-123' })).allowed, true);
  assert.equal(chain(filters, anon({ 'x-token': 'public' })).allowed, false);
  assert.equal(chain(filters, anon({})).allowed, false);
});

test('TCP: the network filters deny on connection attributes; HTTP-only DENY rules deny everything', () => {
  const tcp = tcpRbac(resourcesOf(pushFor(POLICIES), 'reviews-0')).map(compileRbacFilter);
  const conn: RbacAttributes = { directRemoteAddress: '192.168.1.2', destinationPort: 5432 };
  // deny-admin only names paths: on TCP it becomes "deny any".
  assert.equal(chain(tcp, conn).allowed, false);
  const allowOnly = tcpRbac(resourcesOf(pushFor(POLICIES.split('---')[1] ?? ''), 'reviews-0')).map(
    compileRbacFilter,
  );
  assert.equal(chain(allowOnly, conn).allowed, true);
  assert.equal(chain(allowOnly, { ...conn, directRemoteAddress: '10.0.0.1' }).allowed, false);
});

test('LOG marks matching requests; shadow rules report without enforcing', () => {
  const rbac = compileRbacFilter({
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
    rules: { action: 'LOG', policies: { p: { permissions: [{ any: true }], principals: [{ any: true }] } } },
    shadowRules: {
      action: 'DENY',
      policies: {
        b: { permissions: [{ destinationPort: 9080 }], principals: [{ any: true }] },
        a: { permissions: [{ destinationPort: 1 }], principals: [{ any: true }] },
      },
    },
    shadowRulesStatPrefix: 'istio_dry_run_deny_',
  });
  const d = evaluateRbac(rbac, req('/'));
  assert.deepEqual(d, {
    allowed: true,
    shadowResult: 'denied',
    shadowMatched: 'b',
    matchedPolicy: 'p',
    logHint: true,
  });
  assert.deepEqual(rbacDynamicMetadata(rbac, d), {
    istio_dry_run_deny_shadow_effective_policy_id: 'b',
    istio_dry_run_deny_shadow_engine_result: 'denied',
    access_log_hint: true,
  });
});

test('request principals and claims come from istio_authn dynamic metadata', () => {
  const filters = compiled(`
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: jwt, namespace: shop }
spec:
  rules:
  - from: [{ source: { requestPrincipals: ["issuer.example/*"] } }]
    when: [{ key: "request.auth.claims[groups]", values: [admins] }]
`);
  const withJwt = (principal: string, groups: string[]): RbacAttributes =>
    req('/', {
      dynamicMetadata: {
        istio_authn: { 'request.auth.principal': principal, 'request.auth.claims': { groups } },
      },
    });
  assert.equal(chain(filters, withJwt('issuer.example/alice', ['admins', 'x'])).allowed, true);
  assert.equal(chain(filters, withJwt('issuer.example/alice', ['users'])).allowed, false);
  assert.equal(chain(filters, withJwt('other/alice', ['admins'])).allowed, false);
  assert.equal(chain(filters, req('/')).allowed, false);
});

test('bad config is refused with the field path (the proxy NACKs it)', () => {
  const bad = (config: unknown, re: RegExp): void => {
    assert.throws(
      () => compileRbacFilter(config),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
    );
  };
  const policy = (p: Json): Json => ({ rules: { policies: { 'ns[a]-policy[b]-rule[0]': p } } });
  bad(policy({ permissions: [{}], principals: [{ any: true }] }), /permissions\[0\]: Permission has no rule/);
  bad(policy({ permissions: [{ any: true }] }), /principals: value must contain at least 1/);
  bad(
    policy({
      permissions: [{ any: true }],
      principals: [{ directRemoteIp: { addressPrefix: '10.0.0', prefixLen: 8 } }],
    }),
    /principals\[0\]\.directRemoteIp\.addressPrefix: malformed IP/,
  );
  bad(
    policy({
      permissions: [{ urlPath: { path: { safeRegex: { regex: '(' } } } }],
      principals: [{ any: true }],
    }),
    /invalid regex/,
  );
  bad({ rules: { action: 'MAYBE' } }, /rules\.action: invalid value/);
  bad('nope', /typed config must be an object/);
  // A good one compiles; no rules at all allows everything.
  assert.equal(evaluateRbac(compileRbacFilter({}), req('/')).allowed, true);
});
