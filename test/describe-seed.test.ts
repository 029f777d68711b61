import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { describePod, describeService, inferNameAndNamespace } from '../src/describe/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/describe');

function snapshotOf(...texts: string[]): ConfigSnapshot {
  return new ConfigSnapshot(texts.flatMap((t, i) => parseManifests(t, `test-${i}.yaml`).resources));
}

const LAB = readFileSync(join(FIXTURES, 'lab-pods.yaml'), 'utf8');
const DR = readFileSync(join(FIXTURES, 'destinationrule.yaml'), 'utf8');
const OPTS = { namespace: 'istioinaction' };

// The seed's outputs. istioctl 1.17 writes two newlines before "Exposed on Ingress Gateway" (one for the
// first service row, one leading the line: istioctl/cmd/describe.go printIngressInfo/printIngressService);
// the blog the seed was copied from shows them as a single blank line.
const SEED_WITHOUT_DR = `Pod: catalog-6cf4b97d-7d6gb
   Pod Revision: default
   Pod Ports: 3000 (catalog), 15090 (istio-proxy)
--------------------
Service: catalog
   Port: http 80/HTTP targets pod port 3000
--------------------
Effective PeerAuthentication:
   Workload mTLS mode: PERMISSIVE


Exposed on Ingress Gateway http://172.18.0.2
VirtualService: catalog-v1-v2
   WARNING: No destinations match pod subsets (checked 1 HTTP routes)
      Warning: Route to subset version-v1 but NO DESTINATION RULE defining subsets!
      Warning: Route to subset version-v2 but NO DESTINATION RULE defining subsets!
`;

const SEED_WITH_DR = `Pod: catalog-6cf4b97d-7d6gb
   Pod Revision: default
   Pod Ports: 3000 (catalog), 15090 (istio-proxy)
--------------------
Service: catalog
   Port: http 80/HTTP targets pod port 3000
DestinationRule: catalog for "catalog.istioinaction.svc.cluster.local"
   Matching subsets: version-v1
      (Non-matching subsets version-v2)
   No Traffic Policy
--------------------
Effective PeerAuthentication:
   Workload mTLS mode: PERMISSIVE


Exposed on Ingress Gateway http://172.18.0.2
VirtualService: catalog-v1-v2
   Weight 20%
`;

describe('x describe pod: the seed lab', () => {
  it('warns that the subsets have no DestinationRule', () => {
    const r = describePod(snapshotOf(LAB), 'catalog-6cf4b97d-7d6gb', 'istioinaction', OPTS);
    assert.equal(r.error, undefined);
    assert.equal(r.output, SEED_WITHOUT_DR);
  });

  it('shows the matching subset and the weight once the DestinationRule exists', () => {
    const r = describePod(snapshotOf(LAB, DR), 'catalog-6cf4b97d-7d6gb', 'istioinaction', OPTS);
    assert.equal(r.output, SEED_WITH_DR);
  });

  it('names the v2 pod as routed to with weight 80', () => {
    const r = describePod(snapshotOf(LAB, DR), 'catalog-v2-56c97f6db-8wnq6', 'istioinaction', OPTS);
    assert.match(r.output, / {3}Matching subsets: version-v2\n {6}\(Non-matching subsets version-v1\)\n/);
    assert.match(r.output, /VirtualService: catalog-v1-v2\n {3}Weight 80%\n$/);
  });

  it('qualifies names outside the command namespace with .<namespace>', () => {
    const r = describePod(snapshotOf(LAB, DR), 'catalog-6cf4b97d-7d6gb', 'istioinaction', {
      namespace: 'default',
    });
    assert.match(r.output, /^Pod: catalog-6cf4b97d-7d6gb\.istioinaction\n/m);
    assert.match(r.output, /^Service: catalog\.istioinaction\n/m);
    assert.match(r.output, /^DestinationRule: catalog\.istioinaction for /m);
    assert.match(r.output, /^VirtualService: catalog-v1-v2\.istioinaction\n/m);
  });

  it('fails as kubectl would for a pod that does not exist', () => {
    const r = describePod(snapshotOf(LAB), 'nope', 'istioinaction', OPTS);
    assert.equal(r.error, 'pods "nope" not found');
    assert.equal(r.output, '');
  });

  it('splits name.namespace like istioctl', () => {
    assert.deepEqual(inferNameAndNamespace('catalog-1.istioinaction', 'default'), [
      'catalog-1',
      'istioinaction',
    ]);
    assert.deepEqual(inferNameAndNamespace('catalog-1', 'default'), ['catalog-1', 'default']);
  });
});

describe('x describe service: the seed lab', () => {
  it('describes through the pods and lists every subset they match', () => {
    const r = describeService(snapshotOf(LAB, DR), 'catalog', 'istioinaction', OPTS);
    assert.equal(
      r.output,
      `Service: catalog
   Port: http 80/HTTP targets pod port 3000
DestinationRule: catalog for "catalog.istioinaction.svc.cluster.local"
   Matching subsets: version-v1,version-v2
   No Traffic Policy


Exposed on Ingress Gateway http://172.18.0.2
VirtualService: catalog-v1-v2
   Weight 20%
   Weight 80%
`,
    );
  });

  it('reports a service without pods and a missing service', () => {
    const svc = `apiVersion: v1
kind: Service
metadata: {name: lonely, namespace: istioinaction}
spec:
  selector: {app: lonely}
  ports: [{port: 80}]
`;
    const snap = snapshotOf(LAB, svc);
    assert.equal(
      describeService(snap, 'lonely', 'istioinaction', OPTS).output,
      'Service "lonely" has no pods.\n',
    );
    assert.equal(describeService(snap, 'gone', 'istioinaction', OPTS).error, 'services "gone" not found');
  });
});

describe('x describe pod: other istioctl messages', () => {
  const base = (extra: string) => snapshotOf(LAB, extra);

  it('points at an unknown subset of an existing DestinationRule', () => {
    const dr = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: catalog, namespace: istioinaction}
spec:
  host: catalog
  subsets:
    - {name: version-v2, labels: {version: v2}}
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
    connectionPool: {tcp: {maxConnections: 1}}
    outlierDetection: {consecutive5xxErrors: 1}
`;
    const r = describePod(base(dr), 'catalog-6cf4b97d-7d6gb', 'istioinaction', OPTS);
    assert.match(
      r.output,
      /DestinationRule: catalog for "catalog"\n {2}WARNING POD DOES NOT MATCH ANY SUBSETS\. {2}\(Non matching subsets version-v2\)\n {3}Matching subsets: \n {6}\(Non-matching subsets version-v2\)\n {3}Traffic Policy TLS Mode: ISTIO_MUTUAL\n {3}connection pool\/outlier detection\n/,
    );
    assert.match(
      r.output,
      / {3}WARNING: No destinations match pod subsets \(checked 1 HTTP routes\)\n {6}Warning: Route to UNKNOWN subset version-v1; check DestinationRule catalog\n {6}Route to non-matching subset version-v2 for \(everything\)\n$/,
    );
  });

  it('reports the effective and applied PeerAuthentication with port levels', () => {
    const pa = `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system, creationTimestamp: '2024-01-01T00:00:00Z'}
spec:
  mtls: {mode: STRICT}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: catalog, namespace: istioinaction, creationTimestamp: '2024-01-01T00:00:00Z'}
spec:
  selector: {matchLabels: {app: catalog}}
  portLevelMtls:
    '3000': {mode: DISABLE}
    '9000': {}
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata: {name: other, namespace: istioinaction}
spec:
  selector: {matchLabels: {app: other}}
  mtls: {mode: DISABLE}
`;
    const r = describePod(base(pa), 'catalog-6cf4b97d-7d6gb', 'istioinaction', OPTS);
    assert.match(
      r.output,
      /Effective PeerAuthentication:\n {3}Workload mTLS mode: STRICT\n {3}Port Level mTLS mode:\n {6}3000: DISABLE\n {6}9000: STRICT\nApplied PeerAuthentication:\n {3}default\.istio-system, catalog\.istioinaction\n/,
    );
  });

  it('fails on a pod without a sidecar, after the warnings istioctl prints', () => {
    const pod = `apiVersion: v1
kind: Pod
metadata: {name: plain, namespace: istioinaction, labels: {app: plain}}
spec:
  containers: [{name: app, securityContext: {runAsUser: 1337}}]
status: {phase: Running, containerStatuses: [{name: app, ready: false}]}
`;
    const r = describePod(base(pod), 'plain', 'istioinaction', OPTS);
    assert.equal(
      r.output,
      `WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.
Pod: plain
   Pod Revision: 
   Pod does not expose ports
WARNING: Pod plain Container app NOT READY
WARNING: plain is not part of mesh; no Istio sidecar
Warning: No Kubernetes Services select pod plain (see https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )
--------------------
`,
    );
    assert.equal(
      r.error,
      'failed to execute command on sidecar: error execing into plain/istioinaction istio-proxy container: container istio-proxy is not valid for pod plain',
    );
    const quiet = describePod(base(pod), 'plain', 'istioinaction', { ...OPTS, ignoreUnmeshed: true });
    assert.equal(quiet.error, undefined);
    assert.doesNotMatch(quiet.output, /not part of mesh|No Kubernetes Services/);
  });

  it('shows match conditions and counts routes that miss the pod', () => {
    const vs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: catalog-mesh, namespace: istioinaction}
spec:
  hosts: [catalog]
  http:
    - match: [{uri: {prefix: /api}, ignoreUriCase: true}]
      route: [{destination: {host: catalog, subset: version-v1}}]
    - route: [{destination: {host: catalog, subset: version-v2}}]
`;
    const r = describePod(snapshotOf(LAB, DR, vs), 'catalog-6cf4b97d-7d6gb', 'istioinaction', OPTS);
    assert.match(
      r.output,
      / {3}No Traffic Policy\nVirtualService: catalog-mesh\n {3}\/api\* uncased\n {3}1 additional destination\(s\) that will not reach this pod\n--------------------\nEffective/,
    );
  });
});
