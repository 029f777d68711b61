/**
 * The control plane as a Pod: in the lab istiod is not a container of its own but runs inside the
 * supervisor process, so the supervisor publishes a mirror Pod for it (`istio-system/istiod-skiff`, labels
 * `app=istiod`, `istio=pilot`, one container `discovery` whose containerID is the supervisor's pid), as a
 * kubelet publishes mirror pods for the static pods it runs itself. `kubectl top pod -n istio-system -l
 * app=istiod --containers` and `get pods -n istio-system` then see istiod as in a cluster. The kubelet
 * must not try to start it: it is given a store view without mirror pods.
 */
import type { KubeObject, ObjectStore } from '../store/index.js';
import { isRecord, timestamp } from './objects.js';

/** Kubernetes' annotation on mirror pods (the value is the static pod's config hash). */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
export const ISTIOD_NAMESPACE = 'istio-system';
export const ISTIOD_CONTAINER = 'discovery';

export function isMirrorPod(pod: KubeObject): boolean {
  const annotations = pod.metadata.annotations;
  return isRecord(annotations) && typeof annotations[MIRROR_POD_ANNOTATION] === 'string';
}

/** The mirror Pod object for the control plane (its status comes from istiodPodStatus). */
export function istiodPod(name: string, istioVersion: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: ISTIOD_NAMESPACE,
      labels: {
        app: 'istiod',
        istio: 'pilot',
        'istio.io/rev': 'default',
        'sidecar.istio.io/inject': 'false',
      },
      annotations: {
        [MIRROR_POD_ANNOTATION]: 'skiff-supervisor',
        'kubernetes.io/config.source': 'skiff',
        'sidecar.istio.io/inject': 'false',
      },
    },
    spec: {
      nodeName: 'skiff',
      hostNetwork: true,
      serviceAccountName: 'istiod',
      containers: [
        {
          name: ISTIOD_CONTAINER,
          image: `docker.io/istio/pilot:${istioVersion}`,
          args: ['discovery', '--monitoringAddr=:15014', '--log_output_level=default:info'],
          ports: [
            { containerPort: 8080, protocol: 'TCP' },
            { containerPort: 15010, protocol: 'TCP' },
            { containerPort: 15014, protocol: 'TCP' },
          ],
        },
      ],
    },
  };
}

/** The mirror pod's status: running and ready in process `pid`, on the host's address. */
export function istiodPodStatus(pod: KubeObject, pid: number, startedAt: string): Record<string, unknown> {
  const cond = (type: string) => ({
    type,
    status: 'True',
    lastProbeTime: null,
    lastTransitionTime: startedAt,
  });
  const containers = Array.isArray((pod['spec'] as Record<string, unknown> | undefined)?.['containers'])
    ? ((pod['spec'] as Record<string, unknown>)['containers'] as Record<string, unknown>[])
    : [];
  return {
    phase: 'Running',
    conditions: ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map(cond),
    hostIP: '127.0.0.1',
    podIP: '127.0.0.1',
    podIPs: [{ ip: '127.0.0.1' }],
    startTime: startedAt,
    containerStatuses: containers.map((c) => ({
      name: c['name'],
      image: c['image'],
      imageID: '',
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt } },
      lastState: {},
      containerID: `skiff://${pid}`,
    })),
    qosClass: 'BestEffort',
  };
}

/**
 * Creates (or re-creates, after a restart of the lab) the control plane's mirror pod and marks it
 * running in this process. Failures are reported, never thrown: the mesh runs without the pod.
 */
export function publishIstiodPod(
  store: ObjectStore,
  opts: { name: string; istioVersion: string; pid?: number; warn: (m: string) => void },
): void {
  const startedAt = timestamp();
  try {
    const existing = store.get('/Pod', ISTIOD_NAMESPACE, opts.name);
    if (existing) store.delete('/Pod', ISTIOD_NAMESPACE, opts.name);
    const created = store.create(istiodPod(opts.name, opts.istioVersion));
    store.updateStatus({ ...created, status: istiodPodStatus(created, opts.pid ?? process.pid, startedAt) });
  } catch (err) {
    opts.warn(
      `cannot publish the control plane pod ${ISTIOD_NAMESPACE}/${opts.name}: ${(err as Error).message}`,
    );
  }
}

/**
 * The store as the lab's kubelet should see it: mirror pods are left out of Pod lists, since their
 * processes are not the kubelet's to run.
 */
export function withoutMirrorPods(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'list') {
        return (...args: Parameters<ObjectStore['list']>) => {
          const result = target.list(...args);
          if (args[0] !== '/Pod') return result;
          return { ...result, items: result.items.filter((p) => !isMirrorPod(p)) };
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
