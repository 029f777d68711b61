/**
 * The immutable inputs of one push (istiod's PushContext): the config snapshot, the service registry built
 * from it, a version, and indexes generators share. Built once per config change and read by every proxy's
 * generation, so per-proxy work never re-scans the whole config.
 */
import type { ConfigSnapshot } from '../../model/index.js';
import type { RegistryOptions, ServiceRegistry } from '../../registry/index.js';
import { buildRegistry } from '../../registry/index.js';

export interface PushContext {
  readonly snapshot: ConfigSnapshot;
  readonly registry: ServiceRegistry;
  /** Changes whenever the config does; istiod's push version is an RFC 3339 timestamp. */
  readonly version: string;
  /** Per-push memo for derived indexes, keyed by a name each generator owns. */
  readonly memo: Map<string, unknown>;
}

export function buildPushContext(
  snapshot: ConfigSnapshot,
  options: RegistryOptions & { version?: string } = {},
): PushContext {
  return {
    snapshot,
    registry: buildRegistry(snapshot, options),
    version: options.version ?? new Date().toISOString(),
    memo: new Map(),
  };
}

/** The value under `key`, computed once per push. */
export function memoized<T>(push: PushContext, key: string, compute: () => T): T {
  if (push.memo.has(key)) return push.memo.get(key) as T;
  const value = compute();
  push.memo.set(key, value);
  return value;
}
