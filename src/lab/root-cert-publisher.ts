/**
 * istiod's namespace controller: every namespace holds the `istio-ca-root-cert` ConfigMap with the mesh
 * root, kept there as namespaces come and the ConfigMap is edited or deleted. The lab's proxies read the
 * same root from a file (the kubelet's "mount" of that ConfigMap).
 */
import type { KubeObject, ObjectStore, Watch } from '../store/index.js';
import { rootCertConfigMap } from '../security/index.js';

const CONFIGMAP_NAME = 'istio-ca-root-cert';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function ensureRootConfigMap(store: ObjectStore, namespace: string, rootPem: string): void {
  const want = rootCertConfigMap(namespace, rootPem);
  const current = store.get('/ConfigMap', namespace, CONFIGMAP_NAME);
  if (!current) {
    store.create(want);
    return;
  }
  const data = isRecord(current['data']) ? current['data'] : {};
  if (data['root-cert.pem'] === rootPem) return;
  store.update({ ...current, data: { ...data, 'root-cert.pem': rootPem } });
}

/** Publishes the root into every namespace now and as they change; returns the watches' stopper. */
export function publishRootCert(
  store: ObjectStore,
  rootPem: string,
  warn: (message: string) => void,
): { close(): void } {
  const attempt = (namespace: string): void => {
    try {
      ensureRootConfigMap(store, namespace, rootPem);
    } catch (err) {
      warn(`cannot publish ${CONFIGMAP_NAME} in ${namespace}: ${(err as Error).message}`);
    }
  };
  // Writes happen after the watch callback returns, never inside the store's event delivery.
  const later = (namespace: string): void => void setImmediate(() => attempt(namespace));
  const onObject = (obj: KubeObject, type: string): void => {
    if (obj.kind === 'Namespace') {
      if (type !== 'DELETED') later(obj.metadata.name);
      return;
    }
    // An edited or deleted ConfigMap is restored, as istiod's controller does, while its namespace exists.
    const ns = obj.metadata.namespace;
    if (ns && store.get('/Namespace', undefined, ns)) later(ns);
  };
  const watches: Watch[] = [
    store.watch({ kindKey: '/Namespace' }, (e) => onObject(e.object, e.type)),
    store.watch({ kindKey: '/ConfigMap', fieldSelector: `metadata.name=${CONFIGMAP_NAME}` }, (e) =>
      onObject(e.object, e.type),
    ),
  ];
  return { close: () => watches.forEach((w) => w.close()) };
}
