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

function namespace(name: string, labels = ''): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
${labels ? `  labels:\n${labels}\n` : ''}`;
}

function webappPod(opts: { ns?: string; proxyImage?: string; extra?: string; meta?: string } = {}): string {
  const proxy =
    opts.proxyImage === undefined ? '' : `    - name: istio-proxy\n      image: ${opts.proxyImage}\n`;
  return `apiVersion: v1
kind: Pod
metadata:
  name: webapp-6c8f9d
  namespace: ${opts.ns ?? 'istioinaction'}
  labels:
    app: webapp
${opts.meta ?? ''}spec:
${opts.extra ?? ''}  containers:
    - name: webapp
      image: skiff/webapp:latest
${proxy}`;
}

function injectorConfigMap(name: string, values: object): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: istio-system
data:
  values: '${JSON.stringify(values)}'
`;
}

const INJECTOR_VALUES = {
  global: { hub: 'docker.io/istio', tag: '1.17.8', proxy: { image: 'proxyv2' } },
  sidecarInjectorWebhook: { enableNamespacesByDefault: false },
};

test('injection.Analyzer: a namespace without injection labels gets IST0102 on its name line', () => {
  const out = analyze(
    'injection.Analyzer',
    namespace('istioinaction'),
    namespace('kube-system'),
    namespace('istio-system'),
  );
  assert.deepEqual(out, [
    "Info [IST0102] (Namespace istioinaction test.yaml:4) The namespace is not enabled for Istio injection. Run 'kubectl label namespace istioinaction istio-injection=enabled' to enable it, or 'kubectl label namespace istioinaction istio-injection=disabled' to explicitly mark it as not needing injection.",
  ]);
});

test('injection.Analyzer: enableNamespacesByDefault turns IST0102 into IST0148', () => {
  const cm = injectorConfigMap('istio-sidecar-injector', {
    ...INJECTOR_VALUES,
    sidecarInjectorWebhook: { enableNamespacesByDefault: true },
  });
  assert.deepEqual(analyze('injection.Analyzer', namespace('istioinaction'), cm), [
    'Info [IST0148] (Namespace istioinaction test.yaml:1) is enabled for Istio injection, as Istio is installed with enableNamespacesByDefault as true.',
  ]);
});

test('injection.Analyzer: both injection labels give IST0123 on the namespace name line', () => {
  const ns = namespace('istioinaction', '    istio-injection: enabled\n    istio.io/rev: canary');
  assert.deepEqual(analyze('injection.Analyzer', ns), [
    "Warning [IST0123] (Namespace istioinaction test.yaml:4) The namespace has both new and legacy injection labels. Run 'kubectl label namespace istioinaction istio.io/rev-' or 'kubectl label namespace istioinaction istio-injection-'",
  ]);
});

test('injection.Analyzer: a Pod in an injected namespace without istio-proxy gets IST0103', () => {
  const ns = namespace('istioinaction', '    istio-injection: enabled');
  assert.deepEqual(analyze('injection.Analyzer', ns, webappPod()), [
    'Warning [IST0103] (Pod istioinaction/webapp-6c8f9d test.yaml:8) The pod istioinaction/webapp-6c8f9d is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.',
  ]);
  // Injected pods, opted-out pods, host-network pods and pods in opted-out namespaces are fine.
  assert.deepEqual(
    analyze('injection.Analyzer', ns, webappPod({ proxyImage: 'docker.io/istio/proxyv2:1.17.8' })),
    [],
  );
  const optedOut = webappPod({ meta: "  annotations:\n    sidecar.istio.io/inject: 'False'\n" });
  assert.deepEqual(analyze('injection.Analyzer', ns, optedOut), []);
  assert.deepEqual(analyze('injection.Analyzer', ns, webappPod({ extra: '  hostNetwork: true\n' })), []);
  const disabled = namespace('istioinaction', '    istio-injection: disabled');
  assert.deepEqual(analyze('injection.Analyzer', disabled, webappPod()), []);
});

test('injection.Analyzer: a revision label alone marks the namespace injected; templates are never checked', () => {
  const ns = namespace('istioinaction', '    istio.io/rev: canary');
  assert.equal(analyze('injection.Analyzer', ns, webappPod()).length, 1);
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: webapp
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: webapp
  template:
    metadata:
      labels:
        app: webapp
    spec:
      containers:
        - name: webapp
          image: skiff/webapp:latest
`;
  assert.deepEqual(analyze('injection.Analyzer', ns, deployment), []);
});

test('injection.ImageAnalyzer: a proxy image different from the injector config gets IST0105 on the image line', () => {
  const ns = namespace('istioinaction', '    istio-injection: enabled');
  const cm = injectorConfigMap('istio-sidecar-injector', INJECTOR_VALUES);
  const stale = webappPod({ proxyImage: 'docker.io/istio/proxyv2:1.16.1' });
  assert.deepEqual(analyze('injection.ImageAnalyzer', ns, cm, stale), [
    'Warning [IST0105] (Pod istioinaction/webapp-6c8f9d test.yaml:28) The image of the Istio proxy running on the pod does not match the image defined in the injection configuration (pod image: docker.io/istio/proxyv2:1.16.1; injection configuration image: docker.io/istio/proxyv2:1.17.8). This often happens after upgrading the Istio control-plane and can be fixed by redeploying the pod.',
  ]);
  const current = webappPod({ proxyImage: 'docker.io/istio/proxyv2:1.17.8' });
  assert.deepEqual(analyze('injection.ImageAnalyzer', ns, cm, current), []);
  // A pod that names its own proxy image, or a namespace without injection, is not compared.
  const custom = webappPod({
    proxyImage: 'example.com/proxy:dev',
    meta: '  annotations:\n    sidecar.istio.io/proxyImage: example.com/proxy:dev\n',
  });
  assert.deepEqual(analyze('injection.ImageAnalyzer', ns, cm, custom), []);
  assert.deepEqual(analyze('injection.ImageAnalyzer', namespace('istioinaction'), cm, stale), []);
});

test("injection.ImageAnalyzer: a revision's injector ConfigMap and a full proxy image name are used", () => {
  const ns = namespace('istioinaction', '    istio.io/rev: canary');
  const cm = injectorConfigMap('istio-sidecar-injector-canary', {
    global: { hub: 'ignored', tag: 'ignored', proxy: { image: 'gcr.io/istio-release/proxyv2:1.17.8' } },
  });
  const pod = webappPod({ proxyImage: 'docker.io/istio/proxyv2:1.17.8' });
  const out = analyze('injection.ImageAnalyzer', ns, cm, pod);
  assert.equal(out.length, 1);
  assert.match(out[0] ?? '', /injection configuration image: gcr\.io\/istio-release\/proxyv2:1\.17\.8\)/);
  // Without the revision's ConfigMap there is nothing to compare against.
  const defaultOnly = injectorConfigMap('istio-sidecar-injector', INJECTOR_VALUES);
  assert.deepEqual(analyze('injection.ImageAnalyzer', ns, defaultOnly, pod), []);
});

const ISTIO_WEBHOOK = `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
webhooks:
  - name: namespace.sidecar-injector.istio.io
    clientConfig:
      service:
        name: istiod
        namespace: istio-system
    namespaceSelector:
      matchExpressions:
        - key: istio-injection
          operator: In
          values: [enabled]
    objectSelector:
      matchExpressions:
        - key: sidecar.istio.io/inject
          operator: NotIn
          values: ['false']
`;

function autoDeployment(ns: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: ${ns}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        istio: ingressgateway
    spec:
      containers:
        - name: istio-proxy
          image: auto
`;
}

test('injection.ImageAutoAnalyzer: `image: auto` needs a matching Istio webhook', () => {
  const injected = namespace('istio-ingress', '    istio-injection: enabled');
  assert.deepEqual(
    analyze('injection.ImageAutoAnalyzer', injected, ISTIO_WEBHOOK, autoDeployment('istio-ingress')),
    [],
  );
  const plain = namespace('istio-ingress');
  assert.deepEqual(
    analyze('injection.ImageAutoAnalyzer', plain, ISTIO_WEBHOOK, autoDeployment('istio-ingress')),
    [
      'Warning [IST0146] (Deployment istio-ingress/istio-ingressgateway test.yaml:27) Deployment istio-ingressgateway contains `image: auto` but does not match any Istio injection webhook selectors.',
    ],
  );
  // A Pod that still has `image: auto` was not injected, whatever the webhooks say.
  const pod = webappPod({ ns: 'istio-ingress', proxyImage: 'auto' });
  assert.deepEqual(analyze('injection.ImageAutoAnalyzer', injected, ISTIO_WEBHOOK, pod), [
    'Error [IST0147] (Pod istio-ingress/webapp-6c8f9d test.yaml:29) Pod webapp-6c8f9d contains `image: auto` but does not match any Istio injection webhook selectors.',
  ]);
});

test('webhook.Analyzer: overlapping Istio webhooks and missing injector services give IST0139', () => {
  const second = ISTIO_WEBHOOK.replace('name: istio-sidecar-injector', 'name: istio-sidecar-injector-copy');
  const istiod = `apiVersion: v1
kind: Service
metadata:
  name: istiod
  namespace: istio-system
spec:
  selector:
    app: istiod
  ports:
    - name: https-webhook
      port: 443
`;
  assert.deepEqual(analyze('webhook.Analyzer', ISTIO_WEBHOOK, istiod), []);
  assert.deepEqual(analyze('webhook.Analyzer', ISTIO_WEBHOOK), [
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector test.yaml:1) Injector refers to a control plane service that does not exist: istio-system/istiod.',
  ]);
  assert.deepEqual(analyze('webhook.Analyzer', ISTIO_WEBHOOK, second, istiod), [
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector-copy test.yaml:22) Webhook overlaps with others: [istio-sidecar-injector/namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.',
    'Error [IST0139] (MutatingWebhookConfiguration istio-sidecar-injector test.yaml:1) Webhook overlaps with others: [istio-sidecar-injector-copy/namespace.sidecar-injector.istio.io]. This may cause injection to occur twice.',
  ]);
});

test('webhook.Analyzer: revisioned webhooks that split the label space do not overlap; non-Istio ones are ignored', () => {
  // The revision's webhook takes namespaces labelled with its revision and no legacy label.
  const canary = ISTIO_WEBHOOK.replace(
    'name: istio-sidecar-injector',
    'name: istio-revision-tag-canary',
  ).replace(
    '        - key: istio-injection\n          operator: In\n          values: [enabled]',
    '        - key: istio.io/rev\n          operator: In\n          values: [canary]\n        - key: istio-injection\n          operator: DoesNotExist',
  );
  assert.notEqual(
    canary,
    ISTIO_WEBHOOK.replace('name: istio-sidecar-injector', 'name: istio-revision-tag-canary'),
  );
  const istiod = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: istiod\n  namespace: istio-system\n';
  assert.deepEqual(analyze('webhook.Analyzer', ISTIO_WEBHOOK, canary, istiod), []);
  const other = ISTIO_WEBHOOK.replace('name: istio-sidecar-injector', 'name: vault-agent').replace(
    'namespace.sidecar-injector.istio.io',
    'vault.hashicorp.com',
  );
  assert.deepEqual(analyze('webhook.Analyzer', ISTIO_WEBHOOK, other, istiod), []);
});
