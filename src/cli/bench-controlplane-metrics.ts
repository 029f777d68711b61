/**
 * The control plane's figures the performance test reads from pilot's `/metrics` (Prometheus text): the
 * push counter the book sums (`pilot_xds_pushes`, every type and label), the convergence histogram
 * (`pilot_proxy_convergence_time`), the pushed config sizes (`pilot_xds_config_size_bytes`) and the
 * process CPU. Deltas between two readings, and PromQL's `histogram_quantile` over a delta, which is what
 * `histogram_quantile(0.99, rate(..._bucket[1m]))` computes when the window holds the run.
 */

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One cumulative histogram bucket: observations ≤ `le` (Infinity for `+Inf`). */
export interface Bucket {
  le: number;
  count: number;
}

export interface PilotReading {
  /** When it was read (ms since the epoch). */
  at: number;
  /** sum(pilot_xds_pushes), as the book's `awk '{total += $2}'` adds every line. */
  pushes: number;
  convergence: Bucket[];
  convergenceCount: number;
  /** sum(pilot_xds_config_size_bytes_sum): bytes of config pushed. */
  configBytes: number;
  /** sum(pilot_xds_config_size_bytes_count): responses pushed. */
  configResponses: number;
  cpuSeconds: number;
  residentBytes: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

/** The samples of a Prometheus text exposition; comments and malformed lines are skipped. */
export function parseMetrics(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] ?? ''] = (l[2] ?? '').replace(/\\(.)/g, '$1');
    const value = parseValue(m[3] ?? '');
    if (Number.isNaN(value)) continue;
    out.push({ name: m[1] ?? '', labels, value });
  }
  return out;
}

function sum(samples: MetricSample[], name: string): number {
  return samples.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
}

/** A histogram's cumulative buckets, summed over its other labels, in `le` order. */
export function histogramBuckets(samples: MetricSample[], name: string): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = parseValue(s.labels['le'] ?? '');
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

export function pilotReading(text: string, at = Date.now()): PilotReading {
  const samples = parseMetrics(text);
  return {
    at,
    pushes: sum(samples, 'pilot_xds_pushes'),
    convergence: histogramBuckets(samples, 'pilot_proxy_convergence_time'),
    convergenceCount: sum(samples, 'pilot_proxy_convergence_time_count'),
    configBytes: sum(samples, 'pilot_xds_config_size_bytes_sum'),
    configResponses: sum(samples, 'pilot_xds_config_size_bytes_count'),
    cpuSeconds: sum(samples, 'process_cpu_seconds_total'),
    residentBytes: sum(samples, 'process_resident_memory_bytes'),
  };
}

/** Bucket counts of `after` minus `before` (a counter reset, as after a restart, counts from zero). */
export function bucketDelta(before: Bucket[], after: Bucket[]): Bucket[] {
  const old = new Map(before.map((b) => [b.le, b.count]));
  const reset = after.some((b) => b.count < (old.get(b.le) ?? 0));
  return after.map((b) => ({ le: b.le, count: reset ? b.count : b.count - (old.get(b.le) ?? 0) }));
}

/**
 * PromQL's histogram_quantile over cumulative buckets: linear interpolation inside the bucket the rank
 * falls in (the first bucket starts at 0); a rank in the `+Inf` bucket answers the highest finite bound;
 * NaN when there are no observations.
 */
export function histogramQuantile(q: number, buckets: Bucket[]): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const last = sorted[sorted.length - 1];
  if (!last || last.le !== Infinity || last.count <= 0 || Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const rank = q * last.count;
  const i = sorted.findIndex((b) => b.count >= rank);
  const bucket = sorted[i] as Bucket;
  if (bucket.le === Infinity) return sorted.length > 1 ? (sorted[sorted.length - 2] as Bucket).le : NaN;
  const start = i === 0 ? 0 : (sorted[i - 1] as Bucket).le;
  const below = i === 0 ? 0 : (sorted[i - 1] as Bucket).count;
  const inBucket = bucket.count - below;
  if (inBucket <= 0) return bucket.le;
  return start + (bucket.le - start) * ((rank - below) / inBucket);
}

export interface PilotDelta {
  pushes: number;
  /** p99 of pilot_proxy_convergence_time over the window, seconds (NaN without observations). */
  convergenceP99: number;
  convergenceObservations: number;
  configBytes: number;
  configResponses: number;
  cpuSeconds: number;
}

const counterDelta = (before: number, after: number): number => (after >= before ? after - before : after);

export function pilotDelta(before: PilotReading, after: PilotReading): PilotDelta {
  return {
    pushes: counterDelta(before.pushes, after.pushes),
    convergenceP99: histogramQuantile(0.99, bucketDelta(before.convergence, after.convergence)),
    convergenceObservations: counterDelta(before.convergenceCount, after.convergenceCount),
    configBytes: counterDelta(before.configBytes, after.configBytes),
    configResponses: counterDelta(before.configResponses, after.configResponses),
    cpuSeconds: counterDelta(before.cpuSeconds, after.cpuSeconds),
  };
}

/**
 * The reading a `[1m]` window starts from: the latest one at least a minute before `end`, else the
 * earliest (the run was shorter than a minute, so the window holds all of it).
 */
export function windowStart(readings: PilotReading[], end: PilotReading, windowMs = 60_000): PilotReading {
  const sorted = [...readings].sort((a, b) => a.at - b.at);
  let start = sorted[0] ?? end;
  for (const r of sorted) if (r.at <= end.at - windowMs) start = r;
  return start;
}

/** Nearest-rank quantile of measured values (seconds); NaN for none. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] as number;
}
