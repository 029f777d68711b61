/**
 * EDS ClusterLoadAssignments as Istio 1.17 sends them (pilot/pkg/xds/endpoints/endpoint_builder.go,
 * pilot/pkg/networking/util AppendLbEndpointMetadata), in proto3 JSON for `outbound|port|subset|fqdn`
 * clusters: endpoints grouped by locality, filtered by the DestinationRule subset's labels.
 */
import type { ConfigSnapshot } from '../../model/index.js';
import type { Endpoint, ServiceRegistry } from '../../registry/index.js';
import { labelsMatch } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { destinationRuleFor, namedSubsets } from './destination-rule.js';

const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';

export interface ParsedClusterName {
  direction: string;
  port: number;
  subset: string;
  host: string;
}

/** Splits `outbound|<port>|<subset>|<host>`; undefined for any other shape. */
export function parseClusterName(name: string): ParsedClusterName | undefined {
  const parts = name.split('|');
  if (parts.length !== 4) return undefined;
  const [direction = '', portText = '', subset = '', host = ''] = parts;
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || !Number.isInteger(port) || port <= 0 || host === '') return undefined;
  return { direction, port, subset, host };
}

/**
 * One ClusterLoadAssignment per requested name, in request order. Names that are not outbound service
 * clusters, or name an unknown service, port or subset, get an assignment without endpoints (Istio
 * answers every watched name). `proxyNamespace` picks the DestinationRule as the proxy sees it; the
 * service's namespace when absent.
 */
export function buildClusterLoadAssignments(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  clusterNames: readonly string[],
  proxyNamespace?: string,
): Json[] {
  return clusterNames.map((name) => buildOne(registry, snapshot, name, proxyNamespace));
}

function buildOne(
  registry: ServiceRegistry,
  snapshot: ConfigSnapshot,
  clusterName: string,
  proxyNamespace: string | undefined,
): Json {
  const empty: Json = { clusterName };
  const parsed = parseClusterName(clusterName);
  if (!parsed || parsed.direction !== 'outbound') return empty;
  const service = registry.serviceByHost(parsed.host, proxyNamespace);
  if (!service || !service.ports.some((p) => p.port === parsed.port)) return empty;
  let subsetLabels: Record<string, string> | undefined;
  if (parsed.subset !== '') {
    const rule = destinationRuleFor(
      snapshot,
      service.hostname,
      service.namespace,
      proxyNamespace ?? service.namespace,
      registry.domainSuffix,
    );
    const subset = rule ? namedSubsets(rule.spec).find((s) => s.name === parsed.subset) : undefined;
    // Istio builds no endpoints for a subset the applicable rule does not define.
    if (!subset) return empty;
    subsetLabels = stringLabels(subset.labels);
  }
  const endpoints = registry
    .endpoints(service, parsed.port)
    .filter((e) => subsetLabels === undefined || labelsMatch(subsetLabels, e.labels));
  const localities = groupByLocality(endpoints, registry.clusterId);
  return localities.length > 0 ? { clusterName, endpoints: localities } : empty;
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** LocalityLbEndpoints sorted by locality; each locality's weight is the sum of its endpoints' weights. */
function groupByLocality(endpoints: Endpoint[], clusterId: string): Json[] {
  const groups = new Map<string, Json[]>();
  const weights = new Map<string, number>();
  for (const e of endpoints) {
    const weight = e.weight > 0 ? e.weight : 1;
    const list = groups.get(e.locality) ?? [];
    list.push(lbEndpoint(e, weight, clusterId));
    groups.set(e.locality, list);
    weights.set(e.locality, (weights.get(e.locality) ?? 0) + weight);
  }
  return [...groups.keys()].sort().map((locality) => ({
    locality: localityJson(locality),
    lbEndpoints: groups.get(locality) ?? [],
    loadBalancingWeight: weights.get(locality) ?? 0,
  }));
}

/** `region/zone/subzone` as an Envoy Locality; empty parts are left out (an empty locality is `{}`). */
function localityJson(locality: string): Json {
  const [region = '', zone = '', subZone = ''] = locality.split('/');
  const out: Json = {};
  if (region) out['region'] = region;
  if (zone) out['zone'] = zone;
  if (subZone) out['subZone'] = subZone;
  return out;
}

function lbEndpoint(e: Endpoint, weight: number, clusterId: string): Json {
  const filterMetadata: Json = {};
  // Only mTLS-capable endpoints carry the tlsMode the cluster's transportSocketMatches select on.
  if (e.tlsMode !== '' && e.tlsMode !== 'disabled') {
    filterMetadata['envoy.transport_socket_match'] = { tlsMode: e.tlsMode };
  }
  filterMetadata['istio'] = { workload: workloadMetadata(e, clusterId) };
  return {
    endpoint: { address: { socketAddress: { address: e.address, portValue: e.port } } },
    healthStatus: e.health,
    metadata: { filterMetadata },
    loadBalancingWeight: weight,
  };
}

/**
 * `<workload>;<namespace>;<canonical name>;<canonical revision>;<cluster>`. Istio reads the canonical
 * labels from the endpoint; the sidecar injector always writes them on injected pods (from
 * app.kubernetes.io/name, app or the workload name; app.kubernetes.io/version, version or `latest`), so
 * for injected workloads whose manifests lack them we derive them the same way.
 */
function workloadMetadata(e: Endpoint, clusterId: string): string {
  const injected = e.tlsMode === 'istio' && e.workload !== undefined;
  const name =
    e.labels[CANONICAL_NAME_LABEL] ??
    (injected ? (e.labels['app.kubernetes.io/name'] ?? e.labels['app'] ?? e.workloadName) : '');
  const revision =
    e.labels[CANONICAL_REVISION_LABEL] ??
    (injected ? (e.labels['app.kubernetes.io/version'] ?? e.labels['version'] ?? 'latest') : '');
  const cluster = e.labels['topology.istio.io/cluster'] ?? clusterId;
  return [e.workloadName, e.namespace, name, revision, cluster].join(';');
}
