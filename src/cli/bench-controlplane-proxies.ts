/**
 * Convergence as the proxies see it: every proxy's admin `/config_dump` is polled (trimmed with
 * `?resource=&mask=` so only names and `last_updated` travel) and, the first time a proxy holds a set —
 * a sidecar its outbound cluster, a gateway the route's domain — the sample is that config's
 * `last_updated` minus the moment the store accepted the object the proxy needed (the Service for a
 * sidecar, the VirtualService for a gateway). `last_updated` moves with every apply, so a later apply
 * before the next poll can make a sample late by up to one poll interval. Building a dump costs the proxy
 * far more than its stats do, so each poll first reads the `update_success` counters and fetches the dump
 * only when they moved: proxies a change does not concern are left nearly alone.
 */
import { adminGet } from './bench-controlplane-lab.js';
import type { ProxyPod } from './bench-controlplane-lab.js';
import { setClusterName, setHost } from './bench-controlplane-sets.js';

export interface ExpectedSet {
  name: string;
  namespace: string;
  /** When the store accepted the Service (ms since the epoch). */
  serviceAt: number;
  /** When the store accepted the VirtualService. */
  virtualServiceAt: number;
}

export interface ProxyConvergence {
  /** Seconds from the object's creation to the proxy holding it, one per (proxy, set). */
  samples: number[];
  proxies: number;
  /** Proxies that received at least one of the sets. */
  reached: number;
  /** Proxies that answered but never held any set (out of their Sidecar's scope). */
  untouched: number;
  /** Proxies whose admin API never answered. */
  unreachable: number;
}

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** What one trimmed dump says: the names (clusters or route domains) held and the config's last_updated. */
export function parseTrimmedDump(text: string, router: boolean): { names: Set<string>; lastUpdated: number } {
  const names = new Set<string>();
  let lastUpdated = NaN;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { names, lastUpdated };
  }
  for (const c of list(record(parsed)['configs']).map(record)) {
    const at = typeof c['last_updated'] === 'string' ? Date.parse(c['last_updated']) : NaN;
    if (!Number.isNaN(at) && !(at <= lastUpdated)) lastUpdated = at;
    if (router) {
      for (const vh of list(record(c['route_config'])['virtual_hosts']).map(record))
        for (const d of list(vh['domains'])) if (typeof d === 'string') names.add(d.replace(/:\d+$/, ''));
    } else {
      const name = record(c['cluster'])['name'];
      if (typeof name === 'string') names.add(name);
    }
  }
  return { names, lastUpdated };
}

function dumpPath(router: boolean): string {
  return router
    ? '/config_dump?resource=dynamic_route_configs&mask=route_config.virtual_hosts.domains,last_updated'
    : '/config_dump?resource=dynamic_active_clusters&mask=cluster.name,last_updated';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ProxyObserver {
  private readonly expected: ExpectedSet[] = [];
  private readonly seen = new Map<string, Map<string, number>>();
  private readonly answered = new Set<string>();
  /** Each proxy's `update_success` counters when its dump was last read. */
  private readonly counters = new Map<string, string>();
  private stopped = false;
  /** The last round reads every dump, whatever the counters say. */
  private rechecking = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly proxies: ProxyPod[],
    private readonly pollMs = 250,
  ) {
    for (const p of proxies) this.seen.set(this.key(p), new Map());
  }

  expect(set: ExpectedSet): void {
    this.expected.push(set);
    // A proxy may have applied the set before it was known here: read every dump once more.
    this.counters.clear();
  }

  start(): void {
    this.loops = this.proxies.map((p) => this.loop(p));
  }

  /** Stops polling (after a failure: nothing is reported). */
  halt(): void {
    this.stopped = true;
  }

  /** Polls every proxy once more, then stops and reports. */
  async stop(): Promise<ProxyConvergence> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.rechecking = true;
    await Promise.all(this.proxies.map((p) => this.poll(p)));
    return this.result();
  }

  private key(p: ProxyPod): string {
    return `${p.namespace}/${p.name}`;
  }

  private async loop(p: ProxyPod): Promise<void> {
    while (!this.stopped) {
      await this.poll(p);
      await sleep(this.pollMs);
    }
  }

  private async poll(p: ProxyPod): Promise<void> {
    const pending = this.expected.filter((s) => !this.seen.get(this.key(p))?.has(s.name));
    if (pending.length === 0 && this.answered.has(this.key(p))) return;
    const counters = await adminGet(p.ip, '/stats?filter=update_success');
    if (counters !== undefined && counters === this.counters.get(this.key(p)) && !this.rechecking) return;
    const text = await adminGet(p.ip, dumpPath(p.router));
    if (text === undefined) return;
    this.answered.add(this.key(p));
    if (counters !== undefined) this.counters.set(this.key(p), counters);
    const { names, lastUpdated } = parseTrimmedDump(text, p.router);
    const seen = this.seen.get(this.key(p)) ?? new Map<string, number>();
    for (const s of pending) {
      const has = p.router ? names.has(setHost(s.name)) : names.has(setClusterName(s.name, s.namespace));
      if (!has) continue;
      const since = p.router ? s.virtualServiceAt : s.serviceAt;
      const at = Number.isNaN(lastUpdated) ? Date.now() : lastUpdated;
      seen.set(s.name, Math.max(0, at - since) / 1000);
    }
  }

  result(): ProxyConvergence {
    const samples: number[] = [];
    let reached = 0;
    for (const p of this.proxies) {
      const seen = this.seen.get(this.key(p));
      if (seen && seen.size > 0) reached++;
      samples.push(...(seen?.values() ?? []));
    }
    const unreachable = this.proxies.filter((p) => !this.answered.has(this.key(p))).length;
    return {
      samples,
      proxies: this.proxies.length,
      reached,
      untouched: this.proxies.length - reached - unreachable,
      unreachable,
    };
  }
}
