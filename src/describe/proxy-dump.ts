/**
 * What `istioctl x describe` reads from a proxy's Envoy config_dump, computed from the config instead: the
 * proxy's outbound clusters and RDS route configurations as the xDS generators build them, and istioctl
 * 1.17's lookups over them (istioctl/cmd/describe.go getIstioDestinationRulePathForSvc,
 * getIstioVirtualServicePathForSvcFromRoute, routeDestinationMatchesSvc), so which DestinationRule and
 * VirtualService a describe names follows the same rules as the real command.
 */
import type { Resource } from '../api/index.js';
import type { Json, PushContext } from '../xds/index.js';
import {
  buildGatewayRoutes,
  buildOutboundClusters,
  buildSidecarRouteConfigs,
  proxyForWorkload,
} from '../xds/index.js';
import { arrAt, isObj, objAt, strAt } from './kube.js';

export interface ProxyDump {
  clusters: Json[];
  routes: Json[];
}

/** The clusters and routes of a pod's proxy (its sidecar, or a gateway when `router`). */
export function proxyDumpFor(push: PushContext, pod: Resource, type: 'sidecar' | 'router'): ProxyDump {
  const ns = pod.metadata.namespace ?? 'default';
  const workload = push.registry
    .workloads()
    .find((w) => w.kind === 'Pod' && w.name === pod.metadata.name && w.namespace === ns);
  if (!workload) return { clusters: [], routes: [] };
  const proxy = proxyForWorkload(workload, { type });
  const clusters = buildOutboundClusters(push.registry, push.snapshot, proxy);
  const routes = type === 'router' ? buildGatewayRoutes(push, proxy) : buildSidecarRouteConfigs(push, proxy);
  return { clusters, routes };
}

/** `.metadata.filter_metadata.istio.config`; undefined when the resource has no metadata at all. */
function istioConfig(resource: unknown): string | undefined {
  const metadata = objAt(resource, 'metadata');
  if (!metadata) return undefined;
  return strAt(metadata, 'filterMetadata', 'istio', 'config');
}

/** `<name>.<namespace>.svc.cluster.local`, as describe's extendFQDN builds a Service's host. */
export function serviceFqdn(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.cluster.local`;
}

export interface ConfigRef {
  name: string;
  namespace: string;
}

/** The DestinationRule path on the first outbound cluster of the service port (ClusterFilter semantics). */
export function destinationRulePathForService(
  dump: ProxyDump,
  svcName: string,
  svcNamespace: string,
  port: number,
): string {
  const fqdn = serviceFqdn(svcName, svcNamespace);
  for (const c of dump.clusters) {
    const name = strAt(c, 'name');
    // istioctl's ClusterFilter.Verify matches by substring.
    if (!name.includes(fqdn) || !name.includes('outbound') || !name.includes(`|${port}|`)) continue;
    const config = istioConfig(c);
    if (config !== undefined) return config;
  }
  return '';
}

const DR_PATH = /\/apis\/networking(\.istio\.io)?\/v1alpha3\/namespaces\/([^/]+)\/destination-rule\/([^/]+)/;
const VS_PATH = /\/apis\/networking(\.istio\.io)?\/v1alpha3\/namespaces\/([^/]+)\/virtual-service\/([^/]+)/;

function refFromPath(path: string, re: RegExp): ConfigRef | undefined {
  const m = re.exec(path);
  if (!m || !m[2] || !m[3]) return undefined;
  return { namespace: m[2], name: m[3] };
}

export function destinationRuleForService(
  dump: ProxyDump,
  svcName: string,
  svcNamespace: string,
  port: number,
): ConfigRef | undefined {
  const path = destinationRulePathForService(dump, svcName, svcNamespace, port);
  return path === '' ? undefined : refFromPath(path, DR_PATH);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** routeDestinationMatchesSvc: a virtual host domain naming the service, or a route to its outbound cluster. */
function routeMatchesService(
  route: unknown,
  vh: unknown,
  svcName: string,
  svcNamespace: string,
  port: number,
): boolean {
  if (!isObj(route)) return false;
  const domainRe = /([^.]+)\.([^.]+)\.svc\.cluster\.local$/;
  for (const domain of arrAt(vh, 'domains')) {
    if (typeof domain !== 'string') continue;
    const m = domainRe.exec(domain);
    if (m && m[1] === svcName && m[2] === svcNamespace) return true;
  }
  const action = objAt(route, 'route');
  let cluster = strAt(action, 'cluster');
  if (cluster === '') {
    const first = arrAt(action, 'weightedClusters', 'clusters')[0];
    cluster = strAt(first, 'name');
  }
  const clusterRe = new RegExp(
    `outbound\\|${escapeRegExp(String(port))}\\|[^|]*\\|([^.]+)\\.([^.]+)\\.svc\\.cluster\\.local$`,
  );
  const m = clusterRe.exec(cluster);
  return !!m && m[1] === svcName && m[2] === svcNamespace;
}

/**
 * The VirtualService path on the first route that leads to the service port, in route configurations named
 * `<port>`, `http.*` or `https.*`; '' when there is none, undefined when that route carries no metadata.
 */
export function virtualServicePathForService(
  dump: ProxyDump,
  svcName: string,
  svcNamespace: string,
  port: number,
): string | undefined {
  const portName = String(port);
  for (const rc of dump.routes) {
    const name = strAt(rc, 'name');
    if (name !== portName && !name.startsWith('http.') && !name.startsWith('https.')) continue;
    for (const vh of arrAt(rc, 'virtualHosts')) {
      for (const route of arrAt(vh, 'routes')) {
        if (routeMatchesService(route, vh, svcName, svcNamespace, port)) return istioConfig(route);
      }
    }
  }
  return '';
}

export function virtualServiceForService(
  dump: ProxyDump,
  svcName: string,
  svcNamespace: string,
  port: number,
): ConfigRef | undefined {
  const path = virtualServicePathForService(dump, svcName, svcNamespace, port);
  return path === undefined || path === '' ? undefined : refFromPath(path, VS_PATH);
}
