/**
 * Listeners (config.listener.v3.Listener) reduced to what the engine serves: the bind address and the
 * filter chains with their match (tls-chains.ts), transport socket (tls-context.ts) and HTTP connection
 * manager (or TCP proxy), with the RBAC filters (rbac.ts) and path normalization the chain asks for.
 */
import { ConfigError } from './errors.js';
import type { FaultConfig } from './filters.js';
import { compileFault, CORS_FILTER, FAULT_FILTER } from './filters.js';
import type { JsonObject } from './json.js';
import { anyType, bool, num, record, records, str, strings, unwrap } from './json.js';
import type { PathNormalizeOptions } from './path-normalize.js';
import { pathOptionsFromHcm } from './path-normalize.js';
import type { XfccOptions } from './xfcc.js';
import { xfccOptionsFromHcm } from './xfcc.js';
import type { CompiledRbac } from './rbac.js';
import { compileRbacFilter, TYPE_HTTP_RBAC, TYPE_NETWORK_RBAC } from './rbac.js';
import type { CompiledRouteConfig } from './routes.js';
import { compileRouteConfig } from './routes.js';
import type { ChainMatch } from './tls-chains.js';
import { compileChainMatch, needsInspection } from './tls-chains.js';
import type { CompiledTls } from './tls-context.js';
import { compileTransportSocket } from './tls-context.js';

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';
const FILE_LOG_TYPE = 'envoy.extensions.access_loggers.file.v3.FileAccessLog';

const HTTP_RBAC_FILTER = 'envoy.filters.http.rbac';
const NETWORK_RBAC_FILTER = 'envoy.filters.network.rbac';

/** One RBAC filter of a chain (HTTP or network), compiled; in filter order. */
export interface RbacFilter {
  name: string;
  rbac: CompiledRbac;
}

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
  /** How many XFF entries from the right are trusted proxies (remote address detection). */
  xffNumTrustedHops: number;
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
  /** Istio's `istio.alpn` filter: the ALPN an HTTP/1.1 request offers upstream over TLS. */
  upstreamAlpn?: string[];
  /** The istio.alpn filter's ALPN for HTTP/2 upstreams (`istio-h2`, `istio`, `h2`). */
  upstreamAlpnH2?: string[];
  /** `envoy.filters.http.rbac` filters in chain order (Istio: AUDIT, DENY, ALLOW). */
  rbacFilters: RbacFilter[];
  /** normalize_path, merge_slashes, path_with_escaped_slashes_action. */
  pathOptions: PathNormalizeOptions;
  /** forward_client_cert_details and set_current_client_cert_details. */
  xfcc: XfccOptions;
}

/** envoy.filters.network.tcp_proxy: bytes both ways to one cluster. */
export interface TcpProxyConfig {
  statPrefix: string;
  cluster: string;
  accessLogs: HcmAccessLog[];
  /** `envoy.filters.network.rbac` filters before the tcp_proxy, in chain order. */
  rbacFilters: RbacFilter[];
}

/** One filter chain: when it applies, its transport socket, and what serves the bytes. */
export interface CompiledChain {
  /** Unique within the listener: the chain's position (`#<n>`), `default` for the default chain. */
  key: string;
  /** The chain's name (Istio names several chains alike), else its key. */
  name: string;
  match: ChainMatch;
  /** The DownstreamTlsContext; undefined for plaintext. */
  tls?: CompiledTls;
  hcm?: HttpConnectionManager;
  tcp?: TcpProxyConfig;
}

export interface CompiledListener {
  name: string;
  address: string;
  port: number;
  /** `address_port`, the listener stats scope. */
  statName: string;
  /** The first chain's HTTP connection manager (undefined when no chain has one). */
  hcm?: HttpConnectionManager;
  chains: CompiledChain[];
  defaultChain?: CompiledChain;
  /** Choosing a chain needs the TLS / HTTP inspectors' view of the first bytes. */
  inspect: boolean;
}

function chainHcm(chain: JsonObject): JsonObject | undefined {
  for (const filter of records(chain['filters'])) {
    const typed = record(filter['typedConfig']);
    if (str(filter['name']) === HCM_FILTER || anyType(typed) === HCM_TYPE) return typed ?? {};
  }
  return undefined;
}

const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
const TCP_PROXY_TYPE = 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

/**
 * Compiles one RBAC filter; a config Envoy would reject is a ConfigError naming the listener and filter,
 * so the whole snapshot is NACKed.
 */
function compileRbac(filter: JsonObject, where: string): RbacFilter {
  const name = str(filter['name']) ?? '';
  try {
    return { name, rbac: compileRbacFilter(filter['typedConfig']) };
  } catch (err) {
    throw new ConfigError(`${where}: ${name || 'rbac'}: ${(err as Error).message}`);
  }
}

function isRbacFilter(filter: JsonObject, filterName: string, type: string): boolean {
  const t = anyType(filter['typedConfig']);
  return str(filter['name']) === filterName || (t !== '' && `type.googleapis.com/${t}` === type);
}

function chainTcpProxy(chain: JsonObject, listenerName: string): TcpProxyConfig | undefined {
  const rbacFilters: RbacFilter[] = [];
  for (const filter of records(chain['filters'])) {
    const typed = record(filter['typedConfig']);
    if (isRbacFilter(filter, NETWORK_RBAC_FILTER, TYPE_NETWORK_RBAC)) {
      rbacFilters.push(compileRbac(filter, `listener ${listenerName}`));
      continue;
    }
    if (str(filter['name']) !== TCP_PROXY_FILTER && anyType(typed) !== TCP_PROXY_TYPE) continue;
    const cluster = str(typed?.['cluster']);
    if (cluster === undefined || cluster === '') return undefined; // weighted clusters are not modelled
    return {
      statPrefix: str(typed?.['statPrefix']) ?? cluster,
      cluster,
      accessLogs: accessLogs(typed ?? {}),
      rbacFilters,
    };
  }
  return undefined;
}

function compileChain(chain: JsonObject, key: string, listenerName: string, inbound: boolean): CompiledChain {
  const name = str(chain['name']) || key;
  const out: CompiledChain = { key, name, match: compileChainMatch(chain['filterChainMatch']) };
  const tls = compileTransportSocket(chain['transportSocket'], 'downstream');
  if (tls) out.tls = tls;
  const hcm = chainHcm(chain);
  if (hcm) out.hcm = compileHcm(hcm, listenerName, inbound);
  else {
    const tcp = chainTcpProxy(chain, listenerName);
    if (tcp) out.tcp = tcp;
  }
  return out;
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
    xffNumTrustedHops: Math.max(0, Math.floor(num(unwrap(hcm['xffNumTrustedHops'])) ?? 0)),
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
    rbacFilters: filters
      .filter((f) => isRbacFilter(f, HTTP_RBAC_FILTER, TYPE_HTTP_RBAC))
      .map((f) => compileRbac(f, `listener ${listenerName}`)),
    pathOptions: pathOptionsFromHcm(hcm),
    xfcc: xfccOptionsFromHcm(hcm),
  };
  const alpn = filters.find((f) => str(f['name']) === 'istio.alpn');
  for (const o of records(record(alpn?.['typedConfig'])?.['alpnOverride'])) {
    if (str(o['upstreamProtocol']) === 'HTTP11') out.upstreamAlpn = strings(o['alpnOverride']);
    else if (str(o['upstreamProtocol']) === 'HTTP2') out.upstreamAlpnH2 = strings(o['alpnOverride']);
  }
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
    const inbound = str(l['trafficDirection']) === 'INBOUND' || name === 'virtualInbound';
    const chains = records(l['filterChains']).map((c, i) => compileChain(c, `#${i}`, name, inbound));
    const fallback = record(l['defaultFilterChain']);
    const defaultChain = fallback ? compileChain(fallback, 'default', name, inbound) : undefined;
    const compiled: CompiledListener = {
      name,
      address,
      port,
      statName: `${address}_${port}`,
      chains,
      inspect: needsInspection(chains.map((c) => c.match)),
    };
    if (defaultChain) compiled.defaultChain = defaultChain;
    const hcm = [...chains, ...(defaultChain ? [defaultChain] : [])].find((c) => c.hcm)?.hcm;
    if (hcm) compiled.hcm = hcm;
    out.set(name, compiled);
  }
  return out;
}
