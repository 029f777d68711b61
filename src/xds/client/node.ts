/**
 * The xDS node an Istio 1.17 proxy presents, built for skiff's own sidecars and gateways and for the
 * simulated proxies of the load generator. Shapes follow what istio-agent sends (the lab's `/debug/adsz`
 * capture in the seed): node id `<type>~<ip>~<pod>.<ns>~<ns>.svc.<domain>`, node cluster from the `app`
 * label (pkg/bootstrap/config.go serviceClusterOrDefault), metadata keys in NodeMetadata's JSON names.
 */
// From the generator's proxy model directly, not the xds index: the proxy process loads this file and must
// not pull in the generators and the server with it (see the exception in eslint.config.js).
import { SKIFF_ISTIO_VERSION, proxyNodeId } from '../generate/proxy.js';
import type { ProxyType } from '../generate/proxy.js';
import type { XdsNode } from './client.js';

export interface IstioNodeOptions {
  type: ProxyType;
  /** The pod IP (first of INSTANCE_IPS and the one in the node id). */
  ip: string;
  podName: string;
  namespace: string;
  /** DNS domain suffix; default `cluster.local`. */
  domain?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** All pod IPs; default `[ip]`. */
  instanceIps?: string[];
  /** The owning workload (Deployment) name; default: the pod name without its two hash suffixes. */
  workloadName?: string;
  serviceAccount?: string;
  istioVersion?: string;
  /** CLUSTER_ID; default `Kubernetes`. */
  clusterId?: string;
  /** MESH_ID; default the trust domain `cluster.local`. */
  meshId?: string;
  /** NODE_NAME (the Kubernetes node); omitted when not given. */
  nodeName?: string;
  /** The application's container ports (POD_PORTS, sidecars only). */
  podPorts?: { name?: string; containerPort: number; protocol?: string }[];
  /** PROXY_CONFIG; default Istio 1.17's defaults as the agent reports them. */
  proxyConfig?: Record<string, unknown>;
  locality?: XdsNode['locality'];
  /** More metadata keys, merged last (e.g. GENERATOR, ISTIO_META_* style extras). */
  extraMetadata?: Record<string, unknown>;
}

/** Istio 1.17's default ProxyConfig as it appears in a proxy's node metadata (seed, /debug/adsz). */
export function defaultProxyConfig(type: ProxyType): Record<string, unknown> {
  return {
    configPath: './etc/istio/proxy',
    binaryPath: '/usr/local/bin/envoy',
    serviceCluster: 'istio-proxy',
    drainDuration: '45s',
    discoveryAddress: 'istiod.istio-system.svc:15012',
    proxyAdminPort: 15000,
    controlPlaneAuthPolicy: 'MUTUAL_TLS',
    statNameLength: 189,
    // The sidecar injector sets concurrency 2; gateway charts leave it unset (0, omitted).
    ...(type === 'sidecar' ? { concurrency: 2 } : {}),
    statusPort: 15020,
    terminationDrainDuration: '5s',
  };
}

/** Deployment pods are `<deployment>-<replicaset hash>-<pod hash>`; a bare name stays as it is. */
function workloadFromPodName(podName: string): string {
  const m = /^(.+)-[a-z0-9]{5,10}-[a-z0-9]{5}$/.exec(podName);
  return m?.[1] ?? podName;
}

/** Node `cluster` as pilot-agent derives it by default (APP_LABEL_AND_NAMESPACE). */
export function serviceCluster(
  labels: Record<string, string>,
  workloadName: string,
  namespace: string,
): string {
  const app = labels['app'];
  if (app !== undefined) return `${app}.${namespace}`;
  if (workloadName) return `${workloadName}.${namespace}`;
  return namespace ? `istio-proxy.${namespace}` : 'istio-proxy';
}

/** The node of an Istio proxy (sidecar or router), ready for AdsClient's `node` option. */
export function istioNode(options: IstioNodeOptions): XdsNode {
  const domain = options.domain ?? 'cluster.local';
  const labels = { ...(options.labels ?? {}) };
  const workloadName = options.workloadName ?? workloadFromPodName(options.podName);
  const instanceIps =
    options.instanceIps && options.instanceIps.length > 0 ? options.instanceIps : [options.ip];
  const metadata: Record<string, unknown> = {
    PROXY_CONFIG: options.proxyConfig ?? defaultProxyConfig(options.type),
    ISTIO_VERSION: options.istioVersion ?? SKIFF_ISTIO_VERSION,
    LABELS: labels,
  };
  if (options.annotations) metadata['ANNOTATIONS'] = { ...options.annotations };
  metadata['INSTANCE_IPS'] = instanceIps.join(',');
  metadata['NAMESPACE'] = options.namespace;
  if (options.nodeName) metadata['NODE_NAME'] = options.nodeName;
  metadata['WORKLOAD_NAME'] = workloadName;
  if (options.type === 'sidecar') metadata['INTERCEPTION_MODE'] = 'REDIRECT';
  if (options.serviceAccount) metadata['SERVICE_ACCOUNT'] = options.serviceAccount;
  metadata['MESH_ID'] = options.meshId ?? 'cluster.local';
  metadata['CLUSTER_ID'] = options.clusterId ?? 'Kubernetes';
  if (options.type === 'sidecar' && options.podPorts) {
    // NodeMetadata.PodPorts travels as a JSON string, as in the seed.
    metadata['POD_PORTS'] = JSON.stringify(
      options.podPorts.map((p) => ({
        name: p.name ?? '',
        containerPort: p.containerPort,
        protocol: p.protocol ?? 'TCP',
      })),
    );
  }
  metadata['ENVOY_STATUS_PORT'] = 15021;
  metadata['ENVOY_PROMETHEUS_PORT'] = 15090;
  Object.assign(metadata, options.extraMetadata ?? {});
  const node: XdsNode = {
    id: proxyNodeId(options.type, options.ip, options.podName, options.namespace, domain),
    cluster: serviceCluster(labels, workloadName, options.namespace),
    metadata,
  };
  if (options.locality) node.locality = { ...options.locality };
  return node;
}

export function sidecarNode(options: Omit<IstioNodeOptions, 'type'>): XdsNode {
  return istioNode({ ...options, type: 'sidecar' });
}

export function routerNode(options: Omit<IstioNodeOptions, 'type'>): XdsNode {
  return istioNode({ ...options, type: 'router' });
}
