/**
 * A sidecar's service instances (istiod's Proxy.ServiceInstances): every service port whose endpoints
 * include the proxy's own workload, with the port the workload listens on. Inbound listeners and inbound
 * clusters are built from them.
 *
 * The workload is found by pod name and namespace, else by IP (Istio looks pods up by IP). Without one,
 * Istio 1.17 falls back to the node metadata (GetProxyServiceInstancesFromMetadata): the Kubernetes
 * Services of the proxy's namespace selecting its labels, with numeric target ports, or named ones through
 * the POD_PORTS metadata.
 */
import type { Service, ServicePort, Workload } from '../../registry/index.js';
import { labelsMatch } from '../../registry/index.js';
import type { ListenerProxy } from './listener-filters.js';
import { metaString } from './listener-filters.js';
import type { PushContext } from './push-context.js';
import { memoized } from './push-context.js';

export interface ServiceInstance {
  service: Service;
  servicePort: ServicePort;
  /** The port the workload listens on (the target port). */
  endpointPort: number;
}

/** A proxy as instance lookup needs it; `Proxy` fits. */
export interface InstanceProxy extends ListenerProxy {
  podName?: string;
}

function creationTime(s: Service): string {
  const t = s.source.metadata.creationTimestamp;
  return typeof t === 'string' ? t : '';
}

/** Proxy.SetServiceInstances order: service creation time, then hostname. */
function byServiceAge(a: ServiceInstance, b: ServiceInstance): number {
  const ta = creationTime(a.service);
  const tb = creationTime(b.service);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.service.hostname < b.service.hostname ? -1 : a.service.hostname > b.service.hostname ? 1 : 0;
}

/** The registry workload a proxy runs for, if the config has it. */
export function proxyWorkload(push: PushContext, proxy: InstanceProxy): Workload | undefined {
  const workloads = push.registry.workloads();
  if (proxy.podName) {
    const byName = workloads.find((w) => w.namespace === proxy.namespace && w.name === proxy.podName);
    if (byName) return byName;
  }
  const ips = (proxy.ipAddresses ?? []).filter((ip) => ip !== '' && ip !== '0.0.0.0');
  if (ips.length === 0) return undefined;
  return workloads.find((w) => w.address !== undefined && ips.includes(w.address) && !w.synthetic);
}

export function proxyServiceInstances(push: PushContext, proxy: InstanceProxy): ServiceInstance[] {
  const key = `listener-instances|${proxy.namespace}|${proxy.podName ?? ''}|${(proxy.ipAddresses ?? []).join(',')}|${JSON.stringify(proxy.labels)}|${metaString(proxy, 'POD_PORTS')}`;
  return memoized(push, key, () => computeInstances(push, proxy));
}

function computeInstances(push: PushContext, proxy: InstanceProxy): ServiceInstance[] {
  const workload = proxyWorkload(push, proxy);
  const out: ServiceInstance[] = [];
  if (workload) {
    for (const service of push.registry.services()) {
      // Services select only workloads of their own namespace; skipping the rest keeps this linear.
      if (service.namespace !== workload.namespace) continue;
      for (const servicePort of service.ports) {
        const endpoints = push.registry.endpoints(service, servicePort.port, {
          includeUnhealthy: true,
          includeSynthetic: true,
        });
        for (const ep of endpoints) {
          if (ep.workload !== workload) continue;
          out.push({ service, servicePort, endpointPort: ep.port });
        }
      }
    }
  } else {
    out.push(...instancesFromMetadata(push, proxy));
  }
  return out.sort(byServiceAge);
}

function podPorts(proxy: ListenerProxy): Map<string, number> {
  const out = new Map<string, number>();
  const text = metaString(proxy, 'POD_PORTS');
  if (text === '') return out;
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return out;
    for (const p of parsed) {
      if (typeof p !== 'object' || p === null) continue;
      const { name, containerPort } = p as Record<string, unknown>;
      if (typeof name === 'string' && typeof containerPort === 'number') out.set(name, containerPort);
    }
  } catch {
    // Unreadable metadata: named target ports stay unresolved.
  }
  return out;
}

function instancesFromMetadata(push: PushContext, proxy: InstanceProxy): ServiceInstance[] {
  if (Object.keys(proxy.labels).length === 0) return [];
  const named = podPorts(proxy);
  const out: ServiceInstance[] = [];
  for (const service of push.registry.services()) {
    if (service.registry !== 'Kubernetes' || service.namespace !== proxy.namespace) continue;
    const selector = service.selector;
    if (!selector || Object.keys(selector).length === 0 || !labelsMatch(selector, proxy.labels)) continue;
    for (const servicePort of service.ports) {
      const target = servicePort.targetPort;
      let endpointPort: number | undefined;
      if (target === undefined) endpointPort = servicePort.port;
      else if (typeof target === 'number') endpointPort = target;
      else endpointPort = named.get(target);
      if (endpointPort === undefined || endpointPort <= 0) continue;
      out.push({ service, servicePort, endpointPort });
    }
  }
  return out;
}
