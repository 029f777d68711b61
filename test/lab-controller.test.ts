import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadPaths } from '../src/api/index.js';
import {
  EXAMPLES_DIR,
  LabController,
  admitPodSpec,
  StoreConfigSource,
  containerCommand,
  expandVars,
  injectSidecar,
  meshConfigMap,
  notReadyReason,
  objectFromResource,
  podAppAddress,
  podOutboundAddress,
  podTemplateHash,
  IpAllocator,
  wantsSidecar,
} from '../src/lab/index.js';
import type { KubeObject } from '../src/store/index.js';
import { ObjectStore } from '../src/store/index.js';

const tick = () => new Promise((r) => setImmediate(r));

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await tick();
}

async function labStore(): Promise<ObjectStore> {
  const store = ObjectStore.open({ stateDir: null });
  const loaded = await loadPaths([`${EXAMPLES_DIR}lab/base`], { defaultNamespace: 'default' });
  assert.deepEqual(loaded.errors, []);
  const ordered = [...loaded.resources].sort(
    (a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'),
  );
  for (const r of ordered) store.create(objectFromResource(r));
  return store;
}

function pods(store: ObjectStore, ns: string): KubeObject[] {
  return store.list('/Pod', { namespace: ns }).items;
}

function markReady(store: ObjectStore, pod: KubeObject, ip: string, ready: boolean): void {
  const next = structuredClone(pod) as KubeObject;
  next['status'] = {
    phase: 'Running',
    podIP: ip,
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  };
  store.updateStatus(next);
}

describe('lab controller', () => {
  it('makes ReplicaSets and Pods with Kubernetes names, labels and owners, injecting sidecars', async () => {
    const store = await labStore();
    const controller = new LabController(store);
    controller.start();
    await settle();
    const rs = store.list('apps/ReplicaSet', { namespace: 'istioinaction' }).items;
    assert.deepEqual(rs.map((r) => r.metadata.name.replace(/-[a-z0-9]+$/, '')).sort(), [
      'catalog',
      'catalog-v2',
    ]);
    const catalog = pods(store, 'istioinaction');
    assert.equal(catalog.length, 3);
    for (const p of catalog) {
      assert.match(
        p.metadata.name,
        /^catalog(-v2)?-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}$/,
      );
      const labels = p.metadata.labels as Record<string, string>;
      assert.ok(labels['pod-template-hash']);
      assert.ok(p.metadata.name.includes(labels['pod-template-hash'] as string));
      assert.equal(labels['security.istio.io/tlsMode'], 'istio');
      assert.equal(labels['service.istio.io/canonical-name'], 'catalog');
      assert.match(labels['service.istio.io/canonical-revision'] ?? '', /^v[12]$/);
      const containers = (p['spec'] as { containers: { name: string }[] }).containers.map((c) => c.name);
      assert.deepEqual(containers, ['catalog', 'istio-proxy']);
    }
    // The gateway opts out of injection with its pod label.
    const gw = pods(store, 'istio-system');
    assert.equal(gw.length, 1);
    const gwContainers = (gw[0]?.['spec'] as { containers: { name: string }[] }).containers.map(
      (c) => c.name,
    );
    assert.deepEqual(gwContainers, ['istio-proxy']);
    assert.equal((gw[0]?.metadata.labels as Record<string, string>)['security.istio.io/tlsMode'], undefined);
    controller.stop();
  });

  it('assigns cluster IPs from 127.200.0.0/22 and node ports, and keeps declared node ports', async () => {
    const store = await labStore();
    const controller = new LabController(store);
    controller.start();
    await settle();
    const svc = store.get('/Service', 'istioinaction', 'catalog');
    const ip = (svc?.['spec'] as { clusterIP?: string }).clusterIP ?? '';
    assert.match(ip, /^127\.200\.[0-3]\.\d+$/);
    const gw = store.get('/Service', 'istio-system', 'istio-ingressgateway');
    const ports = (gw?.['spec'] as { ports: { name: string; nodePort?: number }[] }).ports;
    assert.equal(ports.find((p) => p.name === 'http2')?.nodePort, 30000);
    assert.equal(ports.find((p) => p.name === 'https')?.nodePort, 30005);
    const status = ports.find((p) => p.name === 'status-port')?.nodePort ?? 0;
    assert.ok(status >= 30000 && status <= 32767 && status !== 30000 && status !== 30005);
    controller.stop();
  });

  it('keeps Endpoints in step with pod readiness, and reports readiness per deployment', async () => {
    const store = await labStore();
    const controller = new LabController(store);
    controller.start();
    await settle();
    assert.match(notReadyReason(store) ?? '', /not ready|ready/);
    const catalog = pods(store, 'istioinaction');
    catalog.forEach((p, i) => markReady(store, p, `127.10.0.${10 + i}`, i !== 0));
    await settle();
    const ep = store.get('/Endpoints', 'istioinaction', 'catalog');
    const subset = (
      ep?.['subsets'] as {
        addresses?: { ip: string }[];
        notReadyAddresses?: { ip: string }[];
        ports: { port: number }[];
      }[]
    )[0];
    assert.deepEqual(
      subset?.addresses?.map((a) => a.ip),
      ['127.10.0.11', '127.10.0.12'],
    );
    assert.deepEqual(
      subset?.notReadyAddresses?.map((a) => a.ip),
      ['127.10.0.10'],
    );
    assert.deepEqual(
      subset?.ports.map((p) => p.port),
      [3000],
    );
    assert.ok(notReadyReason(store) !== undefined);
    markReady(
      store,
      pods(store, 'istioinaction').find(
        (p) => (p['status'] as { podIP: string }).podIP === '127.10.0.10',
      ) as KubeObject,
      '127.10.0.10',
      true,
    );
    markReady(store, pods(store, 'istio-system')[0] as KubeObject, '127.10.0.2', true);
    await settle();
    assert.equal(notReadyReason(store), undefined);
    const d = store.get('apps/Deployment', 'istioinaction', 'catalog-v2');
    assert.equal((d?.['status'] as { readyReplicas?: number }).readyReplicas, 2);
    controller.stop();
  });

  it('scales, rolls out a new template and collects what a deleted Deployment owned', async () => {
    const store = await labStore();
    const controller = new LabController(store);
    controller.start();
    await settle();
    store.patch('apps/Deployment', 'istioinaction', 'catalog-v2', 'merge', { spec: { replicas: 1 } });
    await settle();
    assert.equal(
      pods(store, 'istioinaction').filter((p) => p.metadata.name.startsWith('catalog-v2-')).length,
      1,
    );
    const before = store.list('apps/ReplicaSet', { namespace: 'istioinaction' }).items.length;
    store.patch('apps/Deployment', 'istioinaction', 'catalog', 'merge', {
      spec: { template: { metadata: { labels: { app: 'catalog', version: 'v1', tier: 'x' } } } },
    });
    await settle();
    assert.equal(store.list('apps/ReplicaSet', { namespace: 'istioinaction' }).items.length, before + 1);
    const v1 = pods(store, 'istioinaction').filter((p) => !p.metadata.name.startsWith('catalog-v2-'));
    assert.equal(v1.length, 1);
    assert.equal((v1[0]?.metadata.labels as Record<string, string>)['tier'], 'x');
    store.delete('apps/Deployment', 'istioinaction', 'catalog-v2');
    await settle();
    assert.equal(
      pods(store, 'istioinaction').filter((p) => p.metadata.name.startsWith('catalog-v2-')).length,
      0,
    );
    assert.equal(
      store
        .list('apps/ReplicaSet', { namespace: 'istioinaction' })
        .items.filter((r) => r.metadata.name.startsWith('catalog-v2-')).length,
      0,
    );
    controller.stop();
  });
});

describe('lab pieces', () => {
  it('hashes pod templates stably and independently of key order', () => {
    const a = podTemplateHash({ metadata: { labels: { app: 'x', v: '1' } }, spec: { containers: [] } });
    const b = podTemplateHash({ spec: { containers: [] }, metadata: { labels: { v: '1', app: 'x' } } });
    assert.equal(a, b);
    assert.match(a, /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
    assert.notEqual(a, podTemplateHash({ metadata: { labels: { app: 'y' } } }));
  });

  it('allocates pod and service addresses without reuse, and maps pod-private twins', () => {
    const pods = new IpAllocator('127.10.0.0/16');
    pods.reserve('127.10.0.2');
    assert.equal(pods.allocate(), '127.10.0.3');
    assert.equal(pods.allocate(), '127.10.0.4');
    pods.release('127.10.0.3');
    assert.ok(!pods.contains('127.11.0.3'));
    const small = new IpAllocator('127.200.0.0/30');
    assert.equal(small.allocate(), '127.200.0.2');
    assert.throws(() => small.allocate(), /no free address/);
    assert.equal(podAppAddress('127.10.3.4'), '127.11.3.4');
    assert.equal(podOutboundAddress('127.10.3.4'), '127.12.3.4');
  });

  it('decides injection from the namespace label and the pod opt-out, and rewrites HTTP probes', () => {
    const pod = {
      metadata: { name: 'p', labels: { app: 'web' } },
      spec: {
        containers: [
          {
            name: 'web',
            image: 'skiff/webapp',
            ports: [{ containerPort: 8080, name: 'http' }],
            readinessProbe: { httpGet: { path: '/health', port: 'http' } },
          },
        ],
      },
    };
    assert.equal(wantsSidecar({ 'istio-injection': 'enabled' }, pod), true);
    assert.equal(wantsSidecar({}, pod), false);
    assert.equal(wantsSidecar({ 'istio-injection': 'disabled' }, pod), false);
    const optOut = { ...pod, metadata: { name: 'p', labels: { 'sidecar.istio.io/inject': 'false' } } };
    assert.equal(wantsSidecar({ 'istio-injection': 'enabled' }, optOut), false);
    const injected = injectSidecar(pod, 'web') as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        containers: {
          name: string;
          readinessProbe?: { httpGet: { path: string; port: number } };
          env?: { name: string; value?: string }[];
        }[];
      };
    };
    const [app, proxy] = injected.spec.containers;
    assert.deepEqual(app?.readinessProbe?.httpGet, {
      path: '/app-health/web/readyz',
      port: 15020,
      scheme: 'HTTP',
    });
    const probers = JSON.parse(
      proxy?.env?.find((e) => e.name === 'ISTIO_KUBE_APP_PROBERS')?.value ?? '{}',
    ) as Record<string, { httpGet: { port: number } }>;
    assert.equal(probers['/app-health/web/readyz']?.httpGet.port, 8080);
    assert.equal(injected.metadata.labels['service.istio.io/canonical-revision'], 'latest');
    assert.equal(injected.metadata.annotations['kubectl.kubernetes.io/default-container'], 'web');
    // The input is left untouched.
    assert.equal(pod.spec.containers.length, 1);
  });

  it('injects istio-init, the template volumes and mounts; admission adds the service-account volume last', () => {
    const pod = {
      metadata: { name: 'p', namespace: 'demo', labels: { app: 'web' } },
      spec: { containers: [{ name: 'web', image: 'skiff/catalog', ports: [{ containerPort: 3000 }] }] },
    };
    const injected = injectSidecar(pod, 'web') as { spec: Record<string, unknown> };
    const spec = admitPodSpec(injected.spec) as {
      initContainers: { name: string; args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
      containers: { name: string; args?: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
      volumes: { name: string }[];
      tolerations: { key: string; tolerationSeconds: number }[];
    };
    assert.deepEqual(
      spec.initContainers.map((c) => c.name),
      ['istio-init'],
    );
    assert.deepEqual(spec.initContainers[0]?.args.slice(0, 4), ['istio-iptables', '-p', '15001', '-z']);
    const names = spec.volumes.map((v) => v.name);
    assert.deepEqual(names.slice(0, 8), [
      'workload-socket',
      'credential-socket',
      'workload-certs',
      'istio-envoy',
      'istio-data',
      'istio-podinfo',
      'istio-token',
      'istiod-ca-cert',
    ]);
    assert.match(names[8] ?? '', /^kube-api-access-[a-z0-9]{5}$/);
    for (const c of [...spec.initContainers, ...spec.containers])
      assert.ok(
        c.volumeMounts.some(
          (m) => m.name === names[8] && m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount',
        ),
        c.name,
      );
    const proxy = spec.containers.find((c) => c.name === 'istio-proxy');
    assert.equal(
      proxy?.volumeMounts.find((m) => m.name === 'istio-token')?.mountPath,
      '/var/run/secrets/tokens',
    );
    assert.deepEqual(proxy?.args?.slice(0, 2), ['proxy', 'sidecar']);
    assert.deepEqual(
      spec.tolerations.map((t) => `${t.key}/${t.tolerationSeconds}`),
      ['node.kubernetes.io/not-ready/300', 'node.kubernetes.io/unreachable/300'],
    );
    // Admission is idempotent and honours the opt-out.
    assert.equal(
      (admitPodSpec(spec as unknown as Record<string, unknown>)['volumes'] as unknown[]).length,
      9,
    );
    const optOut = admitPodSpec({ automountServiceAccountToken: false, containers: [{ name: 'x' }] });
    assert.equal(optOut['volumes'], undefined);
  });

  it('maps images to the lab programs and refuses others', () => {
    assert.deepEqual((containerCommand({ image: 'skiff/catalog:latest' }) as { args: string[] }).args, [
      'catalog',
    ]);
    assert.deepEqual(
      (
        containerCommand({ image: 'docker.io/istio/proxyv2:1.17.8', args: ['proxy', 'router'] }) as {
          args: string[];
        }
      ).args,
      ['proxy', 'router'],
    );
    assert.match(
      (containerCommand({ image: 'nginx:1.25' }) as { error: string }).error,
      /not one of the lab's programs/,
    );
    assert.equal(expandVars('$(A)-$(B)-$$(A)', { A: 'x' }), 'x-$(B)-$(A)');
  });

  it('feeds the control plane the mesh config of the istio ConfigMap, live', async () => {
    const store = ObjectStore.open({ stateDir: null });
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system' } });
    store.create(meshConfigMap());
    const source = new StoreConfigSource(store);
    await source.start();
    assert.equal(source.snapshot().mesh.accessLogFile, '/dev/stdout');
    assert.equal(source.snapshot().mesh.accessLogEncoding, 'TEXT');
    const changes: string[][] = [];
    source.onChange((c) => changes.push(c.changed.map((k) => `${k.kind}/${k.name}`)));
    const cm = structuredClone(store.get('/ConfigMap', 'istio-system', 'istio')) as KubeObject;
    (cm['data'] as Record<string, string>)['mesh'] += '\naccessLogEncoding: JSON';
    store.update(cm);
    await settle();
    assert.equal(source.snapshot().mesh.accessLogEncoding, 'JSON');
    assert.deepEqual(changes, [['ConfigMap/istio']]);
    // Text that does not parse keeps the last good mesh config.
    const bad = structuredClone(store.get('/ConfigMap', 'istio-system', 'istio')) as KubeObject;
    (bad['data'] as Record<string, string>)['mesh'] = '[not, a, mapping]';
    store.update(bad);
    await settle();
    assert.equal(source.snapshot().mesh.accessLogEncoding, 'JSON');
    await source.close();
  });
});
