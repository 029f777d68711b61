/**
 * Envoy admin `/clusters` and `/listeners` in Envoy's text and `?format=json` forms (admin/clusters_handler.cc,
 * listeners_handler.cc): per-cluster settings and per-host `cluster::host:port::stat::value` lines, and the
 * `envoy.admin.v3.Clusters` / `Listeners` messages with proto field names.
 */
import type { CompiledCluster, Host } from './clusters.js';
import type { CompiledConfig } from './config.js';
import type { ClusterRuntime, HostStats } from './runtime.js';

const COUNTERS = ['cx_connect_fail', 'cx_total', 'rq_error', 'rq_success', 'rq_timeout', 'rq_total'] as const;
const GAUGES = ['cx_active', 'rq_active'] as const;
/** Text output lists a host's stats sorted by name, counters and gauges together. */
const ALL_STATS = [...COUNTERS, ...GAUGES].sort();

/** Envoy's high-priority circuit breaker defaults (Istio only sets the default priority). */
const HIGH_PRIORITY = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };

const EMPTY_STATS: HostStats = {
  cx_active: 0,
  cx_connect_fail: 0,
  cx_total: 0,
  rq_active: 0,
  rq_error: 0,
  rq_success: 0,
  rq_timeout: 0,
  rq_total: 0,
};

export interface ClusterView {
  cluster: CompiledCluster;
  runtime?: ClusterRuntime;
  /** Clusters from the bootstrap are not added via API. */
  addedViaApi: boolean;
}

export function clusterViews(
  config: CompiledConfig,
  runtimes: ReadonlyMap<string, ClusterRuntime>,
  staticNames: ReadonlySet<string> = new Set(),
): ClusterView[] {
  return [...config.clusters.values()].map((cluster) => {
    const view: ClusterView = { cluster, addedViaApi: !staticNames.has(cluster.name) };
    const runtime = runtimes.get(cluster.name);
    if (runtime) view.runtime = runtime;
    return view;
  });
}

function ejected(view: ClusterView, host: Host): boolean {
  return view.cluster.outlier !== undefined && view.runtime?.outlier.isEjected(host.key) === true;
}

/** HostUtility::healthFlagsToString: `healthy`, or `/failed_outlier_check/failed_eds_health`-style flags. */
function healthFlags(view: ClusterView, host: Host): string {
  let flags = '';
  if (ejected(view, host)) flags += '/failed_outlier_check';
  if (!host.healthy)
    flags += host.healthStatus === 'DEGRADED' ? '/degraded_eds_health' : '/failed_eds_health';
  return flags === '' ? 'healthy' : flags;
}

export function renderClustersText(views: readonly ClusterView[]): string {
  let out = '';
  for (const view of views) {
    const c = view.cluster;
    const n = c.name;
    out += `${n}::observability_name::${c.statName}\n`;
    if (c.outlier) {
      out += `${n}::outlier::success_rate_average::-1\n`;
      out += `${n}::outlier::success_rate_ejection_threshold::-1\n`;
      out += `${n}::outlier::local_origin_success_rate_average::-1\n`;
      out += `${n}::outlier::local_origin_success_rate_ejection_threshold::-1\n`;
    }
    out += `${n}::default_priority::max_connections::${c.maxConnections}\n`;
    out += `${n}::default_priority::max_pending_requests::${c.maxPendingRequests}\n`;
    out += `${n}::default_priority::max_requests::${c.maxRequests}\n`;
    out += `${n}::default_priority::max_retries::${c.maxRetries}\n`;
    out += `${n}::high_priority::max_connections::${HIGH_PRIORITY.maxConnections}\n`;
    out += `${n}::high_priority::max_pending_requests::${HIGH_PRIORITY.maxPendingRequests}\n`;
    out += `${n}::high_priority::max_requests::${HIGH_PRIORITY.maxRequests}\n`;
    out += `${n}::high_priority::max_retries::${HIGH_PRIORITY.maxRetries}\n`;
    out += `${n}::added_via_api::${view.addedViaApi}\n`;
    if (c.edsServiceName !== undefined) out += `${n}::eds_service_name::${c.edsServiceName}\n`;
    for (const h of c.hosts) {
      const p = `${n}::${h.key}`;
      const stats = view.runtime?.hosts.get(h.key) ?? EMPTY_STATS;
      for (const s of ALL_STATS) out += `${p}::${s}::${stats[s]}\n`;
      out += `${p}::hostname::\n`;
      out += `${p}::health_flags::${healthFlags(view, h)}\n`;
      out += `${p}::weight::${h.weight}\n`;
      out += `${p}::region::${h.locality?.region ?? ''}\n`;
      out += `${p}::zone::${h.locality?.zone ?? ''}\n`;
      out += `${p}::sub_zone::${h.locality?.subZone ?? ''}\n`;
      out += `${p}::canary::false\n`;
      out += `${p}::priority::${h.priority}\n`;
      out += `${p}::success_rate::-1\n`;
      out += `${p}::local_origin_success_rate::-1\n`;
    }
  }
  return out;
}

type Json = Record<string, unknown>;

/** proto3 JSON drops zero values; uint64 values print as strings. */
function statEntry(name: string, value: number, gauge: boolean): Json {
  const out: Json = { name };
  if (value !== 0) out['value'] = String(value);
  if (gauge) out['type'] = 'GAUGE';
  return out;
}

function locality(h: Host): Json {
  const out: Json = {};
  if (h.locality?.region) out['region'] = h.locality.region;
  if (h.locality?.zone) out['zone'] = h.locality.zone;
  if (h.locality?.subZone) out['sub_zone'] = h.locality.subZone;
  return out;
}

export function clustersJson(views: readonly ClusterView[]): Json {
  return {
    cluster_statuses: views.map((view) => {
      const c = view.cluster;
      const status: Json = { name: c.name };
      if (view.addedViaApi) status['added_via_api'] = true;
      const hosts = c.hosts.map((h) => {
        const stats = view.runtime?.hosts.get(h.key) ?? EMPTY_STATS;
        const health: Json = { eds_health_status: h.healthStatus ?? 'HEALTHY' };
        if (ejected(view, h)) health['failed_outlier_check'] = true;
        const host: Json = {
          address: { socket_address: { address: h.address, port_value: h.port } },
          stats: [
            ...COUNTERS.map((s) => statEntry(s, stats[s], false)),
            ...GAUGES.map((s) => statEntry(s, stats[s], true)),
          ],
          health_status: health,
          weight: h.weight,
          locality: locality(h),
        };
        if (h.priority !== 0) host['priority'] = h.priority;
        return host;
      });
      if (hosts.length > 0) status['host_statuses'] = hosts;
      status['circuit_breakers'] = {
        thresholds: [
          {
            max_connections: c.maxConnections,
            max_pending_requests: c.maxPendingRequests,
            max_requests: c.maxRequests,
            max_retries: c.maxRetries,
          },
          {
            priority: 'HIGH',
            max_connections: HIGH_PRIORITY.maxConnections,
            max_pending_requests: HIGH_PRIORITY.maxPendingRequests,
            max_requests: HIGH_PRIORITY.maxRequests,
            max_retries: HIGH_PRIORITY.maxRetries,
          },
        ],
      };
      status['observability_name'] = c.statName;
      if (c.edsServiceName !== undefined) status['eds_service_name'] = c.edsServiceName;
      return status;
    }),
  };
}

/** `/listeners`: `name::address:port` per listener. */
export function renderListenersText(config: CompiledConfig): string {
  let out = '';
  for (const l of config.listeners.values()) out += `${l.name}::${hostPort(l.address, l.port)}\n`;
  return out;
}

export function listenersJson(config: CompiledConfig): Json {
  return {
    listener_statuses: [...config.listeners.values()].map((l) => ({
      name: l.name,
      local_address: { socket_address: { address: l.address, port_value: l.port } },
    })),
  };
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
