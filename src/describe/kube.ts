/**
 * Small, defensive readers over Kubernetes objects as `istioctl x describe` looks at them: labels,
 * selectors, container and service ports (with the API server's defaults for missing protocol and
 * targetPort), and the pod's target port for a service port (pilot's kube controller FindPort).
 */
import type { Resource } from '../api/index.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function objAt(o: unknown, ...path: string[]): Obj | undefined {
  let cur: unknown = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return isObj(cur) ? cur : undefined;
}

export function arrAt(o: unknown, ...path: string[]): unknown[] {
  let cur: unknown = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return Array.isArray(cur) ? cur : [];
}

export function strAt(o: unknown, ...path: string[]): string {
  let cur: unknown = o;
  for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
  return typeof cur === 'string' ? cur : '';
}

/** A string-to-string map; non-string values are dropped. */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObj(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

export function labelsOf(r: Resource): Record<string, string> {
  return stringMap(r.metadata.labels);
}

/** klabels.SelectorFromSet(set).Matches(labels): every pair present; an empty set matches everything. */
export function selectorMatches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export interface ContainerPort {
  name: string;
  containerPort: number;
  protocol: string;
}

export interface Container {
  name: string;
  ports: ContainerPort[];
  runAsUser?: number;
}

export function containersOf(pod: Resource): Container[] {
  const out: Container[] = [];
  for (const c of arrAt(pod.object, 'spec', 'containers')) {
    if (!isObj(c)) continue;
    const ports: ContainerPort[] = [];
    for (const p of arrAt(c, 'ports')) {
      if (!isObj(p)) continue;
      const containerPort = typeof p['containerPort'] === 'number' ? p['containerPort'] : 0;
      // The API server defaults a container port's protocol to TCP.
      const protocol = typeof p['protocol'] === 'string' && p['protocol'] !== '' ? p['protocol'] : 'TCP';
      ports.push({ name: strAt(p, 'name'), containerPort, protocol });
    }
    const runAsUser = objAt(c, 'securityContext')?.['runAsUser'];
    out.push({
      name: strAt(c, 'name'),
      ports,
      ...(typeof runAsUser === 'number' ? { runAsUser } : {}),
    });
  }
  return out;
}

export interface ServicePort {
  name: string;
  port: number;
  protocol: string;
  /** A number or a container port name (the API server defaults it to `port`). */
  targetPort: number | string;
  appProtocol?: string;
  nodePort?: number;
}

export function servicePortsOf(svc: Resource): ServicePort[] {
  const out: ServicePort[] = [];
  for (const p of arrAt(svc.object, 'spec', 'ports')) {
    if (!isObj(p)) continue;
    const port = typeof p['port'] === 'number' ? p['port'] : 0;
    const tp = p['targetPort'];
    const targetPort = typeof tp === 'number' || (typeof tp === 'string' && tp !== '') ? tp : port;
    const protocol = typeof p['protocol'] === 'string' && p['protocol'] !== '' ? p['protocol'] : 'TCP';
    const sp: ServicePort = { name: strAt(p, 'name'), port, protocol, targetPort };
    if (typeof p['appProtocol'] === 'string') sp.appProtocol = p['appProtocol'];
    if (typeof p['nodePort'] === 'number') sp.nodePort = p['nodePort'];
    out.push(sp);
  }
  return out;
}

export function serviceSelector(svc: Resource): Record<string, string> {
  return stringMap(objAt(svc.object, 'spec')?.['selector']);
}

/**
 * The pod port a service port targets (FindPort): a number as it is; a name is looked up among the
 * containers' ports with the same protocol. A string that is all digits is still a name, as intstr keeps it.
 */
export function findPodPort(pod: Resource, port: ServicePort): number | Error {
  if (typeof port.targetPort === 'number') return port.targetPort;
  for (const c of containersOf(pod)) {
    for (const p of c.ports) {
      if (p.name === port.targetPort && p.protocol === port.protocol) return p.containerPort;
    }
  }
  return new Error(`no suitable port for manifest: ${String(pod.metadata.uid ?? '')}`);
}

export function podPhase(pod: Resource): string {
  return strAt(pod.object, 'status', 'phase');
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
}

export function containerStatuses(pod: Resource): ContainerStatus[] {
  const out: ContainerStatus[] = [];
  for (const s of arrAt(pod.object, 'status', 'containerStatuses')) {
    if (isObj(s)) out.push({ name: strAt(s, 'name'), ready: s['ready'] === true });
  }
  return out;
}

/** Go's %q for the strings describe quotes (hosts and names): JSON's escaping agrees on printable ASCII. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Sorts objects as the API server lists them: by namespace, then name. */
export function byNamespaceAndName(a: Resource, b: Resource): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}
