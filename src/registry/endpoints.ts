/**
 * The endpoints of one service port, as Istio's EDS lists them: Kubernetes Services select Pods (and
 * WorkloadEntries) by label, ServiceEntries list endpoints inline, select workloads, or resolve their
 * own hosts by DNS.
 */
import { isValidIP } from '../api/index.js';
import { PROTOCOL } from './protocol.js';
import type { Service, ServicePort } from './services.js';
import { labelsMatch } from './selectors.js';
import type { Labels } from './values.js';
import { asArray, asRecord, asString } from './values.js';
import type { Workload } from './workloads.js';
import { TLS_MODE_DISABLED, workloadEntryTlsMode, workloadFromWorkloadEntry } from './workloads.js';

export type HealthStatus = 'HEALTHY' | 'UNHEALTHY';

export interface Endpoint {
  /** IP, DNS name (DNS ServiceEntries, ExternalName), unix socket path; '' for synthetic endpoints. */
  address: string;
  /** The port the workload listens on (0 for unix sockets). */
  port: number;
  /** The name of the service port this endpoint serves. */
  servicePortName: string;
  /** The workload's labels plus Istio's topology labels (region, zone, subzone, cluster, network). */
  labels: Labels;
  tlsMode: string;
  /** `region/zone/subzone` or ''. */
  locality: string;
  health: HealthStatus;
  /** SPIFFE identity, or '' when the endpoint has none. */
  serviceAccount: string;
  workloadName: string;
  namespace: string;
  network: string;
  /** Load-balancing weight from a WorkloadEntry (0: unset, Envoy's default 1 applies). */
  weight: number;
  /** The workload this endpoint belongs to; undefined for ServiceEntry inline or DNS endpoints. */
  workload?: Workload;
  /** A Deployment stand-in without an address (see workloads.ts). */
  synthetic: boolean;
}

export interface EndpointOptions {
  /**
   * Include not-ready endpoints (as UNHEALTHY). Off by default, as in Istio 1.17 where
   * PILOT_SEND_UNHEALTHY_ENDPOINTS defaults to false and EDS leaves them out.
   */
  includeUnhealthy?: boolean;
  /** Include the address-less stand-ins of Deployments without Pods (off by default). */
  includeSynthetic?: boolean;
}

/** What endpoint computation needs from a registry. */
export interface EndpointSource {
  workloads(): readonly Workload[];
  /**
   * The workloads of `namespace` that a selector may match (a superset, in `workloads()` order), so
   * selection costs what matches rather than every workload; every workload when absent.
   */
  selectorCandidates?(namespace: string, selector: Labels): readonly Workload[];
  readonly clusterId: string;
  readonly trustDomain: string;
}

/**
 * Workloads by namespace and by `key=value` label within it, in `workloads` order: a selector's candidates
 * are the shortest list among its labels'.
 */
export class WorkloadIndex {
  private readonly byNamespace = new Map<string, Workload[]>();
  private readonly byLabel = new Map<string, Map<string, Workload[]>>();

  constructor(workloads: readonly Workload[]) {
    for (const w of workloads) {
      push(this.byNamespace, w.namespace, w);
      let labels = this.byLabel.get(w.namespace);
      if (!labels) this.byLabel.set(w.namespace, (labels = new Map()));
      for (const [k, v] of Object.entries(w.labels)) push(labels, `${k}=${v}`, w);
    }
  }

  candidates(namespace: string, selector: Labels): readonly Workload[] {
    let best = this.byNamespace.get(namespace) ?? [];
    const labels = this.byLabel.get(namespace);
    for (const [k, v] of Object.entries(selector)) {
      const list = labels?.get(`${k}=${v}`) ?? [];
      if (list.length < best.length) best = list;
    }
    return best;
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function selected(registry: EndpointSource, namespace: string, selector: Labels): readonly Workload[] {
  return registry.selectorCandidates
    ? registry.selectorCandidates(namespace, selector)
    : registry.workloads();
}

const CLUSTER_LABEL = 'topology.istio.io/cluster';
const NETWORK_LABEL = 'topology.istio.io/network';
const UNIX_PREFIX = 'unix://';

/**
 * The endpoints behind `port` (a service port number) of a service, sorted by address then port.
 * An unknown port has none.
 */
export function endpointsForService(
  registry: EndpointSource,
  service: Service,
  port: number,
  options: EndpointOptions = {},
): Endpoint[] {
  const servicePort = service.ports.find((p) => p.port === port);
  if (!servicePort) return [];
  const all =
    service.registry === 'Kubernetes'
      ? kubeServiceEndpoints(registry, service, servicePort)
      : serviceEntryEndpoints(registry, service, servicePort);
  return all
    .filter((e) => options.includeUnhealthy || e.health === 'HEALTHY')
    .filter((e) => options.includeSynthetic || !e.synthetic)
    .sort((a, b) => cmp(a.address, b.address) || a.port - b.port || cmp(a.workloadName, b.workloadName));
}

function kubeServiceEndpoints(
  registry: EndpointSource,
  service: Service,
  servicePort: ServicePort,
): Endpoint[] {
  const out: Endpoint[] = [];
  // Kubernetes makes no endpoints for a Service without a selector (an empty one reads as none too).
  const selector = service.selector;
  if (selector && Object.keys(selector).length > 0) {
    for (const w of selected(registry, service.namespace, selector)) {
      if (w.namespace !== service.namespace || !labelsMatch(selector, w.labels)) continue;
      // Istio adds WorkloadEntries only to load-balanced (ClusterIP) Services, not headless ones.
      if (w.kind === 'WorkloadEntry' && service.resolution !== 'ClientSideLB') continue;
      const port =
        w.kind === 'WorkloadEntry' ? workloadEntryPortForKube(w, servicePort) : podPort(w, servicePort);
      if (port === undefined) continue;
      // Kubernetes lists only pods that have an IP; Istio gives kube services only IP-addressed WorkloadEntries.
      if (
        !w.synthetic &&
        (w.address === undefined || (w.kind === 'WorkloadEntry' && !isValidIP(w.address)))
      ) {
        continue;
      }
      out.push(fromWorkload(registry, w, w.address ?? '', port, servicePort.name));
    }
  }
  // An ExternalName service's only endpoint is the name it aliases, and only when nothing else backs it.
  if (out.length === 0 && service.externalName) {
    out.push(
      hostEndpoint(service, servicePort, service.externalName, servicePort.port, { ...service.labels }),
    );
  }
  return out;
}

/** An endpoint that is a DNS name rather than a workload: plaintext, healthy, no identity. */
function hostEndpoint(
  service: Service,
  servicePort: ServicePort,
  address: string,
  port: number,
  labels: Labels,
): Endpoint {
  return {
    address,
    port,
    servicePortName: servicePort.name,
    labels,
    tlsMode: TLS_MODE_DISABLED,
    locality: '',
    health: 'HEALTHY',
    serviceAccount: '',
    workloadName: '',
    namespace: service.namespace,
    network: '',
    weight: 0,
    synthetic: false,
  };
}

/**
 * The Kubernetes endpoints controller's port lookup: a numeric targetPort as is, a named one through the
 * pod's container ports of the same name and L4 protocol (no such port: the pod is left out), none: the port.
 */
function podPort(w: Workload, servicePort: ServicePort): number | undefined {
  const target = servicePort.targetPort;
  if (target === undefined) return servicePort.port;
  if (typeof target === 'number') return target;
  const l4 = servicePort.protocol === PROTOCOL.UDP ? 'UDP' : 'TCP';
  return w.containerPorts.find((p) => p.name === target && p.protocol === l4)?.port;
}

/** Istio's port choice for a WorkloadEntry behind a Kubernetes Service (controller.go serviceInstanceFromWorkloadInstance). */
function workloadEntryPortForKube(w: Workload, servicePort: ServicePort): number | undefined {
  const target = servicePort.targetPort;
  if (typeof target === 'string') return w.portMap[target] || undefined;
  return w.portMap[servicePort.name] || (target !== undefined && target > 0 ? target : servicePort.port);
}

function serviceEntryEndpoints(
  registry: EndpointSource,
  service: Service,
  servicePort: ServicePort,
): Endpoint[] {
  const spec = asRecord(service.source.object['spec']) ?? {};
  const inline = asArray(spec['endpoints']);
  const resolution = asString(spec['resolution']);
  const hasSelector = asRecord(spec['workloadSelector']) !== undefined;
  const out: Endpoint[] = [];

  if (inline.length === 0 && !hasSelector && (resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN')) {
    // No endpoints: the proxy resolves the host itself.
    const port = typeof servicePort.targetPort === 'number' ? servicePort.targetPort : servicePort.port;
    out.push(hostEndpoint(service, servicePort, service.hostname, port, {}));
    return out;
  }

  for (const raw of inline) {
    const entry = asRecord(raw);
    if (!entry || !asString(entry['address'])) continue;
    // Inline endpoints are WorkloadEntry specs; their identity lives in the ServiceEntry's namespace.
    const w = workloadFromWorkloadEntry(
      { ...service.source, object: { spec: entry }, metadata: { ...service.source.metadata, name: '' } },
      registry.trustDomain,
    );
    const e = fromWorkload(registry, w, w.address ?? '', serviceEntryPort(w, servicePort), servicePort.name);
    e.tlsMode = workloadEntryTlsMode(w.labels, w.serviceAccount);
    e.workloadName = '';
    delete e.workload;
    out.push(unixAware(e, w));
  }

  // A selector picks Pods and WorkloadEntries of the ServiceEntry's namespace.
  if (hasSelector && service.selector) {
    for (const w of selected(registry, service.namespace, service.selector)) {
      if (w.namespace !== service.namespace || !labelsMatch(service.selector, w.labels)) continue;
      if (!w.synthetic && w.address === undefined) continue;
      const e = fromWorkload(
        registry,
        w,
        w.address ?? '',
        serviceEntryPort(w, servicePort),
        servicePort.name,
      );
      out.push(unixAware(e, w));
    }
  }
  return out;
}

/** Endpoint port for ServiceEntries: the workload's named port, else the targetPort, else the port number. */
function serviceEntryPort(w: Workload, servicePort: ServicePort): number {
  const named = w.portMap[servicePort.name];
  if (named !== undefined && named > 0) return named;
  if (typeof servicePort.targetPort === 'number' && servicePort.targetPort > 0) return servicePort.targetPort;
  return servicePort.port;
}

/** A `unix://` address becomes the bare path with port 0. */
function unixAware(e: Endpoint, w: Workload): Endpoint {
  if (w.address?.startsWith(UNIX_PREFIX)) {
    e.address = w.address.slice(UNIX_PREFIX.length);
    e.port = 0;
  }
  return e;
}

function fromWorkload(
  registry: EndpointSource,
  w: Workload,
  address: string,
  port: number,
  servicePortName: string,
): Endpoint {
  return {
    address,
    port,
    servicePortName,
    labels: topologyLabels(w, registry.clusterId),
    tlsMode: w.tlsMode,
    locality: w.locality,
    health: w.ready ? 'HEALTHY' : 'UNHEALTHY',
    serviceAccount: w.identity,
    workloadName: w.workloadName,
    namespace: w.namespace,
    network: w.network,
    weight: w.weight,
    workload: w,
    synthetic: w.synthetic,
  };
}

/** Istio's AugmentLabels: the locality parts, cluster and network become labels (for subsets and telemetry). */
function topologyLabels(w: Workload, clusterId: string): Labels {
  const out: Labels = { ...w.labels };
  const [region = '', zone = '', subzone = ''] = w.locality.split('/');
  if (region) out['topology.kubernetes.io/region'] = region;
  if (zone) out['topology.kubernetes.io/zone'] = zone;
  if (subzone) out['topology.istio.io/subzone'] = subzone;
  if (clusterId) out[CLUSTER_LABEL] = clusterId;
  if (w.network) out[NETWORK_LABEL] = w.network;
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
