/**
 * Envoy's filter-chain match (FilterChainManagerImpl): a connection picks its chain by narrowing the
 * listener's chains one criterion at a time, in Envoy's order — destination port, destination IP, server
 * name (SNI), transport protocol, application protocols, source IP, source port. At each step the most
 * specific value any chain names wins and chains that leave the criterion empty only serve when none
 * does; there is no falling back to a less specific value once a more specific one matched.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { JsonObject } from './json.js';
import { num, record, records, str, strings, unwrap } from './json.js';

interface Cidr {
  len: number;
  list: BlockList;
  family: 'ipv4' | 'ipv6';
}

export interface ChainMatch {
  destinationPort?: number;
  prefixRanges: Cidr[];
  serverNames: string[];
  transportProtocol: string;
  applicationProtocols: string[];
  sourcePrefixRanges: Cidr[];
  sourcePorts: number[];
}

/** What is known about a connection when its chain is chosen. */
export interface ConnectionFacts {
  destinationIp: string;
  destinationPort: number;
  sourceIp: string;
  sourcePort: number;
  serverName?: string;
  transportProtocol: string;
  applicationProtocols: readonly string[];
}

function cidrs(v: unknown): Cidr[] {
  const out: Cidr[] = [];
  for (const r of records(v)) {
    const address = str(r['addressPrefix']);
    if (address === undefined) continue;
    const family = isIPv6(address) ? 'ipv6' : 'ipv4';
    const len = num(unwrap(r['prefixLen'])) ?? (family === 'ipv4' ? 32 : 128);
    try {
      const list = new BlockList();
      list.addSubnet(address, len, family);
      out.push({ len, list, family });
    } catch {
      // an address Node cannot parse matches nothing
    }
  }
  return out;
}

export function compileChainMatch(match: unknown): ChainMatch {
  const m: JsonObject = record(match) ?? {};
  const out: ChainMatch = {
    prefixRanges: cidrs(m['prefixRanges']),
    serverNames: strings(m['serverNames']).map((s) => s.toLowerCase()),
    transportProtocol: str(m['transportProtocol']) ?? '',
    applicationProtocols: strings(m['applicationProtocols']),
    sourcePrefixRanges: cidrs(m['sourcePrefixRanges']),
    sourcePorts: (Array.isArray(m['sourcePorts']) ? m['sourcePorts'] : [])
      .map((p) => num(p))
      .filter((p): p is number => p !== undefined),
  };
  const port = num(unwrap(m['destinationPort']));
  if (port !== undefined && port > 0) out.destinationPort = port;
  return out;
}

/** Whether choosing among these chains needs the inspectors (a ClientHello or the request line). */
export function needsInspection(matches: readonly ChainMatch[]): boolean {
  return matches.some(
    (m) => m.transportProtocol !== '' || m.applicationProtocols.length > 0 || m.serverNames.length > 0,
  );
}

function plainIp(ip: string): string {
  return ip.replace(/^::ffff:(?=\d+\.)/, '');
}

/** Longest matching prefix of an address (chains without ranges match everything at length -1). */
function prefixScore(ranges: readonly Cidr[], ip: string): number | undefined {
  if (ranges.length === 0) return -1;
  const addr = plainIp(ip);
  const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
  let best: number | undefined;
  for (const r of ranges) {
    if (r.family !== family) continue;
    let hit = false;
    try {
      hit = r.list.check(addr, family);
    } catch {
      hit = false;
    }
    if (hit && (best === undefined || r.len > best)) best = r.len;
  }
  return best;
}

/** Keeps the candidates with the best score; undefined scores do not match. */
function narrow<T>(items: T[], score: (t: T) => number | undefined): T[] {
  let best: number | undefined;
  for (const t of items) {
    const s = score(t);
    if (s !== undefined && (best === undefined || s > best)) best = s;
  }
  return best === undefined ? [] : items.filter((t) => score(t) === best);
}

function serverNameScore(names: readonly string[], sni: string | undefined): number | undefined {
  if (names.length === 0) return 0;
  if (sni === undefined || sni === '') return undefined;
  let best: number | undefined;
  for (const n of names) {
    // Exact names beat every wildcard; longer wildcard suffixes beat shorter ones.
    let s: number | undefined;
    if (n === sni) s = 100_000;
    else if (n.startsWith('*.') && sni.endsWith(n.slice(1))) s = n.length;
    else if (n.startsWith('.') && sni.endsWith(n)) s = n.length;
    if (s !== undefined && (best === undefined || s > best)) best = s;
  }
  return best;
}

/** The application-protocol group: the first offered protocol any chain names, else the chains naming none. */
function byApplicationProtocol<T>(items: T[], match: (t: T) => ChainMatch, offered: readonly string[]): T[] {
  for (const p of offered) {
    const hit = items.filter((t) => match(t).applicationProtocols.includes(p));
    if (hit.length > 0) return hit;
  }
  return items.filter((t) => match(t).applicationProtocols.length === 0);
}

/** The chain a connection is served by, or undefined (Envoy closes it: filter_chain_not_found). */
export function selectChain<T>(
  items: readonly T[],
  match: (t: T) => ChainMatch,
  facts: ConnectionFacts,
): T | undefined {
  let c = [...items];
  c = narrow(c, (t) => {
    const p = match(t).destinationPort;
    return p === undefined ? 0 : p === facts.destinationPort ? 1 : undefined;
  });
  c = narrow(c, (t) => prefixScore(match(t).prefixRanges, facts.destinationIp));
  c = narrow(c, (t) => serverNameScore(match(t).serverNames, facts.serverName));
  c = narrow(c, (t) => {
    const tp = match(t).transportProtocol;
    return tp === '' ? 0 : tp === facts.transportProtocol ? 1 : undefined;
  });
  c = byApplicationProtocol(c, match, facts.applicationProtocols);
  c = narrow(c, (t) => prefixScore(match(t).sourcePrefixRanges, facts.sourceIp));
  c = narrow(c, (t) => {
    const ports = match(t).sourcePorts;
    return ports.length === 0 ? 0 : ports.includes(facts.sourcePort) ? 1 : undefined;
  });
  return c[0];
}
