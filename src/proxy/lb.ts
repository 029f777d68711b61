/**
 * Load balancers over a cluster's hosts. State (round-robin cursor, active requests per host, outlier
 * ejections) lives in a per-cluster runtime object that survives config updates, so a new snapshot does
 * not reset balancing or un-eject hosts.
 *
 * Weighted policies follow Envoy: ROUND_ROBIN is smooth weighted round robin, LEAST_REQUEST with unequal
 * weights divides weight by (active + 1), RANDOM draws by weight, RING_HASH and MAGLEV look a request's
 * hash up in a table built once per config (hash-lb.ts).
 */
import type { Host, LbPolicy } from './clusters.js';
import type { HashTable } from './hash-lb.js';
import { lookupHash } from './hash-lb.js';

export interface LbState {
  cursor: number;
  /** Smooth weighted round-robin current weights per host key. */
  current: Map<string, number>;
  /** Active requests per host key, for LEAST_REQUEST. */
  active: Map<string, number>;
}

export function newLbState(): LbState {
  return { cursor: 0, current: new Map(), active: new Map() };
}

export interface PickOptions {
  /** previous_hosts retry predicate: prefer hosts not tried before. */
  avoid?: ReadonlySet<string> | undefined;
  /** The request's hash for RING_HASH / MAGLEV; a random host is used when absent. */
  hash?: number | undefined;
  table?: HashTable | undefined;
  /** Hosts the outlier detector has ejected. */
  ejected?: ((host: Host) => boolean) | undefined;
}

function allEqualWeights(hosts: readonly Host[]): boolean {
  const w = hosts[0]?.weight ?? 1;
  for (const h of hosts) if (h.weight !== w) return false;
  return true;
}

function weightedRandom(hosts: readonly Host[]): Host | undefined {
  let total = 0;
  for (const h of hosts) total += h.weight;
  let point = Math.random() * total;
  for (const h of hosts) {
    if (point < h.weight) return h;
    point -= h.weight;
  }
  return hosts[hosts.length - 1];
}

/** Smooth weighted round robin (nginx's): each pick adds weights, takes the max, subtracts the total. */
function smoothWeighted(hosts: readonly Host[], state: LbState): Host | undefined {
  let total = 0;
  let best: Host | undefined;
  let bestWeight = -Infinity;
  for (const h of hosts) {
    total += h.weight;
    const w = (state.current.get(h.key) ?? 0) + h.weight;
    state.current.set(h.key, w);
    if (w > bestWeight) {
      bestWeight = w;
      best = h;
    }
  }
  if (best) state.current.set(best.key, bestWeight - total);
  return best;
}

/**
 * Picks a healthy host. Returns undefined when no host is healthy. Envoy's panic threshold is off in Istio
 * (0%), so ejected and unhealthy hosts are never used.
 */
export function pickHost(
  policy: LbPolicy,
  hosts: readonly Host[],
  state: LbState,
  opts: PickOptions = {},
): Host | undefined {
  const ejected = opts.ejected;
  let candidates = hosts.filter((h) => h.healthy && !(ejected && ejected(h)));
  if (candidates.length === 0) return undefined;
  const avoid = opts.avoid;
  if (avoid && avoid.size > 0) {
    const fresh = candidates.filter((h) => !avoid.has(h.key));
    if (fresh.length > 0) candidates = fresh;
  }
  if ((policy === 'RING_HASH' || policy === 'MAGLEV') && opts.table && opts.hash !== undefined) {
    const usable = new Set(candidates.map((h) => h.key));
    const host = lookupHash(opts.table, opts.hash, (h) => usable.has(h.key));
    if (host) return host;
  }
  if (candidates.length === 1) return candidates[0];
  switch (policy) {
    case 'RANDOM':
    case 'RING_HASH':
    case 'MAGLEV':
      return allEqualWeights(candidates)
        ? candidates[Math.floor(Math.random() * candidates.length)]
        : weightedRandom(candidates);
    case 'LEAST_REQUEST': {
      // Envoy's default: the better of two random choices (choice_count 2); weights divide by load.
      const a = candidates[Math.floor(Math.random() * candidates.length)];
      const b = candidates[Math.floor(Math.random() * candidates.length)];
      if (!a || !b) return a ?? b;
      const score = (h: Host): number => ((state.active.get(h.key) ?? 0) + 1) / h.weight;
      return score(b) < score(a) ? b : a;
    }
    default: {
      if (!allEqualWeights(candidates)) return smoothWeighted(candidates, state);
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
