/** `proxy-config listener`: listeners and their filter chains, as istioctl 1.17 summarises them. */
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
  strings,
} from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import { describeMatch } from './configdump-routes.js';
import { tabulate } from './tabwriter.js';

const HTTP_FILTER = 'envoy.filters.network.http_connection_manager';
const TCP_FILTER = 'envoy.filters.network.tcp_proxy';
const BLACKHOLE = 'BlackHoleCluster';

export interface ListenerFilter {
  address: string;
  port: number;
  type: string;
  verbose: boolean;
}

function filterChains(l: JsonObject): unknown[] {
  const chains = [...arrField(l, 'filter_chains')];
  const def = field(l, 'default_filter_chain');
  if (isObject(def)) chains.push(def);
  return chains;
}

function filters(chain: unknown): JsonObject[] {
  return arrField(chain, 'filters').filter(isObject);
}

/** istioctl looks for the blackhole cluster name anywhere in the tcp_proxy config bytes. */
function mentionsBlackhole(filter: JsonObject): boolean {
  return JSON.stringify(field(filter, 'typed_config') ?? null).includes(BLACKHOLE);
}

export function listenerType(l: JsonObject): string {
  let nHTTP = 0;
  let nTCP = 0;
  for (const chain of filterChains(l)) {
    for (const f of filters(chain)) {
      const name = strField(f, 'name');
      if (name === HTTP_FILTER) nHTTP++;
      else if (name === TCP_FILTER && !mentionsBlackhole(f)) nTCP++;
    }
  }
  if (nHTTP > 0) return nTCP === 0 ? 'HTTP' : 'HTTP+TCP';
  return nTCP > 0 ? 'TCP' : 'UNKNOWN';
}

export function listenerAddress(l: JsonObject): string {
  const address = objField(l, 'address');
  const sock = objField(address, 'socket_address');
  if (sock) return strField(sock, 'address');
  const pipe = objField(address, 'pipe');
  if (pipe) return strField(pipe, 'path');
  return '';
}

export function listenerPort(l: JsonObject): number {
  return numField(objField(objField(l, 'address'), 'socket_address'), 'port_value');
}

export function listenerMatches(filter: ListenerFilter, l: JsonObject): boolean {
  if (filter.address && !equalFold(listenerAddress(l), filter.address)) return false;
  if (filter.port !== 0 && listenerPort(l) !== filter.port) return false;
  if (filter.type && !equalFold(listenerType(l), filter.type)) return false;
  return true;
}

const ALPN_DESCRIPTIONS: [string, string[]][] = [
  ['App: HTTP TLS', ['http/1.0', 'http/1.1', 'h2c', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: Istio HTTP Plain', ['istio', 'istio-http/1.0', 'istio-http/1.1', 'istio-h2']],
  ['App: TCP TLS', ['istio-peer-exchange', 'istio']],
  ['App: HTTP', ['http/1.0', 'http/1.1', 'h2c']],
];

const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function describeChainMatch(chain: unknown): string {
  const match = objField(chain, 'filter_chain_match') ?? {};
  const descrs: string[] = [];
  const sni = strings(field(match, 'server_names'));
  if (sni.length > 0) descrs.push(`SNI: ${sni.join(',')}`);
  const transport = strField(match, 'transport_protocol');
  if (transport) descrs.push(`Trans: ${transport}`);
  const alpn = strings(field(match, 'application_protocols'));
  if (alpn.length > 0) {
    const known = ALPN_DESCRIPTIONS.find(([, list]) => sameList(alpn, list));
    descrs.push(known ? known[0] : `App: ${alpn.join(',')}`);
  }
  const destPort = field(match, 'destination_port');
  const port = destPort === undefined || destPort === null ? '' : `:${wrapperNumber(destPort)}`;
  const ranges = arrField(match, 'prefix_ranges');
  if (ranges.length > 0) {
    const cidrs = ranges.map(
      (r) => `${strField(r, 'address_prefix')}/${wrapperNumber(field(r, 'prefix_len'))}`,
    );
    descrs.push(`Addr: ${cidrs.join(',')}${port}`);
  } else if (port) {
    descrs.push(`Addr: *${port}`);
  }
  return descrs.length === 0 ? 'ALL' : descrs.join('; ');
}

/** UInt32Value fields print as plain JSON numbers (older dumps may wrap them as `{value}`). */
function wrapperNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  if (isObject(v)) return numField(v, 'value');
  return 0;
}

function describeDestination(chain: unknown): string {
  for (const f of filters(chain)) {
    const name = strField(f, 'name');
    const config = objField(f, 'typed_config');
    if (name === HTTP_FILTER) {
      const inline = objField(config, 'route_config');
      if (inline) return describeInlineRoutes(inline);
      const rds = strField(objField(config, 'rds'), 'route_config_name');
      if (rds) return `Route: ${rds}`;
      return 'HTTP';
    }
    if (name === TCP_FILTER && !mentionsBlackhole(f)) {
      const cluster = strField(config, 'cluster');
      return cluster.includes('Cluster') ? cluster : `Cluster: ${cluster}`;
    }
  }
  return 'Non-HTTP/Non-TCP';
}

function describeInlineRoutes(rc: JsonObject): string {
  const all = matchAllCluster(rc);
  if (all) return all;
  const vhosts = arrField(rc, 'virtual_hosts').map((vh) => {
    const domains = strings(field(vh, 'domains'));
    const described = domains.length === 1 && domains[0] === '*' ? '' : domains.join('/');
    const routes = arrField(vh, 'routes')
      .map((r) => describeMatch(field(r, 'match')))
      .join(', ');
    return described === '' ? routes : `${described} ${routes}`;
  });
  return `Inline Route: ${vhosts.join('; ')}`;
}

function matchAllCluster(rc: JsonObject): string {
  const vhosts = arrField(rc, 'virtual_hosts');
  if (vhosts.length !== 1) return '';
  const vh = vhosts[0];
  if (!sameList(strings(field(vh, 'domains')), ['*'])) return '';
  const routes = arrField(vh, 'routes');
  if (routes.length !== 1) return '';
  const r = routes[0];
  if (strField(field(r, 'match'), 'prefix') !== '/') return '';
  const action = objField(r, 'route');
  if (!action) return '';
  const cluster = field(action, 'cluster');
  if (typeof cluster !== 'string') return '';
  return cluster.includes('Cluster') ? cluster : `Cluster: ${cluster}`;
}

/** Dynamic (active state) listeners then static ones, in dump order. */
export function listenersOf(dump: JsonObject): JsonObject[] {
  const section = findSection(dump, SECTION.listeners);
  if (!section) {
    throw dumpError(`listener dump: config dump has no configuration type ${SECTION.listeners}`);
  }
  const listeners: JsonObject[] = [];
  for (const d of arrField(section, 'dynamic_listeners')) {
    const l = objField(objField(d, 'active_state'), 'listener');
    if (l) listeners.push(l);
  }
  for (const s of arrField(section, 'static_listeners')) {
    const l = objField(s, 'listener');
    if (l) listeners.push(l);
  }
  if (listeners.length === 0) throw dumpError('no listeners found');
  return listeners;
}

export function listenerSummary(dump: JsonObject, filter: ListenerFilter): string {
  const listeners = goSortSlice(
    listenersOf(dump).filter((l) => listenerMatches(filter, l)),
    (a, b) => {
      const pa = listenerPort(a);
      const pb = listenerPort(b);
      if (pa !== pb) return pa < pb;
      const aa = listenerAddress(a);
      const ab = listenerAddress(b);
      if (aa !== ab) return aa < ab;
      return listenerType(a) < listenerType(b);
    },
  );
  let text = filter.verbose ? 'ADDRESS\tPORT\tMATCH\tDESTINATION\n' : 'ADDRESS\tPORT\tTYPE\n';
  for (const l of listeners) {
    const address = listenerAddress(l);
    const port = listenerPort(l);
    if (filter.verbose) {
      const chains = filterChains(l).map((c) => ({
        match: describeChainMatch(c),
        destination: describeDestination(c),
      }));
      for (const c of goSortSlice(chains, (a, b) => a.destination > b.destination)) {
        text += `${address}\t${port}\t${c.match}\t${c.destination}\n`;
      }
    } else {
      text += `${address}\t${port}\t${listenerType(l)}\n`;
    }
  }
  // `pc listener` pads with one space where the other tables use five.
  return tabulate(text, { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ' });
}

export function listenerDump(dump: JsonObject, filter: ListenerFilter, format: DumpFormat): string {
  return renderProtoList(
    listenersOf(dump).filter((l) => listenerMatches(filter, l)),
    format,
  );
}
