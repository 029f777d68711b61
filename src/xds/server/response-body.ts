/**
 * The `resources` field of SotW responses, encoded once and shared by every proxy that is sent the same
 * list (`encodeResourcesField`): a VirtualService change sends the same route configuration to every
 * sidecar of a scope, and a full push the same clusters, so the bytes are built once per push instead of
 * once per proxy. Bodies are found by the shared part they encode (identity) or by the names and content
 * hashes of their resources, and dropped once unused for two pushes, as `ResourceCache` entries are.
 */
import { createHash } from 'node:crypto';
import { encodeResourcesField } from './codec.js';
import type { EncodedResource } from './codec.js';
import type { EncodedPart } from './shared-parts.js';

interface Entry {
  body: Buffer;
  generation: number;
}

/** Keys longer than this are hashed: V8 hashes very long strings by their length only. */
const MAX_KEY_CHARS = 4096;

export class ResponseBodies {
  private byPart = new WeakMap<EncodedPart, Buffer>();
  /** Least recently used first. */
  private readonly byContent = new Map<string, Entry>();
  private generation = 0;
  private bytes = 0;
  hits = 0;
  misses = 0;

  /**
   * `maxBytes` bounds the bodies kept by content: lists that only one proxy receives (a gateway's own
   * clusters) must not pile up; bodies shared by many proxies are used again soon and stay.
   */
  constructor(private readonly maxBytes = 128 * 1024 * 1024) {}

  /** The body of a shared part (built on first use; parts live for one push). */
  forPart(part: EncodedPart): Buffer {
    let body = this.byPart.get(part);
    if (body) {
      this.hits++;
      return body;
    }
    body = this.forList(part.resources);
    this.byPart.set(part, body);
    return body;
  }

  /** The body of any list of resources, shared with every other list of the same names and contents. */
  forList(resources: readonly EncodedResource[]): Buffer {
    if (resources.length === 0) return Buffer.alloc(0);
    const key = contentKey(resources);
    const entry = this.byContent.get(key);
    if (entry) {
      entry.generation = this.generation;
      this.byContent.delete(key);
      this.byContent.set(key, entry);
      this.hits++;
      return entry.body;
    }
    this.misses++;
    const body = encodeResourcesField(resources);
    this.byContent.set(key, { body, generation: this.generation });
    this.bytes += body.length;
    for (const [oldest, e] of this.byContent) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.byContent.delete(oldest);
      this.bytes -= e.body.length;
    }
    return body;
  }

  /** Starts a new push generation and drops bodies unused for two generations. */
  nextGeneration(): void {
    this.generation++;
    for (const [key, entry] of this.byContent) {
      if (entry.generation < this.generation - 2) {
        this.byContent.delete(key);
        this.bytes -= entry.body.length;
      }
    }
  }

  clear(): void {
    this.byContent.clear();
    this.bytes = 0;
    this.byPart = new WeakMap();
  }

  get size(): number {
    return this.byContent.size;
  }
}

function contentKey(resources: readonly EncodedResource[]): string {
  let key = '';
  for (const r of resources) key += `${r.typeUrl}\u0000${r.name}\u0000${r.hash}\n`;
  return key.length <= MAX_KEY_CHARS ? key : `#${createHash('sha1').update(key).digest('hex')}`;
}
