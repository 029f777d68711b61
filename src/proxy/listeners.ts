/**
 * Listeners (config.listener.v3.Listener) reduced to what the HTTP engine serves: the bind address and the
 * HTTP connection manager of the first filter chain that has one (filter chain matching is not modelled).
 */
import { ConfigError } from './errors.js';
import type { FaultConfig } from './filters.js';
import { compileFault, CORS_FILTER, FAULT_FILTER } from './filters.js';
import type { JsonObject } from './json.js';
import { anyType, bool, num, record, records, str, unwrap } from './json.js';
import type { CompiledRouteConfig } from './routes.js';
import { compileRouteConfig } from './routes.js';

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
const FILE_LOG_TYPE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';

/** An access log the HCM config asks for (FileAccessLog). */
export interface HcmAccessLog {
  path: string;
  /** A text format, or undefined for Envoy's default format. */
  text?: string;
  /** A JSON format map. */
  json?: Record<string, unknown>;
}

export interface HttpConnectionManager {
  statPrefix: string;
  routeConfigName?: string;
  inlineRoutes?: CompiledRouteConfig;
  useRemoteAddress: boolean;
  skipXffAppend: boolean;
  serverName: string;
  serverHeader: 'overwrite' | 'append-if-absent' | 'pass-through';
  maxRequestHeadersKb: number;
  maxHeadersCount: number;
  generateRequestId: boolean;
  preserveExternalRequestId: boolean;
  suppressEnvoyHeaders: boolean;
  accessLogs: HcmAccessLog[];
  /** The listener serves its own workload (trafficDirection INBOUND / virtualInbound): Istio's reporter=destination. */
  inbound: boolean;
  /** The fault filter is in the chain (with its own config as the default when a route sets none). */
  faultFilter: boolean;
  defaultFault?: FaultConfig;
  corsFilter: boolean;
}

export interface CompiledListener {
  name: string;
  address: string;
  port: number;
  /** `address_port`, the listener stats scope. */
  statName: string;
  /** Undefined for listeners without an HTTP connection manager (TCP proxying is not served yet). */
  hcm?: HttpConnectionManager;
}

function findHcm(listener: JsonObject): JsonObject | undefined {
  const chains = [...records(listener['filterChains'])];
  const fallback = record(listener['defaultFilterChain']);
  if (fallback) chains.push(fallback);
  for (const chain of chains) {
    for (const filter of records(chain['filters'])) {
      const typed = record(filter['typedConfig']);
      if (str(filter['name']) === HCM_FILTER || anyType(typed) === HCM_TYPE) return typed ?? {};
    }
  }
  return undefined;
}

function accessLogs(hcm: JsonObject): HcmAccessLog[] {
  const out: HcmAccessLog[] = [];
  for (const log of records(hcm['accessLog'])) {
    const typed = record(log['typedConfig']);
    if (anyType(typed) !== FILE_LOG_TYPE || !typed) continue;
    const path = str(typed['path']) ?? '/dev/stdout';
    const format = record(typed['logFormat']);
    const text = str(record(format?.['textFormatSource'])?.['inlineString']) ?? str(typed['format']);
    const json = record(format?.['jsonFormat']) ?? record(typed['jsonFormat']);
    const entry: HcmAccessLog = { path };
    if (json) entry.json = json;
    else if (text !== undefined) entry.text = text;
    out.push(entry);
  }
  return out;
}

const FAULT_TYPE = 'envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS_TYPE = 'envoy.extensions.filters.http.cors.v3.Cors';

function compileHcm(hcm: JsonObject, listenerName: string, inbound: boolean): HttpConnectionManager {
  const rds = record(hcm['rds']);
  const filters = records(hcm['httpFilters']);
  const router = filters.find((f) => anyType(f['typedConfig']) === ROUTER_TYPE);
  const fault = filters.find(
    (f) => str(f['name']) === FAULT_FILTER || anyType(f['typedConfig']) === FAULT_TYPE,
  );
  const out: HttpConnectionManager = {
    statPrefix: str(hcm['statPrefix']) ?? listenerName,
    useRemoteAddress: bool(hcm['useRemoteAddress']) === true,
    skipXffAppend: bool(hcm['skipXffAppend']) === true,
    serverName: str(hcm['serverName']) ?? 'envoy',
    serverHeader:
      str(hcm['serverHeaderTransformation']) === 'APPEND_IF_ABSENT'
        ? 'append-if-absent'
        : str(hcm['serverHeaderTransformation']) === 'PASS_THROUGH'
          ? 'pass-through'
          : 'overwrite',
    maxRequestHeadersKb: num(unwrap(hcm['maxRequestHeadersKb'])) ?? 60,
    maxHeadersCount: num(unwrap(record(hcm['commonHttpProtocolOptions'])?.['maxHeadersCount'])) ?? 100,
    generateRequestId: bool(hcm['generateRequestId']) !== false,
    preserveExternalRequestId: bool(hcm['preserveExternalRequestId']) === true,
    suppressEnvoyHeaders: bool(record(router?.['typedConfig'])?.['suppressEnvoyHeaders']) === true,
    accessLogs: accessLogs(hcm),
    inbound,
    faultFilter: fault !== undefined,
    corsFilter: filters.some(
      (f) => str(f['name']) === CORS_FILTER || anyType(f['typedConfig']) === CORS_TYPE,
    ),
  };
  const defaultFault = compileFault(fault?.['typedConfig']);
  if (defaultFault) out.defaultFault = defaultFault;
  const rdsName = str(rds?.['routeConfigName']);
  if (rdsName !== undefined) out.routeConfigName = rdsName;
  else if (record(hcm['routeConfig']))
    out.inlineRoutes = compileRouteConfig(record(hcm['routeConfig']) ?? {});
  else
    throw new ConfigError(
      `listener ${listenerName}: HTTP connection manager has neither rds nor route_config`,
    );
  return out;
}

export function compileListeners(listeners: unknown[]): Map<string, CompiledListener> {
  const out = new Map<string, CompiledListener>();
  for (const l of records(listeners)) {
    const name = str(l['name']);
    if (name === undefined || name === '') continue;
    const socket = record(record(l['address'])?.['socketAddress']);
    const address = str(socket?.['address']) ?? '0.0.0.0';
    const port = num(socket?.['portValue']) ?? 0;
    const compiled: CompiledListener = { name, address, port, statName: `${address}_${port}` };
    const inbound = str(l['trafficDirection']) === 'INBOUND' || name === 'virtualInbound';
    const hcm = findHcm(l);
    if (hcm) compiled.hcm = compileHcm(hcm, name, inbound);
    out.set(name, compiled);
  }
  return out;
}
