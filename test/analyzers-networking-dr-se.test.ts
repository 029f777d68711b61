import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeDocs, lineOfNeedle } from './analyzer-harness.js';
import { parseMeshConfig } from '../src/model/index.js';
import type { MeshConfig } from '../src/model/index.js';

const FILE = 'traffic.yaml';

/** The lab's catalog: a Service and two Deployments, v1 and v2 (no Pods, as offline manifests have it). */
const CATALOG = `apiVersion: v1
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
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: catalog
      version: v1
  template:
    metadata:
      labels:
        app: catalog
        version: v1
    spec:
      containers:
        - name: catalog
          image: skiff/catalog:latest
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: catalog-v2
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: catalog
      version: v2
  template:
    metadata:
      labels:
        app: catalog
        version: v2
    spec:
      containers:
        - name: catalog
          image: skiff/catalog:latest
`;

function destinationRule(name: string, host: string, body: string): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: istioinaction
spec:
  host: ${host}
${body}`;
}

function subsets(...versions: string[]): string {
  return `  subsets:\n${versions.map((v) => `    - name: version-${v}\n      labels:\n        version: ${v}\n`).join('')}`;
}

function analyze(analyzer: string, docs: string[], mesh?: MeshConfig): string[] {
  return analyzeDocs(analyzer, docs, FILE, mesh);
}

const lineOf = lineOfNeedle;

const PARTNER_HOST = 'api.catalog-partner.io';

function originationRule(tls: string, portLevel = ''): string {
  return destinationRule('catalog-partner', PARTNER_HOST, `  trafficPolicy:\n${tls}${portLevel}`);
}

test('CaCertificateAnalyzer: SIMPLE origination without caCertificates is IST0128 (at the field when present)', () => {
  const absent = [originationRule('    tls:\n      mode: SIMPLE\n      sni: api.catalog-partner.io\n')];
  // Istio points at `tls.caCertificates`; when it is absent the reference falls back to the resource.
  assert.deepEqual(analyze('destinationrule.CaCertificateAnalyzer', absent), [
    `Error [IST0128] (DestinationRule istioinaction/catalog-partner ${FILE}:1) DestinationRule istioinaction/catalog-partner in namespace istioinaction has TLS mode set to SIMPLE but no caCertificates are set to validate server identity for host: ${PARTNER_HOST}`,
  ]);
  const empty = [originationRule("    tls:\n      mode: MUTUAL\n      caCertificates: ''\n")];
  assert.deepEqual(analyze('destinationrule.CaCertificateAnalyzer', empty), [
    `Error [IST0128] (DestinationRule istioinaction/catalog-partner ${FILE}:${lineOf(empty, 'caCertificates')}) DestinationRule istioinaction/catalog-partner in namespace istioinaction has TLS mode set to MUTUAL but no caCertificates are set to validate server identity for host: ${PARTNER_HOST}`,
  ]);
});

test('CaCertificateAnalyzer: port-level SIMPLE/MUTUAL without caCertificates is IST0129 naming the port', () => {
  const portLevel = `    portLevelSettings:
      - port:
          number: 443
        tls:
          mode: SIMPLE
          caCertificates: /etc/certs/partner-ca.pem
      - port:
          number: 8443
        tls:
          mode: MUTUAL
          clientCertificate: /etc/certs/client.pem
          privateKey: /etc/certs/client-key.pem
          caCertificates: ''
      - port:
          number: 9443
        tls:
          mode: ISTIO_MUTUAL
`;
  const docs = [originationRule('    tls:\n      mode: DISABLE\n', portLevel)];
  assert.deepEqual(analyze('destinationrule.CaCertificateAnalyzer', docs), [
    `Warning [IST0129] (DestinationRule istioinaction/catalog-partner ${FILE}:${lineOf(docs, "caCertificates: ''")}) DestinationRule istioinaction/catalog-partner in namespace istioinaction has TLS mode set to MUTUAL but no caCertificates are set to validate server identity for host: ${PARTNER_HOST} at port number:8443`,
  ]);
});

test('CaCertificateAnalyzer: caCertificates set, ISTIO_MUTUAL or no TLS is fine', () => {
  const docs = [
    originationRule('    tls:\n      mode: SIMPLE\n      caCertificates: /etc/certs/partner-ca.pem\n'),
    destinationRule(
      'catalog',
      'catalog.istioinaction.svc.cluster.local',
      '  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n',
    ),
    destinationRule('webapp', 'webapp', subsets('v1')),
  ];
  assert.deepEqual(analyze('destinationrule.CaCertificateAnalyzer', docs), []);
});

test('SubsetSelectPodAnalyzer: the lab subsets select the v1 and v2 Deployments', () => {
  const docs = [
    CATALOG,
    destinationRule('catalog', 'catalog.istioinaction.svc.cluster.local', subsets('v1', 'v2')),
  ];
  assert.deepEqual(analyze('destinationrule.SubsetSelectPodAnalyzer', docs), []);
});

test('SubsetSelectPodAnalyzer: a subset no workload carries is IST0173 on the DestinationRule', () => {
  const docs = [CATALOG, destinationRule('catalog', 'catalog', subsets('v1', 'v3'))];
  assert.deepEqual(analyze('destinationrule.SubsetSelectPodAnalyzer', docs), [
    `Error [IST0173] (DestinationRule istioinaction/catalog ${FILE}:${lineOf(docs, 'apiVersion', 4)}) The Subset version-v3 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
  ]);
});

test('SubsetSelectPodAnalyzer: a host that resolves to no service is skipped (IST0174 is later Istio)', () => {
  const docs = [CATALOG, destinationRule('catalogue', 'catalogue', subsets('v3'))];
  assert.deepEqual(analyze('destinationrule.SubsetSelectPodAnalyzer', docs), []);
});

test("SubsetSelectPodAnalyzer: a ServiceEntry's workload selector is merged into each subset", () => {
  const serviceEntry = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: catalog-vm
  namespace: istioinaction
spec:
  hosts:
    - catalog.vm.istioinaction.io
  ports:
    - number: 80
      name: http
      protocol: HTTP
  resolution: STATIC
  workloadSelector:
    labels:
      app: catalog-vm
`;
  const docs = [
    CATALOG,
    serviceEntry,
    destinationRule('catalog-vm', 'catalog.vm.istioinaction.io', subsets('v1')),
  ];
  // The catalog Deployment has version=v1 but not app=catalog-vm.
  assert.deepEqual(analyze('destinationrule.SubsetSelectPodAnalyzer', docs), [
    `Error [IST0173] (DestinationRule istioinaction/catalog-vm ${FILE}:${lineOf(docs, 'apiVersion', 5)}) The Subset version-v1 defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
  ]);
});

test('SubsetSelectPodAnalyzer: a running pod is matched with its node name as kubernetes.io/hostname', () => {
  const pod = `apiVersion: v1
kind: Pod
metadata:
  name: catalog-7c96f7cc66-abcde
  namespace: istioinaction
  labels:
    app: catalog
    version: v1
spec:
  nodeName: worker-1
  containers:
    - name: catalog
      image: skiff/catalog:latest
`;
  const onNode = `  subsets:
    - name: on-worker-1
      labels:
        kubernetes.io/hostname: worker-1
`;
  const docs = [CATALOG, pod, destinationRule('catalog', 'catalog', onNode)];
  assert.deepEqual(analyze('destinationrule.SubsetSelectPodAnalyzer', docs), []);
});

function serviceEntry(name: string, ports: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: ${name}
  namespace: istioinaction
spec:
  hosts:
    - ${name}.catalog-partner.io
${extra}  location: MESH_EXTERNAL
  resolution: DNS
  ports:
${ports}`;
}

const TCP_PORTS = `    - number: 443
      name: https
      protocol: TLS
    - number: 5432
      name: postgres
      protocol: TCP
    - number: 6379
      name: redis
`;

test('serviceentry.Analyzer: TCP ports (or ports without a protocol) need addresses: IST0134 at each port name', () => {
  const docs = [serviceEntry('catalog-db', TCP_PORTS)];
  assert.deepEqual(analyze('serviceentry.Analyzer', docs), [
    `Warning [IST0134] (ServiceEntry istioinaction/catalog-db ${FILE}:${lineOf(docs, 'name: postgres')}) ServiceEntry addresses are required for this protocol.`,
    `Warning [IST0134] (ServiceEntry istioinaction/catalog-db ${FILE}:${lineOf(docs, 'name: redis')}) ServiceEntry addresses are required for this protocol.`,
  ]);
});

test('serviceentry.Analyzer: HTTP/TLS ports, given addresses, or DNS auto-allocation need nothing', () => {
  const tlsOnly = serviceEntry('api', '    - number: 443\n      name: https\n      protocol: TLS\n');
  const withAddresses = serviceEntry('catalog-db', TCP_PORTS, '  addresses:\n    - 240.240.0.10\n');
  assert.deepEqual(analyze('serviceentry.Analyzer', [tlsOnly, withAddresses]), []);

  const autoAllocate = parseMeshConfig(
    "defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_CAPTURE: 'true'\n    ISTIO_META_DNS_AUTO_ALLOCATE: 'true'\n",
  );
  assert.deepEqual(
    analyze('serviceentry.Analyzer', [serviceEntry('catalog-db', TCP_PORTS)], autoAllocate),
    [],
  );
  // Auto-allocation only works with DNS capture on.
  const allocateOnly = parseMeshConfig(
    "defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_AUTO_ALLOCATE: 'true'\n",
  );
  assert.equal(
    analyze('serviceentry.Analyzer', [serviceEntry('catalog-db', TCP_PORTS)], allocateOnly).length,
    2,
  );
});

test('destination rule and service entry analyzers survive malformed objects without an internal error', () => {
  const brokenDr = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: broken
  namespace: istioinaction
spec:
  host: [catalog]
  trafficPolicy:
    tls: SIMPLE
    portLevelSettings: [3, { port: 80, tls: { mode: 2 } }, { tls: { mode: SIMPLE } }]
  subsets: [{ name: v1, labels: v1 }, 7]
`;
  const brokenSe = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: broken
  namespace: istioinaction
spec:
  hosts: catalog
  ports: [{ number: '80' }, null, 5]
  workloadSelector: { labels: [1] }
`;
  for (const analyzer of [
    'destinationrule.CaCertificateAnalyzer',
    'destinationrule.SubsetSelectPodAnalyzer',
    'serviceentry.Analyzer',
  ]) {
    const messages = analyze(analyzer, [CATALOG, brokenDr, brokenSe]);
    assert.ok(
      messages.every((m) => !m.includes('IST0001')),
      `${analyzer}: ${messages.join('\n')}`,
    );
  }
});
