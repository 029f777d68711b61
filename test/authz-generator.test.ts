import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Json } from '../src/xds/index.js';
import {
  authzHttpFilters,
  generateProxyResources,
  roundTrip,
  setAuthzLogSink,
  TYPE,
  withTrustDomainAliases,
} from '../src/xds/index.js';
import {
  chainsForPort,
  ensureRbacProtos,
  hcmOf,
  httpRbac,
  proxyOf,
  pushFor,
  resourcesOf,
  tcpRbac,
  virtualInbound,
} from './authz-fixtures.js';

const PEER = 'io.istio.peer_principal';
const fs = (m: Json): Json => ({ filterState: { key: PEER, stringMatch: m } });
const or = (ids: Json[]): Json => ({ orIds: { ids } });
const orRules = (rules: Json[]): Json => ({ orRules: { rules } });

const ALL_FIELDS = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: all-fields, namespace: shop }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from:
    - source:
        principals: [cluster.local/ns/shop/sa/sleep, "*/sa/admin"]
        notNamespaces: [dev]
        ipBlocks: [10.0.0.0/8]
        remoteIpBlocks: [203.0.113.7]
    to:
    - operation:
        hosts: [reviews.shop.svc.cluster.local]
        methods: [GET, HEAD]
        paths: [/api/*, "*/info", /exact, "*"]
        notPaths: [/api/private*]
        ports: ["9080"]
    when:
    - key: "request.headers[x-user]"
      values: [jason]
    - key: source.namespace
      values: [shop]
    - key: destination.port
      notValues: ["5432"]
    - key: connection.sni
      values: ["*.example.com"]
    - key: source.principal
      values: ["*"]
`;

test('one rule with every field becomes the policy Istio 1.17 generates', () => {
  const res = resourcesOf(pushFor(ALL_FIELDS), 'reviews-0');
  const [allow] = httpRbac(res);
  assert.ok(allow);
  assert.equal(allow['@type'], 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC');
  const rules = allow['rules'] as Json;
  assert.equal(rules['action'], undefined, 'ALLOW is the zero value and left out');
  const policy = (rules['policies'] as Json)['ns[shop]-policy[all-fields]-rule[0]'];
  assert.deepEqual(policy, {
    permissions: [
      {
        andRules: {
          rules: [
            orRules([
              {
                header: {
                  name: ':authority',
                  stringMatch: { exact: 'reviews.shop.svc.cluster.local', ignoreCase: true },
                },
              },
            ]),
            orRules([
              { header: { name: ':method', exactMatch: 'GET' } },
              { header: { name: ':method', exactMatch: 'HEAD' } },
            ]),
            orRules([
              { urlPath: { path: { prefix: '/api/' } } },
              { urlPath: { path: { suffix: '/info' } } },
              { urlPath: { path: { exact: '/exact' } } },
              { urlPath: { path: { safeRegex: { regex: '.+' } } } },
            ]),
            { notRule: orRules([{ urlPath: { path: { prefix: '/api/private' } } }]) },
            orRules([{ destinationPort: 9080 }]),
            { notRule: orRules([{ destinationPort: 5432 }]) },
            orRules([{ requestedServerName: { suffix: '.example.com' } }]),
          ],
        },
      },
    ],
    principals: [
      {
        andIds: {
          ids: [
            or([
              fs({ exact: 'spiffe://cluster.local/ns/shop/sa/sleep' }),
              fs({ safeRegex: { regex: 'spiffe://.*/sa/admin' } }),
            ]),
            { notId: or([fs({ safeRegex: { regex: '.*/ns/dev/.*' } })]) },
            or([{ remoteIp: { addressPrefix: '203.0.113.7', prefixLen: 32 } }]),
            or([{ directRemoteIp: { addressPrefix: '10.0.0.0', prefixLen: 8 } }]),
            or([{ header: { name: 'x-user', exactMatch: 'jason' } }]),
            or([fs({ safeRegex: { regex: '.*/ns/shop/.*' } })]),
            or([fs({ safeRegex: { regex: '.+' } })]),
          ],
        },
      },
    ],
  });
});

test('pre-1.17 proxies match peers with authenticated.principalName', () => {
  const res = resourcesOf(pushFor(ALL_FIELDS), 'reviews-0', '1.16.2');
  const policy = ((httpRbac(res)[0]?.['rules'] as Json)['policies'] as Json)[
    'ns[shop]-policy[all-fields]-rule[0]'
  ] as Json;
  const ids = (((policy['principals'] as Json[])[0] as Json)['andIds'] as Json)['ids'] as Json[];
  assert.deepEqual(ids[0], {
    orIds: {
      ids: [
        { authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/shop/sa/sleep' } } },
        { authenticated: { principalName: { safeRegex: { regex: 'spiffe://.*/sa/admin' } } } },
      ],
    },
  });
});

const THREE_ACTIONS = `
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: shop, creationTimestamp: "2026-01-01T00:00:02Z" }
spec:
  rules: [{ to: [{ operation: { methods: [GET] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: istio-system, creationTimestamp: "2026-01-01T00:00:01Z" }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin] } }] }, { from: [{ source: { notNamespaces: [shop] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: audit-all, namespace: shop }
spec:
  action: AUDIT
  rules: [{}]
`;

test('filters come AUDIT (LOG), DENY, ALLOW right after metadata exchange, each its own filter', () => {
  const res = resourcesOf(pushFor(THREE_ACTIONS), 'reviews-0');
  const chain = chainsForPort(res, 9080)[0];
  assert.ok(chain);
  const names = (hcmOf(chain)['httpFilters'] as Json[]).map((f) => f['name']);
  assert.deepEqual(names.slice(0, 5), [
    'istio.metadata_exchange',
    'envoy.filters.http.rbac',
    'envoy.filters.http.rbac',
    'envoy.filters.http.rbac',
    'envoy.filters.http.grpc_stats',
  ]);
  assert.equal(names.at(-1), 'envoy.filters.http.router');
  const [log, deny, allow] = httpRbac(res).map((c) => c['rules'] as Json);
  assert.equal(log?.['action'], 'LOG');
  assert.deepEqual(Object.keys(log?.['policies'] as Json), ['ns[shop]-policy[audit-all]-rule[0]']);
  assert.equal(deny?.['action'], 'DENY');
  assert.deepEqual(Object.keys(deny?.['policies'] as Json), [
    'ns[istio-system]-policy[deny-admin]-rule[0]',
    'ns[istio-system]-policy[deny-admin]-rule[1]',
  ]);
  assert.equal(allow?.['action'], undefined);
  assert.deepEqual(Object.keys(allow?.['policies'] as Json), ['ns[shop]-policy[allow-get]-rule[0]']);
  // `rules: [{}]` matches everything.
  assert.deepEqual((log?.['policies'] as Json)['ns[shop]-policy[audit-all]-rule[0]'], {
    permissions: [{ andRules: { rules: [{ any: true }] } }],
    principals: [{ andIds: { ids: [{ any: true }] } }],
  });
});

test('TCP chains: ALLOW rules with HTTP-only fields are dropped, DENY ones lose the field and widen', () => {
  const res = resourcesOf(pushFor(THREE_ACTIONS), 'reviews-0');
  const [log, deny, allow] = tcpRbac(res);
  assert.ok(log && deny && allow);
  assert.equal(deny['statPrefix'], 'tcp.');
  // ALLOW with only `methods`: nothing left, so an ALLOW filter without policies (deny all).
  assert.deepEqual(allow['rules'], {});
  // DENY with only `paths`: becomes "any permission" (denies every TCP connection).
  const denyPolicies = (deny['rules'] as Json)['policies'] as Json;
  assert.deepEqual(denyPolicies['ns[istio-system]-policy[deny-admin]-rule[0]'], {
    permissions: [{ andRules: { rules: [{ any: true }] } }],
    principals: [{ andIds: { ids: [{ any: true }] } }],
  });
  // The namespace rule is not HTTP-only and survives unchanged.
  assert.ok(denyPolicies['ns[istio-system]-policy[deny-admin]-rule[1]']);
  const filters = (chainsForPort(res, 5432)[0]?.['filters'] as Json[]).map((f) => f['name']);
  assert.deepEqual(filters, [
    'istio_authn',
    'istio.metadata_exchange',
    'envoy.filters.network.rbac',
    'envoy.filters.network.rbac',
    'envoy.filters.network.rbac',
    'envoy.filters.network.tcp_proxy',
  ]);
});

test('selection: workload selector, namespace-wide and root-namespace policies; others untouched', () => {
  const push = pushFor(`
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: only-ratings, namespace: shop }
spec:
  selector: { matchLabels: { app: ratings } }
  rules: [{}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: other-ns, namespace: dev }
spec: { rules: [{}] }
`);
  assert.deepEqual(httpRbac(resourcesOf(push, 'reviews-0')), []);
  const ratings = httpRbac(resourcesOf(push, 'ratings-0'));
  assert.equal(ratings.length, 1);
  assert.deepEqual(Object.keys((ratings[0]?.['rules'] as Json)['policies'] as Json), [
    'ns[shop]-policy[only-ratings]-rule[0]',
  ]);
  // Not on sidecar outbound HCMs.
  assert.deepEqual(authzHttpFilters(push, proxyOf(push, 'ratings-0'), 'sidecar-outbound'), []);
  assert.equal(authzHttpFilters(push, proxyOf(push, 'ratings-0'), 'gateway').length, 1);
});

test('default deny: a policy without rules never matches; spec {} is allow-nothing', () => {
  const res = resourcesOf(
    pushFor(`
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: allow-nothing, namespace: shop }
spec: {}
`),
    'reviews-0',
  );
  const [allow] = httpRbac(res);
  assert.deepEqual(allow?.['rules'], {
    policies: {
      'ns[shop]-policy[allow-nothing]-rule[0]': {
        permissions: [{ notRule: { any: true } }],
        principals: [{ notId: { any: true } }],
      },
    },
  });
});

test('dry-run policies go to shadow rules; CUSTOM is skipped with a warning; bad rules never crash', () => {
  const lines: string[] = [];
  setAuthzLogSink((l) => lines.push(l));
  try {
    const res = resourcesOf(
      pushFor(`
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: dry, namespace: shop, annotations: { istio.io/dry-run: "true" } }
spec:
  action: DENY
  rules: [{ to: [{ operation: { methods: [POST] } }] }]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: shop }
spec:
  action: CUSTOM
  provider: { name: my-ext-authz }
  rules: [{}]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: odd, namespace: shop }
spec:
  rules:
  - when: [{ key: unknown.attribute, values: [x] }]
  - from: [{ source: { ipBlocks: [not-an-ip] } }]
  - null
  - to: [{ operation: { ports: ["99999"] } }]
  - from: [{}]
`),
      'reviews-0',
    );
    const [deny, allow] = httpRbac(res);
    assert.equal(deny?.['rules'], undefined, 'a dry-run-only filter enforces nothing');
    assert.equal((deny?.['shadowRules'] as Json)['action'], 'DENY');
    assert.equal(deny?.['shadowRulesStatPrefix'], 'istio_dry_run_deny_');
    // Only the rule with an empty source survives.
    assert.deepEqual(Object.keys((allow?.['rules'] as Json)['policies'] as Json), [
      'ns[shop]-policy[odd]-rule[4]',
    ]);
    assert.ok(
      lines.some((l) => /warn\tauthorization\tignored CUSTOM authorization policy shop\.ext/.test(l)),
    );
    assert.equal(lines.filter((l) => l.includes('shop.ext')).length, 1, 'logged once per push');
  } finally {
    setAuthzLogSink((l) => process.stderr.write(`${l}\n`));
  }
});

test('trust domain aliases expand principals; patterns and other trust domains are left alone', () => {
  assert.deepEqual(withTrustDomainAliases(['cluster.local/ns/a/sa/b'], ['td1', 'old-td']), [
    'td1/ns/a/sa/b',
    'old-td/ns/a/sa/b',
  ]);
  assert.deepEqual(withTrustDomainAliases(['*/ns/a/sa/b', 'foo'], ['td1']), ['*/ns/a/sa/b', 'foo']);
  assert.deepEqual(withTrustDomainAliases(['other/ns/a/sa/b'], ['td1']), ['other/ns/a/sa/b']);
});

test('HCM path options follow mesh pathNormalization', () => {
  const pathOpts = (mode?: string): Json => {
    const mesh = mode === undefined ? undefined : `pathNormalization: { normalization: ${mode} }`;
    const hcm = hcmOf(chainsForPort(resourcesOf(pushFor('', mesh), 'reviews-0'), 9080)[0] as Json);
    return {
      normalizePath: hcm['normalizePath'],
      mergeSlashes: hcm['mergeSlashes'],
      action: hcm['pathWithEscapedSlashesAction'],
    };
  };
  const expect = (normalizePath: boolean, mergeSlashes: boolean | undefined, action: string): Json => ({
    normalizePath,
    mergeSlashes,
    action,
  });
  assert.deepEqual(pathOpts(), expect(true, undefined, 'KEEP_UNCHANGED'));
  assert.deepEqual(pathOpts('BASE'), expect(true, undefined, 'KEEP_UNCHANGED'));
  assert.deepEqual(pathOpts('NONE'), expect(false, undefined, 'KEEP_UNCHANGED'));
  assert.deepEqual(pathOpts('MERGE_SLASHES'), expect(true, true, 'KEEP_UNCHANGED'));
  assert.deepEqual(pathOpts('DECODE_AND_MERGE_SLASHES'), expect(true, true, 'UNESCAPE_AND_FORWARD'));
});

test('every generated listener with RBAC filters round-trips through the Envoy protos', () => {
  ensureRbacProtos();
  const push = pushFor(`${ALL_FIELDS}\n---\n${THREE_ACTIONS}`);
  const res = generateProxyResources(push, proxyOf(push, 'reviews-0'));
  const listener = virtualInbound(res);
  const result = roundTrip(TYPE.Listener, listener);
  assert.deepEqual(result.lost, []);
  // The network filter's typed config survives too (checked on its own for a precise message).
  const { ['@type']: tcpType, ...tcp } = tcpRbac(res)[1] as Json;
  assert.deepEqual(roundTrip(String(tcpType), tcp).lost, []);
  // A typo is reported, so the check can fail.
  const { ['@type']: httpType, ...http } = httpRbac(res)[0] as Json;
  assert.deepEqual(roundTrip(String(httpType), { ...http, shadowRulez: {} }).lost, ['shadowRulez']);
});
