import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates every object in a YAML stream and returns `Kind/name level path: message` lines. */
function check(yaml: string): string[] {
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) =>
    validateResource(r).map((i) => `${r.kind}/${r.metadata.name} ${i.level} ${i.path}: ${i.message}`),
  );
}

const DNS_LABEL =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

test('Kubernetes: realistic Service, Pod and Deployment are valid', () => {
  assert.deepEqual(
    check(`
apiVersion: v1
kind: Service
metadata: {name: productpage, namespace: bookinfo}
spec:
  selector: {app: productpage}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: grpc-web, port: 8081, protocol: TCP, targetPort: grpc}
  - {name: dns, port: 53, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: external, namespace: bookinfo}
spec:
  type: ExternalName
  externalName: example.com
---
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: bookinfo}
spec:
  clusterIP: None
  selector: {app: db}
---
apiVersion: v1
kind: Pod
metadata: {name: sleep, namespace: bookinfo}
spec:
  initContainers: [{name: init, image: busybox}]
  containers:
  - name: sleep
    image: curlimages/curl
    ports: [{containerPort: 8080, name: http}, {containerPort: 9090, protocol: UDP}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: bookinfo}
spec:
  replicas: 2
  selector:
    matchLabels: {app: reviews}
    matchExpressions: [{key: version, operator: In, values: [v1]}]
  template:
    metadata: {labels: {app: reviews, version: v1}}
    spec:
      containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v1:1.17.0}]
`),
    [],
  );
});

test('Kubernetes: Service ports', () => {
  assert.deepEqual(
    check(`
apiVersion: v1
kind: Service
metadata: {name: s, namespace: foo}
spec:
  ports:
  - {port: 80, name: http}
  - {port: 0, name: http, protocol: HTTP, targetPort: 70000}
  - {port: 8080, name: Web_1, targetPort: "http--x"}
  - {port: 9090}
---
apiVersion: v1
kind: Service
metadata: {name: s2, namespace: foo}
spec:
  type: Foo
`),
    [
      'Service/s error spec.ports[1].name: Duplicate value: "http"',
      'Service/s error spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive',
      'Service/s error spec.ports[1].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
      'Service/s error spec.ports[1].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      `Service/s error spec.ports[2].name: Invalid value: "Web_1": ${DNS_LABEL}`,
      'Service/s error spec.ports[2].targetPort: Invalid value: "http--x": must not contain consecutive hyphens',
      'Service/s error spec.ports[3].name: Required value',
      'Service/s2 error spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'Service/s2 error spec.ports: Required value',
    ],
  );
  // A single port needs no name.
  assert.deepEqual(
    check('apiVersion: v1\nkind: Service\nmetadata: {name: one}\nspec:\n  ports: [{port: 80}]\n'),
    [],
  );
});

test('Kubernetes: Pod and Deployment containers', () => {
  assert.deepEqual(
    check(`
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: foo}
spec:
  containers:
  - name: app
    image: nginx
    ports: [{containerPort: 80, name: http}, {containerPort: 70000, name: http, protocol: ICMP}, {name: a-very-long-port-name}]
  - {name: app}
  initContainers:
  - {name: app, image: busybox}
---
apiVersion: v1
kind: Pod
metadata: {name: no-spec, namespace: foo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: foo}
spec:
  replicas: -1
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {version: v1, app: e}}
    spec:
      containers: [{name: D, image: x}, {image: y}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d2, namespace: foo}
spec:
  template:
    spec: {}
`),
    [
      'Pod/p error spec.containers[0].ports[1].name: Duplicate value: "http"',
      'Pod/p error spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
      'Pod/p error spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
      'Pod/p error spec.containers[0].ports[2].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
      'Pod/p error spec.containers[0].ports[2].containerPort: Required value',
      'Pod/p error spec.containers[1].name: Duplicate value: "app"',
      'Pod/p error spec.containers[1].image: Required value',
      'Pod/p error spec.initContainers[0].name: Duplicate value: "app"',
      'Pod/no-spec error spec.containers: Required value',
      'Deployment/d error spec.replicas: Invalid value: -1: must be greater than or equal to 0',
      'Deployment/d error spec.template.metadata.labels: Invalid value: map[string]string{"app":"e", "version":"v1"}: `selector` does not match template `labels`',
      `Deployment/d error spec.template.spec.containers[0].name: Invalid value: "D": ${DNS_LABEL}`,
      'Deployment/d error spec.template.spec.containers[1].name: Required value',
      'Deployment/d2 error spec.selector: Required value',
      'Deployment/d2 error spec.template.spec.containers: Required value',
    ],
  );
});

test('Gateway API: realistic Gateway and HTTPRoute are valid', () => {
  assert.deepEqual(
    check(`
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: gateway, namespace: istio-ingress}
spec:
  gatewayClassName: istio
  listeners:
  - name: default
    hostname: "*.example.com"
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}}
  - name: https.example
    port: 443
    protocol: HTTPS
    tls: {mode: Terminate, certificateRefs: [{name: cert}]}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: http, namespace: default}
spec:
  parentRefs: [{name: gateway, namespace: istio-ingress}]
  hostnames: ["bookinfo.example.com"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /productpage}}]
    backendRefs: [{name: productpage, port: 9080, weight: 90}, {name: productpage-v2, port: 9080, weight: 10}]
`),
    [],
  );
});

test('Gateway API: required fields and ranges from the CRD schema', () => {
  assert.deepEqual(
    check(`
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: g, namespace: foo}
spec:
  gatewayClassName: ""
  listeners:
  - {name: Http, port: 0, protocol: HTTP}
  - {name: http2, port: 70000}
  - {name: http2, port: 80, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: g2, namespace: foo}
spec:
  listeners: []
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: g3, namespace: foo}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: r, namespace: foo}
spec:
  parentRefs: [{namespace: x}]
  rules:
  - backendRefs: [{port: 0}, {name: svc, port: 8080, weight: -1}]
`),
    [
      'Gateway/g error spec.gatewayClassName: Invalid value: "": spec.gatewayClassName in body should be at least 1 chars long',
      'Gateway/g error spec.listeners[0].name: Invalid value: "Http": spec.listeners[0].name in body should match \'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$\'',
      'Gateway/g error spec.listeners[0].port: Invalid value: 0: spec.listeners[0].port in body should be greater than or equal to 1',
      'Gateway/g error spec.listeners[1].port: Invalid value: 70000: spec.listeners[1].port in body should be less than or equal to 65535',
      'Gateway/g error spec.listeners[1].protocol: Required value',
      'Gateway/g error spec.listeners[2]: Duplicate value: map[string]interface {}{"name":"http2"}',
      'Gateway/g2 error spec.gatewayClassName: Required value',
      'Gateway/g2 error spec.listeners: Invalid value: 0: spec.listeners in body should have at least 1 items',
      'Gateway/g3 error spec: Required value',
      'HTTPRoute/r error spec.parentRefs[0].name: Required value',
      'HTTPRoute/r error spec.rules[0].backendRefs[0].name: Required value',
      'HTTPRoute/r error spec.rules[0].backendRefs[0].port: Invalid value: 0: spec.rules[0].backendRefs[0].port in body should be greater than or equal to 1',
      'HTTPRoute/r error spec.rules[0].backendRefs[1].weight: Invalid value: -1: spec.rules[0].backendRefs[1].weight in body should be greater than or equal to 0',
    ],
  );
});

test('Kubernetes: fields of the wrong type never crash the checks', () => {
  const issues = check(`
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: "x", type: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {selector: [], template: 1}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: Gateway
metadata: {name: g}
spec: {listeners: [null, 3], gatewayClassName: 7}
`);
  assert.ok(
    issues.every((i) => !i.includes('internal validation failure')),
    issues.join('\n'),
  );
  assert.ok(issues.includes('Service/s error spec.ports: Required value'));
});
