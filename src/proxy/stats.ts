/**
 * Envoy-style stats in memory: counters, gauges and histograms under Envoy's flat names
 * (`cluster.<name>.upstream_rq_200`), each carrying the tags Istio's bootstrap extracts
 * (cluster_name, response_code, response_code_class, http_conn_manager_prefix, listener_address), so
 * /stats prints flat names and /stats/prometheus prints `envoy_cluster_upstream_rq{response_code="200",
 * cluster_name="..."}` as Envoy does.
 */

/** Envoy's default histogram bucket bounds (ms for timing histograms). */
export const DEFAULT_BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export type Tags = readonly (readonly [string, string])[];

interface MetricBase {
  name: string;
  /** The tag-extracted name, before the `envoy_` prefix and sanitizing. */
  tagExtracted: string;
  tags: Tags;
  /** A metric in a custom stats namespace (Istio's `istiocustom`): its Prometheus name as is, no `envoy_`. */
  prom?: string;
}

export interface Counter extends MetricBase {
  value: number;
}

export interface Gauge extends MetricBase {
  value: number;
}

export interface Histogram extends MetricBase {
  buckets: number[];
  counts: number[];
  sum: number;
  count: number;
}

/** Splits a response-code suffix off a stat (`upstream_rq_200` → `upstream_rq` + response_code=200). */
function codeTags(stat: string): { stat: string; tags: [string, string][] } {
  const code = /_rq_(\d{3})$/.exec(stat);
  if (code) return { stat: stat.slice(0, -4), tags: [['response_code', code[1] ?? '']] };
  const cls = /_rq_(\dxx)$/.exec(stat);
  if (cls) return { stat: stat.slice(0, -4), tags: [['response_code_class', cls[1] ?? '']] };
  return { stat, tags: [] };
}

/** Metrics of one kind by scope (cluster name, stat prefix) and stat. */
class ScopeIndex {
  private readonly scopes = new Map<string, Map<string, Counter & Gauge & Histogram>>();

  get(scope: string, stat: string): (Counter & Gauge & Histogram) | undefined {
    return this.scopes.get(scope)?.get(stat);
  }

  set(scope: string, stat: string, m: Counter & Gauge & Histogram): void {
    let stats = this.scopes.get(scope);
    if (!stats) {
      stats = new Map();
      this.scopes.set(scope, stats);
    }
    stats.set(stat, m);
  }
}

/**
 * One cluster's response-code counters (`upstream_rq_<code>`, `upstream_rq_<N>xx`) by status number, so
 * the per-response path builds no stat names. Each counter is created on first use, as before.
 */
export class ClusterStatusCounters {
  private readonly codes = new Map<number, Counter>();
  private readonly classes = new Map<number, Counter>();

  constructor(
    private readonly stats: Stats,
    private readonly cluster: string,
  ) {}

  /** `upstream_rq_<code>`. */
  code(status: number): Counter {
    let c = this.codes.get(status);
    if (!c) {
      c = this.stats.cluster('counter', this.cluster, `upstream_rq_${status}`);
      this.codes.set(status, c);
    }
    return c;
  }

  /** `upstream_rq_<N>xx`. */
  codeClass(status: number): Counter {
    const n = Math.floor(status / 100);
    let c = this.classes.get(n);
    if (!c) {
      c = this.stats.cluster('counter', this.cluster, `upstream_rq_${n}xx`);
      this.classes.set(n, c);
    }
    return c;
  }
}

export class Stats {
  readonly counters = new Map<string, Counter>();
  readonly gauges = new Map<string, Gauge>();
  readonly histograms = new Map<string, Histogram>();

  counter(name: string, tagExtracted: string = name, tags: Tags = []): Counter {
    let c = this.counters.get(name);
    if (!c) {
      c = { name, tagExtracted, tags, value: 0 };
      this.counters.set(name, c);
    }
    return c;
  }

  gauge(name: string, tagExtracted: string = name, tags: Tags = []): Gauge {
    let g = this.gauges.get(name);
    if (!g) {
      g = { name, tagExtracted, tags, value: 0 };
      this.gauges.set(name, g);
    }
    return g;
  }

  histogram(
    name: string,
    tagExtracted: string = name,
    tags: Tags = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram {
    let h = this.histograms.get(name);
    if (!h) {
      h = { name, tagExtracted, tags, buckets: [...buckets], counts: buckets.map(() => 0), sum: 0, count: 0 };
      this.histograms.set(name, h);
    }
    return h;
  }

  /**
   * A metric of a custom stats namespace: `flat` is its /stats name, `prom` its Prometheus family name
   * (printed without Envoy's `envoy_` prefix, as Envoy does for Istio's `istiocustom` namespace).
   */
  custom(
    kind: 'counter' | 'histogram',
    flat: string,
    prom: string,
    tags: Tags,
    buckets?: readonly number[],
  ): Counter & Histogram {
    const m = kind === 'counter' ? this.counter(flat, prom, tags) : this.histogram(flat, prom, tags, buckets);
    m.prom = prom;
    return m as Counter & Histogram;
  }

  /** An existing metric by its flat name (the fast path of the scoped helpers). */
  private lookup(
    kind: 'counter' | 'gauge' | 'histogram',
    name: string,
  ): (Counter & Gauge & Histogram) | undefined {
    const m =
      kind === 'counter'
        ? this.counters.get(name)
        : kind === 'gauge'
          ? this.gauges.get(name)
          : this.histograms.get(name);
    return m as (Counter & Gauge & Histogram) | undefined;
  }

  /**
   * The per-request path of cluster() and http(): metrics by kind, scope and stat in nested maps, so a
   * lookup builds no `cluster.<name>.<stat>` string. Metrics are never removed, so entries stay valid.
   */
  private readonly scoped = {
    cluster: { counter: new ScopeIndex(), gauge: new ScopeIndex(), histogram: new ScopeIndex() },
    http: { counter: new ScopeIndex(), gauge: new ScopeIndex(), histogram: new ScopeIndex() },
  };

  /** `cluster.<cluster>.<stat>` tagged with cluster_name (and a response code when the stat has one). */
  cluster(
    kind: 'counter' | 'gauge' | 'histogram',
    cluster: string,
    stat: string,
  ): Counter & Gauge & Histogram {
    const index = this.scoped.cluster[kind];
    const known = index.get(cluster, stat);
    if (known) return known;
    const name = `cluster.${cluster}.${stat}`;
    let m = this.lookup(kind, name);
    if (!m) {
      const { stat: base, tags } = codeTags(stat);
      m = this[kind](name, `cluster.${base}`, [...tags, ['cluster_name', cluster]]) as Counter &
        Gauge &
        Histogram;
    }
    index.set(cluster, stat, m);
    return m;
  }

  private readonly statusCounters = new Map<string, ClusterStatusCounters>();

  /** A cluster's response-code counters, resolved once per (cluster, status). */
  clusterStatus(cluster: string): ClusterStatusCounters {
    let s = this.statusCounters.get(cluster);
    if (!s) {
      s = new ClusterStatusCounters(this, cluster);
      this.statusCounters.set(cluster, s);
    }
    return s;
  }

  /** `http.<stat_prefix>.<stat>` tagged with http_conn_manager_prefix. */
  http(kind: 'counter' | 'gauge' | 'histogram', prefix: string, stat: string): Counter & Gauge & Histogram {
    const index = this.scoped.http[kind];
    const known = index.get(prefix, stat);
    if (known) return known;
    const name = `http.${prefix}.${stat}`;
    let m = this.lookup(kind, name);
    if (!m) {
      const { stat: base, tags } = codeTags(stat);
      m = this[kind](name, `http.${base}`, [...tags, ['http_conn_manager_prefix', prefix]]) as Counter &
        Gauge &
        Histogram;
    }
    index.set(prefix, stat, m);
    return m;
  }

  /** `listener.<address_port>.<stat>` tagged with listener_address. */
  listener(kind: 'counter' | 'gauge', address: string, stat: string): Counter & Gauge {
    return this[kind](`listener.${address}.${stat}`, `listener.${stat}`, [
      ['listener_address', address],
    ]) as Counter & Gauge;
  }

  /** Zeroes counters and histograms (admin /reset_counters); gauges keep their values. */
  resetCounters(): void {
    for (const c of this.counters.values()) c.value = 0;
    for (const h of this.histograms.values()) {
      h.counts.fill(0);
      h.sum = 0;
      h.count = 0;
    }
  }

  /** Envoy's /stats text: `name: value`, sorted by name; histograms summarised by count and sum. */
  renderText(keep: (name: string) => boolean = () => true): string {
    const lines: string[] = [];
    for (const m of [...this.counters.values(), ...this.gauges.values()])
      if (keep(m.name)) lines.push(`${m.name}: ${m.value}`);
    for (const h of this.histograms.values())
      if (keep(h.name))
        lines.push(
          h.count === 0 ? `${h.name}: No recorded values` : `${h.name}: count=${h.count} sum=${h.sum}`,
        );
    return lines.sort().join('\n') + (lines.length > 0 ? '\n' : '');
  }

  /** Envoy's /stats/prometheus text exposition. */
  renderPrometheus(): string {
    const families = new Map<string, { type: string; lines: string[] }>();
    const family = (name: string, type: string): string[] => {
      let f = families.get(name);
      if (!f) {
        f = { type, lines: [] };
        families.set(name, f);
      }
      return f.lines;
    };
    for (const c of this.counters.values()) {
      const name = c.prom ?? promName(c.tagExtracted);
      family(name, 'counter').push(`${name}${labels(c.tags)} ${c.value}`);
    }
    for (const g of this.gauges.values()) {
      const name = g.prom ?? promName(g.tagExtracted);
      family(name, 'gauge').push(`${name}${labels(g.tags)} ${g.value}`);
    }
    for (const h of this.histograms.values()) {
      const name = h.prom ?? promName(h.tagExtracted);
      const lines = family(name, 'histogram');
      let cumulative = 0;
      h.buckets.forEach((le, i) => {
        cumulative += h.counts[i] ?? 0;
        lines.push(`${name}_bucket${labels([...h.tags, ['le', String(le)]])} ${cumulative}`);
      });
      lines.push(`${name}_bucket${labels([...h.tags, ['le', '+Inf']])} ${h.count}`);
      lines.push(`${name}_sum${labels(h.tags)} ${h.sum}`);
      lines.push(`${name}_count${labels(h.tags)} ${h.count}`);
    }
    let out = '';
    for (const name of [...families.keys()].sort()) {
      const f = families.get(name);
      if (!f) continue;
      out += `# TYPE ${name} ${f.type}\n${f.lines.join('\n')}\n`;
    }
    return out;
  }
}

export function observe(h: Histogram, value: number): void {
  h.count++;
  h.sum += value;
  for (let i = 0; i < h.buckets.length; i++) {
    if (value <= (h.buckets[i] ?? Infinity)) {
      h.counts[i] = (h.counts[i] ?? 0) + 1;
      return;
    }
  }
}

function promName(tagExtracted: string): string {
  return `envoy_${tagExtracted.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Envoy prints the braces even without tags (`envoy_server_live{} 1`). */
function labels(tags: Tags): string {
  if (tags.length === 0) return '{}';
  const parts = tags.map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
  );
  return `{${parts.join(',')}}`;
}
