/**
 * Encoded resources shared between proxies (istiod's XdsCache idea, keyed by content instead of by config
 * dependencies): a resource is encoded to an `Any` once per distinct (type, name, content), however many
 * proxies receive it. Entries not used during the last two pushes are dropped, so memory follows the
 * config that exists now.
 */
import { createHash } from 'node:crypto';
import { encodeAny } from '../protos.js';
import { encodeAnyMessage } from './codec.js';
import type { EncodedResource } from './codec.js';
import { XDS_TYPE } from './types.js';

/** A resource's name: `clusterName` for ClusterLoadAssignments, `name` for everything else. */
export function resourceName(typeUrl: string, json: unknown): string {
  if (typeof json !== 'object' || json === null) return '';
  const r = json as Record<string, unknown>;
  const v = typeUrl === XDS_TYPE.endpoint ? (r['clusterName'] ?? r['cluster_name']) : r['name'];
  return typeof v === 'string' ? v : '';
}

export function contentHash(text: string): string {
  return createHash('sha1').update(text).digest('hex').slice(0, 16);
}

/** RouteConfigurations with fewer virtual hosts are encoded whole. */
const SPLIT_MIN_HOSTS = 16;
const VIRTUAL_HOSTS_FIELD = 2;
const VIRTUAL_HOST_TYPE = 'type.googleapis.com/envoy.config.route.v3.VirtualHost';

/** The key of a length-delimited field (wire type 2) followed by the length, as varints. */
function lengthDelimitedKey(field: number, length: number): Uint8Array {
  const out: number[] = [];
  for (let v = (field << 3) | 2; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      out.push(v);
      break;
    }
    out.push((v % 128) | 128);
  }
  for (let v = length; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      out.push(v);
      break;
    }
    out.push((v % 128) | 128);
  }
  return Uint8Array.from(out);
}

interface Entry {
  key: string;
  resource: EncodedResource;
  generation: number;
}

export class ResourceCache {
  private readonly entries = new Map<string, Entry>();
  /**
   * Generators hand out the same object to every proxy that shares it: such an object is serialized and
   * hashed once, and later proxies find its entry here without touching its content.
   */
  private byObject = new WeakMap<object, Entry>();
  /** Encoded virtual hosts of large route configurations, by content (see encodeValue). */
  private readonly hosts = new Map<string, { bytes: Uint8Array; generation: number }>();
  private generation = 0;
  hits = 0;
  misses = 0;

  /** Encodes (or finds) a proto3-JSON resource. Throws when the resource does not fit its type. */
  encode(typeUrl: string, json: object): EncodedResource {
    const known = this.byObject.get(json);
    if (known && known.resource.typeUrl === typeUrl) {
      if (known.generation !== this.generation) {
        known.generation = this.generation;
        // Back in use after nextGeneration dropped it: keep serving it by content too.
        this.entries.set(known.key, known);
      }
      this.hits++;
      return known.resource;
    }
    const name = resourceName(typeUrl, json);
    const hash = contentHash(JSON.stringify(json));
    const key = `${typeUrl}\u0000${name}\u0000${hash}`;
    const entry = this.entries.get(key);
    if (entry) {
      entry.generation = this.generation;
      this.byObject.set(json, entry);
      this.hits++;
      return entry.resource;
    }
    this.misses++;
    const value = this.encodeValue(typeUrl, json);
    const resource: EncodedResource = {
      name,
      typeUrl,
      hash,
      anyBytes: encodeAnyMessage(typeUrl, value),
      size: value.length,
    };
    const created: Entry = { key, resource, generation: this.generation };
    this.entries.set(key, created);
    this.byObject.set(json, created);
    return resource;
  }

  /**
   * The serialized message. A large RouteConfiguration (a sidecar's `8080` names every service's virtual
   * host) changes one virtual host at a time, so its virtual hosts are encoded one by one and kept by
   * content: a change re-encodes only the hosts that changed. protobufjs writes fields in declaration
   * order and `name`, `virtual_hosts` are RouteConfiguration's first two, so the bytes are exactly what
   * encoding the whole message gives.
   */
  private encodeValue(typeUrl: string, json: object): Uint8Array {
    const hosts = (json as Record<string, unknown>)['virtualHosts'];
    if (typeUrl !== XDS_TYPE.route || !Array.isArray(hosts) || hosts.length < SPLIT_MIN_HOSTS) {
      return encodeAny(typeUrl, json).value;
    }
    const { name, virtualHosts: _hosts, ...rest } = json as Record<string, unknown>;
    const parts: Uint8Array[] = [encodeAny(typeUrl, name === undefined ? {} : { name }).value];
    for (const host of hosts) {
      if (typeof host !== 'object' || host === null) return encodeAny(typeUrl, json).value;
      const bytes = this.virtualHostBytes(host);
      parts.push(lengthDelimitedKey(VIRTUAL_HOSTS_FIELD, bytes.length), bytes);
    }
    parts.push(encodeAny(typeUrl, rest).value);
    return Buffer.concat(parts);
  }

  private virtualHostBytes(host: object): Uint8Array {
    const key = contentHash(JSON.stringify(host));
    const known = this.hosts.get(key);
    if (known) {
      known.generation = this.generation;
      return known.bytes;
    }
    const bytes = encodeAny(VIRTUAL_HOST_TYPE, host).value;
    this.hosts.set(key, { bytes, generation: this.generation });
    return bytes;
  }

  /** Starts a new push generation and drops entries unused for two generations. */
  nextGeneration(): void {
    this.generation++;
    for (const [key, entry] of this.entries) {
      if (entry.generation < this.generation - 2) this.entries.delete(key);
    }
    for (const [key, entry] of this.hosts) {
      if (entry.generation < this.generation - 2) this.hosts.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
    this.hosts.clear();
    this.byObject = new WeakMap();
  }

  get size(): number {
    return this.entries.size;
  }

  /** `{typeUrl: [name/hash, ...]}` as /debug/cachez lists it. */
  keysByType(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const { resource } of this.entries.values()) {
      (out[resource.typeUrl] ??= []).push(`${resource.name}/${resource.hash}`);
    }
    return out;
  }
}
