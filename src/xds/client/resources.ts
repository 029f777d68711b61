/**
 * What the client needs to know about each xDS resource type: how to decode a response's Anys into proto3
 * JSON, each resource's name, and the names a resource makes the client subscribe to next (a cluster's EDS
 * service name, a listener's RDS route names, SDS secret names). Pure functions; bad input throws
 * `ResourceError` with a message fit for a NACK's `error_detail`.
 */
import { createHash } from 'node:crypto';
import { TYPE, decodeAny } from '../protos.js';
import type { AnyMessage } from '../protos.js';

export type Json = Record<string, unknown>;

export class ResourceError extends Error {}

/** The resource types this client understands, in Envoy's / istiod's push order. */
export const CLIENT_TYPES = [
  TYPE.Cluster,
  TYPE.ClusterLoadAssignment,
  TYPE.Listener,
  TYPE.RouteConfiguration,
  TYPE.Secret,
] as const;

export type ClientTypeUrl = (typeof CLIENT_TYPES)[number];

/** Types where a SotW response carries the complete set and omission means deletion (xds-protocol.md §2.6). */
export function isStateOfTheWorldComplete(typeUrl: string): boolean {
  return typeUrl === TYPE.Cluster || typeUrl === TYPE.Listener;
}

/** Short names as Envoy's stats and istioctl use them. */
export const TYPE_SHORT: Record<ClientTypeUrl, 'cds' | 'eds' | 'lds' | 'rds' | 'sds'> = {
  [TYPE.Cluster]: 'cds',
  [TYPE.ClusterLoadAssignment]: 'eds',
  [TYPE.Listener]: 'lds',
  [TYPE.RouteConfiguration]: 'rds',
  [TYPE.Secret]: 'sds',
};

export function isClientType(typeUrl: string): typeUrl is ClientTypeUrl {
  return (CLIENT_TYPES as readonly string[]).includes(typeUrl);
}

export interface DecodedResource {
  name: string;
  resource: Json;
  /**
   * SHA-1 of the Any's bytes, for cheap "did this resource change" checks. A digest rather than the
   * bytes: decoded bytes are views into the whole response buffer and would keep it alive.
   */
  digest: string;
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The name of a decoded resource of the given type ('' when it has none). */
export function resourceName(typeUrl: string, resource: Json): string {
  return typeUrl === TYPE.ClusterLoadAssignment ? str(resource['clusterName']) : str(resource['name']);
}

function digestOf(raw: Uint8Array): string {
  return createHash('sha1').update(raw).digest('base64');
}

/**
 * A cheap fingerprint of a resource's bytes for a cache's buckets: FNV-1a over the first 256 bytes (where
 * every type puts its name, field 1), about `samples` bytes sampled across the middle and the last 64 bytes.
 * Equal bytes always give equal fingerprints; different bytes with the same fingerprint are told apart by
 * comparing them in full (memcmp), which costs far less than hashing or copying them.
 */
export function sampledFingerprint(raw: Uint8Array, samples = 64): number {
  return sampledFingerprintOf(raw.length, (i) => raw[i] as number, samples);
}

/** The same fingerprint over `n` bytes read through `byteAt` (bytes kept in pieces, say). */
export function sampledFingerprintOf(n: number, byteAt: (i: number) => number, samples = 64): number {
  let h = 0x811c9dc5 ^ n;
  const mix = (i: number): void => {
    h = Math.imul(h ^ byteAt(i), 0x01000193);
  };
  const head = Math.min(n, 256);
  for (let i = 0; i < head; i++) mix(i);
  if (n > head) {
    const stride = Math.max(1, Math.floor((n - head) / samples));
    for (let i = head; i < n; i += stride) mix(i);
    for (let i = Math.max(head, n - 64); i < n; i++) mix(i);
  }
  return h >>> 0;
}

interface CacheEntry {
  /** A private copy of the bytes (the received ones are views into the whole response). */
  bytes: Buffer;
  resource: Json;
  digest: string;
}

/**
 * Decoded resources keyed by their exact bytes, shared by clients in one process (the load generator's
 * simulated proxies receive the same resources): decoding costs ~40 µs per cluster, a lookup one
 * fingerprint of a few hundred bytes and one memcmp. Resources from the cache are shared objects: treat
 * them as read-only.
 */
export class DecodeCache {
  private readonly buckets = new Map<string, CacheEntry[]>();
  private count = 0;
  private held = 0;

  /**
   * `maxBytes` bounds the encoded bytes kept (a proxy's own cache: old versions of a large route
   * configuration would otherwise pile up to `maxEntries`). The least recently used go first.
   */
  constructor(
    private readonly maxEntries = 50_000,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Encoded bytes held. */
  get bytes(): number {
    return this.held;
  }

  decode(typeUrl: string, raw: Uint8Array): { resource: Json; digest: string } {
    const view = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const key = `${typeUrl}\0${raw.byteLength}\0${sampledFingerprint(raw)}`;
    const bucket = this.buckets.get(key);
    if (bucket) {
      for (const e of bucket) {
        if (!e.bytes.equals(view)) continue;
        // Map order is use order: a hit moves its bucket to the young end.
        this.buckets.delete(key);
        this.buckets.set(key, bucket);
        return e;
      }
    }
    const entry: CacheEntry = {
      bytes: Buffer.from(view),
      resource: decodeAny({ type_url: typeUrl, value: raw }),
      digest: digestOf(raw),
    };
    while (
      (this.count >= this.maxEntries || this.held + raw.byteLength > this.maxBytes) &&
      this.buckets.size > 0
    ) {
      const oldest = this.buckets.entries().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value[0]);
      this.count -= oldest.value[1].length;
      for (const e of oldest.value[1]) this.held -= e.bytes.length;
    }
    const list = this.buckets.get(key);
    if (list) list.push(entry);
    else this.buckets.set(key, [entry]);
    this.count++;
    this.held += entry.bytes.length;
    return entry;
  }
}

/**
 * Decodes every Any of a response. Throws ResourceError when an Any's type differs from the response's,
 * its bytes do not parse, a resource has no name, or a name repeats (Envoy NACKs duplicates).
 */
export function decodeResources(
  typeUrl: string,
  anys: readonly AnyMessage[],
  cache?: DecodeCache,
): DecodedResource[] {
  const seen = new Set<string>();
  return anys.map((any, index) => {
    const anyType = str((any as Partial<AnyMessage>).type_url);
    if (anyType !== typeUrl) {
      throw new ResourceError(
        `resource index ${index}: type URL "${anyType}" does not match the response type URL "${typeUrl}"`,
      );
    }
    const raw = any.value instanceof Uint8Array ? any.value : new Uint8Array();
    let resource: Json;
    let digest: string;
    try {
      ({ resource, digest } = cache
        ? cache.decode(anyType, raw)
        : { resource: decodeAny({ type_url: anyType, value: raw }), digest: digestOf(raw) });
    } catch (err) {
      throw new ResourceError(`resource index ${index}: cannot decode ${anyType}: ${(err as Error).message}`);
    }
    const name = resourceName(typeUrl, resource);
    if (name === '') throw new ResourceError(`resource index ${index}: resource has no name`);
    if (seen.has(name)) throw new ResourceError(`duplicate resource name "${name}"`);
    seen.add(name);
    return { name, resource, digest };
  });
}

// ---- references between resources ----

/** The EDS resource name a cluster waits for, or undefined for clusters that are not of type EDS. */
export function edsServiceName(cluster: Json): string | undefined {
  // `type` is absent in proto3 JSON when it is STATIC (enum 0); `clusterType` (custom) is never EDS.
  if (cluster['type'] !== 'EDS') return undefined;
  const eds = isRecord(cluster['edsClusterConfig']) ? cluster['edsClusterConfig'] : {};
  return str(eds['serviceName']) || str(cluster['name']) || undefined;
}

/** `initial_fetch_timeout` of a cluster's EDS config source in ms; undefined when not set. */
export function edsInitialFetchTimeoutMs(cluster: Json): number | undefined {
  const eds = isRecord(cluster['edsClusterConfig']) ? cluster['edsClusterConfig'] : {};
  const source = isRecord(eds['edsConfig']) ? eds['edsConfig'] : {};
  return durationMs(source['initialFetchTimeout']);
}

const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** Every HttpConnectionManager config in a listener: filter chains, the default chain and an API listener. */
function connectionManagers(listener: Json): Json[] {
  const out: Json[] = [];
  const chains = [...list(listener['filterChains']), listener['defaultFilterChain']];
  for (const chain of chains) {
    if (!isRecord(chain)) continue;
    for (const filter of list(chain['filters'])) {
      if (!isRecord(filter)) continue;
      const config = filter['typedConfig'];
      if (isRecord(config) && config['@type'] === HCM_TYPE) out.push(config);
    }
  }
  const api = isRecord(listener['apiListener']) ? listener['apiListener']['apiListener'] : undefined;
  if (isRecord(api) && api['@type'] === HCM_TYPE) out.push(api);
  return out;
}

/** The RDS route configuration names a listener's HCMs load (inline route configs need nothing). */
export function listenerRouteNames(listener: Json): string[] {
  const names = new Set<string>();
  for (const hcm of connectionManagers(listener)) {
    const rds = hcm['rds'];
    if (isRecord(rds) && str(rds['routeConfigName']) !== '') names.add(str(rds['routeConfigName']));
  }
  return [...names].sort();
}

/** The smallest `initial_fetch_timeout` among a listener's RDS config sources, in ms. */
export function rdsInitialFetchTimeoutMs(listener: Json): number | undefined {
  let min: number | undefined;
  for (const hcm of connectionManagers(listener)) {
    const rds = isRecord(hcm['rds']) ? hcm['rds'] : {};
    const source = isRecord(rds['configSource']) ? rds['configSource'] : {};
    const ms = durationMs(source['initialFetchTimeout']);
    if (ms !== undefined && (min === undefined || ms < min)) min = ms;
  }
  return min;
}

/**
 * Which SDS references the client fetches over its ADS stream: `ads` — only those whose `sdsConfig` is
 * `ads` or `self`, as Envoy does (Istio's `sds-grpc` references go to the local agent instead); `all` —
 * every reference, for a proxy whose control plane also serves its certificates.
 */
export type SecretSource = 'ads' | 'all';

function fetchedOverAds(ref: Json, source: SecretSource): boolean {
  if (source === 'all') return true;
  const config = ref['sdsConfig'];
  return isRecord(config) && (isRecord(config['ads']) || isRecord(config['self']));
}

/** SDS secret names referenced by a cluster's or listener's TLS transport sockets, sorted. */
export function secretNames(resource: Json, source: SecretSource = 'all'): string[] {
  const names = new Set<string>();
  const add = (ref: unknown): void => {
    if (isRecord(ref) && str(ref['name']) && fetchedOverAds(ref, source)) names.add(str(ref['name']));
  };
  const sockets: unknown[] = [resource['transportSocket']];
  for (const m of list(resource['transportSocketMatches']))
    if (isRecord(m)) sockets.push(m['transportSocket']);
  for (const chain of [...list(resource['filterChains']), resource['defaultFilterChain']]) {
    if (isRecord(chain)) sockets.push(chain['transportSocket']);
  }
  for (const socket of sockets) {
    if (!isRecord(socket) || !isRecord(socket['typedConfig'])) continue;
    const common = socket['typedConfig']['commonTlsContext'];
    if (!isRecord(common)) continue;
    for (const ref of list(common['tlsCertificateSdsSecretConfigs'])) add(ref);
    add(common['validationContextSdsSecretConfig']);
    const combined = common['combinedValidationContext'];
    if (isRecord(combined)) add(combined['validationContextSdsSecretConfig']);
  }
  return [...names].sort();
}

/** A proto3 JSON duration (`"15s"`, `"0.500s"`) in ms; undefined when absent or malformed. */
export function durationMs(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(v);
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Number(`0.${m[2] ?? '0'}`) * 1000;
}
