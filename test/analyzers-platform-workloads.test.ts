import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageString, runAnalysis } from '../src/analyze/index.js';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';

function analyze(analyzer: string, ...docs: string[]): string[] {
  const { resources, errors } = parseManifests(docs.join('---\n'), 'test.yaml');
  assert.deepEqual(errors, []);
  return runAnalysis(new ConfigSnapshot(resources), { analyzers: [analyzer] }).messages.map(messageString);
}

const NAMESPACE = `apiVersion: v1
kind: Namespace
metadata:
  name: istioinaction
  labels:
    istio-injection: enabled
`;

function deployment(name: string, labels: string, extraSpec = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
${labels}
    spec:
${extraSpec}      containers:
        - name: ${name}
          image: skiff/${name}:latest
`;
}

function service(name: string, ports: string, selector = `    app: ${name}`): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: istioinaction
spec:
  selector:
${selector}
  ports:
${ports}
`;
}

const CATALOG = deployment('catalog', '        app: catalog\n        version: v1');
const CATALOG_SERVICE = service('catalog', '    - name: http\n      port: 80\n      targetPort: 3000');

test('deployment.MultiServiceAnalyzer: an in-mesh Deployment needs a Service (IST0117)', () => {
  assert.deepEqual(analyze('deployment.MultiServiceAnalyzer', NAMESPACE, CATALOG), [
    'Warning [IST0117] (Deployment istioinaction/catalog test.yaml:8) No service associated with this deployment. Service mesh deployments must be associated with a service.',
  ]);
  assert.deepEqual(analyze('deployment.MultiServiceAnalyzer', NAMESPACE, CATALOG, CATALOG_SERVICE), []);
  // Outside the mesh (no injection label on the namespace object) nothing is required.
  assert.deepEqual(analyze('deployment.MultiServiceAnalyzer', CATALOG), []);
});

test('deployment.MultiServiceAnalyzer: services disagreeing on a port protocol or target port', () => {
  const udp = service(
    'catalog-udp',
    '    - name: udp\n      port: 80\n      protocol: UDP\n      targetPort: 3000',
    '    app: catalog',
  );
  assert.deepEqual(analyze('deployment.MultiServiceAnalyzer', NAMESPACE, CATALOG, CATALOG_SERVICE, udp), [
    'Warning [IST0116] (Deployment istioinaction/catalog test.yaml:11) This deployment catalog is associated with multiple services using port 80 but different protocols: [istioinaction/catalog istioinaction/catalog-udp]',
  ]);
  const alt = service(
    'catalog-alt',
    '    - name: http\n      port: 8080\n      targetPort: 3000',
    '    app: catalog',
  );
  assert.deepEqual(analyze('deployment.MultiServiceAnalyzer', NAMESPACE, CATALOG, CATALOG_SERVICE, alt), [
    'Warning [IST0137] (Deployment istioinaction/catalog test.yaml:11) This deployment catalog is associated with multiple services [istioinaction/catalog istioinaction/catalog-alt] using targetPort "3000" but different ports: [80 8080].',
  ]);
});

test('applicationUID.Analyzer: UID 1337 in application containers or the pod securityContext (IST0144)', () => {
  const uid = deployment(
    'webapp',
    '        app: webapp',
    '      securityContext:\n        runAsUser: 1337\n',
  );
  assert.deepEqual(analyze('applicationUID.Analyzer', uid), [
    'Warning [IST0144] (Deployment istioinaction/webapp test.yaml:1) User ID (UID) 1337 is reserved for the sidecar proxy.',
  ]);
  const pod = `apiVersion: v1
kind: Pod
metadata:
  name: webapp-1
  namespace: istioinaction
spec:
  containers:
    - name: webapp
      image: skiff/webapp:latest
      securityContext:
        runAsUser: 1337
`;
  assert.deepEqual(analyze('applicationUID.Analyzer', pod), [
    'Warning [IST0144] (Pod istioinaction/webapp-1 test.yaml:1) User ID (UID) 1337 is reserved for the sidecar proxy.',
  ]);
  // The proxy container itself, other UIDs, and control-plane workloads are fine.
  assert.deepEqual(
    analyze('applicationUID.Analyzer', pod.replace('name: webapp\n', 'name: istio-proxy\n')),
    [],
  );
  assert.deepEqual(analyze('applicationUID.Analyzer', pod.replace('1337', '1000')), []);
  const gateway = pod.replace(
    '  namespace: istioinaction\n',
    '  namespace: istioinaction\n  labels:\n    istio: ingressgateway\n',
  );
  assert.deepEqual(analyze('applicationUID.Analyzer', gateway), []);
});

const WEBAPP_POLICY = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: allow-webapp
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: catalog
  rules:
    - from:
        - source:
            namespaces: [istioinaction]
            notNamespaces: [legacy]
`;

test('auth.AuthorizationPoliciesAnalyzer: a selector must match an in-mesh workload (IST0127)', () => {
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, CATALOG, WEBAPP_POLICY), [
    'Error [IST0101] (AuthorizationPolicy istioinaction/allow-webapp test.yaml:39) Referenced namespace not found: "legacy"',
  ]);
  const other = WEBAPP_POLICY.replace('app: catalog', 'app: payments');
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, CATALOG, other).slice(1), [
    'Warning [IST0127] (AuthorizationPolicy istioinaction/allow-webapp test.yaml:27) No matching workloads for this resource with the following labels: app=payments',
  ]);
});

test('auth.AuthorizationPoliciesAnalyzer: namespace-wide and mesh-wide policies', () => {
  const nsWide = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: istioinaction
spec: {}
`;
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, nsWide), [
    'Warning [IST0127] (AuthorizationPolicy istioinaction/deny-all test.yaml:8) No matching workloads for this resource with the following labels: ',
  ]);
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, CATALOG, nsWide), []);
  const meshWide = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: ingress-only
  namespace: istio-system
spec:
  selector:
    matchLabels:
      app: catalog
`;
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, CATALOG, meshWide), []);
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, meshWide), [
    'Warning [IST0127] (AuthorizationPolicy istio-system/ingress-only test.yaml:8) No matching workloads for this resource with the following labels: app=catalog',
  ]);
});

test('auth.AuthorizationPoliciesAnalyzer: namespace patterns, and the notNamespaces path quirk', () => {
  const policy = WEBAPP_POLICY.replace('[istioinaction]', "['istio*', '*action', '*']").replace(
    '[legacy]',
    '[Istioinaction, other]',
  );
  assert.deepEqual(analyze('auth.AuthorizationPoliciesAnalyzer', NAMESPACE, CATALOG, policy), [
    // notNamespaces[1] is reported at namespaces[1]'s line, as Istio computes the path.
    'Error [IST0101] (AuthorizationPolicy istioinaction/allow-webapp test.yaml:39) Referenced namespace not found: "other"',
  ]);
});

const SIDECAR = `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata:
  name: catalog-sidecar
  namespace: istioinaction
spec:
  workloadSelector:
    labels:
      app: catalog
  egress:
    - hosts: ['istio-system/*']
`;

const NAMESPACE_SIDECAR = `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata:
  name: default
  namespace: istioinaction
spec:
  egress:
    - hosts: ['istio-system/*', 'prometheus/*']
`;

test('sidecar.SelectorAnalyzer: a workload selector must select something (IST0101 on the label line)', () => {
  assert.deepEqual(analyze('sidecar.SelectorAnalyzer', CATALOG, SIDECAR), []);
  const webapp = SIDECAR.replace('app: catalog', 'app: webapp');
  assert.deepEqual(analyze('sidecar.SelectorAnalyzer', CATALOG, webapp), [
    'Error [IST0101] (Sidecar istioinaction/catalog-sidecar test.yaml:28) Referenced selector not found: "app=webapp"',
  ]);
  // The line is the alphabetically first selector key's, dotted keys included.
  const dotted = SIDECAR.replace(
    '      app: catalog',
    '      version: v9\n      app.kubernetes.io/name: webapp',
  );
  assert.deepEqual(analyze('sidecar.SelectorAnalyzer', CATALOG, dotted), [
    'Error [IST0101] (Sidecar istioinaction/catalog-sidecar test.yaml:29) Referenced selector not found: "app.kubernetes.io/name=webapp,version=v9"',
  ]);
});

test('sidecar.SelectorAnalyzer: two Sidecars selecting one workload conflict (IST0110)', () => {
  const second = SIDECAR.replace('name: catalog-sidecar', 'name: catalog-v1').replace(
    'app: catalog',
    'version: v1',
  );
  assert.deepEqual(analyze('sidecar.SelectorAnalyzer', CATALOG, SIDECAR, second), [
    'Error [IST0110] (Sidecar istioinaction/catalog-sidecar test.yaml:23) The Sidecars [catalog-sidecar catalog-v1] in namespace "istioinaction" select the same workload pod "catalog", which can lead to undefined behavior.',
    'Error [IST0110] (Sidecar istioinaction/catalog-v1 test.yaml:35) The Sidecars [catalog-sidecar catalog-v1] in namespace "istioinaction" select the same workload pod "catalog", which can lead to undefined behavior.',
  ]);
});

test('sidecar.DefaultSelectorAnalyzer: one selector-less Sidecar per namespace (IST0111)', () => {
  assert.deepEqual(analyze('sidecar.DefaultSelectorAnalyzer', NAMESPACE_SIDECAR, SIDECAR), []);
  const another = NAMESPACE_SIDECAR.replace('name: default', 'name: legacy-default');
  assert.deepEqual(analyze('sidecar.DefaultSelectorAnalyzer', NAMESPACE_SIDECAR, another, SIDECAR), [
    'Error [IST0111] (Sidecar istioinaction/default test.yaml:1) The Sidecars [default legacy-default] in namespace "istioinaction" have no workload selector, which can lead to undefined behavior.',
    'Error [IST0111] (Sidecar istioinaction/legacy-default test.yaml:10) The Sidecars [default legacy-default] in namespace "istioinaction" have no workload selector, which can lead to undefined behavior.',
  ]);
  const elsewhere = NAMESPACE_SIDECAR.replace('namespace: istioinaction', 'namespace: istio-system');
  assert.deepEqual(analyze('sidecar.DefaultSelectorAnalyzer', NAMESPACE_SIDECAR, elsewhere), []);
});

test('service.PortNameAnalyzer: port names must name a protocol (IST0118)', () => {
  const ports = [
    '    - name: web',
    '      port: 80',
    '      targetPort: 3000',
    '    - name: http-web',
    '      port: 8080',
    '    - name: metrics',
    '      port: 9090',
    '      appProtocol: http',
    '    - port: 3306',
    '    - name: dns',
    '      port: 5353',
    '      protocol: UDP',
    '    - name: GRPC-Web-api',
    '      port: 9000',
  ].join('\n');
  assert.deepEqual(analyze('service.PortNameAnalyzer', service('webapp', ports)), [
    "Info [IST0118] (Service istioinaction/webapp test.yaml:11) Port name web (port: 80, targetPort: 3000) doesn't follow the naming convention of Istio port.",
  ]);
  const unnamed = service('webapp', '    - port: 8080');
  assert.deepEqual(analyze('service.PortNameAnalyzer', unnamed), [
    "Info [IST0118] (Service istioinaction/webapp test.yaml:10) Port name  (port: 8080, targetPort: 0) doesn't follow the naming convention of Istio port.",
  ]);
  // System namespaces and control-plane services are skipped.
  assert.deepEqual(
    analyze(
      'service.PortNameAnalyzer',
      unnamed.replace('namespace: istioinaction', 'namespace: kube-system'),
    ),
    [],
  );
  assert.deepEqual(
    analyze(
      'service.PortNameAnalyzer',
      unnamed.replace('  name: webapp\n', '  name: webapp\n  labels:\n    release: istio\n'),
    ),
    [],
  );
});

test('service.PortNameAnalyzer: ExternalName services get IST0150 instead', () => {
  const external = `apiVersion: v1
kind: Service
metadata:
  name: payments
  namespace: istioinaction
spec:
  type: ExternalName
  externalName: payments.example.com
  ports:
    - name: tcp
      port: 443
    - name: https
      port: 8443
`;
  assert.deepEqual(analyze('service.PortNameAnalyzer', external), [
    'Warning [IST0150] (Service istioinaction/payments test.yaml:11) Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
  ]);
});
