import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyzeDocs, lineOfNeedle } from './analyzer-harness.js';

const FILE = 'gateways.yaml';

/** The lab's ingress gateway: a Deployment (no Pods offline) and its NodePort Service without `protocol`. */
const INGRESS = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  selector:
    matchLabels:
      app: istio-ingressgateway
      istio: ingressgateway
  template:
    metadata:
      labels:
        app: istio-ingressgateway
        istio: ingressgateway
    spec:
      containers:
        - name: istio-proxy
          image: skiff/proxy:latest
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  type: NodePort
  selector:
    app: istio-ingressgateway
    istio: ingressgateway
  ports:
    - name: status-port
      port: 15021
      targetPort: 15021
    - name: http2
      port: 80
      targetPort: 8080
      nodePort: 30000
    - name: https
      port: 443
      targetPort: 8443
      nodePort: 30005
`;

function gateway(name: string, selector: string, servers: string): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: ${name}
  namespace: istioinaction
spec:
  selector:
${selector}
  servers:
${servers}`;
}

const INGRESS_SELECTOR = '    istio: ingressgateway';

function httpServer(port: number, host: string): string {
  return `    - port:
        number: ${port}
        name: http
        protocol: HTTP
      hosts:
        - ${host}
`;
}

function httpsServer(host: string, tls: string): string {
  return `    - port:
        number: 443
        name: https
        protocol: HTTPS
      hosts:
        - ${host}
      tls:
        mode: SIMPLE
${tls}`;
}

function secret(name: string, namespace: string): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${namespace}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
`;
}

function analyze(analyzer: string, docs: string[]): string[] {
  return analyzeDocs(analyzer, docs, FILE);
}

const lineOf = lineOfNeedle;

test('IngressGatewayPortAnalyzer: the lab gateway on port 80 matches the ingress Service (a Deployment, no protocol)', () => {
  const docs = [
    INGRESS,
    gateway('catalog-gateway', INGRESS_SELECTOR, httpServer(80, 'catalog.istioinaction.io')),
  ];
  assert.deepEqual(analyze('gateway.IngressGatewayPortAnalyzer', docs), []);
});

test('IngressGatewayPortAnalyzer: the container port 8080 is not a Service port (IST0104 at the selector)', () => {
  const docs = [
    INGRESS,
    gateway('catalog-gateway', INGRESS_SELECTOR, httpServer(8080, 'catalog.istioinaction.io')),
  ];
  const line = lineOf(docs, 'istio: ingressgateway', 4);
  assert.deepEqual(analyze('gateway.IngressGatewayPortAnalyzer', docs), [
    `Warning [IST0104] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) The gateway refers to a port that is not exposed on the workload (pod selector istio=ingressgateway; port 8080)`,
  ]);
});

test('IngressGatewayPortAnalyzer: a selector matching no workload is IST0101, reported at its first label', () => {
  const selector = '    istio: ingress-gateway\n    app: istio-ingressgateway';
  const docs = [INGRESS, gateway('catalog-gateway', selector, httpServer(80, 'catalog.istioinaction.io'))];
  // The selector string is sorted by key, so the line is the `app` label's.
  const line = lineOf(docs, 'app: istio-ingressgateway', 4);
  assert.deepEqual(analyze('gateway.IngressGatewayPortAnalyzer', docs), [
    `Error [IST0101] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) Referenced selector not found: "app=istio-ingressgateway,istio=ingress-gateway"`,
  ]);
});

test('IngressGatewayPortAnalyzer: only TCP ports of Services in the pod namespace count', () => {
  const pod = `apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-5f8d7c
  namespace: istio-system
  labels:
    istio: ingressgateway
spec:
  containers:
    - name: istio-proxy
      image: skiff/proxy:latest
`;
  const udpService = `apiVersion: v1
kind: Service
metadata:
  name: ingress-dns
  namespace: istio-system
spec:
  selector:
    istio: ingressgateway
  ports:
    - name: dns
      port: 53
      protocol: UDP
`;
  const otherNamespace = `apiVersion: v1
kind: Service
metadata:
  name: ingress-mirror
  namespace: istioinaction
spec:
  selector:
    istio: ingressgateway
  ports:
    - name: http
      port: 8000
      protocol: TCP
`;
  const servers = httpServer(53, 'dns.istioinaction.io') + httpServer(8000, 'catalog.istioinaction.io');
  const docs = [pod, udpService, otherNamespace, gateway('catalog-gateway', INGRESS_SELECTOR, servers)];
  const line = lineOf(docs, 'istio: ingressgateway', 4);
  assert.deepEqual(analyze('gateway.IngressGatewayPortAnalyzer', docs), [
    `Warning [IST0104] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) The gateway refers to a port that is not exposed on the workload (pod selector istio=ingressgateway; port 53)`,
    `Warning [IST0104] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) The gateway refers to a port that is not exposed on the workload (pod selector istio=ingressgateway; port 8000)`,
  ]);
});

test('CertificateAnalyzer: two gateways on the same workload sharing a credentialName warn on both', () => {
  const tls = '        credentialName: istioinaction-cert\n';
  const docs = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpsServer('catalog.istioinaction.io', tls)),
    gateway('webapp-gateway', INGRESS_SELECTOR, httpsServer('webapp.istioinaction.io', tls)),
  ];
  const catalogLine = lineOf(docs, 'name: catalog-gateway');
  const webappLine = lineOf(docs, 'name: webapp-gateway');
  assert.deepEqual(analyze('gateway.CertificateAnalyzer', docs), [
    `Warning [IST0138] (Gateway istioinaction/catalog-gateway ${FILE}:${catalogLine}) Duplicate certificate in multiple gateways [istioinaction/catalog-gateway istioinaction/webapp-gateway] may cause 404s if clients re-use HTTP2 connections.`,
    `Warning [IST0138] (Gateway istioinaction/webapp-gateway ${FILE}:${webappLine}) Duplicate certificate in multiple gateways [istioinaction/webapp-gateway istioinaction/catalog-gateway] may cause 404s if clients re-use HTTP2 connections.`,
  ]);
});

test('CertificateAnalyzer: only the gateway whose selector is a subset of the other one reports', () => {
  const tls = '        credentialName: istioinaction-cert\n';
  const narrow = '    istio: ingressgateway\n    app: istio-ingressgateway';
  const docs = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpsServer('catalog.istioinaction.io', tls)),
    gateway('webapp-gateway', narrow, httpsServer('webapp.istioinaction.io', tls)),
  ];
  const catalogLine = lineOf(docs, 'name: catalog-gateway');
  assert.deepEqual(analyze('gateway.CertificateAnalyzer', docs), [
    `Warning [IST0138] (Gateway istioinaction/catalog-gateway ${FILE}:${catalogLine}) Duplicate certificate in multiple gateways [istioinaction/catalog-gateway istioinaction/webapp-gateway] may cause 404s if clients re-use HTTP2 connections.`,
  ]);
});

test('CertificateAnalyzer: certificate files count only when both certificate and key are the same', () => {
  const files = (key: string): string =>
    `        serverCertificate: /etc/istio/certs/tls.crt\n        privateKey: /etc/istio/certs/${key}\n`;
  const same = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpsServer('catalog.istioinaction.io', files('tls.key'))),
    gateway('webapp-gateway', INGRESS_SELECTOR, httpsServer('webapp.istioinaction.io', files('tls.key'))),
  ];
  assert.equal(analyze('gateway.CertificateAnalyzer', same).length, 2);
  const differentKey = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpsServer('catalog.istioinaction.io', files('tls.key'))),
    gateway('webapp-gateway', INGRESS_SELECTOR, httpsServer('webapp.istioinaction.io', files('webapp.key'))),
  ];
  assert.deepEqual(analyze('gateway.CertificateAnalyzer', differentKey), []);
  const differentCredentials = [
    gateway(
      'catalog-gateway',
      INGRESS_SELECTOR,
      httpsServer('catalog.istioinaction.io', '        credentialName: catalog-cert\n'),
    ),
    gateway(
      'webapp-gateway',
      INGRESS_SELECTOR,
      httpsServer('webapp.istioinaction.io', '        credentialName: webapp-cert\n'),
    ),
  ];
  assert.deepEqual(analyze('gateway.CertificateAnalyzer', differentCredentials), []);
});

test("SecretAnalyzer: the credential must be in the gateway workload's namespace, not the Gateway's", () => {
  const servers =
    httpServer(80, 'catalog.istioinaction.io') +
    httpsServer('catalog.istioinaction.io', '        credentialName: catalog-credential\n');
  const inIngressNamespace = [
    INGRESS,
    secret('catalog-credential', 'istio-system'),
    gateway('catalog-gateway', INGRESS_SELECTOR, servers),
  ];
  assert.deepEqual(analyze('gateway.SecretAnalyzer', inIngressNamespace), []);

  const inGatewayNamespace = [
    INGRESS,
    secret('catalog-credential', 'istioinaction'),
    gateway('catalog-gateway', INGRESS_SELECTOR, servers),
  ];
  const line = lineOf(inGatewayNamespace, 'credentialName: catalog-credential');
  assert.deepEqual(analyze('gateway.SecretAnalyzer', inGatewayNamespace), [
    `Error [IST0101] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) Referenced credentialName not found: "catalog-credential"`,
  ]);
});

test('SecretAnalyzer: a namespace-qualified credentialName is looked up in that namespace', () => {
  const docs = [
    INGRESS,
    secret('catalog-credential', 'istioinaction'),
    gateway(
      'catalog-gateway',
      INGRESS_SELECTOR,
      httpsServer('catalog.istioinaction.io', '        credentialName: istioinaction/catalog-credential\n'),
    ),
  ];
  assert.deepEqual(analyze('gateway.SecretAnalyzer', docs), []);
});

test('SecretAnalyzer: a gateway selecting no workload is IST0101 selector', () => {
  const docs = [
    INGRESS,
    gateway(
      'catalog-gateway',
      '    istio: egressgateway',
      httpsServer('catalog.istioinaction.io', '        credentialName: catalog-credential\n'),
    ),
  ];
  const line = lineOf(docs, 'istio: egressgateway');
  assert.deepEqual(analyze('gateway.SecretAnalyzer', docs), [
    `Error [IST0101] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) Referenced selector not found: "istio=egressgateway"`,
  ]);
});

test('ConflictingGatewayAnalyzer: same selector and port with overlapping hosts conflict both ways', () => {
  const docs = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpServer(80, 'catalog.istioinaction.io')),
    gateway('webapp-gateway', INGRESS_SELECTOR, httpServer(80, "'*.istioinaction.io'")),
  ];
  // No field path: the reference is the Gateway's own line.
  assert.deepEqual(analyze('gateway.ConflictingGatewayAnalyzer', docs), [
    `Error [IST0145] (Gateway istioinaction/catalog-gateway ${FILE}:1) Conflict with gateways istioinaction/webapp-gateway (workload selector istio=ingressgateway, port 80, hosts catalog.istioinaction.io).`,
    `Error [IST0145] (Gateway istioinaction/webapp-gateway ${FILE}:${lineOf(docs, 'apiVersion', 2)}) Conflict with gateways istioinaction/catalog-gateway (workload selector istio=ingressgateway, port 80, hosts *.istioinaction.io).`,
  ]);
});

test('ConflictingGatewayAnalyzer: other ports, other hosts or other selectors do not conflict', () => {
  const docs = [
    gateway('catalog-gateway', INGRESS_SELECTOR, httpServer(80, 'catalog.istioinaction.io')),
    gateway('webapp-gateway', INGRESS_SELECTOR, httpServer(80, 'webapp.istioinaction.io')),
    gateway('catalog-tls-gateway', INGRESS_SELECTOR, httpServer(8443, 'catalog.istioinaction.io')),
    gateway(
      'catalog-private',
      '    istio: private-ingressgateway',
      httpServer(80, 'catalog.istioinaction.io'),
    ),
  ];
  assert.deepEqual(analyze('gateway.ConflictingGatewayAnalyzer', docs), []);
});

test('ConflictingGatewayAnalyzer: a gateway without servers whose selector no other gateway uses is IST0101', () => {
  const docs = [gateway('catalog-gateway', '    istio: private-ingressgateway', '    []\n')];
  const line = lineOf(docs, 'istio: private-ingressgateway');
  assert.deepEqual(analyze('gateway.ConflictingGatewayAnalyzer', docs), [
    `Error [IST0101] (Gateway istioinaction/catalog-gateway ${FILE}:${line}) Referenced selector not found: "istio=private-ingressgateway"`,
  ]);
});

test('gateway analyzers survive malformed gateways without an internal error', () => {
  const broken = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: broken
  namespace: istioinaction
spec:
  selector: ingressgateway
  servers:
    - port: 80
      hosts: catalog.istioinaction.io
      tls: yes
    - 42
    - port:
        number: eighty
      tls:
        credentialName: 7
`;
  for (const analyzer of [
    'gateway.IngressGatewayPortAnalyzer',
    'gateway.CertificateAnalyzer',
    'gateway.SecretAnalyzer',
    'gateway.ConflictingGatewayAnalyzer',
  ]) {
    const messages = analyze(analyzer, [INGRESS, broken, broken.replace('name: broken', 'name: broken-too')]);
    assert.ok(
      messages.every((m) => !m.includes('IST0001')),
      `${analyzer}: ${messages.join('\n')}`,
    );
  }
});
