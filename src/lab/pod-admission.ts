/**
 * What Kubernetes' built-in admission adds to every pod, applied by the lab's ReplicaSet controller when it
 * creates one.
 *
 * The ServiceAccount admission adds to every pod that does not opt out
 * (`automountServiceAccountToken: false`): a projected `kube-api-access-<suffix>` volume (a bound token
 * valid 3607 s, the cluster CA bundle `kube-root-ca.crt`, the namespace) mounted read-only at
 * /var/run/secrets/kubernetes.io/serviceaccount in every container. Because the API server reruns built-in
 * admission after a mutating webhook changed the pod, the injected `istio-init` and `istio-proxy` carry the
 * mount too, and the volume comes after the ones the injector added — as `kubectl describe pod` shows it.
 */
import { randomSuffix } from './names.js';
import type { Json } from './objects.js';
import { isRecord } from './objects.js';

export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const VOLUME_PREFIX = 'kube-api-access-';

function serviceAccountVolume(name: string): Json {
  return {
    name,
    projected: {
      defaultMode: 420,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

/** Returns the pod spec with the service-account volume and its mounts added (a new object); idempotent. */
export function withServiceAccountVolume(spec: Json): Json {
  if (spec['automountServiceAccountToken'] === false) return spec;
  const out = structuredClone(spec);
  const volumes = (Array.isArray(out['volumes']) ? out['volumes'] : []).filter(isRecord);
  if (volumes.some((v) => typeof v['name'] === 'string' && v['name'].startsWith(VOLUME_PREFIX))) return out;
  const name = `${VOLUME_PREFIX}${randomSuffix()}`;
  out['volumes'] = [...volumes, serviceAccountVolume(name)];
  for (const field of ['initContainers', 'containers']) {
    if (!Array.isArray(out[field])) continue;
    for (const c of out[field] as unknown[]) {
      if (!isRecord(c)) continue;
      const mounts = (Array.isArray(c['volumeMounts']) ? c['volumeMounts'] : []).filter(isRecord);
      if (mounts.some((m) => m['mountPath'] === SERVICE_ACCOUNT_MOUNT_PATH)) continue;
      c['volumeMounts'] = [...mounts, { name, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }];
    }
  }
  return out;
}

/**
 * DefaultTolerationSeconds admission: pods tolerate a not-ready or unreachable node for 300 s before
 * eviction, unless they already say otherwise.
 */
export function withDefaultTolerations(spec: Json): Json {
  const out = structuredClone(spec);
  const tolerations = (Array.isArray(out['tolerations']) ? out['tolerations'] : []).filter(isRecord);
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (
      tolerations.some((t) => t['key'] === key && (t['effect'] === 'NoExecute' || t['effect'] === undefined))
    )
      continue;
    tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
  }
  out['tolerations'] = tolerations;
  return out;
}

/** The built-in admission the lab applies to a new pod's spec, after sidecar injection. */
export function admitPodSpec(spec: Json): Json {
  return withDefaultTolerations(withServiceAccountVolume(spec));
}
