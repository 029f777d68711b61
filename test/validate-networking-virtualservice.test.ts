import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ValidationIssue } from '../src/api/index.js';
import { parseManifests, validateResource } from '../src/api/index.js';

/** The analysis part Istio's AnalysisAwareError carries (IST0130 / IST0131 in istioctl analyze). */
function analysisOf(issue: ValidationIssue): { type: string; parameters: string[] } | undefined {
  return (issue as { analysis?: { type: string; parameters: string[] } }).analysis;
}

/** Validates one VirtualService spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: reviews\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  // Rule analysis (unreachable rules, duplicate matches) has its own test below.
  return resources.flatMap((r) =>
    validateResource(r)
      .filter((i) => analysisOf(i) === undefined)
      .map((i) => `${i.level} ${i.path}: ${i.message}`),
  );
}

test('VirtualService: realistic mesh, gateway and delegate services are valid', () => {
  assert.deepEqual(
    check(`
  hosts: [reviews, reviews.bookinfo.svc.cluster.local]
  http:
  - name: jason
    match:
    - headers: {end-user: {exact: jason}}
      uri: {regex: "^/api/v[0-9]+/.*"}
    route:
    - destination: {host: reviews, subset: v2}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure,refused-stream,503"}
    timeout: 10s
  - route:
    - destination: {host: reviews, subset: v1, port: {number: 9080}}
      weight: 90
      headers: {request: {set: {x-version: v1, host: reviews}}, response: {remove: [x-internal]}}
    - destination: {host: reviews, subset: v3}
      weight: 10
    fault: {delay: {percentage: {value: 0.1}, fixedDelay: 5s}, abort: {percentage: {value: 0}, httpStatus: 503}}
    mirror: {host: reviews-shadow}
    mirrorPercentage: {value: 50}
    corsPolicy: {allowOrigins: [{exact: "https://example.com"}], allowMethods: [GET, POST], maxAge: 24h}
    headers: {request: {add: {x-request-start: "t=%START_TIME(%s.%3f)%"}}}
`),
    [],
  );
  assert.deepEqual(
    check(`
  hosts: ["bookinfo.example.com"]
  gateways: [istio-system/public-gw, mesh]
  http:
  - match: [{uri: {prefix: /productpage}, headers: {"@request.auth.claims.group": {exact: admin}}}]
    delegate: {name: productpage, namespace: bookinfo}
  - match: [{uri: {exact: /login}}]
    redirect: {uri: /signin, redirectCode: 302}
  - directResponse: {status: 404, body: {string: "not found"}}
  tls:
  - match: [{sniHosts: [bookinfo.example.com], port: 443}]
    route: [{destination: {host: productpage}}]
`),
    [],
  );
  assert.deepEqual(check('  http:\n  - route: [{destination: {host: productpage}}]\n'), []);
});

test('VirtualService: hosts, gateways and delegates', () => {
  assert.deepEqual(
    check(`
  hosts: ["*", "bad_host.com"]
  gateways: [bookinfo.istio-system]
  tcp: [{route: [{destination: {host: db}}]}]
`),
    [
      'warning spec.gateways[0]: using legacy gatewayName format "bookinfo.istio-system"; prefer the <namespace>/<name> format: "istio-system/bookinfo"',
      'error spec.hosts[1]: domain name "bad_host.com" invalid (label "bad_host" invalid)',
    ],
  );
  assert.deepEqual(check('  hosts: ["*"]\n  http: [{route: [{destination: {host: a}}]}]\n'), [
    'error spec.hosts[0]: wildcard host * is not allowed for virtual services bound to the mesh gateway',
  ]);
  assert.deepEqual(
    check('  hosts: ["*.foo.com", "*.com", "a.foo.com"]\n  tcp: [{route: [{destination: {host: a}}]}]\n'),
    [
      'error spec.hosts[1]: duplicate hosts in virtual service: *.foo.com & *.com',
      'error spec.hosts[2]: duplicate hosts in virtual service: *.foo.com & a.foo.com',
      'error spec.hosts[2]: duplicate hosts in virtual service: *.com & a.foo.com',
    ],
  );
  assert.deepEqual(
    check(`
  gateways: [ns/gw, "*/gw", ns/Bad_Name]
  tls: [{match: [{sniHosts: [a.com]}], route: [{destination: {host: a}}]}]
  tcp: [{route: [{destination: {host: a}}]}]
`),
    [
      'error spec.gateways: delegate virtual service must have no gateways specified',
      'error spec.tls: delegate virtual service must have no tls route specified',
      'error spec.tcp: delegate virtual service must have no tcp route specified',
      'error spec.gateways[1]: invalid value for namespace: "*"',
      'error spec.gateways[2]: invalid value for gateway name: "Bad_Name"',
      'error spec.tls[0].match[0].sniHosts[0]: SNI host "a.com" is not a compatible subset of any of the virtual service hosts: []',
    ],
  );
  assert.deepEqual(check('  hosts: [a]\n'), [
    'error spec: http, tcp or tls must be provided in virtual service',
  ]);
});

test('VirtualService: JWT claim routing needs a gateway', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - match: [{headers: {"@request.auth.claims.group": {exact: admin}}}]
    route: [{destination: {host: a}}]
`),
    [
      'error spec.http[0].match[0].headers: JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []',
    ],
  );
});

test('VirtualService: HTTP route conflicts and delegation', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - redirect: {uri: /x}
    route: [{destination: {host: a}}]
    fault: {abort: {httpStatus: 500}}
    rewrite: {uri: /y}
    directResponse: {status: 200}
  - directResponse: {status: 200}
    rewrite: {authority: b}
  - match: [{uri: {prefix: /a}}]
  - name: root
    delegate: {name: d}
    redirect: {uri: /x}
    route: [{destination: {host: a}}]
`),
    [
      'error spec.http[0].route: HTTP route cannot contain both route and redirect',
      'error spec.http[0].fault: HTTP route cannot contain both fault and redirect',
      'error spec.http[0].rewrite: HTTP route rule cannot contain both rewrite and redirect',
      'error spec.http[0].directResponse: HTTP route rule cannot contain both direct_response and redirect',
      'error spec.http[1].rewrite: HTTP route rule cannot contain both rewrite and direct_response',
      'error spec.http[2]: HTTP route, redirect or direct_response is required',
      'error spec.http[3].redirect: root HTTP route root must not specify redirect',
      'error spec.http[3].route: root HTTP route root must not specify route',
    ],
  );
  // A delegate VirtualService (no hosts) cannot delegate again.
  assert.deepEqual(check('  http:\n  - delegate: {name: x}\n    route: [{destination: {host: a}}]\n'), [
    'error spec.http[0].delegate: delegate HTTP route cannot contain delegate',
  ]);
});

test('VirtualService: match requests', () => {
  const long = 'a'.repeat(1025);
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - match:
    - uri: {regex: "(?!/admin)"}
      headers: {x-a: {prefix: ""}, "": {exact: b}, x-b: {regex: ""}}
      queryParams: {q: {regex: "${long}"}}
      port: 70000
      sourceLabels: {"app name": x}
      sourceNamespace: Bad_NS
      gateways: [legacy.ns]
    route: [{destination: {host: a}}]
`),
    [
      'error spec.http[0].match[0].headers.x-a: header prefix match x-a may not be empty',
      'error spec.http[0].match[0].headers: header name cannot be empty',
      'error spec.http[0].match[0].headers.x-b.regex: "headers": regex string match should not be empty',
      'error spec.http[0].match[0].uri.regex: "uri": error parsing regexp: invalid or unsupported Perl syntax: `(?!`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      'error spec.http[0].match[0].queryParams.q.regex: "queryParams": regex is too large, max length allowed is 1024',
      'error spec.http[0].match[0].port: port number 70000 must be in the range 1..65535',
      'error spec.http[0].match[0].sourceLabels: invalid tag key: "app name"',
      'error spec.http[0].match[0].sourceNamespace: sourceNamespace match Bad_NS is invalid',
    ],
  );
});

test('VirtualService: header operations', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - headers:
      request: {set: {":path": /x, x-a: "%BAD", x-b: "100%"}, remove: [Host]}
      response: {add: {":status": "200"}}
    rewrite: {authority: b}
    route:
    - destination: {host: a}
      headers: {request: {add: {":authority": c}}}
  - headers: {request: {set: {host: one}, add: {":authority": two}}}
    route: [{destination: {host: a}}]
`),
    [
      'error spec.http[0].headers.request.set: invalid header ":path": header cannot have ":" prefix',
      "error spec.http[0].headers.request.set.x-a: header value configuration: invalid header configuration. Un-terminated variable expression '%BAD'",
      'error spec.http[0].headers.request.set.x-b: header value configuration: invalid header configuration. Un-escaped %',
      'error spec.http[0].headers.request.remove[0]: invalid header "Host": cannot set Host header',
      'error spec.http[0].headers.response.add: invalid header ":status": header cannot have ":" prefix',
      'error spec.http[0].route[0].headers.request.add: invalid header ":authority": header cannot have ":" prefix',
      'error spec.http[1].headers.request.add: authority header cannot be set multiple times: have "one", attempting to set "two"',
    ],
  );
});

test('VirtualService: durations, retries, fault injection and mirroring', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - route: [{destination: {host: a}}]
    timeout: 0.5ms
    retries: {attempts: 3, perTryTimeout: 1500us, retryOn: "5xx, reset,999,425"}
    fault: {abort: {percentage: {value: 150}, grpcStatus: BOGUS}, delay: {percentage: {value: 0.00001}, exponentialDelay: 1s}}
    mirrorPercentage: {value: 101}
    mirrorPercent: 150
    mirror: {host: "*"}
  - route: [{destination: {host: a}}]
    retries: {attempts: 0, retryOn: 5xx}
    fault: {abort: {http2Error: x}}
    corsPolicy: {allowOrigins: [{exact: ""}, {regex: "*"}], allowMethods: [get], allowHeaders: [""], maxAge: 1500ms}
  - route: [{destination: {host: a}}]
    fault: {}
`),
    [
      'error spec.http[0].fault.abort.percentage.value: percentage 150 is neither 0.0, nor in range [0.0001, 100.0]',
      'error spec.http[0].fault.abort.grpcStatus: gRPC status "BOGUS" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example \'NOT_FOUND\'',
      'error spec.http[0].fault.delay.percentage.value: percentage 1e-05 is neither 0.0, nor in range [0.0001, 100.0]',
      'error spec.http[0].fault.delay.exponentialDelay: exponentialDelay not supported yet',
      'error spec.http[0].mirrorPercent: mirror_percent must have a max value of 100 (it has 150)',
      'warning spec.http[0].mirrorPercent: using deprecated setting "mirrorPercent", use "mirrorPercentage" instead',
      'error spec.http[0].mirrorPercentage.value: mirror_percentage must have a max value of 100 (it has 101.000000)',
      'error spec.http[0].mirror.host: invalid destination host *',
      'error spec.http[0].retries.perTryTimeout: only durations to ms precision are supported',
      'error spec.http[0].retries.retryOn: " reset" is not a valid retryOn policy',
      'error spec.http[0].retries.retryOn: "999" is not a valid retryOn policy',
      'error spec.http[0].timeout: duration must be greater than 1ms',
      "error spec.http[1].corsPolicy.allowOrigins[0]: '' is not a valid match type for CORS allow origins",
      'error spec.http[1].corsPolicy.allowOrigins[1].regex: "corsPolicy.allowOrigins": error parsing regexp: missing argument to repetition operator: `*`; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)',
      'error spec.http[1].corsPolicy.allowMethods[0]: "get" is not a supported HTTP method',
      'error spec.http[1].corsPolicy.allowHeaders[0]: header name cannot be empty',
      'error spec.http[1].corsPolicy.maxAge: max_age duration is accurate only to seconds precision',
      'error spec.http[1].fault.abort.http2Error: HTTP/2 abort fault injection not supported yet',
      'error spec.http[1].retries.attempts: http retry policy configured when attempts are set to 0 (disabled)',
      'error spec.http[2].fault: HTTP fault injection must have an abort and/or a delay',
    ],
  );
  // A duration Go cannot parse stops Istio's decoder: nothing else in the object is checked.
  assert.deepEqual(
    check('  hosts: [a]\n  http:\n  - route: [{destination: {host: a}}]\n    timeout: soon\n    fault: {}\n'),
    ['error spec.http[0].timeout: bad Duration: time: invalid duration "soon"'],
  );
});

test('VirtualService: redirect, direct response, rewrite and destinations', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http:
  - redirect: {}
  - redirect: {uri: /x, redirectCode: 200, scheme: ftp}
  - redirect: {scheme: ftp}
  - directResponse: {status: 700, body: {string: "${'x'.repeat(100 * 1024 + 1)}"}}
  - rewrite: {}
    route:
    - destination: {host: a, subset: V_1, port: {number: 0}}
      weight: -1
    - weight: 5
  - route: [{destination: {host: a}, weight: 0}, {destination: {host: b}}]
`),
    [
      'error spec.http[0].redirect: redirect must specify URI, authority, scheme, or port',
      'error spec.http[1].redirect.redirectCode: 200 is not a valid redirect code, must be 3xx',
      'error spec.http[2].redirect.scheme: invalid redirect scheme, must be "http" or "https"',
      'warning spec.http[3].directResponse.body: large direct_responses may impact control plane performance',
      'error spec.http[3].directResponse.status: HTTP status 700 is not in range 200-599',
      'error spec.http[4].rewrite: rewrite must specify URI, authority, or both',
      'error spec.http[4].route[0].destination.subset: subset name is invalid: V_1',
      'error spec.http[4].route[0].destination.port.number: port number 0 must be in the range 1..65535',
      'error spec.http[4].route[0].weight: weight -1 < 0',
      'error spec.http[4].route[1].destination: destination is required',
      'error spec.http[5].route: total destination weight = 0',
    ],
  );
});

test('VirtualService: TLS and TCP routes', () => {
  assert.deepEqual(
    check(`
  hosts: ["*.example.com"]
  gateways: [istio-system/gw]
  tls:
  - match: [{sniHosts: [a.example.com, other.com, 10.0.0.1], destinationSubnets: [10.0.0.0/33], port: 0}]
    route: [{destination: {host: a}}]
  - match: [{}]
  - route: [{destination: {host: a}}]
  tcp:
  - match: [{port: 70000, destinationSubnets: [not-ip], gateways: [legacy.ns]}]
  - route: [{destination: {host: a}, weight: 0}, {destination: {host: b}, weight: 0}]
`),
    [
      'error spec.tls[0].match[0].sniHosts[1]: SNI host "other.com" is not a compatible subset of any of the virtual service hosts: [*.example.com]',
      'warning spec.tls[0].match[0].sniHosts[2]: using an IP address ("10.0.0.1") goes against SNI spec and most clients do not support this',
      'error spec.tls[0].match[0].destinationSubnets[0]: 10.0.0.0/33 is not a valid CIDR block',
      'error spec.tls[1].match[0].sniHosts: TLS match must have at least one SNI host',
      'error spec.tls[1].route: TLS route is required',
      'error spec.tls[2].match: TLS route must have at least one match condition',
      'error spec.tcp[0].match[0].destinationSubnets[0]: not-ip is not a valid IP',
      'error spec.tcp[0].match[0].port: port number 70000 must be in the range 1..65535',
      'error spec.tcp[0].route: TCP route is required',
      'error spec.tcp[1].route: total destination weight = 0',
    ],
  );
});

test('VirtualService: exportTo', () => {
  assert.deepEqual(
    check(`
  hosts: [a]
  http: [{route: [{destination: {host: a}}]}]
  exportTo: [bookinfo, ., "*", "~", Bad_NS, "*"]
`),
    [
      'error spec.exportTo[1]: duplicate entries in exportTo: . and current namespace bookinfo',
      'error spec.exportTo[3]: exportTo ~ (none) is not allowed for Istio configuration objects',
      'error spec.exportTo[4]: only .,*, or a valid DNS 1123 label is allowed as exportTo entry',
      'error spec.exportTo[5]: duplicate entries in exportTo for entry *',
      'error spec.exportTo: cannot have both public (*) and non-public exportTo values for a resource',
    ],
  );
});

test('VirtualService: unreachable rules and ineffective matches are analysis warnings', () => {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews, namespace: bookinfo}
spec:
  hosts: [reviews]
  http:
  - name: api
    match: [{uri: {prefix: /api}}, {name: again, uri: {prefix: /api}}]
    route: [{destination: {host: reviews}}]
  - match: [{uri: {prefix: /api/v2}}, {uri: {prefix: /api}}]
    route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
  - route: [{destination: {host: reviews}}]
  tcp:
  - match: [{port: 3306}]
    route: [{destination: {host: db}}]
  - match: [{port: 3306}]
    route: [{destination: {host: db}}]
`;
  const issues = validateResource(parseManifests(yaml, 'test.yaml').resources[0]!);
  assert.ok(issues.every((i) => i.level === 'warning'));
  assert.deepEqual(
    issues.map((i) => [i.path, i.message, analysisOf(i)?.type]),
    [
      [
        'spec.http[0].match[1]',
        'virtualService rule "api" match "again" is not used (duplicate/overlapping match in rule "api")',
        'VirtualServiceIneffectiveMatch',
      ],
      [
        'spec.http[1].match[1]',
        'virtualService rule #1 match #1 is not used (duplicate/overlapping match in rule "api")',
        'VirtualServiceIneffectiveMatch',
      ],
      [
        'spec.http[3]',
        'virtualService rule #3 not used (only the last rule can have no matches)',
        'VirtualServiceUnreachableRule',
      ],
      [
        'spec.http[1].match[0]',
        'virtualService rule #1 match #0 of prefix /api/v2 is not used (duplicate/overlapping match in rule #0 of prefix /api on "api")',
        'VirtualServiceIneffectiveMatch',
      ],
      [
        'spec.tcp[1].match[0]',
        'virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)',
        'VirtualServiceIneffectiveMatch',
      ],
      [
        'spec.tcp[1]',
        'virtualService rule #1 not used (all matches used by prior rules)',
        'VirtualServiceUnreachableRule',
      ],
    ],
  );
  assert.deepEqual(analysisOf(issues[0]!)?.parameters, ['"api"', '"again"', '"api"']);
  assert.deepEqual(analysisOf(issues[2]!)?.parameters, ['#3', 'only the last rule can have no matches']);
});
