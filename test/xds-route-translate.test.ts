import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Json, RouteContext, VirtualServiceConfig } from '../src/xds/index.js';
import {
  buildHttpRoutesForVirtualService,
  buildPushContext,
  convertRetryPolicy,
  hashPolicyForDestination,
  roundTrip,
  TYPE,
  virtualServiceIndex,
} from '../src/xds/index.js';

const RETRY_HOST_PREDICATE = [
  {
    name: 'envoy.retry_host_predicates.previous_hosts',
    typedConfig: {
      '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
    },
  },
];
const DEFAULT_RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: 2,
  retryHostPredicate: RETRY_HOST_PREDICATE,
  hostSelectionRetryMaxAttempts: '5',
  retriableStatusCodes: [503],
};
const CONFIG_PATH = '/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/vs';
const REVIEWS = 'reviews.default.svc.cluster.local';

/** A VirtualService `vs` in `default` with the given `http:` body (indented YAML list items). */
function virtualService(http: string, extra = ''): VirtualServiceConfig {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: vs, namespace: default }
spec:
  hosts: [reviews]
  http:
${http}
${extra}`;
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'vs.yaml').resources));
  const vs = virtualServiceIndex(push).all[0];
  assert.ok(vs, 'the VirtualService is indexed');
  return vs;
}

function context(over: Partial<RouteContext> = {}): RouteContext {
  return {
    proxy: { namespace: 'default', labels: { app: 'productpage', version: 'v1' } },
    listenPort: 9080,
    gatewayNames: new Set(['mesh']),
    serviceFor: () => undefined,
    ...over,
  };
}

function routes(http: string, over: Partial<RouteContext> = {}): Json[] {
  const out = buildHttpRoutesForVirtualService(context(over), virtualService(http));
  for (const r of out) {
    // Every route must survive the Envoy proto inside a RouteConfiguration.
    const config = { name: 'test', virtualHosts: [{ name: 'h', domains: ['*'], routes: [r] }] };
    assert.deepEqual(lostOutsideUnloadedTypes(roundTrip(TYPE.RouteConfiguration, config).lost), []);
  }
  return out;
}

/**
 * Paths lost in a round trip, ignoring those inside Any values whose protos src/xds/protos.ts does not load
 * yet (the fault filter and the previous-priorities retry extension): those decode to their type URL only.
 */
function lostOutsideUnloadedTypes(lost: string[]): string[] {
  return lost.filter(
    (p) =>
      !/typedPerFilterConfig\.envoy\.filters\.http\.fault\./.test(p) &&
      !/retryPriority\.typedConfig\./.test(p),
  );
}

function only(list: Json[]): Json {
  assert.equal(list.length, 1, `one route expected, got ${JSON.stringify(list)}`);
  return list[0] as Json;
}

test('a route without match: prefix /, single cluster, default timeout and retries, metadata, decorator', () => {
  const r = only(routes('    - route: [{ destination: { host: reviews, subset: v1 } }]'));
  assert.deepEqual(r, {
    match: { prefix: '/' },
    route: {
      cluster: `outbound|9080|v1|${REVIEWS}`,
      timeout: '0s',
      retryPolicy: DEFAULT_RETRY,
      maxGrpcTimeout: '0s',
    },
    metadata: { filterMetadata: { istio: { config: CONFIG_PATH } } },
    decorator: { operation: `${REVIEWS}:9080/*` },
  });
  // Keys come in proto field order, as istioctl prints them.
  assert.deepEqual(Object.keys(r), ['match', 'route', 'metadata', 'decorator']);
});

test('uri exact / prefix / regex and ignoreUriCase; caseSensitive is written on every matched route', () => {
  const out = routes(`    - match:
        - uri: { exact: /a }
          ignoreUriCase: true
        - uri: { prefix: /b }
        - uri: { regex: "/c/[0-9]+" }
      route: [{ destination: { host: reviews } }]`);
  assert.deepEqual(
    out.map((r) => r['match']),
    [
      { path: '/a', caseSensitive: false },
      { prefix: '/b', caseSensitive: true },
      { safeRegex: { regex: '/c/[0-9]+' }, caseSensitive: true },
    ],
  );
  assert.deepEqual(
    out.map((r) => (r['decorator'] as Json)['operation']),
    [`${REVIEWS}:9080/a`, `${REVIEWS}:9080/b*`, `${REVIEWS}:9080/c/[0-9]+`],
  );
});

test('headers: exact/prefix/regex, presence, withoutHeaders absence; sorted, then :method :authority :scheme', () => {
  const r = only(
    routes(`    - match:
        - headers:
            z-user: { exact: jason }
            a-prefix: { prefix: "ab" }
            m-regex: { regex: "v[12]" }
            any: { regex: "*" }
            empty: {}
          withoutHeaders:
            b-absent: {}
            c-not: { exact: "x" }
          method: { exact: GET }
          authority: { prefix: "reviews" }
          scheme: { exact: https }
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual((r['match'] as Json)['headers'], [
    { name: 'a-prefix', stringMatch: { prefix: 'ab' } },
    { name: 'any', presentMatch: true },
    { name: 'b-absent', invertMatch: true },
    { name: 'c-not', stringMatch: { exact: 'x' }, invertMatch: true },
    { name: 'empty' },
    { name: 'm-regex', stringMatch: { safeRegex: { regex: 'v[12]' } } },
    { name: 'z-user', stringMatch: { exact: 'jason' } },
    { name: ':method', stringMatch: { exact: 'GET' } },
    { name: ':authority', stringMatch: { prefix: 'reviews' } },
    { name: ':scheme', stringMatch: { exact: 'https' } },
  ]);
});

test('query parameters and JWT claim headers (dynamic metadata of istio_authn)', () => {
  const r = only(
    routes(`    - match:
        - queryParams:
            q: { exact: "1" }
            r: { regex: "a.*" }
            p: { prefix: "x" }
          headers:
            "@request.auth.claims.groups": { exact: admin }
          withoutHeaders:
            "@request.auth.claims.org.id": { prefix: "ext" }
      route: [{ destination: { host: reviews } }]`),
  );
  const match = r['match'] as Json;
  assert.equal(match['headers'], undefined);
  assert.deepEqual(match['queryParameters'], [
    { name: 'q', stringMatch: { exact: '1' } },
    { name: 'r', stringMatch: { safeRegex: { regex: 'a.*' } } },
    // Istio has no prefix form for query parameters: the matcher keeps only the name.
    { name: 'p' },
  ]);
  assert.deepEqual(match['dynamicMetadata'], [
    {
      filter: 'istio_authn',
      path: [{ key: 'request.auth.claims' }, { key: 'groups' }],
      value: { listMatch: { oneOf: { stringMatch: { exact: 'admin' } } } },
    },
    {
      filter: 'istio_authn',
      path: [{ key: 'request.auth.claims' }, { key: 'org' }, { key: 'id' }],
      value: { listMatch: { oneOf: { stringMatch: { prefix: 'ext' } } } },
      invert: true,
    },
  ]);
});

test('match port, sourceLabels, sourceNamespace and match gateways drop routes that do not apply', () => {
  const http = `    - match:
        - port: 8080
          headers: { x-port: { exact: "1" } }
          name: other-port
        - sourceLabels: { app: reviews }
          name: other-labels
        - sourceLabels: { app: productpage }
          sourceNamespace: elsewhere
          name: other-ns
        - gateways: [istio-system/ingress]
          name: gateway-only
        - sourceLabels: { app: productpage }
          name: mine
      name: r1
      route: [{ destination: { host: reviews } }]`;
  const out = routes(http);
  assert.deepEqual(
    out.map((r) => r['name']),
    ['r1.mine'],
  );
  const onGateway = routes(http, { gatewayNames: new Set(['istio-system/ingress']), listenPort: 8080 });
  assert.deepEqual(
    onGateway.map((r) => r['name']),
    // The gateway-only match translates to a catch-all Envoy route, so nothing after it is built.
    ['r1.other-port', 'r1.gateway-only'],
  );
});

test('a catch-all route ends the list: later matches and http entries are not translated', () => {
  const out = routes(`    - match:
        - uri: { prefix: /api }
        - uri: { prefix: / }
        - uri: { prefix: /never }
      route: [{ destination: { host: reviews, subset: v1 } }]
    - route: [{ destination: { host: reviews, subset: v2 } }]`);
  assert.deepEqual(
    out.map((r) => (r['match'] as Json)['prefix']),
    ['/api', '/'],
  );
  const noMatch = routes(`    - route: [{ destination: { host: reviews, subset: v1 } }]
    - route: [{ destination: { host: reviews, subset: v2 } }]`);
  assert.equal(noMatch.length, 1);
});

test('weighted clusters keep totalWeight; zero weights are dropped; a lone zero weight takes 100', () => {
  const r = only(
    routes(`    - route:
        - destination: { host: reviews, subset: v1 }
          weight: 70
        - destination: { host: reviews, subset: v2, port: { number: 9081 } }
          weight: 30
        - destination: { host: reviews, subset: v3 }
          weight: 0`),
  );
  assert.deepEqual((r['route'] as Json)['weightedClusters'], {
    clusters: [
      { name: `outbound|9080|v1|${REVIEWS}`, weight: 70 },
      { name: `outbound|9081|v2|${REVIEWS}`, weight: 30 },
    ],
    totalWeight: 100,
  });
  // Several clusters: the decorator names the VirtualService and the listener port.
  assert.equal((r['decorator'] as Json)['operation'], 'vs:9080/*');
  const lone = only(routes('    - route: [{ destination: { host: reviews }, weight: 0 }]'));
  assert.equal((lone['route'] as Json)['cluster'], `outbound|9080||${REVIEWS}`);
});

test('a destination without port uses the single port of its service, else the listener port', () => {
  const withService = routes('    - route: [{ destination: { host: ratings.other.svc.cluster.local } }]', {
    serviceFor: (host) =>
      host === 'ratings.other.svc.cluster.local'
        ? ({ hostname: host, ports: [{ name: 'http', port: 9999, protocol: 'HTTP' }] } as never)
        : undefined,
  });
  assert.equal(
    (only(withService)['route'] as Json)['cluster'],
    'outbound|9999||ratings.other.svc.cluster.local',
  );
});

test('destination headers fold into the route when there is one destination, with authority as host rewrite', () => {
  const r = only(
    routes(`    - headers:
        request:
          set: { x-b: "2", x-a: "1", ":path": "/no" }
          add: { x-c: "3" }
          remove: [x-old, ":authority"]
        response:
          set: { x-resp: "r" }
          remove: [server]
      route:
        - destination: { host: reviews }
          headers:
            request:
              set: { x-dest: "d", host: "dest.example.com" }`),
  );
  assert.deepEqual(r['requestHeadersToAdd'], [
    { header: { key: 'x-a', value: '1' }, append: false },
    { header: { key: 'x-b', value: '2' }, append: false },
    { header: { key: 'x-c', value: '3' }, append: true },
    { header: { key: 'x-dest', value: 'd' }, append: false },
  ]);
  assert.deepEqual(r['requestHeadersToRemove'], ['x-old']);
  assert.deepEqual(r['responseHeadersToAdd'], [{ header: { key: 'x-resp', value: 'r' }, append: false }]);
  assert.deepEqual(r['responseHeadersToRemove'], ['server']);
  assert.equal((r['route'] as Json)['hostRewriteLiteral'], 'dest.example.com');
  const keys = Object.keys(r);
  assert.deepEqual(keys.slice(-4), [
    'requestHeadersToAdd',
    'requestHeadersToRemove',
    'responseHeadersToAdd',
    'responseHeadersToRemove',
  ]);
});

test('rewrite uri becomes prefixRewrite and rewrite authority wins over an :authority header', () => {
  const r = only(
    routes(`    - match: [{ uri: { exact: /old } }]
      rewrite: { uri: /new, authority: rewritten.example.com }
      headers: { request: { set: { ":authority": header.example.com } } }
      route: [{ destination: { host: reviews } }]`),
  );
  const action = r['route'] as Json;
  assert.equal(action['prefixRewrite'], '/new');
  assert.equal(action['hostRewriteLiteral'], 'rewritten.example.com');
  assert.equal(action['regexRewrite'], undefined);
  assert.equal(r['requestHeadersToAdd'], undefined);
});

test('redirect: uri, authority, code, scheme, port and derivePort', () => {
  const out = routes(
    `    - match: [{ uri: { prefix: /a } }]
      redirect: { uri: /b, authority: b.example.com, redirectCode: 302, scheme: https, port: 8443 }
    - match: [{ uri: { prefix: /c } }]
      redirect: { authority: c.example.com, derivePort: FROM_REQUEST_PORT, redirectCode: 308 }
    - match: [{ uri: { prefix: /d } }]
      redirect: { uri: /e }
    - match: [{ uri: { prefix: /f } }]
      redirect: { uri: /g, redirectCode: 305 }`,
    { listenPort: 80 },
  );
  assert.deepEqual(out[0]?.['redirect'], {
    schemeRedirect: 'https',
    hostRedirect: 'b.example.com',
    portRedirect: 8443,
    pathRedirect: '/b',
    responseCode: 'FOUND',
  });
  // Go's protojson writes the path oneof even when empty; 301 is the enum default and is left out.
  assert.deepEqual(out[1]?.['redirect'], {
    hostRedirect: 'c.example.com',
    portRedirect: 80,
    pathRedirect: '',
    responseCode: 'PERMANENT_REDIRECT',
  });
  assert.deepEqual(out[2]?.['redirect'], { pathRedirect: '/e' });
  assert.equal(out[2]?.['route'], undefined);
  // An unsupported code leaves the route without any action, as Istio does.
  assert.equal(out[3]?.['redirect'], undefined);
  assert.equal(out[3]?.['route'], undefined);
  assert.equal((out[3]?.['decorator'] as Json)['operation'], 'vs:80/f*');
});

test('directResponse with a string body and with a bytes body', () => {
  const out = routes(`    - match: [{ uri: { prefix: /s } }]
      directResponse: { status: 418, body: { string: "teapot" } }
    - match: [{ uri: { prefix: /b } }]
      directResponse: { status: 503, body: { bytes: "aGk=" } }
    - directResponse: { status: 204 }`);
  assert.deepEqual(
    out.map((r) => r['directResponse']),
    [
      { status: 418, body: { inlineString: 'teapot' } },
      { status: 503, body: { inlineBytes: 'aGk=' } },
      { status: 204 },
    ],
  );
});

test('timeout sets timeout and maxGrpcTimeout; proxyless gRPC gets maxStreamDuration instead', () => {
  const r = only(routes('    - timeout: 1.5s\n      route: [{ destination: { host: reviews } }]'));
  assert.equal((r['route'] as Json)['timeout'], '1.500s');
  assert.equal((r['route'] as Json)['maxGrpcTimeout'], '1.500s');
  const grpc = only(
    routes('    - timeout: 10s\n      route: [{ destination: { host: reviews } }]', {
      proxy: { namespace: 'default', labels: {}, metadata: { GENERATOR: 'grpc' } },
    }),
  );
  assert.deepEqual((grpc['route'] as Json)['maxStreamDuration'], { maxStreamDuration: '10s' });
  assert.equal((grpc['route'] as Json)['maxGrpcTimeout'], undefined);
});

test('retries: attempts, retryOn with status codes, perTryTimeout, retryRemoteLocalities, attempts 0', () => {
  assert.deepEqual(
    convertRetryPolicy({
      attempts: 3,
      perTryTimeout: '2s',
      retryOn: 'gateway-error, 503 ,connect-failure,999',
      retryRemoteLocalities: true,
    }),
    {
      retryOn: 'gateway-error,connect-failure,999,retriable-status-codes',
      numRetries: 3,
      perTryTimeout: '2s',
      retryPriority: {
        name: 'envoy.retry_priorities.previous_priorities',
        typedConfig: {
          '@type':
            'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig',
          updateFrequency: 2,
        },
      },
      retryHostPredicate: RETRY_HOST_PREDICATE,
      hostSelectionRetryMaxAttempts: '5',
      retriableStatusCodes: [503],
    },
  );
  // Only codes: Istio appends to an empty retryOn, leaving a leading comma.
  assert.equal(
    convertRetryPolicy({ attempts: 1, retryOn: '502,503' })?.['retryOn'],
    ',retriable-status-codes',
  );
  // Conditions without codes clear the default 503.
  assert.equal(convertRetryPolicy({ attempts: 1, retryOn: '5xx' })?.['retriableStatusCodes'], undefined);
  assert.equal(convertRetryPolicy({ attempts: 0 }), undefined);
  assert.equal(convertRetryPolicy({ retryOn: '5xx' }), undefined);
  assert.deepEqual(convertRetryPolicy(undefined), DEFAULT_RETRY);
  const r = only(routes('    - retries: { attempts: 0 }\n      route: [{ destination: { host: reviews } }]'));
  assert.equal((r['route'] as Json)['retryPolicy'], undefined);
  // Without VirtualService retries the mesh default policy applies.
  const mesh = only(
    routes('    - route: [{ destination: { host: reviews } }]', { meshRetryPolicy: { attempts: 5 } }),
  );
  assert.equal(((mesh['route'] as Json)['retryPolicy'] as Json)['numRetries'], 5);
});

test('fault delay and abort become the fault filter per-route config', () => {
  const r = only(
    routes(`    - fault:
        delay: { fixedDelay: 7s, percentage: { value: 12.5 } }
        abort: { httpStatus: 503, percentage: { value: 0.1 } }
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual(r['typedPerFilterConfig'], {
    'envoy.filters.http.fault': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixedDelay: '7s', percentage: { numerator: 125000, denominator: 'MILLION' } },
      abort: { httpStatus: 503, percentage: { numerator: 1000, denominator: 'MILLION' } },
    },
  });
  const legacy = only(
    routes(`    - fault:
        delay: { fixedDelay: 1s, percent: 40 }
        abort: { grpcStatus: UNAVAILABLE }
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual((legacy['typedPerFilterConfig'] as Json)['envoy.filters.http.fault'], {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
    delay: { fixedDelay: '1s', percentage: { numerator: 40 } },
    abort: { grpcStatus: 14 },
  });
  // Exponential delays are unsupported: nothing is left but the type.
  const unsupported = only(
    routes(`    - fault: { delay: { exponentialDelay: 1s } }
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual((unsupported['typedPerFilterConfig'] as Json)['envoy.filters.http.fault'], {
    '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  });
});

test('mirror: 100% by default, mirrorPercentage in millionths, mirrorPercent in hundredths, 0 disables', () => {
  const policy = (extra: string): unknown =>
    (
      only(
        routes(`    - mirror: { host: ratings.other.svc.cluster.local, subset: v2 }
${extra}      route: [{ destination: { host: reviews } }]`),
      )['route'] as Json
    )['requestMirrorPolicies'];
  assert.deepEqual(policy(''), [
    {
      cluster: 'outbound|9080|v2|ratings.other.svc.cluster.local',
      runtimeFraction: { defaultValue: { numerator: 100 } },
      traceSampled: false,
    },
  ]);
  assert.deepEqual((policy('      mirrorPercentage: { value: 50 }\n') as Json[])[0]?.['runtimeFraction'], {
    defaultValue: { numerator: 500000, denominator: 'MILLION' },
  });
  assert.deepEqual((policy('      mirrorPercent: 25\n') as Json[])[0]?.['runtimeFraction'], {
    defaultValue: { numerator: 25 },
  });
  assert.equal(policy('      mirrorPercentage: { value: 0 }\n'), undefined);
});

test('corsPolicy becomes route.cors (Istio 1.17), filter enabled at 100%', () => {
  const r = only(
    routes(`    - corsPolicy:
        allowOrigins: [{ exact: "https://a.example.com" }, { prefix: "https://b" }, { regex: ".*\\\\.c\\\\.com" }]
        allowMethods: [GET, POST]
        allowHeaders: [x-a, x-b]
        exposeHeaders: [x-c]
        maxAge: 24h
        allowCredentials: false
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual((r['route'] as Json)['cors'], {
    allowOriginStringMatch: [
      { exact: 'https://a.example.com' },
      { prefix: 'https://b' },
      { safeRegex: { regex: '.*\\.c\\.com' } },
    ],
    allowMethods: 'GET,POST',
    allowHeaders: 'x-a,x-b',
    exposeHeaders: 'x-c',
    maxAge: '86400',
    allowCredentials: false,
    filterEnabled: { defaultValue: { numerator: 100 } },
  });
  assert.equal(r['typedPerFilterConfig'], undefined);
  const legacy = only(
    routes(`    - corsPolicy: { allowOrigin: ["*"] }
      route: [{ destination: { host: reviews } }]`),
  );
  assert.deepEqual((legacy['route'] as Json)['cors'], {
    allowOriginStringMatch: [{ exact: '*' }],
    filterEnabled: { defaultValue: { numerator: 100 } },
  });
});

test('route names join the http name and the match name; statPrefix is copied', () => {
  const out = routes(`    - name: main
      match:
        - name: first
          uri: { prefix: /a }
          statPrefix: my_stats
        - uri: { prefix: /b }
      route: [{ destination: { host: reviews } }]
    - match: [{ name: lone, uri: { prefix: /c } }]
      route: [{ destination: { host: reviews } }]`);
  assert.deepEqual(
    out.map((r) => r['name']),
    ['main.first', 'main', '.lone'],
  );
  assert.equal(out[0]?.['statPrefix'], 'my_stats');
});

test('consistent-hash DestinationRules add hash policies (subset port-level beats subset beats rule)', () => {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: reviews, namespace: default }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user } }
    portLevelSettings:
      - port: { number: 9080 }
        loadBalancer: { consistentHash: { useSourceIp: true } }
  subsets:
    - name: v1
      labels: { version: v1 }
      trafficPolicy:
        loadBalancer: { consistentHash: { httpCookie: { name: session, ttl: 0s } } }
    - name: v2
      labels: { version: v2 }
      trafficPolicy:
        loadBalancer: { consistentHash: { httpQueryParameterName: q } }
        portLevelSettings:
          - port: { number: 9080 }
            loadBalancer: { consistentHash: { httpHeaderName: x-v2-port } }`;
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'dr.yaml').resources));
  const hash = (d: Json): unknown => hashPolicyForDestination(push, 'default', d);
  assert.deepEqual(hash({ host: REVIEWS }), { header: { headerName: 'x-user' } });
  assert.deepEqual(hash({ host: REVIEWS, port: { number: 9080 } }), {
    connectionProperties: { sourceIp: true },
  });
  assert.deepEqual(hash({ host: REVIEWS, subset: 'v1', port: { number: 9080 } }), {
    cookie: { name: 'session', ttl: '0s' },
  });
  assert.deepEqual(hash({ host: REVIEWS, subset: 'v2' }), { queryParameter: { name: 'q' } });
  assert.deepEqual(hash({ host: REVIEWS, subset: 'v2', port: { number: 9080 } }), {
    header: { headerName: 'x-v2-port' },
  });
  assert.equal(hash({ host: 'other.default.svc.cluster.local' }), undefined);
  const r = only(
    routes(
      '    - route: [{ destination: { host: reviews, subset: v2 }, weight: 50 }, { destination: { host: reviews, subset: v1 }, weight: 50 }]',
      {
        hashPolicyFor: (d) => hashPolicyForDestination(push, 'default', d),
      },
    ),
  );
  assert.deepEqual((r['route'] as Json)['hashPolicy'], [
    { queryParameter: { name: 'q' } },
    { cookie: { name: 'session', ttl: '0s' } },
  ]);
});

test('Gateway API semantics: a path prefix matches whole segments', () => {
  const vs = {
    ...virtualService(
      '    - match: [{ uri: { prefix: /api/ } }]\n      route: [{ destination: { host: reviews } }]',
    ),
  };
  vs.gatewaySemantics = true;
  const r = only(buildHttpRoutesForVirtualService(context(), vs));
  assert.deepEqual(r['match'], { pathSeparatedPrefix: '/api', caseSensitive: true });
  assert.equal((r['route'] as Json)['clusterNotFoundResponseCode'], 'INTERNAL_SERVER_ERROR');
  const old = only(
    buildHttpRoutesForVirtualService(
      context({ proxy: { namespace: 'default', labels: {}, istioVersion: '1.13.2' } }),
      vs,
    ),
  );
  assert.deepEqual((old['match'] as Json)['safeRegex'], { regex: '/api((\\/).*)?' });
});

test('malformed input never throws: wrong types, invalid regexes and missing fields still translate', () => {
  const weird =
    routes(`    - match: [5, { uri: { regex: "(unclosed" }, headers: [1, 2], queryParams: "x", port: "80" }]
      route: [{ destination: { host: reviews }, weight: "x" }, "junk", { weight: 10 }]
      timeout: "soon"
      retries: { attempts: "3" }
      fault: 7
      corsPolicy: { allowOrigins: "*", maxAge: "forever" }
      headers: { request: { set: [1], add: { a: 1 } } }
      redirect: null
      mirror: { port: { number: 1 } }
    - "not a route"
    - route: []`);
  assert.ok(weird.length >= 1);
  const first = weird[0] as Json;
  assert.deepEqual(first['match'], { safeRegex: { regex: '(unclosed' }, caseSensitive: true });
  // A destination without a host names Istio's UnknownService cluster; the retries without attempts
  // (not a number) disable retries.
  const action = first['route'] as Json;
  assert.equal(action['retryPolicy'], undefined);
  assert.equal(action['timeout'], '0s');
  const empty = buildHttpRoutesForVirtualService(context(), {
    ...virtualService('    - route: []'),
    http: [],
  });
  assert.deepEqual(empty, []);
});
