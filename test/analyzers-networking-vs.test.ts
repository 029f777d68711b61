import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeDocs, lineOfNeedle } from './analyzer-harness.js';

const FILE = 'routing.yaml';

/** The lab's ingress gateway workload (a Deployment, as offline manifests have it). */
const INGRESS = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  template:
    metadata:
      labels:
        istio: ingressgateway
    spec:
      containers:
        - name: istio-proxy
          image: skiff/proxy:latest
`;

const CATALOG_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: istioinaction
spec:
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
      targetPort: 3000
`;

/** webapp exposes its app port and a metrics port. */
const WEBAPP_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: webapp
  namespace: istioinaction
spec:
  selector:
    app: webapp
  ports:
    - name: http
      port: 80
      targetPort: 8080
    - name: http-metrics
      port: 9090
`;

const CATALOG_GATEWAY = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: catalog-gateway
  namespace: istioinaction
spec:
  selector:
    istio: ingressgateway
  servers:
    - port:
        number: 80
        name: http
        protocol: HTTP
      hosts:
        - catalog.istioinaction.io
`;

interface VsOptions {
  namespace?: string;
  hosts?: string[];
  gateways?: string[];
  exportTo?: string[];
  /** The `http:` list, indented for its place under `spec`. */
  http?: string;
}

function virtualService(name: string, opts: VsOptions = {}): string {
  const list = (key: string, items: string[] | undefined): string =>
    items === undefined ? '' : `  ${key}:\n${items.map((i) => `    - '${i}'\n`).join('')}`;
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${opts.namespace ?? 'istioinaction'}
spec:
${list('hosts', opts.hosts ?? ['catalog.istioinaction.io'])}${list('gateways', opts.gateways)}${list('exportTo', opts.exportTo)}  http:
${opts.http ?? routeTo('catalog.istioinaction.svc.cluster.local', { port: 80 })}`;
}

function routeTo(host: string, opts: { port?: number; subset?: string } = {}): string {
  return `    - route:
        - destination:
            host: ${host}
${opts.subset ? `            subset: ${opts.subset}\n` : ''}${opts.port ? `            port:\n              number: ${opts.port}\n` : ''}`;
}

function analyze(analyzer: string, docs: string[]): string[] {
  return analyzeDocs(analyzer, docs, FILE);
}

const lineOf = lineOfNeedle;

const CONFLICT_TAIL =
  'which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.';

test('ConflictingMeshGatewayHostsAnalyzer: short and full names of one host on the mesh gateway conflict', () => {
  const docs = [
    virtualService('catalog', { hosts: ['catalog'] }),
    virtualService('catalog-canary', {
      hosts: ['catalog.istioinaction.svc.cluster.local'],
      gateways: ['mesh'],
    }),
  ];
  const names = 'istioinaction/catalog,istioinaction/catalog-canary';
  const host = '*/catalog.istioinaction.svc.cluster.local';
  assert.deepEqual(analyze('virtualservice.ConflictingMeshGatewayHostsAnalyzer', docs), [
    `Error [IST0109] (VirtualService istioinaction/catalog-canary ${FILE}:${lineOf(docs, 'name: catalog-canary')}) The VirtualServices ${names} associated with mesh gateway define the same host ${host} ${CONFLICT_TAIL}`,
    `Error [IST0109] (VirtualService istioinaction/catalog ${FILE}:${lineOf(docs, 'name: catalog')}) The VirtualServices ${names} associated with mesh gateway define the same host ${host} ${CONFLICT_TAIL}`,
  ]);
});

test('ConflictingMeshGatewayHostsAnalyzer: gateway-only services and separate exportTo scopes do not conflict', () => {
  const docs = [
    virtualService('catalog', { hosts: ['catalog'], gateways: ['catalog-gateway'] }),
    virtualService('catalog-canary', { hosts: ['catalog'], gateways: ['catalog-gateway'] }),
    virtualService('webapp', { hosts: ['webapp.istioinaction.svc.cluster.local'], exportTo: ['.'] }),
    virtualService('webapp', {
      namespace: 'istio-system',
      hosts: ['webapp.istioinaction.svc.cluster.local'],
      exportTo: ['.'],
    }),
  ];
  assert.deepEqual(analyze('virtualservice.ConflictingMeshGatewayHostsAnalyzer', docs), []);
});

test('ConflictingMeshGatewayHostsAnalyzer: a namespace-scoped host clashes with a matching wildcard exported to all', () => {
  const docs = [
    virtualService('catalog', { hosts: ['catalog.istioinaction.svc.cluster.local'], exportTo: ['.'] }),
    virtualService('all-services', {
      namespace: 'istio-system',
      hosts: ['*.istioinaction.svc.cluster.local'],
    }),
  ];
  const names = 'istioinaction/catalog,istio-system/all-services';
  const host = 'istioinaction/catalog.istioinaction.svc.cluster.local';
  assert.deepEqual(analyze('virtualservice.ConflictingMeshGatewayHostsAnalyzer', docs), [
    `Error [IST0109] (VirtualService istio-system/all-services ${FILE}:${lineOf(docs, 'name: all-services')}) The VirtualServices ${names} associated with mesh gateway define the same host ${host} ${CONFLICT_TAIL}`,
    `Error [IST0109] (VirtualService istioinaction/catalog ${FILE}:${lineOf(docs, 'name: catalog')}) The VirtualServices ${names} associated with mesh gateway define the same host ${host} ${CONFLICT_TAIL}`,
  ]);
});

test('DestinationHostAnalyzer: the lab routes to existing services and ports', () => {
  const docs = [
    CATALOG_SERVICE,
    WEBAPP_SERVICE,
    virtualService('catalog', {
      gateways: ['catalog-gateway'],
      http:
        routeTo('catalog.istioinaction.svc.cluster.local', { port: 80 }) + routeTo('webapp', { port: 9090 }),
    }),
  ];
  assert.deepEqual(analyze('virtualservice.DestinationHostAnalyzer', docs), []);
});

test('DestinationHostAnalyzer: unknown hosts, unknown ports and ambiguous ports are reported at the host field', () => {
  const docs = [
    CATALOG_SERVICE,
    WEBAPP_SERVICE,
    virtualService('catalog', {
      http:
        routeTo('catalogue.istioinaction.svc.cluster.local', { port: 80 }) +
        routeTo('catalog', { port: 3000 }) +
        routeTo('webapp.istioinaction.svc.cluster.local') +
        `    - mirror:
        host: catalog-shadow
      route:
        - destination:
            host: catalog
`,
    }),
  ];
  const ref = (nth: number): string => `${FILE}:${lineOf(docs, 'host: ', nth)}`;
  assert.deepEqual(analyze('virtualservice.DestinationHostAnalyzer', docs), [
    `Error [IST0101] (VirtualService istioinaction/catalog ${ref(1)}) Referenced host not found: "catalogue.istioinaction.svc.cluster.local"`,
    `Error [IST0101] (VirtualService istioinaction/catalog ${ref(2)}) Referenced host:port not found: "catalog:3000"`,
    `Error [IST0101] (VirtualService istioinaction/catalog ${ref(4)}) Referenced mirror host not found: "catalog-shadow"`,
    `Error [IST0112] (VirtualService istioinaction/catalog ${ref(3)}) This VirtualService routes to a service "webapp.istioinaction.svc.cluster.local" that exposes multiple ports [80 9090]. Specifying a port in the destination is required to disambiguate.`,
  ]);
});

test('DestinationHostAnalyzer: ServiceEntry hosts (also wildcards) resolve; Service exportTo limits visibility', () => {
  const serviceEntry = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: github
  namespace: istioinaction
spec:
  hosts:
    - '*.github.com'
  ports:
    - number: 443
      name: https
      protocol: TLS
  resolution: DNS
`;
  const localCatalog = CATALOG_SERVICE.replace(
    'namespace: istioinaction',
    "namespace: istioinaction\n  annotations:\n    networking.istio.io/exportTo: '.'",
  );
  const docs = [
    serviceEntry,
    localCatalog,
    virtualService('github', { hosts: ['api.github.com'], http: routeTo('api.github.com', { port: 443 }) }),
    virtualService('catalog', {
      namespace: 'webapp',
      http: routeTo('catalog.istioinaction.svc.cluster.local', { port: 80 }),
    }),
  ];
  assert.deepEqual(analyze('virtualservice.DestinationHostAnalyzer', docs), [
    `Error [IST0101] (VirtualService webapp/catalog ${FILE}:${lineOf(docs, 'host: catalog.istioinaction.svc.cluster.local')}) Referenced host not found: "catalog.istioinaction.svc.cluster.local"`,
  ]);
});

test('DestinationHostAnalyzer: a gateway route without a subset to a host split by subsets elsewhere is IST0140', () => {
  const subsets = virtualService('catalog', {
    hosts: ['catalog'],
    http: routeTo('catalog', { subset: 'version-v1' }) + routeTo('catalog', { subset: 'version-v2' }),
  });
  const ingress = virtualService('catalog-ingress', {
    gateways: ['catalog-gateway'],
    http: routeTo('catalog', { port: 80 }),
  });
  const docs = [CATALOG_SERVICE, subsets, ingress];
  // Istio's field path for this message names the rule instead of `http`; for an unnamed rule it finds no line.
  assert.deepEqual(analyze('virtualservice.DestinationHostAnalyzer', docs), [
    `Warning [IST0140] (VirtualService istioinaction/catalog-ingress ${FILE}:${lineOf(docs, 'apiVersion', 3)}) Subset in virtual service istioinaction/catalog has no effect on ingress gateway istioinaction/catalog-ingress requests`,
  ]);
  // Without the gateway binding, the route is the mesh's and nothing is reported.
  const meshOnly = [
    CATALOG_SERVICE,
    subsets,
    virtualService('catalog-ingress', { http: routeTo('catalog', { port: 80 }) }),
  ];
  assert.deepEqual(analyze('virtualservice.DestinationHostAnalyzer', meshOnly), []);
});

test('GatewayAnalyzer: the lab VirtualService on the lab Gateway is fine, and `mesh` needs no Gateway', () => {
  const docs = [CATALOG_GATEWAY, virtualService('catalog-v1-v2', { gateways: ['catalog-gateway', 'mesh'] })];
  assert.deepEqual(analyze('virtualservice.GatewayAnalyzer', docs), []);
});

test('GatewayAnalyzer: a missing gateway gets IST0101 and IST0132 at the gateways entry', () => {
  const docs = [CATALOG_GATEWAY, virtualService('catalog-v1-v2', { gateways: ['mesh', 'catalog-gw'] })];
  const ref = `${FILE}:${lineOf(docs, "- 'catalog-gw'")}`;
  assert.deepEqual(analyze('virtualservice.GatewayAnalyzer', docs), [
    `Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 ${ref}) Referenced gateway not found: "catalog-gw"`,
    `Warning [IST0132] (VirtualService istioinaction/catalog-v1-v2 ${ref}) one or more host [catalog.istioinaction.io] defined in VirtualService istioinaction/catalog-v1-v2 not found in Gateway istioinaction/catalog-gw.`,
  ]);
});

test('GatewayAnalyzer: hosts must match a gateway host visible to the VirtualService namespace', () => {
  const shared = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: shared-gateway
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  servers:
    - port:
        number: 80
        name: http
        protocol: HTTP
      hosts:
        - 'istioinaction/*.istioinaction.io'
        - './admin.istioinaction.io'
`;
  const docs = [
    CATALOG_GATEWAY,
    shared,
    virtualService('webapp', { hosts: ['webapp.istioinaction.io'], gateways: ['catalog-gateway'] }),
    virtualService('catalog', { gateways: ['istio-system/shared-gateway'] }),
    virtualService('admin', {
      hosts: ['admin.istioinaction.io'],
      namespace: 'webapp',
      gateways: ['istio-system/shared-gateway'],
    }),
  ];
  assert.deepEqual(analyze('virtualservice.GatewayAnalyzer', docs), [
    `Warning [IST0132] (VirtualService webapp/admin ${FILE}:${lineOf(docs, "- 'istio-system/shared-gateway'", 2)}) one or more host [admin.istioinaction.io] defined in VirtualService webapp/admin not found in Gateway istio-system/shared-gateway.`,
    `Warning [IST0132] (VirtualService istioinaction/webapp ${FILE}:${lineOf(docs, "- 'catalog-gateway'")}) one or more host [webapp.istioinaction.io] defined in VirtualService istioinaction/webapp not found in Gateway istioinaction/catalog-gateway.`,
  ]);
});

const JWT_ROUTE = `    - match:
        - headers:
            '@request.auth.claims.group':
              exact: admin
      route:
        - destination:
            host: catalog
`;

function requestAuthentication(namespace: string, selector: string): string {
  return `apiVersion: security.istio.io/v1beta1
kind: RequestAuthentication
metadata:
  name: jwt-token
  namespace: ${namespace}
spec:
${selector}  jwtRules:
    - issuer: auth@istioinaction.io
      jwksUri: https://auth.istioinaction.io/.well-known/jwks.json
`;
}

const INGRESS_RA_SELECTOR = '  selector:\n    matchLabels:\n      istio: ingressgateway\n';

test('JWTClaimRouteAnalyzer: claim routing on a gateway without RequestAuthentication is IST0149', () => {
  const vs = virtualService('catalog', { gateways: ['catalog-gateway'], http: JWT_ROUTE });
  const docs = [INGRESS, CATALOG_GATEWAY, vs];
  // Offline, the gateway's workload is the Deployment, so its name stands where Istio names a pod.
  assert.deepEqual(analyze('virtualservice.JWTClaimRouteAnalyzer', docs), [
    `Error [IST0149] (VirtualService istioinaction/catalog ${FILE}:${lineOf(docs, 'apiVersion', 3)}) The virtual service uses the JWT claim based routing (key: @request.auth.claims.group) but found no request authentication for the gateway (istioinaction/catalog-gateway) pod (istio-ingressgateway). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.`,
  ]);
  // A RequestAuthentication in the application namespace does not cover the gateway pods.
  const wrongNamespace = [...docs, requestAuthentication('istioinaction', INGRESS_RA_SELECTOR)];
  assert.equal(analyze('virtualservice.JWTClaimRouteAnalyzer', wrongNamespace).length, 1);
});

test('JWTClaimRouteAnalyzer: a RequestAuthentication on the gateway pods, or no claim routing, is fine', () => {
  const vs = virtualService('catalog', { gateways: ['catalog-gateway'], http: JWT_ROUTE });
  const covered = [INGRESS, CATALOG_GATEWAY, vs, requestAuthentication('istio-system', INGRESS_RA_SELECTOR)];
  assert.deepEqual(analyze('virtualservice.JWTClaimRouteAnalyzer', covered), []);
  const meshWide = [INGRESS, CATALOG_GATEWAY, vs, requestAuthentication('istio-system', '')];
  assert.deepEqual(analyze('virtualservice.JWTClaimRouteAnalyzer', meshWide), []);
  const plain = [INGRESS, CATALOG_GATEWAY, virtualService('catalog', { gateways: ['catalog-gateway'] })];
  assert.deepEqual(analyze('virtualservice.JWTClaimRouteAnalyzer', plain), []);
});

test('JWTClaimRouteAnalyzer: running pods are named individually', () => {
  const pod = (name: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: istio-system
  labels:
    istio: ingressgateway
spec:
  containers:
    - name: istio-proxy
      image: skiff/proxy:latest
`;
  const vs = virtualService('catalog', { gateways: ['catalog-gateway'], http: JWT_ROUTE });
  const docs = [INGRESS, pod('istio-ingressgateway-6bd8c9-x2k4p'), CATALOG_GATEWAY, vs];
  const messages = analyze('virtualservice.JWTClaimRouteAnalyzer', docs);
  assert.equal(messages.length, 1);
  assert.match(messages[0] ?? '', /pod \(istio-ingressgateway-6bd8c9-x2k4p\)\./);
});

test('RegexAnalyzer: valid RE2 is fine; lookahead and broken classes are IST0122 at the regex field', () => {
  const http = (uri: string, header: string, origin: string): string => `    - match:
        - uri:
            regex: '${uri}'
          headers:
            x-catalog-tenant:
              regex: '${header}'
      corsPolicy:
        allowOrigins:
          - exact: https://webapp.istioinaction.io
          - regex: '${origin}'
      route:
        - destination:
            host: catalog
`;
  const valid = [
    virtualService('catalog', {
      http: http('/api/catalog/items/[0-9]+', 'team-[a-z]+', 'https://.*\\.istioinaction\\.io'),
    }),
  ];
  assert.deepEqual(analyze('virtualservice.RegexAnalyzer', valid), []);

  const docs = [
    virtualService('catalog', {
      http: http('^/(?!admin).*', 'team-[a-z', 'https://(.*\\.istioinaction\\.io'),
    }),
  ];
  const ref = (nth: number): string => `${FILE}:${lineOf(docs, 'regex:', nth)}`;
  assert.deepEqual(analyze('virtualservice.RegexAnalyzer', docs), [
    `Warning [IST0122] (VirtualService istioinaction/catalog ${ref(1)}) Field "uri" regular expression invalid: "^/(?!admin).*" (error parsing regexp: invalid or unsupported Perl syntax: \`(?!\`)`,
    `Warning [IST0122] (VirtualService istioinaction/catalog ${ref(2)}) Field "headers" regular expression invalid: "team-[a-z" (error parsing regexp: missing closing ]: \`[a-z\`)`,
    `Warning [IST0122] (VirtualService istioinaction/catalog ${ref(3)}) Field "corsPolicy.allowOrigins" regular expression invalid: "https://(.*\\\\.istioinaction\\\\.io" (error parsing regexp: missing closing ): \`https://(.*\\.istioinaction\\.io\`)`,
  ]);
});

test('DestinationRuleAnalyzer (1.17 host matching): FQDN and short names meet, wildcard hosts do not', () => {
  const destinationRule = (host: string): string => `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: catalog
  namespace: istioinaction
spec:
  host: ${host}
  subsets:
    - name: version-v1
      labels:
        version: v1
`;
  const vs = virtualService('catalog', {
    http: routeTo('catalog.istioinaction.svc.cluster.local', { subset: 'version-v1', port: 80 }),
  });
  assert.deepEqual(analyze('virtualservice.DestinationRuleAnalyzer', [destinationRule('catalog'), vs]), []);
  const docs = [destinationRule("'*.istioinaction.svc.cluster.local'"), vs];
  assert.deepEqual(analyze('virtualservice.DestinationRuleAnalyzer', docs), [
    `Error [IST0101] (VirtualService istioinaction/catalog ${FILE}:${lineOf(docs, 'host: catalog.istioinaction')}) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v1"`,
  ]);
});

test('virtual service analyzers survive malformed VirtualServices without an internal error', () => {
  const broken = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: broken
  namespace: istioinaction
spec:
  hosts: catalog
  gateways: [7, mesh]
  exportTo: '.'
  http:
    - match: [{ uri: { regex: 5 } }, 3, { headers: [] }]
      route: [{ destination: 'catalog' }, { destination: { host: 7, port: 80 } }]
      mirror: true
      corsPolicy: { allowOrigins: 'x' }
    - 12
  tcp: { route: [] }
`;
  for (const analyzer of [
    'virtualservice.ConflictingMeshGatewayHostsAnalyzer',
    'virtualservice.DestinationHostAnalyzer',
    'virtualservice.DestinationRuleAnalyzer',
    'virtualservice.GatewayAnalyzer',
    'virtualservice.JWTClaimRouteAnalyzer',
    'virtualservice.RegexAnalyzer',
  ]) {
    const messages = analyze(analyzer, [INGRESS, CATALOG_SERVICE, CATALOG_GATEWAY, broken]);
    assert.ok(
      messages.every((m) => !m.includes('IST0001')),
      `${analyzer}: ${messages.join('\n')}`,
    );
  }
});
