/**
 * The control plane's four golden signals computed from pilot /metrics scrapes, with the PromQL the Istio
 * dashboards and the book's chapter 11 use:
 * - Latency: `histogram_quantile(q, sum(rate(<h>_bucket[w])) by (le))` for the push queue, push and
 *   convergence histograms (and push time per xDS type);
 * - Traffic: `sum by (type) (rate(pilot_xds_pushes[w]))`, `sum(pilot_xds)` by version, config size
 *   quantiles per type, push triggers and inbound config updates per second;
 * - Errors: NACKs (`pilot_total_xds_rejects` by type, and the per-type reject gauges), write timeouts,
 *   internal errors, push-context errors, expired nonces;
 * - Saturation: `rate(process_cpu_seconds_total[w])` and `process_resident_memory_bytes`.
 * With two scrapes the rates are over the window between them; with one (`--once`), totals since the
 * process started (`process_start_time_seconds`) stand in, as an average over its life.
 */
import type { Exposition, Sample } from './metrics-prom.js';
import { select, sumBy, sumOf } from './metrics-prom.js';
import { histogramBuckets, histogramQuantile, increase, perSecond } from './metrics-quantile.js';

/** The quantiles shown, with the key each has in rows (`p50` … `p99.9`). */
export const QUANTILES = [
  [0.5, 'p50'],
  [0.9, 'p90'],
  [0.99, 'p99'],
  [0.999, 'p99.9'],
] as const;

/** The latency histograms, in the order they are shown. */
export const LATENCY_HISTOGRAMS = [
  'pilot_proxy_queue_time',
  'pilot_xds_push_time',
  'pilot_proxy_convergence_time',
  'pilot_debounce_time',
  'pilot_pushcontext_init_seconds',
] as const;

/** Reject gauges Istio keeps per xDS type ("Rejected CDS Configs" and so on on the dashboard). */
const REJECT_GAUGES: Record<string, string> = {
  cds: 'pilot_xds_cds_reject',
  eds: 'pilot_xds_eds_reject',
  lds: 'pilot_xds_lds_reject',
  rds: 'pilot_xds_rds_reject',
};

export interface QuantileRow {
  metric: string;
  /** The `type` label the row is limited to; absent for the sum over all label sets. */
  type?: string;
  /** Observations in the window (or since start). */
  count: number;
  /** Quantile → value (seconds or bytes); NaN when there were no observations, as PromQL gives. */
  quantiles: Record<string, number>;
}

export interface ErrorRow {
  signal: string;
  metric: string;
  type?: string;
  /** The counter's value now (for gauges: the number of series at 1, i.e. rejecting proxies). */
  total: number;
  /** Per second over the window (counters only). */
  perSecond?: number;
}

export interface GoldenSignals {
  source: string;
  /** `rate`: two scrapes `seconds` apart; `total`: one scrape, totals over the process lifetime. */
  mode: 'rate' | 'total';
  seconds: number;
  latency: QuantileRow[];
  traffic: {
    pushesPerSecond: Record<string, number>;
    pushesTotal: Record<string, number>;
    connectedProxies: { version: string; count: number }[];
    configSize: QuantileRow[];
    triggersPerSecond: Record<string, number>;
    inboundUpdatesPerSecond: Record<string, number>;
    services?: number;
  };
  errors: ErrorRow[];
  saturation: {
    cpuCores?: number;
    residentMemoryBytes?: number;
    heapUsedBytes?: number;
    openFds?: number;
    uptimeSeconds?: number;
  };
}

function quantileRow(samples: readonly Sample[], metric: string, type?: string): QuantileRow {
  const buckets = histogramBuckets(samples, metric, type === undefined ? {} : { type });
  const count = sumOf(samples, `${metric}_count`, type === undefined ? {} : { type }) ?? 0;
  const quantiles: Record<string, number> = {};
  for (const [q, key] of QUANTILES) quantiles[key] = histogramQuantile(q, buckets);
  return { metric, ...(type === undefined ? {} : { type }), count, quantiles };
}

/** The `type` label values a metric has, sorted. */
function typesOf(samples: readonly Sample[], name: string): string[] {
  return [...sumBy(samples, name, 'type').keys()].filter((t) => t !== '').sort();
}

function mapOf(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** Series that only go up (counters and histogram parts); gauges keep their latest value. */
function isCumulative(exposition: Exposition, name: string): boolean {
  const family = name.replace(/_(bucket|sum|count)$/, '');
  const type = exposition.types.get(name) ?? exposition.types.get(family);
  if (type === 'counter') return true;
  if (type === 'histogram' || type === 'summary') return family !== name;
  return false;
}

/**
 * Signals from one scrape (`before` undefined: totals since start) or two (`before` taken `seconds`
 * earlier than `after`).
 */
export function goldenSignals(
  after: Exposition,
  before: Exposition | undefined,
  seconds: number,
  source: string,
): GoldenSignals {
  const now = after.samples;
  const start = sumOf(now, 'process_start_time_seconds');
  const uptime = start !== undefined ? Math.max(0, Date.now() / 1000 - start) : undefined;
  const mode = before ? 'rate' : 'total';
  const window = before ? seconds : (uptime ?? NaN);
  // What the window saw: increases of cumulative series between the scrapes, or their totals.
  const cumulative = now.filter((s) => isCumulative(after, s.name));
  const seen = before ? increase(before.samples, cumulative) : cumulative;
  const rates = perSecond(seen, window);

  const latency: QuantileRow[] = [];
  for (const metric of LATENCY_HISTOGRAMS) {
    latency.push(quantileRow(seen, metric));
    if (metric === 'pilot_xds_push_time')
      for (const type of typesOf(seen, `${metric}_count`)) latency.push(quantileRow(seen, metric, type));
  }
  const configSize = typesOf(seen, 'pilot_xds_config_size_bytes_count').map((t) =>
    quantileRow(seen, 'pilot_xds_config_size_bytes', t),
  );

  const connected = select(now, 'pilot_xds').map((s) => ({
    version: s.labels['version'] ?? '',
    count: s.value,
  }));

  const errors: ErrorRow[] = [];
  const counterRow = (signal: string, metric: string, type?: string): void => {
    const match: Record<string, string> = type === undefined ? {} : { type };
    const total = sumOf(now, metric, match) ?? 0;
    const rate = sumOf(rates, metric, match);
    errors.push({
      signal,
      metric,
      ...(type === undefined ? {} : { type }),
      total,
      perSecond: rate ?? 0,
    });
  };
  const rejectTypes = new Set([...typesOf(now, 'pilot_total_xds_rejects'), ...Object.keys(REJECT_GAUGES)]);
  for (const type of [...rejectTypes].sort())
    counterRow('Config rejections (NACKs)', 'pilot_total_xds_rejects', type);
  for (const [type, gauge] of Object.entries(REJECT_GAUGES)) {
    errors.push({
      signal: `Rejected ${type.toUpperCase()} configs`,
      metric: gauge,
      type,
      total: select(now, gauge).filter((s) => s.value > 0).length,
    });
  }
  counterRow('Write timeouts', 'pilot_xds_write_timeout');
  counterRow('Internal errors', 'pilot_total_xds_internal_errors');
  counterRow('Push context errors', 'pilot_xds_push_context_errors');
  counterRow('Expired nonces', 'pilot_xds_expired_nonce');

  const cpuRate = sumOf(rates, 'process_cpu_seconds_total');
  const services = sumOf(now, 'pilot_services');
  const rss = sumOf(now, 'process_resident_memory_bytes');
  const heap = sumOf(now, 'nodejs_heap_size_used_bytes');
  const fds = sumOf(now, 'process_open_fds');
  return {
    source,
    mode,
    seconds: window,
    latency,
    traffic: {
      pushesPerSecond: mapOf(sumBy(rates, 'pilot_xds_pushes', 'type')),
      pushesTotal: mapOf(sumBy(now, 'pilot_xds_pushes', 'type')),
      connectedProxies: connected,
      configSize,
      triggersPerSecond: mapOf(sumBy(rates, 'pilot_push_triggers', 'type')),
      inboundUpdatesPerSecond: mapOf(sumBy(rates, 'pilot_inbound_updates', 'type')),
      ...(services === undefined ? {} : { services }),
    },
    errors,
    saturation: {
      ...(cpuRate === undefined ? {} : { cpuCores: cpuRate }),
      ...(rss === undefined ? {} : { residentMemoryBytes: rss }),
      ...(heap === undefined ? {} : { heapUsedBytes: heap }),
      ...(fds === undefined ? {} : { openFds: fds }),
      ...(uptime === undefined ? {} : { uptimeSeconds: uptime }),
    },
  };
}
