/**
 * Consistent hashing: RING_HASH (a sorted ring of host replicas, each host getting a share proportional to
 * its weight) and MAGLEV (Google's lookup table of prime size 65537), built once per config; and the
 * route's hash policies (header, cookie, source IP, query parameter) turned into a request hash.
 *
 * Hashes are 32-bit FNV-1a rather than Envoy's xxHash64: stickiness and spread matter, not equality
 * with Envoy's placement.
 */
import type { Host } from './clusters.js';
import type { JsonObject } from './json.js';
import { bool, durationMs, num, record, records, str, unwrap } from './json.js';
import type { HeaderBag } from './matchers.js';
import { headerValue } from './matchers.js';

export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so nearby inputs spread over the ring.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export interface HashTable {
  kind: 'ring' | 'maglev';
  /** Ring: sorted points and the host at each; Maglev: `hosts[slot]`. */
  points: Uint32Array;
  hosts: Host[];
}

/** Envoy's ring size bounds (RingHashLbConfig defaults 1024 / 8M). */
export function buildRing(hosts: readonly Host[], minSize = 1024, maxSize = 8 * 1024 * 1024): HashTable {
  const usable = hosts.filter((h) => h.weight > 0);
  const total = usable.reduce((a, h) => a + h.weight, 0);
  if (usable.length === 0 || total === 0) return { kind: 'ring', points: new Uint32Array(), hosts: [] };
  const minWeight = Math.min(...usable.map((h) => h.weight / total));
  // As Envoy: scale so the lightest host gets at least one entry, within [min, max].
  const size = Math.min(Math.max(Math.ceil(minWeight * minSize) / minWeight, minSize), maxSize);
  const entries: [number, Host][] = [];
  for (const h of usable) {
    const replicas = Math.max(1, Math.round((size * h.weight) / total));
    for (let i = 0; i < replicas; i++) entries.push([fnv1a(`${h.key}_${i}`), h]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return {
    kind: 'ring',
    points: Uint32Array.from(entries.map((e) => e[0])),
    hosts: entries.map((e) => e[1]),
  };
}

const MAGLEV_SIZE = 65537;

/** Maglev's table: each host walks its own permutation, taking turns in proportion to weight. */
export function buildMaglev(hosts: readonly Host[], size = MAGLEV_SIZE): HashTable {
  const usable = hosts.filter((h) => h.weight > 0);
  const table = new Array<Host | undefined>(size).fill(undefined);
  if (usable.length === 0) return { kind: 'maglev', points: new Uint32Array(), hosts: [] };
  const maxWeight = Math.max(...usable.map((h) => h.weight));
  const state = usable.map((h) => ({
    host: h,
    offset: fnv1a(h.key) % size,
    skip: (fnv1a(h.key, 0x9747b28c) % (size - 1)) + 1,
    next: 0,
    credit: 0,
  }));
  let filled = 0;
  while (filled < size) {
    for (const s of state) {
      s.credit += s.host.weight / maxWeight;
      if (s.credit < 1) continue;
      s.credit -= 1;
      let slot = (s.offset + s.skip * s.next) % size;
      while (table[slot] !== undefined) {
        s.next++;
        slot = (s.offset + s.skip * s.next) % size;
      }
      table[slot] = s.host;
      s.next++;
      filled++;
      if (filled === size) break;
    }
  }
  return {
    kind: 'maglev',
    points: new Uint32Array(),
    hosts: table.filter((h): h is Host => h !== undefined),
  };
}

/**
 * The host for a hash: the first ring point at or after it (wrapping), or the Maglev slot; when that host
 * cannot be used, the next entries are tried in order, as Envoy walks on to the next distinct host.
 */
export function lookupHash(table: HashTable, hash: number, usable: (h: Host) => boolean): Host | undefined {
  const n = table.hosts.length;
  if (n === 0) return undefined;
  let start: number;
  if (table.kind === 'maglev') start = (hash >>> 0) % n;
  else {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((table.points[mid] ?? 0) < hash >>> 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo % n;
  }
  const limit = Math.min(n, 4096);
  for (let i = 0; i < limit; i++) {
    const h = table.hosts[(start + i) % n];
    if (h && usable(h)) return h;
  }
  return undefined;
}

/** One RouteAction.HashPolicy. */
export type HashPolicy =
  | { kind: 'header'; name: string; terminal: boolean }
  | { kind: 'cookie'; name: string; ttlMs?: number; path?: string; terminal: boolean }
  | { kind: 'sourceIp'; terminal: boolean }
  | { kind: 'query'; name: string; terminal: boolean };

export function compileHashPolicies(v: unknown): HashPolicy[] {
  const out: HashPolicy[] = [];
  for (const p of records(v)) {
    const terminal = bool(p['terminal']) === true;
    const header = record(p['header']);
    const cookie = record(p['cookie']);
    const conn = record(p['connectionProperties']);
    const query = record(p['queryParameter']);
    if (header && str(header['headerName']))
      out.push({ kind: 'header', name: (str(header['headerName']) ?? '').toLowerCase(), terminal });
    else if (cookie && str(cookie['name'])) {
      const c: HashPolicy = { kind: 'cookie', name: str(cookie['name']) ?? '', terminal };
      const ttl = durationMs(cookie['ttl']);
      if (ttl !== undefined) c.ttlMs = ttl;
      const path = str(cookie['path']);
      if (path !== undefined) c.path = path;
      out.push(c);
    } else if (conn && bool(conn['sourceIp']) === true) out.push({ kind: 'sourceIp', terminal });
    else if (query && str(query['name']))
      out.push({ kind: 'query', name: str(query['name']) ?? '', terminal });
  }
  return out;
}

/** A cookie's value from the Cookie header(s). */
export function cookieValue(headers: HeaderBag, name: string): string | undefined {
  const raw = headerValue(headers, 'cookie');
  if (raw === undefined) return undefined;
  for (const part of raw.split(/;\s*|,\s*/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name)
      return part
        .slice(eq + 1)
        .trim()
        .replace(/^"|"$/g, '');
  }
  return undefined;
}

export interface HashInput {
  headers: HeaderBag;
  path: string;
  sourceIp: string;
  /** Called when a cookie policy with a TTL finds no cookie: returns the value to set (and hash). */
  generateCookie: (name: string, path: string | undefined, ttlMs: number) => string;
}

/**
 * The request hash from the route's hash policies, combined as Envoy does (rotate and xor); undefined
 * when no policy produced one.
 */
export function requestHash(policies: readonly HashPolicy[], input: HashInput): number | undefined {
  let hash: number | undefined;
  for (const p of policies) {
    let value: string | undefined;
    switch (p.kind) {
      case 'header':
        value = headerValue(input.headers, p.name);
        break;
      case 'cookie':
        value = cookieValue(input.headers, p.name);
        if (value === undefined && p.ttlMs !== undefined)
          value = input.generateCookie(p.name, p.path, p.ttlMs);
        break;
      case 'sourceIp':
        value = input.sourceIp || undefined;
        break;
      case 'query': {
        const q = input.path.indexOf('?');
        if (q >= 0) {
          for (const part of input.path.slice(q + 1).split('&')) {
            const eq = part.indexOf('=');
            if ((eq < 0 ? part : part.slice(0, eq)) === p.name) {
              value = eq < 0 ? '' : part.slice(eq + 1);
              break;
            }
          }
        }
        break;
      }
    }
    if (value === undefined) continue;
    const h = fnv1a(value);
    hash = hash === undefined ? h : (((hash << 1) | (hash >>> 31)) ^ h) >>> 0;
    if (p.terminal) break;
  }
  return hash;
}

/** RingHashLbConfig / MaglevLbConfig table sizes from a cluster. */
export function ringSizes(cluster: JsonObject): { min: number; max: number } {
  const cfg = record(cluster['ringHashLbConfig']);
  return {
    min: num(unwrap(cfg?.['minimumRingSize'])) ?? 1024,
    max: num(unwrap(cfg?.['maximumRingSize'])) ?? 8 * 1024 * 1024,
  };
}
