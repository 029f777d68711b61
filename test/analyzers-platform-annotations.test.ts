import assert from 'node:assert/strict';
import { test } from 'node:test';
import { messageString, runAnalysis } from '../src/analyze/index.js';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';

/** Istio points annotation messages at the resource's first line (its annotation line is computed but lost). */
function analyze(yaml: string): string[] {
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  const result = runAnalysis(new ConfigSnapshot(resources), { analyzers: ['annotations.K8sAnalyzer'] });
  return result.messages.map(messageString);
}

/** The lab's catalog Deployment with extra annotations on its own metadata and on its pod template. */
function catalogDeployment(own: string, template = ''): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog
  namespace: istioinaction
  annotations:
${own}
spec:
  selector:
    matchLabels:
      app: catalog
  template:
    metadata:
      labels:
        app: catalog
${template}
    spec:
      containers:
        - name: catalog
          image: skiff/catalog:latest
`;
}

function pod(annotations: string, labels = '    app: webapp'): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: webapp-7d8f
  namespace: istioinaction
  labels:
${labels}
  annotations:
${annotations}
spec:
  containers:
    - name: webapp
      image: skiff/webapp:latest
`;
}

test('a Pod annotation on a Deployment is misplaced; template annotations are not looked at', () => {
  const yaml = catalogDeployment(
    '    sidecar.istio.io/proxyCPU: 100m',
    '      annotations:\n        sidecar.istio.io/bogus: x',
  );
  assert.deepEqual(analyze(yaml), [
    'Warning [IST0107] (Deployment istioinaction/catalog test.yaml:1) Misplaced annotation: sidecar.istio.io/proxyCPU can only be applied to Pod',
  ]);
});

test('unknown annotations in an istio.io domain give IST0108; other domains are ignored', () => {
  const yaml = pod(
    '    sidecar.istio.io/proxyCPUs: 100m\n    istio.io/whatever: x\n    example.com/owner: team-a\n    istio.io.example.com/x: y',
  );
  assert.deepEqual(analyze(yaml), [
    'Warning [IST0108] (Pod istioinaction/webapp-7d8f test.yaml:1) Unknown annotation: istio.io/whatever',
    'Warning [IST0108] (Pod istioinaction/webapp-7d8f test.yaml:1) Unknown annotation: sidecar.istio.io/proxyCPUs',
  ]);
});

test('the sidecar.istio.io/inject annotation is deprecated unless the label is also there', () => {
  const withoutLabel = pod("    sidecar.istio.io/inject: 'true'");
  assert.deepEqual(analyze(withoutLabel), [
    'Info [IST0135] (Pod istioinaction/webapp-7d8f test.yaml:1) Annotation "sidecar.istio.io/inject" has been deprecated in favor of the "sidecar.istio.io/inject" label and may not work in future Istio versions.',
  ]);
  const withLabel = pod(
    "    sidecar.istio.io/inject: 'true'",
    "    app: webapp\n    sidecar.istio.io/inject: 'true'",
  );
  assert.deepEqual(analyze(withLabel), []);
});

test('a deprecated annotation on the wrong kind is reported as deprecated and misplaced', () => {
  const yaml = `apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: istioinaction
  annotations:
    sidecar.istio.io/statsInclusionPrefixes: cluster.outbound
    alpha.istio.io/kubernetes-serviceaccounts: catalog
    networking.istio.io/exportTo: '.'
    kubernetes.io/ingress.class: istio
spec:
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
`;
  assert.deepEqual(analyze(yaml), [
    'Warning [IST0107] (Service istioinaction/catalog test.yaml:1) Misplaced annotation: kubernetes.io/ingress.class can only be applied to Ingress',
    'Warning [IST0107] (Service istioinaction/catalog test.yaml:1) Misplaced annotation: sidecar.istio.io/statsInclusionPrefixes can only be applied to Pod',
    'Info [IST0135] (Service istioinaction/catalog test.yaml:1) Annotation "alpha.istio.io/kubernetes-serviceaccounts" has been deprecated and may not work in future Istio versions.',
    'Info [IST0135] (Service istioinaction/catalog test.yaml:1) Annotation "sidecar.istio.io/statsInclusionPrefixes" has been deprecated and may not work in future Istio versions.',
  ]);
});

test('annotations for any resource and Namespace annotations are accepted where they belong', () => {
  const yaml = `apiVersion: v1
kind: Namespace
metadata:
  name: istioinaction
  annotations:
    topology.istio.io/controlPlaneClusters: cluster1
    galley.istio.io/analyze-suppress: IST0102
  labels:
    istio-injection: enabled
`;
  assert.deepEqual(analyze(yaml), []);
  const misplaced = yaml.replace('topology.istio.io/controlPlaneClusters', 'proxy.istio.io/config');
  assert.deepEqual(analyze(misplaced), [
    'Warning [IST0107] (Namespace istioinaction test.yaml:1) Misplaced annotation: proxy.istio.io/config can only be applied to Pod',
  ]);
});

test('invalid values of validated Pod annotations give IST0125 with Go error text', () => {
  const yaml = pod(
    [
      "    sidecar.istio.io/enableCoreDump: 'yes'",
      '    sidecar.istio.io/interceptionMode: IPTABLES',
      "    readiness.status.sidecar.istio.io/periodSeconds: '-5'",
      "    readiness.status.sidecar.istio.io/failureThreshold: '4294967296'",
      "    status.sidecar.istio.io/port: '70000'",
      "    traffic.sidecar.istio.io/includeInboundPorts: '8080,http'",
      "    traffic.sidecar.istio.io/excludeOutboundIPRanges: '10.0.0.0/8,10.1.0.0'",
      "    traffic.sidecar.istio.io/includeOutboundIPRanges: '10.96.0.0/33'",
      "    prometheus.istio.io/merge-metrics: 'True'",
    ].join('\n'),
  );
  assert.deepEqual(analyze(yaml), [
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation readiness.status.sidecar.istio.io/failureThreshold: strconv.ParseUint: parsing "4294967296": value out of range`,
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation readiness.status.sidecar.istio.io/periodSeconds: strconv.ParseUint: parsing "-5": invalid syntax`,
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation sidecar.istio.io/enableCoreDump: strconv.ParseBool: parsing "yes": invalid syntax`,
    'Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation sidecar.istio.io/interceptionMode: interceptionMode invalid, use REDIRECT,TPROXY,NONE: IPTABLES',
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation status.sidecar.istio.io/port: excludeInboundPorts invalid: failed parsing port '70000': strconv.ParseUint: parsing "70000": value out of range`,
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: excludeIPRanges invalid: failed parsing cidr '10.1.0.0': netip.ParsePrefix("10.1.0.0"): no '/'`,
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation traffic.sidecar.istio.io/includeInboundPorts: includeInboundPorts invalid: failed parsing port 'http': failed parsing port 'http': strconv.ParseUint: parsing "http": invalid syntax`,
    `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation traffic.sidecar.istio.io/includeOutboundIPRanges: includeIPRanges invalid: failed parsing cidr '10.96.0.0/33': netip.ParsePrefix("10.96.0.0/33"): prefix length out of range`,
  ]);
});

test('valid values of validated annotations are accepted', () => {
  const yaml = pod(
    [
      "    sidecar.istio.io/enableCoreDump: 'false'",
      '    sidecar.istio.io/interceptionMode: TPROXY',
      "    readiness.status.sidecar.istio.io/periodSeconds: '10'",
      "    status.sidecar.istio.io/port: '15020'",
      "    traffic.sidecar.istio.io/includeInboundPorts: '*'",
      "    traffic.sidecar.istio.io/excludeInboundPorts: ' 15090, 9090 '",
      "    traffic.sidecar.istio.io/excludeOutboundIPRanges: '10.0.0.0/8,fd00::/8'",
      "    traffic.sidecar.istio.io/includeOutboundIPRanges: '*'",
      '    proxy.istio.io/config: |\n      holdApplicationUntilProxyStarts: true\n      proxyStatsMatcher:\n        inclusionPrefixes: ["cluster.outbound"]',
    ].join('\n'),
  );
  assert.deepEqual(analyze(yaml), []);
});

test('IP range checks follow Go net/netip error texts', () => {
  const cases: [string, string][] = [
    ['10.0.0.256/8', 'netip.ParsePrefix("10.0.0.256/8"): ParseAddr("10.0.0.256"): IPv4 field has value >255'],
    [
      '10.01.0.0/16',
      'netip.ParsePrefix("10.01.0.0/16"): ParseAddr("10.01.0.0"): IPv4 field has octet with leading zero',
    ],
    ['10.0.0/8', 'netip.ParsePrefix("10.0.0/8"): ParseAddr("10.0.0"): IPv4 address too short'],
    [
      ' 10.0.0.0/8',
      'netip.ParsePrefix(" 10.0.0.0/8"): ParseAddr(" 10.0.0.0"): unexpected character (at " 10.0.0.0")',
    ],
    ['10.0.0.0/x', 'netip.ParsePrefix("10.0.0.0/x"): bad bits after slash: "x"'],
    [
      'fd00::1::/8',
      'netip.ParsePrefix("fd00::1::/8"): ParseAddr("fd00::1::"): multiple :: in address (at ":")',
    ],
    ['host/8', 'netip.ParsePrefix("host/8"): ParseAddr("host"): unable to parse IP'],
  ];
  for (const [range, error] of cases) {
    const yaml = pod(`    traffic.sidecar.istio.io/excludeOutboundIPRanges: '${range}'`);
    assert.deepEqual(analyze(yaml), [
      `Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation traffic.sidecar.istio.io/excludeOutboundIPRanges: excludeIPRanges invalid: failed parsing cidr '${range}': ${error}`,
    ]);
  }
});

test('proxy.istio.io/config is applied over the default ProxyConfig and validated', () => {
  const yaml = pod(
    '    proxy.istio.io/config: |\n      proxyAdminPort: 70000\n      drainDuration: 7200.5s\n      discoveryAddress: istiod.istio-system.svc',
  );
  assert.deepEqual(analyze(yaml), [
    'Warning [IST0125] (Pod istioinaction/webapp-7d8f test.yaml:1) Invalid annotation proxy.istio.io/config: 4 errors occurred:\n' +
      '\t* drain time only supports durations to seconds precision\n' +
      '\t* drain time 2h0m0.5s must be <1h0m0s\n' +
      '\t* invalid discovery address: unable to split "istiod.istio-system.svc": address istiod.istio-system.svc: missing port in address\n' +
      '\t* invalid proxy admin port: port number 70000 must be in the range 1..65535\n\n',
  ]);
});

test("messages point at the resource's first line, as istioctl 1.17 prints them", () => {
  const namespace = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: istioinaction\n---\n';
  assert.deepEqual(analyze(namespace + pod('    sidecar.istio.io/proxyCPUs: 100m')), [
    'Warning [IST0108] (Pod istioinaction/webapp-7d8f test.yaml:6) Unknown annotation: sidecar.istio.io/proxyCPUs',
  ]);
});
