/**
 * Analyzers that find related objects through indexes (by certificate, host, selector or label) instead of
 * comparing every object with every other one. Each test sets up the cases an index could get wrong —
 * candidates in several buckets, wildcards, selectors covering others, objects in other namespaces — and
 * checks both the printed messages and the order in which the analyzer reports, which must be that of
 * the plain pairwise comparison.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_ANALYZERS, messageString, runAnalysis } from '../src/analyze/index.js';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';

const FILE = 'indexed.yaml';

function snapshotOf(docs: readonly string[]): ConfigSnapshot {
  const { resources, errors } = parseManifests(docs.join('---\n'), FILE);
  assert.deepEqual(errors, []);
  return new ConfigSnapshot(resources);
}

/** The messages as istioctl prints them (sorted, de-duplicated). */
function analyze(analyzer: string, docs: readonly string[]): string[] {
  const result = runAnalysis(snapshotOf(docs), { analyzers: [analyzer] });
  assert.deepEqual(result.executed, [analyzer]);
  return result.messages.map(messageString);
}

/** Every report in the order the analyzer made it, before sorting and de-duplication: `CODE ns/name args`. */
function reports(analyzer: string, docs: readonly string[]): string[] {
  const found = ALL_ANALYZERS.find((a) => a.name === analyzer);
  assert.ok(found, analyzer);
  const out: string[] = [];
  found.analyze({
    snapshot: snapshotOf(docs),
    report(type, resource, args) {
      out.push(
        `${type.code} ${resource.metadata.namespace}/${resource.metadata.name} ${JSON.stringify(args)}`,
      );
    },
  });
  return out;
}

function namespace(name: string, injected = true): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels: { istio-injection: ${injected ? 'enabled' : 'disabled'} }
`;
}

function pod(name: string, ns: string, labels: string, extraSpec = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
  labels: { ${labels} }
spec:
${extraSpec}  containers: [{ name: app, image: skiff/app:latest }]
`;
}

function deployment(name: string, ns: string, selector: string, labels: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector:
    matchLabels: { ${selector} }
  template:
    metadata:
      labels: { ${labels} }
    spec:
      containers: [{ name: ${name}, image: skiff/${name}:latest }]
`;
}

function service(name: string, ns: string, selector: string, ports: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector: { ${selector} }
  ports: [${ports}]
`;
}

/** A Gateway; `servers` are flow mappings, one per line. */
function gateway(name: string, ns: string, selector: string, servers: readonly string[]): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  selector: { ${selector} }
  servers:${servers.length === 0 ? ' []' : servers.map((s) => `\n    - ${s}`).join('')}
`;
}

function http(port: number, hosts: readonly string[]): string {
  return `{ port: { number: ${port}, name: http-${port}, protocol: HTTP }, hosts: ${JSON.stringify(hosts)} }`;
}

function https(hosts: readonly string[], tls: string): string {
  return `{ port: { number: 443, name: https, protocol: HTTPS }, hosts: ${JSON.stringify(hosts)}, tls: { mode: SIMPLE, ${tls} } }`;
}

const INGRESS = 'istio: ingressgateway';

test('CertificateAnalyzer: gateways sharing a credential across namespaces, in pairwise order', () => {
  const docs = [
    gateway('a', 'ns-1', INGRESS, [https(['a.example.com'], 'credentialName: shared')]),
    gateway('b', 'ns-2', INGRESS, [https(['b.example.com'], 'credentialName: other')]),
    // Its selector holds the others' label and one more: the others cover it, it covers neither.
    gateway('c', 'ns-2', `${INGRESS}, app: gw`, [
      https(['c.example.com'], 'credentialName: other'),
      https(['d.example.com'], 'credentialName: shared'),
    ]),
    gateway('d', 'ns-3', INGRESS, [https(['d.example.com'], 'credentialName: shared')]),
  ];
  assert.deepEqual(reports('gateway.CertificateAnalyzer', docs), [
    'IST0138 ns-1/a [["ns-1/a","ns-2/c"]]',
    'IST0138 ns-1/a [["ns-1/a","ns-3/d"]]',
    'IST0138 ns-2/b [["ns-2/b","ns-2/c"]]',
    'IST0138 ns-3/d [["ns-3/d","ns-1/a"]]',
    'IST0138 ns-3/d [["ns-3/d","ns-2/c"]]',
  ]);
  // Printed sorted and de-duplicated, at each reporting gateway's `name` line.
  assert.deepEqual(analyze('gateway.CertificateAnalyzer', docs), [
    `Warning [IST0138] (Gateway ns-1/a ${FILE}:4) Duplicate certificate in multiple gateways [ns-1/a ns-2/c] may cause 404s if clients re-use HTTP2 connections.`,
    `Warning [IST0138] (Gateway ns-1/a ${FILE}:4) Duplicate certificate in multiple gateways [ns-1/a ns-3/d] may cause 404s if clients re-use HTTP2 connections.`,
    `Warning [IST0138] (Gateway ns-2/b ${FILE}:14) Duplicate certificate in multiple gateways [ns-2/b ns-2/c] may cause 404s if clients re-use HTTP2 connections.`,
    `Warning [IST0138] (Gateway ns-3/d ${FILE}:35) Duplicate certificate in multiple gateways [ns-3/d ns-1/a] may cause 404s if clients re-use HTTP2 connections.`,
    `Warning [IST0138] (Gateway ns-3/d ${FILE}:35) Duplicate certificate in multiple gateways [ns-3/d ns-2/c] may cause 404s if clients re-use HTTP2 connections.`,
  ]);
});

test('CertificateAnalyzer: one report per matching pair of servers; files need certificate and key, not a credential', () => {
  const files = 'serverCertificate: /etc/cert.pem, privateKey: /etc/key.pem';
  const docs = [
    gateway('files-twice', 'ns', INGRESS, [https(['a.example.com'], files), https(['b.example.com'], files)]),
    gateway('files', 'ns', INGRESS, [https(['c.example.com'], files)]),
    // The same files next to a credentialName: the credential is what counts.
    gateway('credential', 'ns', INGRESS, [https(['d.example.com'], `credentialName: files, ${files}`)]),
    // A certificate without a key, twice: never a duplicate, not even of itself.
    gateway('no-key-1', 'ns', INGRESS, [https(['e.example.com'], 'serverCertificate: /etc/cert.pem')]),
    gateway('no-key-2', 'ns', INGRESS, [https(['f.example.com'], 'serverCertificate: /etc/cert.pem')]),
  ];
  assert.deepEqual(reports('gateway.CertificateAnalyzer', docs), [
    'IST0138 ns/files-twice [["ns/files-twice","ns/files"]]',
    'IST0138 ns/files-twice [["ns/files-twice","ns/files"]]',
    'IST0138 ns/files [["ns/files","ns/files-twice"]]',
    'IST0138 ns/files [["ns/files","ns/files-twice"]]',
  ]);
});

test('ConflictingGatewayAnalyzer: exact hosts against wildcards, conflicts listed in gateway order', () => {
  const docs = [
    gateway('exact-a', 'ns', INGRESS, [http(80, ['a.example.com'])]),
    gateway('wild', 'ns', INGRESS, [http(80, ['*.example.com'])]),
    // Two hosts matching `wild`: it names `wild` once per host (and `wild` names it once).
    gateway('exact-bc', 'ns', INGRESS, [http(80, ['b.example.com', 'c.example.com'])]),
    gateway('elsewhere', 'ns', INGRESS, [http(80, ['other.org'])]),
    gateway('same-a', 'ns', INGRESS, [http(80, ['a.example.com'])]),
    // A longer wildcard is matched by the shorter one and matches exact hosts below it.
    gateway('wild-sub', 'ns', INGRESS, [http(80, ['*.sub.example.com', 'x.sub.example.com'])]),
  ];
  assert.deepEqual(reports('gateway.ConflictingGatewayAnalyzer', docs), [
    'IST0145 ns/exact-a ["ns/wild,ns/same-a","istio=ingressgateway","80","a.example.com"]',
    'IST0145 ns/wild ["ns/exact-a,ns/exact-bc,ns/same-a,ns/wild-sub","istio=ingressgateway","80","*.example.com"]',
    'IST0145 ns/exact-bc ["ns/wild,ns/wild","istio=ingressgateway","80","b.example.com,c.example.com"]',
    'IST0145 ns/same-a ["ns/exact-a,ns/wild","istio=ingressgateway","80","a.example.com"]',
    'IST0145 ns/wild-sub ["ns/wild,ns/wild","istio=ingressgateway","80","*.sub.example.com,x.sub.example.com"]',
  ]);
});

test('ConflictingGatewayAnalyzer: a bare `*` host meets every host; a later server replaces the hosts it is compared with', () => {
  const docs = [
    gateway('star', 'ns', INGRESS, [http(80, ['*'])]),
    // Two servers on port 80: other gateways see only the second one's hosts.
    gateway('two-servers', 'ns', INGRESS, [http(80, ['a.example.com']), http(80, ['z.org'])]),
    gateway('a', 'ns', INGRESS, [http(80, ['a.example.com'])]),
    // Another port or selector never conflicts.
    gateway('port-8080', 'ns', INGRESS, [http(8080, ['a.example.com'])]),
    gateway('other-selector', 'ns', 'app: other', [http(80, ['a.example.com'])]),
  ];
  assert.deepEqual(reports('gateway.ConflictingGatewayAnalyzer', docs), [
    'IST0145 ns/star ["ns/two-servers,ns/a","istio=ingressgateway","80","*"]',
    'IST0145 ns/two-servers ["ns/star,ns/a","istio=ingressgateway","80","a.example.com"]',
    'IST0145 ns/two-servers ["ns/star","istio=ingressgateway","80","z.org"]',
    'IST0145 ns/a ["ns/star","istio=ingressgateway","80","a.example.com"]',
  ]);
});

test('ConflictingGatewayAnalyzer: a gateway without servers is known when its selector text is inside any key', () => {
  const docs = [
    gateway('serving', 'ns', `${INGRESS}, app: gw`, [http(80, ['a.example.com'])]),
    // `istio=ingressgateway` is inside `app=gw,istio=ingressgateway~80`, as a substring.
    gateway('empty-known', 'ns', INGRESS, []),
    gateway('empty-unknown', 'ns', 'istio: egressgateway', []),
    gateway('empty-unknown-2', 'ns', 'istio: egressgateway', []),
  ];
  assert.deepEqual(reports('gateway.ConflictingGatewayAnalyzer', docs), [
    'IST0101 ns/empty-unknown ["selector","istio=egressgateway"]',
    'IST0101 ns/empty-unknown-2 ["selector","istio=egressgateway"]',
  ]);
});

const INGRESS_POD = pod('ingress-pod', 'istio-system', 'istio: ingressgateway, app: x');

test('IngressGatewayPortAnalyzer: selectors are told apart by their labels, not by their printed text', () => {
  const docs = [
    INGRESS_POD,
    service('ingress', 'istio-system', 'istio: ingressgateway', '{ name: http, port: 80 }'),
    // The same selector in another key order: the same workloads and ports.
    gateway('ordered', 'ns', 'istio: ingressgateway, app: x', [http(80, ['a.example.com'])]),
    gateway('reordered', 'ns', 'app: x, istio: ingressgateway', [http(8080, ['a.example.com'])]),
    // Prints as `app=x,istio=ingressgateway` too, but is one label that no workload has.
    gateway('lookalike', 'ns', `app: "x,istio=ingressgateway"`, [http(80, ['a.example.com'])]),
  ];
  assert.deepEqual(reports('gateway.IngressGatewayPortAnalyzer', docs), [
    'IST0104 ns/reordered ["app=x,istio=ingressgateway",8080]',
    'IST0101 ns/lookalike ["selector","app=x,istio=ingressgateway"]',
  ]);
});

test("IngressGatewayPortAnalyzer: ports of every Service selecting the gateway's pods, in their namespaces only", () => {
  const docs = [
    INGRESS_POD,
    pod('ingress-pod-2', 'gw-ns', 'istio: ingressgateway'),
    // An empty selector selects every pod of its namespace.
    service('everything', 'istio-system', '', '{ name: http, port: 80 }'),
    service('by-app', 'istio-system', 'app: x', '{ name: tcp, port: 9000, protocol: TCP }'),
    service('udp', 'istio-system', 'app: x', '{ name: dns, port: 53, protocol: UDP }'),
    service('second', 'gw-ns', 'istio: ingressgateway', '{ name: https, port: 443 }'),
    service('not-selecting', 'gw-ns', 'app: x', '{ name: other, port: 7000 }'),
    gateway('gw', 'ns', INGRESS, [
      http(80, ['a.example.com']),
      http(9000, ['a.example.com']),
      http(443, ['a.example.com']),
      http(53, ['a.example.com']),
      http(7000, ['a.example.com']),
    ]),
  ];
  assert.deepEqual(reports('gateway.IngressGatewayPortAnalyzer', docs), [
    'IST0104 ns/gw ["istio=ingressgateway",53]',
    'IST0104 ns/gw ["istio=ingressgateway",7000]',
  ]);
});

test('deployment.MultiServiceAnalyzer: services found through different labels are listed in input order', () => {
  const docs = [
    namespace('shop'),
    deployment('catalog', 'shop', 'app: catalog', 'app: catalog, version: v1'),
    service('by-version', 'shop', 'version: v1', '{ name: http, port: 80, targetPort: 3000 }'),
    service('by-app-udp', 'shop', 'app: catalog', '{ name: udp, port: 80, protocol: UDP, targetPort: 3000 }'),
    service('by-both', 'shop', 'app: catalog, version: v1', '{ name: http, port: 80, targetPort: 3000 }'),
    // Not selecting: another namespace, a label the pods lack, an empty selector.
    service('elsewhere', 'other', 'app: catalog', '{ name: http, port: 80, protocol: SCTP }'),
    service('v2', 'shop', 'app: catalog, version: v2', '{ name: http, port: 80, protocol: SCTP }'),
    service('all', 'shop', '', '{ name: http, port: 80, protocol: SCTP }'),
    service('alt', 'shop', 'version: v1', '{ name: http, port: 8080, targetPort: 3000 }'),
  ];
  assert.deepEqual(reports('deployment.MultiServiceAnalyzer', docs), [
    'IST0116 shop/catalog ["catalog",80,["shop/by-version","shop/by-both","shop/by-app-udp"]]',
    'IST0137 shop/catalog ["catalog",["shop/by-both","shop/alt"],"3000",[80,8080]]',
  ]);
  // With only the services that select nothing, the Deployment has no Service.
  assert.deepEqual(reports('deployment.MultiServiceAnalyzer', [...docs.slice(0, 2), ...docs.slice(5, 8)]), [
    'IST0117 shop/catalog []',
  ]);
});

test("SecretAnalyzer: the credential is looked up in the first selected workload's namespace", () => {
  const secret = (ns: string): string => `apiVersion: v1
kind: Secret
metadata: { name: cert, namespace: ${ns} }
type: kubernetes.io/tls
`;
  const workloadsInOrder = [
    pod('ingress-a', 'ns-a', 'istio: ingressgateway, app: a'),
    pod('ingress-b', 'ns-b', 'istio: ingressgateway, app: b'),
    // A Deployment with no Pod of it stands in for its pods, after all Pods.
    deployment('ingress-c', 'ns-c', 'app: c', 'istio: ingressgateway, app: c, tier: edge'),
  ];
  const gateways = [
    gateway('any', 'gw', INGRESS, [https(['a.example.com'], 'credentialName: cert')]),
    gateway('b', 'gw', `${INGRESS}, app: b`, [https(['b.example.com'], 'credentialName: cert')]),
    gateway('c', 'gw', `${INGRESS}, tier: edge`, [https(['c.example.com'], 'credentialName: cert')]),
  ];
  assert.deepEqual(reports('gateway.SecretAnalyzer', [...workloadsInOrder, secret('ns-a'), ...gateways]), [
    'IST0101 gw/b ["credentialName","cert"]',
    'IST0101 gw/c ["credentialName","cert"]',
  ]);
  assert.deepEqual(reports('gateway.SecretAnalyzer', [...workloadsInOrder, secret('ns-b'), ...gateways]), [
    'IST0101 gw/any ["credentialName","cert"]',
    'IST0101 gw/c ["credentialName","cert"]',
  ]);
  assert.deepEqual(reports('gateway.SecretAnalyzer', [...workloadsInOrder, secret('ns-c'), ...gateways]), [
    'IST0101 gw/any ["credentialName","cert"]',
    'IST0101 gw/b ["credentialName","cert"]',
  ]);
});

test('workloads: a Deployment stands in for its pods only when no Pod in its namespace matches its selector', () => {
  const sidecar = (name: string): string => `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: { name: ${name}, namespace: shop }
spec:
  workloadSelector:
    labels: { app: catalog }
`;
  const base = [
    deployment('catalog', 'shop', 'app: catalog, version: v1', 'app: catalog, version: v1'),
    sidecar('sc-1'),
    sidecar('sc-2'),
  ];
  const conflictOn = (workload: string): string =>
    `IST0110 shop/sc-1 [["sc-1","sc-2"],"shop","${workload}"]|IST0110 shop/sc-2 [["sc-1","sc-2"],"shop","${workload}"]`;
  assert.deepEqual(reports('sidecar.SelectorAnalyzer', base).join('|'), conflictOn('catalog'));
  // A Pod in another namespace, or one missing a selector label, does not replace the template.
  const elsewhere = pod('catalog-pod', 'other', 'app: catalog, version: v1');
  const partial = pod('catalog-v2', 'shop', 'app: catalog, version: v2');
  assert.deepEqual(
    reports('sidecar.SelectorAnalyzer', [elsewhere, partial, ...base]).join('|'),
    `${conflictOn('catalog-v2')}|${conflictOn('catalog')}`,
  );
  const matching = pod('catalog-abc', 'shop', 'app: catalog, version: v1, pod-template-hash: abc');
  assert.deepEqual(
    reports('sidecar.SelectorAnalyzer', [matching, ...base]).join('|'),
    conflictOn('catalog-abc'),
  );
});

function virtualService(name: string, ns: string, spec: string): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
${spec}`;
}

test('SubsetSelectPodAnalyzer: pods in any namespace, node names and ServiceEntry selectors count', () => {
  const docs = [
    service('catalog', 'shop', 'app: catalog', '{ name: http, port: 80 }'),
    `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: ext, namespace: shop }
spec:
  hosts: [ext.example.com]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  workloadSelector:
    labels: { app: ext }
`,
    pod('catalog-v2', 'other', 'app: catalog, version: v2'),
    pod('catalog-v1', 'shop', 'app: catalog, version: v1', '  nodeName: node-1\n'),
    deployment('ext', 'shop', 'app: ext', 'app: ext, version: v1'),
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: catalog, namespace: shop }
spec:
  host: catalog
  subsets:
    - { name: v2, labels: { version: v2 } }
    - { name: node, labels: { kubernetes.io/hostname: node-1 } }
    - { name: v3, labels: { version: v3 } }
    - { name: dup, labels: { version: v3 } }
    - { name: dup, labels: { version: v1 } }
`,
    // The ServiceEntry's selector joins each subset's: version v2 exists, but not on an `app: ext` pod.
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: ext, namespace: shop }
spec:
  host: ext.example.com
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`,
  ];
  assert.deepEqual(reports('destinationrule.SubsetSelectPodAnalyzer', docs), [
    'IST0173 shop/catalog ["v3"]',
    'IST0173 shop/ext ["v2"]',
  ]);
});

test('JWTClaimRouteAnalyzer: each gateway pod without a RequestAuthentication, in workload order', () => {
  const requestAuthn = (
    name: string,
    ns: string,
    app: string,
  ): string => `apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata: { name: ${name}, namespace: ${ns} }
spec:
  selector:
    matchLabels: { app: ${app} }
  jwtRules: [{ issuer: issuer.example.com }]
`;
  const docs = [
    pod('ing-1', 'istio-system', `${INGRESS}, app: a`),
    pod('plain', 'istio-system', 'app: a'),
    pod('ing-2', 'gw-ns', `${INGRESS}, app: b`),
    pod('ing-3', 'other', `${INGRESS}, app: c`),
    // The Istio namespace's RequestAuthentications apply to pods everywhere; others only in their namespace.
    requestAuthn('for-a', 'istio-system', 'a'),
    requestAuthn('for-b', 'other', 'b'),
    gateway('gw', 'gw-ns', INGRESS, [http(80, ['a.example.com'])]),
    virtualService(
      'claims',
      'gw-ns',
      `  hosts: [a.example.com]
  gateways: [gw]
  http:
    - match: [{ headers: { "@request.auth.claims.group": { exact: admin } } }]
      route: [{ destination: { host: admin } }]
`,
    ),
  ];
  assert.deepEqual(reports('virtualservice.JWTClaimRouteAnalyzer', docs), [
    'IST0149 gw-ns/claims ["@request.auth.claims.group","gw-ns/gw","ing-2"]',
    'IST0149 gw-ns/claims ["@request.auth.claims.group","gw-ns/gw","ing-3"]',
  ]);
});

test('auth.AuthorizationPoliciesAnalyzer: root-namespace policies match in-mesh workloads anywhere, others locally', () => {
  const policy = (name: string, ns: string, app?: string): string => `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:${app === undefined ? ' {}' : `\n  selector:\n    matchLabels: { app: ${app} }`}
`;
  const docs = [
    namespace('shop'),
    namespace('plain', false),
    pod('catalog', 'shop', 'app: catalog'),
    pod('web', 'plain', 'app: web'),
    policy('root-catalog', 'istio-system', 'catalog'),
    policy('root-web', 'istio-system', 'web'),
    policy('shop-catalog', 'shop', 'catalog'),
    policy('shop-web', 'shop', 'web'),
    policy('plain-web', 'plain', 'web'),
    policy('plain-all', 'plain'),
    policy('shop-all', 'shop'),
    policy('empty-all', 'empty'),
  ];
  assert.deepEqual(reports('auth.AuthorizationPoliciesAnalyzer', docs), [
    'IST0127 istio-system/root-web ["app=web"]',
    'IST0127 shop/shop-web ["app=web"]',
    'IST0127 plain/plain-web ["app=web"]',
    'IST0127 plain/plain-all [""]',
    'IST0127 empty/empty-all [""]',
  ]);
});

test('DestinationHostAnalyzer: a gateway route without subset names every subset route to its host, in order', () => {
  const route = (host: string, subset?: string): string =>
    `  http:\n    - route: [{ destination: { host: ${host}${subset ? `, subset: ${subset}` : ''} } }]\n`;
  const docs = [
    service('catalog', 'shop', 'app: catalog', '{ name: http, port: 80 }'),
    service('web', 'shop', 'app: web', '{ name: http, port: 80 }'),
    virtualService('split-1', 'shop', `  hosts: [catalog]\n${route('catalog', 'v1')}`),
    virtualService('split-other', 'shop', `  hosts: [web]\n${route('web', 'v1')}`),
    // The host listed twice counts twice, as in Istio.
    virtualService('split-2', 'shop', `  hosts: [catalog, catalog]\n${route('catalog', 'v2')}`),
    // A subset route to a host the VirtualService does not define does not count.
    virtualService('split-foreign', 'shop', `  hosts: [web]\n${route('catalog', 'v1')}`),
    virtualService('edge', 'shop', `  hosts: [catalog.example.com]\n  gateways: [gw]\n${route('catalog')}`),
  ];
  assert.deepEqual(reports('virtualservice.DestinationHostAnalyzer', docs), [
    'IST0140 shop/edge ["shop/split-1","shop/edge"]',
    'IST0140 shop/edge ["shop/split-2","shop/edge"]',
    'IST0140 shop/edge ["shop/split-2","shop/edge"]',
  ]);
});

test('ConflictingMeshGatewayHostsAnalyzer: a namespace-scoped host clashes with matching exported hosts, in order', () => {
  const docs = [
    virtualService('local', 'shop', '  hosts: [catalog]\n  exportTo: ["."]\n'),
    virtualService('wildcard', 'web', '  hosts: ["*.shop.svc.cluster.local"]\n'),
    virtualService('exported', 'shop', '  hosts: [catalog.shop.svc.cluster.local]\n'),
    virtualService('unrelated', 'web', '  hosts: [web.web.svc.cluster.local]\n'),
    // Bound to a gateway only: not a mesh host.
    virtualService('edge', 'shop', '  hosts: [catalog]\n  gateways: [gw]\n'),
  ];
  const names = 'shop/local,web/wildcard,shop/exported';
  const key = 'shop/catalog.shop.svc.cluster.local';
  assert.deepEqual(reports('virtualservice.ConflictingMeshGatewayHostsAnalyzer', docs), [
    `IST0109 shop/local ["${names}","${key}"]`,
    `IST0109 web/wildcard ["${names}","${key}"]`,
    `IST0109 shop/exported ["${names}","${key}"]`,
  ]);
});

test('DestinationHostAnalyzer: a host found only through wildcards takes the first visible one in input order', () => {
  const serviceEntry = (name: string, ns: string, host: string, port: number, exportTo = ''): string =>
    `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: ["${host}"]${exportTo}
  ports: [{ number: ${port}, name: https, protocol: HTTPS }]
`;
  const docs = [
    // Visible only in its own namespace.
    serviceEntry('private', 'other', '*.example.com', 8443, '\n  exportTo: ["."]'),
    serviceEntry('broad', 'other', '*.com', 443),
    serviceEntry('narrow', 'other', '*.example.com', 8443),
    virtualService(
      'api',
      'shop',
      '  hosts: [api.shop.svc.cluster.local]\n  http:\n    - route: [{ destination: { host: a.example.com, port: { number: 8443 } } }]\n',
    ),
  ];
  assert.deepEqual(reports('virtualservice.DestinationHostAnalyzer', docs), [
    'IST0101 shop/api ["host:port","a.example.com:8443"]',
  ]);
  // Without the broader entry first, the narrower one answers and has the port.
  assert.deepEqual(
    reports(
      'virtualservice.DestinationHostAnalyzer',
      docs.filter((_, i) => i !== 1),
    ),
    [],
  );
});
