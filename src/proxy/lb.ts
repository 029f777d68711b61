/**
 * Load balancers over a cluster's hosts. State (round-robin cursor, active requests per host) lives in a
 * per-cluster runtime object that survives config updates, so a new snapshot does not reset balancing.
 */
import type { Host, LbPolicy } from './clusters.js';

export interface LbState {
  cursor: number;
  /** Active requests per host key, for LEAST_REQUEST. */
  active: Map<string, number>;
}

export function newLbState(): LbState {
  return { cursor: 0, active: new Map() };
}

/**
 * Picks a healthy host, skipping the `avoid` ones when another healthy host exists (previous_hosts retry
 * predicate). Returns undefined when no host is healthy. Envoy's panic threshold is off in Istio (0%).
 */
export function pickHost(
  policy: LbPolicy,
  hosts: readonly Host[],
  state: LbState,
  avoid?: ReadonlySet<string>,
): Host | undefined {
  let candidates = hosts.filter((h) => h.healthy);
  if (candidates.length === 0) return undefined;
  if (avoid && avoid.size > 0) {
    const fresh = candidates.filter((h) => !avoid.has(h.key));
    if (fresh.length > 0) candidates = fresh;
  }
  if (candidates.length === 1) return candidates[0];
  switch (policy) {
    case 'RANDOM':
      return candidates[Math.floor(Math.random() * candidates.length)];
    case 'LEAST_REQUEST': {
      // Envoy's default: the better of two random choices (choice_count 2).
      const a = candidates[Math.floor(Math.random() * candidates.length)];
      const b = candidates[Math.floor(Math.random() * candidates.length)];
      if (!a || !b) return a ?? b;
      return (state.active.get(b.key) ?? 0) < (state.active.get(a.key) ?? 0) ? b : a;
    }
    default: {
      const host = candidates[state.cursor % candidates.length];
      state.cursor = (state.cursor + 1) % 1_000_000_007;
      return host;
    }
  }
}

export function trackStart(state: LbState, host: Host): void {
  state.active.set(host.key, (state.active.get(host.key) ?? 0) + 1);
}

export function trackEnd(state: LbState, host: Host): void {
  const n = (state.active.get(host.key) ?? 1) - 1;
  if (n <= 0) state.active.delete(host.key);
  else state.active.set(host.key, n);
}
