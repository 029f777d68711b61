/**
 * The `istio-ca-root-cert` ConfigMap istiod writes into every namespace
 * (pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go): label `istio.io/config: "true"`,
 * data key `root-cert.pem` (constants.CACertNamespaceConfigMapDataName).
 */
export const CA_ROOT_CONFIGMAP_NAME = 'istio-ca-root-cert';
export const CA_ROOT_CONFIGMAP_KEY = 'root-cert.pem';

export interface ConfigMapObject {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
}

export function rootCertConfigMap(namespace: string, rootPem: string): ConfigMapObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CA_ROOT_CONFIGMAP_NAME, namespace, labels: { 'istio.io/config': 'true' } },
    data: { [CA_ROOT_CONFIGMAP_KEY]: rootPem },
  };
}
