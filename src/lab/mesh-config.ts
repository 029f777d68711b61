/**
 * The mesh config ConfigMap (`istio-system/istio`) as Istio 1.17's demo profile installs it: access logs to
 * stdout in TEXT (the seed's gateway logs), Prometheus merge on, the demo's extension providers. The control
 * plane reads `data.mesh` from it on every change, so editing it (e.g. adding `accessLogEncoding: JSON`)
 * reaches running proxies through xDS, as in the seed.
 */
import type { MeshConfig } from '../model/index.js';
import { defaultMeshConfig, parseMeshConfig } from '../model/index.js';

export const MESH_CONFIGMAP_NAMESPACE = 'istio-system';
export const MESH_CONFIGMAP_NAME = 'istio';

export const DEMO_MESH_CONFIG = `accessLogFile: /dev/stdout
defaultConfig:
  discoveryAddress: istiod.istio-system.svc:15012
  proxyMetadata: {}
  tracing:
    zipkin:
      address: zipkin.istio-system:9411
enablePrometheusMerge: true
extensionProviders:
- envoyOtelAls:
    port: 4317
    service: opentelemetry-collector.istio-system.svc.cluster.local
  name: otel
- name: skywalking
  skywalking:
    port: 11800
    service: tracing.istio-system.svc.cluster.local
rootNamespace: istio-system
trustDomain: cluster.local`;

/** The ConfigMap object the lab creates when the state dir has none. */
export function meshConfigMap(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: MESH_CONFIGMAP_NAME,
      namespace: MESH_CONFIGMAP_NAMESPACE,
      labels: {
        'install.operator.istio.io/owning-resource': 'unknown',
        'istio.io/rev': 'default',
        'operator.istio.io/component': 'Pilot',
        release: 'istio',
      },
    },
    data: { mesh: DEMO_MESH_CONFIG, meshNetworks: 'networks: {}' },
  };
}

/**
 * The mesh config a ConfigMap object carries; Istio's defaults when it is absent, and `undefined` when its
 * `mesh` text does not parse (the caller keeps the last good one, as istiod does).
 */
export function meshFromConfigMap(object: unknown): MeshConfig | undefined {
  if (typeof object !== 'object' || object === null) return defaultMeshConfig();
  const data = (object as Record<string, unknown>)['data'];
  const text =
    typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['mesh'] : undefined;
  if (typeof text !== 'string') return defaultMeshConfig();
  try {
    return parseMeshConfig(text);
  } catch {
    return undefined;
  }
}
