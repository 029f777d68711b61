import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ALL_ANALYZERS, messageString, runAnalysis } from '../src/analyze/index.js';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';

function analyze(analyzers: string[], docs: string[], meshConfig?: string): string[] {
  const { resources, errors } = parseManifests(docs.join('---\n'), 'test.yaml');
  assert.deepEqual(errors, []);
  const mesh = meshConfig === undefined ? undefined : parseMeshConfig(meshConfig);
  return runAnalysis(new ConfigSnapshot(resources, mesh), { analyzers }).messages.map(messageString);
}

const CATALOG_VS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog
  namespace: istioinaction
spec:
  hosts:
    - catalog
  http:
    - fault:
        delay:
          percent: 50
          fixedDelay: 1s
      route:
        - destination:
            host: catalog
`;

test('deprecation.DeprecationAnalyzer: fault.delay.percent and Sidecar egressProxy (IST0002)', () => {
  assert.deepEqual(analyze(['deprecation.DeprecationAnalyzer'], [CATALOG_VS]), [
    'Warning [IST0002] (VirtualService istioinaction/catalog test.yaml:1) Deprecated: HTTPRoute.fault.delay.percent is deprecated; use HTTPRoute.fault.delay.percentage',
  ]);
  const percentage = CATALOG_VS.replace('percent: 50', 'percentage:\n            value: 50');
  assert.deepEqual(analyze(['deprecation.DeprecationAnalyzer'], [percentage]), []);
  const sidecar = `apiVersion: networking.istio.io/v1alpha3
kind: Sidecar
metadata:
  name: default
  namespace: istioinaction
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
    egressProxy:
      host: egress.istio-system.svc.cluster.local
`;
  assert.deepEqual(analyze(['deprecation.DeprecationAnalyzer'], [sidecar]), [
    'Warning [IST0002] (Sidecar istioinaction/default test.yaml:1) Deprecated: OutboundTrafficPolicy.EgressProxy ignored',
  ]);
  assert.deepEqual(
    analyze(['deprecation.DeprecationAnalyzer'], [sidecar.replace(/ {4}egressProxy:\n.*\n/, '')]),
    [],
  );
});

function envoyFilter(name: string, patches: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: ${name}
  namespace: istioinaction
spec:
${extra}  workloadSelector:
    labels:
      app: webapp
  configPatches:
${patches}`;
}

const LUA_BEFORE_ROUTER = `    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: envoy.filters.network.http_connection_manager
              subFilter:
                name: envoy.filters.http.router
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.lua
          typed_config:
            '@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
`;

test('envoyfilter.EnvoyPatchAnalyzer: relative operations need a priority (IST0151)', () => {
  assert.deepEqual(
    analyze(['envoyfilter.EnvoyPatchAnalyzer'], [envoyFilter('webapp-lua', LUA_BEFORE_ROUTER)]),
    [
      'Warning [IST0151] (EnvoyFilter istioinaction/webapp-lua test.yaml:1) This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
    ],
  );
  const prioritized = envoyFilter('webapp-lua', LUA_BEFORE_ROUTER, '  priority: 10\n');
  assert.deepEqual(analyze(['envoyfilter.EnvoyPatchAnalyzer'], [prioritized]), []);
  const first = envoyFilter('webapp-lua', LUA_BEFORE_ROUTER.replace('INSERT_BEFORE', 'INSERT_FIRST'));
  assert.deepEqual(analyze(['envoyfilter.EnvoyPatchAnalyzer'], [first]), []);
});

test('envoyfilter.EnvoyPatchAnalyzer: operations invalid for their applyTo (IST0152, IST0153, IST0154)', () => {
  const routePatch = (operation: string) => `    - applyTo: HTTP_ROUTE
      match:
        context: SIDECAR_OUTBOUND
      patch:
        operation: ${operation}
        value:
          name: catalog-route
`;
  const clusterReplace = `    - applyTo: CLUSTER
      patch:
        operation: REPLACE
        value:
          name: outbound|80||catalog.istioinaction.svc.cluster.local
`;
  const filters = [
    envoyFilter('route-add', routePatch('ADD')),
    envoyFilter('route-remove', routePatch('REMOVE')),
    envoyFilter('cluster-replace', clusterReplace),
  ];
  assert.deepEqual(analyze(['envoyfilter.EnvoyPatchAnalyzer'], filters), [
    'Error [IST0152] (EnvoyFilter istioinaction/cluster-replace test.yaml:37) The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
    'Error [IST0153] (EnvoyFilter istioinaction/route-add test.yaml:1) The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
    'Error [IST0154] (EnvoyFilter istioinaction/route-remove test.yaml:19) The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
  ]);
});

test('envoyfilter.EnvoyPatchAnalyzer: a relative patch after a proxyVersion patch of the same filter (IST0155)', () => {
  const versioned = envoyFilter(
    'webapp-lua-117',
    LUA_BEFORE_ROUTER.replace(
      '        context: SIDECAR_INBOUND\n',
      "        context: SIDECAR_INBOUND\n        proxy:\n          proxyVersion: '^1\\.17.*'\n",
    ),
    '  priority: 5\n',
  );
  const later = envoyFilter('webapp-lua', LUA_BEFORE_ROUTER);
  assert.deepEqual(analyze(['envoyfilter.EnvoyPatchAnalyzer'], [versioned, later]), [
    'Warning [IST0155] (EnvoyFilter istioinaction/webapp-lua test.yaml:30) This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
  ]);
});

const ACCESS_LOG_TELEMETRY = `apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata:
  name: webapp-access-logs
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: webapp
  accessLogging:
    - disabled: false
`;

test('telemetry.ProviderAnalyzer: access logging without providers and no mesh default (IST0157)', () => {
  assert.deepEqual(analyze(['telemetry.ProviderAnalyzer'], [ACCESS_LOG_TELEMETRY]), [
    'Warning [IST0157] (Telemetry istioinaction/webapp-access-logs test.yaml:1) The Telemetry webapp-access-logs in namespace "istioinaction" with empty providers will be ignored.',
  ]);
  const withProvider = ACCESS_LOG_TELEMETRY.replace(
    '    - disabled: false\n',
    '    - providers:\n        - name: envoy\n',
  );
  assert.deepEqual(analyze(['telemetry.ProviderAnalyzer'], [withProvider]), []);
  const disabled = ACCESS_LOG_TELEMETRY.replace('disabled: false', 'disabled: true');
  assert.deepEqual(analyze(['telemetry.ProviderAnalyzer'], [disabled]), []);
  const meshDefault = 'defaultProviders:\n  accessLogging:\n    - envoy\n';
  assert.deepEqual(analyze(['telemetry.ProviderAnalyzer'], [ACCESS_LOG_TELEMETRY], meshDefault), []);
});

test('meshnetworks.MeshNetworksAnalyzer: no MeshNetworks input offline, so nothing to report', () => {
  const secret = `apiVersion: v1
kind: Secret
metadata:
  name: istio-remote-secret-cluster2
  namespace: istio-system
  labels:
    istio/multiCluster: 'true'
data:
  cluster2: ZmFrZQ==
`;
  assert.deepEqual(analyze(['meshnetworks.MeshNetworksAnalyzer'], [secret]), []);
  assert.ok(ALL_ANALYZERS.some((a) => a.name === 'meshnetworks.MeshNetworksAnalyzer'));
});

test('schema analyzers: one per Istio 1.17 kind, with istioctl names and descriptions', () => {
  const schema = ALL_ANALYZERS.filter((a) => a.name.startsWith('schema.ValidationAnalyzer.'));
  assert.deepEqual(
    schema.map((a) => a.name),
    [
      'AuthorizationPolicy',
      'DestinationRule',
      'EnvoyFilter',
      'Gateway',
      'MeshConfig',
      'MeshNetworks',
      'PeerAuthentication',
      'ProxyConfig',
      'RequestAuthentication',
      'ServiceEntry',
      'Sidecar',
      'Telemetry',
      'VirtualService',
      'WasmPlugin',
      'WorkloadEntry',
      'WorkloadGroup',
    ].map((k) => `schema.ValidationAnalyzer.${k}`),
  );
  const vs = schema.find((a) => a.name === 'schema.ValidationAnalyzer.VirtualService');
  assert.equal(vs?.description, "Runs schema validation as an analyzer on 'VirtualService' resources");
});

test('schema.ValidationAnalyzer: an unknown top-level field on an Istio kind is IST0106', () => {
  const gateway = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: catalog-gateway
  namespace: istioinaction
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts: [catalog.istioinaction.io]
      port: {number: 80, name: http, protocol: HTTP}
specs: {}
`;
  assert.deepEqual(analyze(['schema.ValidationAnalyzer.Gateway'], [gateway]), [
    'Error [IST0106] (Gateway istioinaction/catalog-gateway test.yaml:12) Schema validation error: unknown field "specs" on Gateway resource istioinaction/catalog-gateway',
  ]);
  assert.deepEqual(analyze(['schema.ValidationAnalyzer.Gateway'], [gateway.replace('specs: {}\n', '')]), []);
  // Each kind's analyzer looks only at its own kind.
  assert.deepEqual(analyze(['schema.ValidationAnalyzer.VirtualService'], [gateway]), []);
});

test("schema.ValidationAnalyzer: a VirtualService timeout below 1ms is IST0106 on the timeout's line", () => {
  const vs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog-v1-v2
  namespace: istioinaction
spec:
  hosts:
    - catalog.istioinaction.io
  gateways:
    - catalog-gateway
  http:
    - route:
        - destination:
            host: catalog.istioinaction.svc.cluster.local
      timeout: 0.0001s
`;
  const out = analyze(['schema.ValidationAnalyzer.VirtualService'], [vs]);
  assert.equal(out.length, 1);
  assert.match(
    out[0] ?? '',
    /^Error \[IST0106\] \(VirtualService istioinaction\/catalog-v1-v2 test\.yaml:15\) Schema validation error: .*duration must be greater than 1ms/,
  );
  assert.deepEqual(
    analyze(['schema.ValidationAnalyzer.VirtualService'], [vs.replace('0.0001s', '0.5s')]),
    [],
  );
});

test('schema.ValidationAnalyzer: unreachable VirtualService rules become IST0130', () => {
  const vs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog
  namespace: istioinaction
spec:
  hosts:
    - catalog
  http:
    - route:
        - destination:
            host: catalog
    - route:
        - destination:
            host: catalog
`;
  const out = analyze(['schema.ValidationAnalyzer.VirtualService'], [vs]);
  assert.deepEqual(
    out.filter((m) => m.includes('IST0130')),
    [
      'Warning [IST0130] (VirtualService istioinaction/catalog test.yaml:13) VirtualService rule #1 not used (only the last rule can have no matches).',
    ],
  );
});

test('platform analyzers never crash on fields of the wrong type', () => {
  const junk = [
    'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: junk\n  labels:\n    istio.io/rev: ""\n',
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: junk\n  annotations:\n    proxy.istio.io/config: "a: [1"\nspec:\n  containers: 7\n  securityContext: x\n',
    'apiVersion: v1\nkind: Pod\nmetadata:\n  name: q\n  namespace: junk\n  annotations:\n    proxy.istio.io/config: "[1, 2]"\n    traffic.sidecar.istio.io/excludeOutboundIPRanges: "::ffff:1.2.3/8,fe80::1%eth0/64,1:2:3:4:5:6:7:8:9/64"\nspec:\n  containers: [null, {name: istio-proxy, image: 5}]\n',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: junk\nspec:\n  template: [1]\n',
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: junk\nspec:\n  selector: 5\n  ports: [null, {port: "x", targetPort: {}}]\n',
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio-sidecar-injector\n  namespace: istio-system\ndata:\n  values: "{\\"global\\": 5, \\"sidecarInjectorWebhook\\": []}"\n',
    'apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: w\nwebhooks: [null, {name: a.istio.io, namespaceSelector: {matchExpressions: [null, {key: k, operator: Bogus}]}, clientConfig: {service: 3}}]\n',
    'apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata:\n  name: a\n  namespace: junk\nspec:\n  selector: {matchLabels: [1]}\n  rules: [null, {from: [null, {source: {namespaces: [1, null]}}]}]\n',
    'apiVersion: networking.istio.io/v1alpha3\nkind: Sidecar\nmetadata:\n  name: sc\n  namespace: junk\nspec:\n  workloadSelector: {labels: 5}\n  outboundTrafficPolicy: 3\n',
    'apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: ef\n  namespace: junk\nspec:\n  priority: x\n  configPatches: [{applyTo: 99, patch: {operation: -1, value: 7}}, null]\n',
    'apiVersion: telemetry.istio.io/v1alpha1\nkind: Telemetry\nmetadata:\n  name: t\n  namespace: junk\nspec:\n  accessLogging: [null, 4, {providers: 3}]\n',
    'apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: vs\n  namespace: junk\nspec:\n  http: [{fault: {delay: 3}}, 5]\n',
  ];
  const { resources } = parseManifests(junk.join('---\n'), 'junk.yaml');
  assert.equal(resources.length, junk.length);
  const names = ALL_ANALYZERS.map((a) => a.name).filter(
    (n) =>
      !n.startsWith('virtualservice.') &&
      !n.startsWith('gateway.') &&
      !n.startsWith('destinationrule.') &&
      !n.startsWith('serviceentry.'),
  );
  const out = runAnalysis(new ConfigSnapshot(resources), { analyzers: names }).messages.map(messageString);
  assert.deepEqual(
    out.filter((m) => m.includes('IST0001')),
    [],
  );
  assert.ok(out.some((m) => m.includes('Invalid annotation proxy.istio.io/config: failed to convert')));
});
