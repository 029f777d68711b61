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
    const any = encodeAny(typeUrl, json);
    const resource: EncodedResource = {
      name,
      typeUrl,
      hash,
      anyBytes: encodeAnyMessage(typeUrl, any.value),
      size: any.value.length,
    };
    const created: Entry = { key, resource, generation: this.generation };
    this.entries.set(key, created);
    this.byObject.set(json, created);
    return resource;
  }

  /** Starts a new push generation and drops entries unused for two generations. */
  nextGeneration(): void {
    this.generation++;
    for (const [key, entry] of this.entries) {
      if (entry.generation < this.generation - 2) this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
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
