import { parse } from 'yaml';

/** The parts of Istio's MeshConfig that skiff reads, with Istio 1.17's defaults. */
export interface MeshConfig {
  rootNamespace: string;
  trustDomain: string;
  ingressService: string;
  ingressSelector: string;
  enableAutoMtls: boolean;
  accessLogFile: string;
  accessLogEncoding: 'TEXT' | 'JSON';
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  defaultConfig: Record<string, unknown>;
  extensionProviders: { name: string; [k: string]: unknown }[];
  defaultProviders?: Record<string, string[]>;
  discoverySelectors?: Record<string, unknown>[];
  [key: string]: unknown;
}

export function defaultMeshConfig(): MeshConfig {
  return {
    rootNamespace: 'istio-system',
    trustDomain: 'cluster.local',
    ingressService: 'istio-ingressgateway',
    ingressSelector: 'ingressgateway',
    enableAutoMtls: true,
    accessLogFile: '',
    accessLogEncoding: 'TEXT',
    outboundTrafficPolicy: { mode: 'ALLOW_ANY' },
    defaultConfig: {
      discoveryAddress: 'istiod.istio-system.svc:15012',
      proxyAdminPort: 15000,
      statusPort: 15020,
      drainDuration: '45s',
      terminationDrainDuration: '5s',
      concurrency: 2,
    },
    extensionProviders: [
      { name: 'prometheus', prometheus: {} },
      { name: 'stackdriver', stackdriver: {} },
      { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } },
    ],
  };
}

/**
 * Overlays a mesh config document (the `mesh` key of the `istio` ConfigMap, or a bare MeshConfig YAML)
 * on Istio's defaults. Throws with a readable message when the text is not a mapping.
 */
export function parseMeshConfig(text: string): MeshConfig {
  const doc: unknown = parse(text);
  if (doc === null || doc === undefined) return defaultMeshConfig();
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('mesh config must be a YAML mapping');
  const object = doc as Record<string, unknown>;
  // The `istio` ConfigMap carries the mesh config as YAML text under data.mesh.
  if (object['kind'] === 'ConfigMap') {
    const data = object['data'] as Record<string, unknown> | undefined;
    const mesh = data?.['mesh'];
    if (typeof mesh !== 'string') throw new Error('ConfigMap has no data.mesh');
    return parseMeshConfig(mesh);
  }
  const overlay = object;
  const base = defaultMeshConfig();
  return {
    ...base,
    ...overlay,
    defaultConfig: {
      ...base.defaultConfig,
      ...((overlay['defaultConfig'] as Record<string, unknown>) ?? {}),
    },
  } as MeshConfig;
}
