/**
 * PromQL's arithmetic over scraped samples: `histogram_quantile` for classic histograms (Prometheus'
 * promql/quantile.go `bucketQuantile`), `sum by (le)` over a histogram's label sets, and the per-second
 * increase of counters between two scrapes (what `rate()` gives over a window holding exactly those two).
 */
import type { Labels, Sample } from './metrics-prom.js';
import { select, seriesKey } from './metrics-prom.js';

export interface Bucket {
  /** The bucket's `le`: its inclusive upper bound (+Inf for the last). */
  upperBound: number;
  /** Cumulative count of observations ≤ upperBound. */
  count: number;
}

/**
 * The q-quantile of a classic histogram, as PromQL computes it:
 * - q < 0 → -Inf, q > 1 → +Inf, NaN q → NaN;
 * - buckets with the same bound are added together, then sorted by bound; without a +Inf bucket, with fewer
 *   than two buckets, or with no observations the result is NaN;
 * - counts are forced to be monotonic (a smaller count after a bigger one takes the bigger one);
 * - the rank q·total is found in the first bucket whose cumulative count reaches it; landing in the +Inf
 *   bucket gives the highest finite bound; landing in the first bucket with a bound ≤ 0 gives that bound;
 * - otherwise the value is interpolated linearly inside the bucket, whose lower edge is the previous
 *   bound (0 for the first bucket).
 */
export function histogramQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const byBound = new Map<number, number>();
  for (const b of input) {
    if (Number.isNaN(b.upperBound)) continue;
    byBound.set(b.upperBound, (byBound.get(b.upperBound) ?? 0) + b.count);
  }
  const buckets = [...byBound.entries()]
    .map(([upperBound, count]) => ({ upperBound, count }))
    .sort((a, b) => a.upperBound - b.upperBound);
  const last = buckets[buckets.length - 1];
  if (!last || last.upperBound !== Infinity || buckets.length < 2) return NaN;
  let max = -Infinity;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
  const observations = last.count;
  if (!(observations > 0)) return NaN;
  let rank = q * observations;
  // The first finite bucket whose cumulative count reaches the rank; past them all means +Inf.
  let b = buckets.length - 1;
  for (let i = 0; i < buckets.length - 1; i++) {
    if ((buckets[i] as Bucket).count >= rank) {
      b = i;
      break;
    }
  }
  if (b === buckets.length - 1) return (buckets[buckets.length - 2] as Bucket).upperBound;
  const first = buckets[0] as Bucket;
  if (b === 0 && first.upperBound <= 0) return first.upperBound;
  let start = 0;
  const end = (buckets[b] as Bucket).upperBound;
  let count = (buckets[b] as Bucket).count;
  if (b > 0) {
    const prev = buckets[b - 1] as Bucket;
    start = prev.upperBound;
    count -= prev.count;
    rank -= prev.count;
  }
  return start + (end - start) * (rank / count);
}

/** `sum by (le) (<name>_bucket{match})`: the buckets of a histogram summed over its other labels. */
export function histogramBuckets(samples: readonly Sample[], name: string, match: Labels = {}): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of select(samples, `${name}_bucket`, match)) {
    const le = s.labels['le'];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    if (Number.isNaN(bound)) continue;
    byLe.set(bound, (byLe.get(bound) ?? 0) + s.value);
  }
  return [...byLe.entries()]
    .map(([upperBound, count]) => ({ upperBound, count }))
    .sort((a, b) => a.upperBound - b.upperBound);
}

/**
 * The increase of every series from `before` to `after`, as PromQL's `increase()` sees two points: a value
 * that went down means the counter was reset, so the whole later value is the increase. Series only in
 * `after` started between the scrapes and count from zero. Gauges are not counters: pass only counters
 * and histogram series.
 */
export function increase(before: readonly Sample[], after: readonly Sample[]): Sample[] {
  const old = new Map<string, number>();
  for (const s of before) old.set(seriesKey(s.name, s.labels), s.value);
  return after.map((s) => {
    const prev = old.get(seriesKey(s.name, s.labels)) ?? 0;
    return { ...s, value: s.value >= prev ? s.value - prev : s.value };
  });
}

/** Every sample's value divided by `seconds` (the window), for per-second rates. */
export function perSecond(samples: readonly Sample[], seconds: number): Sample[] {
  return samples.map((s) => ({ ...s, value: seconds > 0 ? s.value / seconds : NaN }));
}
