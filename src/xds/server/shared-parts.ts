/**
 * Signatures that let a push decide "unchanged" once per shared part instead of once per resource and
 * proxy. Sidecars with the same outbound key receive the same outbound objects (`ProxyResources.shared`);
 * their encoded form and a signature over (name, content hash) of every resource are computed once per
 * push, and each connection remembers the signature of what it holds, so a proxy whose shared part did
 * not change is passed over with one string comparison.
 */
import { createHash } from 'node:crypto';
import type { EncodedResource } from './codec.js';

/** One signature for a list of encoded resources, in order: equal signatures mean equal names and contents. */
export function listSignature(resources: readonly EncodedResource[]): string {
  const h = createHash('sha1');
  for (const r of resources) h.update(`${r.name}\u0000${r.hash}\n`);
  return h.digest('hex');
}

/** One signature for a subscription's names, in subscription order. */
export function namesSignature(names: Iterable<string>): string {
  const h = createHash('sha1');
  for (const n of names) h.update(`${n}\n`);
  return h.digest('hex');
}

/** The encoded resources of one shared part (per type; for named types, per subscription). */
export interface EncodedPart {
  resources: EncodedResource[];
  signature: string;
}

/**
 * What a watch should hold now. `prefix` is set when the leading `prefix.resources.length` entries are a
 * shared part (wildcard types: followed by the proxy's own resources; named types: the whole list).
 */
export interface Desired {
  resources: EncodedResource[];
  prefix?: EncodedPart;
}
