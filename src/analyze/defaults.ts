import { parseManifests } from '../api/index.js';
import type { Resource } from '../api/index.js';
import type { MeshConfig } from '../model/index.js';

/** The name istioctl gives the synthetic input holding its offline defaults. */
export const DEFAULT_RESOURCES_SOURCE = 'internal-ingress';

/**
 * What `istioctl analyze --use-kube=false` adds before the user's files (1.17.0-1.17.2, which read
 * Pods and Services from files as skiff does): a stand-in ingress gateway pod and its Service in the
 * Istio namespace, so Gateways selecting `istio: ingressgateway` have a workload to land on.
 * User objects with the same names replace them.
 */
export function offlineDefaultResources(mesh: MeshConfig, istioNamespace: string): Resource[] {
  if (mesh['ingressControllerMode'] === 'OFF') return [];
  const name = mesh.ingressService;
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: ${name}-dummypod
  namespace: ${istioNamespace}
  labels:
    istio: ingressgateway
spec:
  containers:
    - name: istio-proxy
---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${istioNamespace}
spec:
  selector:
    istio: ingressgateway
  ports:
    - { name: http2, port: 80, targetPort: 80, nodePort: 31380, protocol: TCP }
    - { name: https, port: 443, targetPort: 443, nodePort: 31390, protocol: TCP }
    - { name: tcp, port: 31400, targetPort: 31400, nodePort: 31400, protocol: TCP }
    - { name: tls, port: 15443, targetPort: 15443, nodePort: 31447, protocol: TCP }
`;
  return parseManifests(text, DEFAULT_RESOURCES_SOURCE).resources;
}
