/**
 * The service registry over one ConfigSnapshot: what Istio's aggregate registry (Kubernetes controller
 * plus ServiceEntry controller) would hold, restricted to the namespaces the mesh's discoverySelectors pick.
 */
import { KIND } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { Endpoint, EndpointOptions } from './endpoints.js';
import { WorkloadIndex, endpointsForService } from './endpoints.js';
import { compileLabelSelector } from './selectors.js';
import type { Service } from './services.js';
import {
  DEFAULT_DOMAIN_SUFFIX,
  isServiceVisibleTo,
  serviceFromKube,
  servicesFromServiceEntry,
} from './services.js';
import type { Labels } from './values.js';
import { asArray, asLabels, asStringList } from './values.js';
import type { Workload } from './workloads.js';
import { collectWorkloads, namespaceOf } from './workloads.js';

export interface RegistryOptions {
  /** DNS suffix of Kubernetes Service hostnames; `cluster.local` by default. */
  domainSuffix?: string;
  /** The cluster ID endpoints are labelled with (`topology.istio.io/cluster`); Istio's default `Kubernetes`. */
  clusterId?: string;
}

export interface ServiceRegistry {
  readonly clusterId: string;
  readonly trustDomain: string;
  readonly domainSuffix: string;
  /** Every visible service, sorted by hostname, then namespace. */
  services(): readonly Service[];
  /**
   * The service with this hostname. With `fromNamespace`, only services exported to that namespace count
   * and one in that namespace is preferred; otherwise (or without it) the first by namespace, Kubernetes
   * Services before ServiceEntries.
   */
  serviceByHost(host: string, fromNamespace?: string): Service | undefined;
  /** Every visible workload (Pods, WorkloadEntries, Deployment stand-ins), sorted by namespace and name. */
  workloads(): readonly Workload[];
  /** Workloads of `namespace` a label selector may match (a superset, in `workloads()` order). */
  selectorCandidates(namespace: string, selector: Labels): readonly Workload[];
  /** The endpoints of a service port (by service port number), as EDS would list them. */
  endpoints(service: Service, port: number, options?: EndpointOptions): Endpoint[];
  /** Whether the mesh's discoverySelectors let the registry see a namespace. */
  isNamespaceVisible(namespace: string): boolean;
}

export function buildRegistry(snapshot: ConfigSnapshot, options: RegistryOptions = {}): ServiceRegistry {
  const domainSuffix = options.domainSuffix ?? DEFAULT_DOMAIN_SUFFIX;
  const clusterId = options.clusterId ?? 'Kubernetes';
  const trustDomain =
    typeof snapshot.mesh.trustDomain === 'string' ? snapshot.mesh.trustDomain : 'cluster.local';
  const isNamespaceVisible = discoveryNamespaceFilter(snapshot);
  const defaultExportTo = asStringList(snapshot.mesh['defaultServiceExportTo']);

  const services: Service[] = [];
  for (const r of snapshot.list(KIND.Service)) {
    if (isNamespaceVisible(namespaceOf(r))) services.push(serviceFromKube(r, { domainSuffix, trustDomain }));
  }
  for (const r of snapshot.list(KIND.ServiceEntry)) {
    if (isNamespaceVisible(namespaceOf(r))) services.push(...servicesFromServiceEntry(r));
  }
  services.sort(
    (a, b) =>
      cmp(a.hostname, b.hostname) ||
      cmp(a.namespace, b.namespace) ||
      registryRank(a) - registryRank(b) ||
      cmp(a.source.metadata.name, b.source.metadata.name),
  );

  // Services by hostname, in `services` order, so host lookups do not scan the whole registry.
  const byHost = new Map<string, Service[]>();
  for (const s of services) {
    const list = byHost.get(s.hostname);
    if (list) list.push(s);
    else byHost.set(s.hostname, [s]);
  }

  let workloadCache: Workload[] | undefined;
  let workloadIndex: WorkloadIndex | undefined;
  // The registry is immutable, so a service port's endpoints are computed once (per option set).
  const endpointCache = new WeakMap<Service, Map<string, Endpoint[]>>();
  const registry: ServiceRegistry = {
    clusterId,
    trustDomain,
    domainSuffix,
    services: () => services,
    serviceByHost(host, fromNamespace) {
      const candidates = (byHost.get(host) ?? []).filter(
        (s) =>
          fromNamespace === undefined ||
          isServiceVisibleTo(s, fromNamespace, defaultExportTo.length > 0 ? defaultExportTo : undefined),
      );
      return candidates.find((s) => s.namespace === fromNamespace) ?? candidates[0];
    },
    workloads: () => (workloadCache ??= collectWorkloads(snapshot, { trustDomain, isNamespaceVisible })),
    selectorCandidates: (namespace, selector) =>
      (workloadIndex ??= new WorkloadIndex(registry.workloads())).candidates(namespace, selector),
    endpoints(service, port, endpointOptions = {}) {
      const key = `${port}|${endpointOptions.includeUnhealthy === true}|${endpointOptions.includeSynthetic === true}`;
      let perService = endpointCache.get(service);
      if (!perService) endpointCache.set(service, (perService = new Map()));
      let list = perService.get(key);
      if (!list) perService.set(key, (list = endpointsForService(registry, service, port, endpointOptions)));
      // Callers get their own array; the endpoints themselves are shared and read-only.
      return [...list];
    },
    isNamespaceVisible,
  };
  return registry;
}

/**
 * Istio 1.17's discovery namespace filter. No selectors: every namespace. Otherwise a namespace is seen
 * when a Namespace object with labels matching any selector exists; objects in namespaces without a
 * Namespace object are invisible. A malformed selector makes Istio keep its previous (empty) selector
 * set, so everything stays visible.
 */
export function discoveryNamespaceFilter(snapshot: ConfigSnapshot): (namespace: string) => boolean {
  const raw = asArray(snapshot.mesh.discoverySelectors);
  if (raw.length === 0) return () => true;
  const selectors: ((labels: Labels) => boolean)[] = [];
  for (const s of raw) {
    const compiled = compileLabelSelector(s);
    if (!compiled) return () => true;
    selectors.push(compiled);
  }
  const selected = new Set<string>();
  for (const ns of snapshot.list(KIND.Namespace)) {
    const labels = asLabels(ns.metadata.labels);
    if (selectors.some((matches) => matches(labels))) selected.add(ns.metadata.name);
  }
  return (namespace) => selected.has(namespace);
}

function registryRank(s: Service): number {
  return s.registry === 'Kubernetes' ? 0 : 1;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
