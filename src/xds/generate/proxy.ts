/**
 * The proxy a configuration is generated for, as istiod models it (pilot/pkg/model/context.go Proxy): the
 * xDS node id `<type>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>` plus the node metadata the agent
 * sends (NAMESPACE, LABELS, ISTIO_VERSION, CLUSTER_ID, INSTANCE_IPS, WORKLOAD_NAME, ...).
 */
import type { Workload } from '../../registry/index.js';

export type ProxyType = 'sidecar' | 'router';

export interface Proxy {
  /** The full xDS node id. */
  id: string;
  type: ProxyType;
  /** The proxy's IPs; the first is the one in the node id. */
  ipAddresses: string[];
  /** `<pod>.<namespace>`: the name istioctl shows in proxy-status. */
  name: string;
  podName: string;
  namespace: string;
  /** `<namespace>.svc.cluster.local`. */
  dnsDomain: string;
  labels: Record<string, string>;
  clusterId: string;
  istioVersion: string;
  workloadName: string;
  /** The node metadata as sent, for what the generators do not model. */
  metadata: Record<string, unknown>;
}

export class ProxyNodeError extends Error {}

/** The istio-proxy version skiff reports for proxies it builds itself. */
export const SKIFF_ISTIO_VERSION = '1.17.8';

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function metaString(metadata: Record<string, unknown>, key: string): string {
  const v = metadata[key];
  return typeof v === 'string' ? v : '';
}

/**
 * A proxy from an xDS node id and its metadata. Throws ProxyNodeError naming what is wrong when the id does
 * not have Istio's four `~`-separated parts or a known type.
 */
export function proxyFromNode(id: string, metadata: Record<string, unknown> = {}): Proxy {
  const parts = id.split('~');
  if (parts.length !== 4) {
    throw new ProxyNodeError(
      `node id "${id}" must have 4 parts separated by "~" (type~ip~pod.namespace~domain)`,
    );
  }
  const [type, ip, podDotNs, dnsDomain] = parts as [string, string, string, string];
  if (type !== 'sidecar' && type !== 'router') {
    throw new ProxyNodeError(`node id "${id}": unknown proxy type "${type}" (want sidecar or router)`);
  }
  if (ip === '') throw new ProxyNodeError(`node id "${id}": empty IP address`);
  const dot = podDotNs.indexOf('.');
  const podName = dot >= 0 ? podDotNs.slice(0, dot) : podDotNs;
  const namespace = metaString(metadata, 'NAMESPACE') || (dot >= 0 ? podDotNs.slice(dot + 1) : '');
  if (podName === '' || namespace === '') {
    throw new ProxyNodeError(`node id "${id}": the third part must be <pod>.<namespace>`);
  }
  const instanceIps = metaString(metadata, 'INSTANCE_IPS')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const ipAddresses = instanceIps.length > 0 ? instanceIps : [ip];
  if (ipAddresses[0] !== ip) ipAddresses.unshift(ip);
  return {
    id,
    type,
    ipAddresses,
    name: `${podName}.${namespace}`,
    podName,
    namespace,
    dnsDomain,
    labels: stringRecord(metadata['LABELS']),
    clusterId: metaString(metadata, 'CLUSTER_ID') || 'Kubernetes',
    istioVersion: metaString(metadata, 'ISTIO_VERSION'),
    workloadName: metaString(metadata, 'WORKLOAD_NAME'),
    metadata,
  };
}

export function proxyNodeId(
  type: ProxyType,
  ip: string,
  podName: string,
  namespace: string,
  domain: string,
): string {
  return `${type}~${ip}~${podName}.${namespace}~${namespace}.svc.${domain}`;
}

/** The proxy a workload would run: a gateway (`router`) when told so, else its sidecar. */
export function proxyForWorkload(
  workload: Workload,
  options: { type?: ProxyType; domainSuffix?: string; clusterId?: string } = {},
): Proxy {
  const type = options.type ?? 'sidecar';
  const domain = options.domainSuffix ?? 'cluster.local';
  const ip = workload.address && !workload.address.startsWith('unix://') ? workload.address : '0.0.0.0';
  const metadata: Record<string, unknown> = {
    NAMESPACE: workload.namespace,
    LABELS: { ...workload.labels },
    ISTIO_VERSION: SKIFF_ISTIO_VERSION,
    CLUSTER_ID: options.clusterId ?? 'Kubernetes',
    INSTANCE_IPS: ip,
    WORKLOAD_NAME: workload.workloadName,
    SERVICE_ACCOUNT: workload.serviceAccount,
  };
  return proxyFromNode(proxyNodeId(type, ip, workload.name, workload.namespace, domain), metadata);
}

/** Whether a workload looks like an Istio gateway (its labels carry `istio: ...gateway`). */
export function isGatewayWorkload(workload: Workload): boolean {
  const istio = workload.labels['istio'];
  return typeof istio === 'string' && /gateway$/.test(istio);
}
