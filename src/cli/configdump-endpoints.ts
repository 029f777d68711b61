/**
 * `proxy-config endpoint`: from a `/clusters?format=json` capture (istioctl's source, columns
 * ENDPOINT STATUS OUTLIER CHECK CLUSTER) or from a config_dump taken with `include_eds=true`
 * (istioctl's hidden `eds` table: ENDPOINT STATUS LOCALITY CLUSTER).
 */
import {
  arrField,
  dumpError,
  equalFold,
  field,
  findSection,
  goSortSlice,
  isObject,
  numField,
  objField,
  renderProtoList,
  SECTION,
  strField,
  subsetKeyLess,
  withField,
  withoutField,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { ISTIOCTL_TABLE, tabulate } from './tabwriter.js';

export interface EndpointFilter {
  address: string;
  port: number;
  cluster: string;
  status: string;
}

const HEALTH_STATUSES = ['UNKNOWN', 'HEALTHY', 'UNHEALTHY', 'DRAINING', 'TIMEOUT', 'DEGRADED'];

/** A HealthStatus enum as its name (numbers are mapped; a missing value is UNKNOWN). */
function healthStatus(v: unknown): string {
  if (typeof v === 'number') return HEALTH_STATUSES[v] ?? String(v);
  return typeof v === 'string' && v !== '' ? v : 'UNKNOWN';
}

/** True for a `/clusters?format=json` capture rather than a config_dump. */
export function isClustersCapture(capture: JsonObject): boolean {
  return field(capture, 'cluster_statuses') !== undefined || field(capture, 'configs') === undefined;
}

function internalAddress(address: unknown): string | undefined {
  const internal = objField(address, 'envoy_internal_address');
  if (!internal) return undefined;
  const listener = field(internal, 'server_listener_name');
  if (typeof listener !== 'string') return undefined;
  return `envoy://${listener}/${strField(internal, 'endpoint_id')}`;
}

// ---- /clusters?format=json ----

function hostAddress(host: unknown): string {
  const address = objField(host, 'address');
  const sock = objField(address, 'socket_address');
  if (sock) return strField(sock, 'address');
  const pipe = objField(address, 'pipe');
  if (pipe) return `unix://${strField(pipe, 'path')}`;
  return internalAddress(address) ?? 'unknown';
}

function hostPort(host: unknown): number {
  return numField(objField(objField(host, 'address'), 'socket_address'), 'port_value');
}

function hostStatus(host: unknown): string {
  return healthStatus(field(objField(host, 'health_status'), 'eds_health_status'));
}

function hostMatches(filter: EndpointFilter, host: unknown, cluster: string): boolean {
  if (filter.address && !equalFold(hostAddress(host), filter.address)) return false;
  if (filter.port !== 0 && hostPort(host) !== filter.port) return false;
  if (filter.cluster && !equalFold(cluster, filter.cluster)) return false;
  if (filter.status && !equalFold(hostStatus(host), filter.status)) return false;
  return true;
}

function clusterStatuses(capture: JsonObject): JsonObject[] {
  return arrField(capture, 'cluster_statuses').filter(isObject);
}

export function endpointSummary(capture: JsonObject, filter: EndpointFilter): string {
  const rows: { address: string; port: number; cluster: string; status: string; failed: boolean }[] = [];
  for (const c of clusterStatuses(capture)) {
    const cluster = strField(c, 'name');
    for (const host of arrField(c, 'host_statuses')) {
      if (!hostMatches(filter, host, cluster)) continue;
      rows.push({
        address: hostAddress(host),
        port: hostPort(host),
        cluster,
        status: hostStatus(host),
        failed: field(objField(host, 'health_status'), 'failed_outlier_check') === true,
      });
    }
  }
  const sorted = goSortSlice(rows, (a, b) => {
    if (a.address === b.address) {
      if (a.port === b.port) return a.cluster < b.cluster;
      return a.port < b.port;
    }
    return a.address < b.address;
  });
  let text = 'ENDPOINT\tSTATUS\tOUTLIER CHECK\tCLUSTER\n';
  for (const r of sorted) {
    const endpoint = r.port !== 0 ? `${r.address}:${r.port}` : r.address;
    text += `${endpoint}\t${r.status}\t${r.failed ? 'FAILED' : 'OK'}\t${r.cluster}\n`;
  }
  return tabulate(text, ISTIOCTL_TABLE);
}

/** The cluster statuses that have at least one matching host (all their hosts are printed). */
export function endpointDump(capture: JsonObject, filter: EndpointFilter, format: DumpFormat): string {
  const selected = clusterStatuses(capture).filter((c) =>
    arrField(c, 'host_statuses').some((h) => hostMatches(filter, h, strField(c, 'name'))),
  );
  return renderProtoList(selected, format);
}

// ---- config_dump EndpointsConfigDump ----

function lbEndpointAddress(ep: unknown): string {
  const address = objField(objField(ep, 'endpoint'), 'address');
  const sock = objField(address, 'socket_address');
  if (sock) return `${strField(sock, 'address')}:${numField(sock, 'port_value')}`;
  const pipe = objField(address, 'pipe');
  if (pipe) return strField(pipe, 'path');
  return internalAddress(address) ?? 'unknown';
}

function lbEndpointPort(ep: unknown): number {
  return numField(objField(objField(objField(ep, 'endpoint'), 'address'), 'socket_address'), 'port_value');
}

function lbEndpointMatches(filter: EndpointFilter, ep: unknown, cluster: string): boolean {
  if (filter.address && !equalFold(lbEndpointAddress(ep), filter.address)) return false;
  if (filter.port !== 0 && lbEndpointPort(ep) !== filter.port) return false;
  if (filter.cluster && !equalFold(cluster, filter.cluster)) return false;
  if (filter.status && !equalFold(healthStatus(field(ep, 'health_status')), filter.status)) return false;
  return true;
}

/** Each ClusterLoadAssignment with only its matching endpoints; assignments left empty are dropped. */
function filteredAssignments(dump: JsonObject, filter: EndpointFilter): JsonObject[] {
  const section = findSection(dump, SECTION.endpoints);
  if (!section) {
    throw dumpError(
      `endpoints not found (was include_eds=true used?): config dump has no configuration type ${SECTION.endpoints}`,
    );
  }
  const out: JsonObject[] = [];
  for (const key of ['dynamic_endpoint_configs', 'static_endpoint_configs']) {
    for (const entry of arrField(section, key)) {
      const cla = objField(entry, 'endpoint_config');
      if (!cla) continue;
      const cluster = strField(cla, 'cluster_name');
      let count = 0;
      const localities = arrField(cla, 'endpoints').map((llb) => {
        const kept = arrField(llb, 'lb_endpoints').filter((ep) => lbEndpointMatches(filter, ep, cluster));
        count += kept.length;
        if (!isObject(llb)) return llb;
        // protojson leaves out an emptied repeated field.
        if (kept.length === 0) return withoutField(llb, 'lb_endpoints');
        return withField(llb, 'lb_endpoints', kept);
      });
      if (count > 0) out.push(withField(cla, 'endpoints', localities));
    }
  }
  return goSortSlice(out, (a, b) => subsetKeyLess(strField(a, 'cluster_name'), strField(b, 'cluster_name')));
}

function localityString(l: unknown): string {
  if (!isObject(l)) return '';
  let s = strField(l, 'region');
  const zone = strField(l, 'zone');
  if (!zone) return s;
  s += `/${zone}`;
  const subZone = strField(l, 'sub_zone');
  return subZone ? `${s}/${subZone}` : s;
}

export function edsSummary(dump: JsonObject, filter: EndpointFilter): string {
  let text = 'ENDPOINT\tSTATUS\tLOCALITY\tCLUSTER\n';
  for (const cla of filteredAssignments(dump, filter)) {
    for (const llb of arrField(cla, 'endpoints')) {
      for (const ep of arrField(llb, 'lb_endpoints')) {
        text += `${lbEndpointAddress(ep)}\t${healthStatus(field(ep, 'health_status'))}\t${localityString(field(llb, 'locality'))}\t${strField(cla, 'cluster_name')}\n`;
      }
    }
  }
  return tabulate(text, ISTIOCTL_TABLE);
}

export function edsDump(dump: JsonObject, filter: EndpointFilter, format: DumpFormat): string {
  return renderProtoList(filteredAssignments(dump, filter), format);
}
