/**
 * The control plane's figures the performance test reads from pilot's `/metrics` (Prometheus text): the
 * push counter the book sums (`pilot_xds_pushes`, every type and label), the convergence histogram
 * (`pilot_proxy_convergence_time`), the pushed config sizes (`pilot_xds_config_size_bytes`) and the
 * process CPU. Deltas between two readings, and PromQL's `histogram_quantile` over a delta, which is what
 * `histogram_quantile(0.99, rate(..._bucket[1m]))` computes when the window holds the run.
 */
import type { Sample } from './metrics-prom.js';
import { parseExposition, sumOf } from './metrics-prom.js';
import {
  histogramBuckets as sumByLe,
  histogramQuantile as promHistogramQuantile,
} from './metrics-quantile.js';

/** One sample of the exposition (the shared parser's). */
export type MetricSample = Sample;

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

/** The samples of a Prometheus text exposition (metrics-prom.ts); malformed lines are skipped. */
export function parseMetrics(text: string): MetricSample[] {
  return parseExposition(text).samples;
}

function sum(samples: readonly MetricSample[], name: string): number {
  return sumOf(samples, name) ?? 0;
}

/** A histogram's cumulative buckets, summed over its other labels, in `le` order. */
export function histogramBuckets(samples: readonly MetricSample[], name: string): Bucket[] {
  return sumByLe(samples, name).map((b) => ({ le: b.upperBound, count: b.count }));
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

/** PromQL's histogram_quantile over cumulative buckets (metrics-quantile.ts, the one implementation). */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  return promHistogramQuantile(
    q,
    buckets.map((b) => ({ upperBound: b.le, count: b.count })),
  );
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
