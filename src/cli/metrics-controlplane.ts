/**
 * `skiff x metrics controlplane`: the control plane's golden signals from its live /metrics (the
 * monitoring port, 15014): two scrapes `--interval` apart give rates and the quantiles of what happened in
 * between, as the dashboards' `rate(...[w])` queries do; `--once` scrapes once and reports totals since
 * the process started.
 */
import type { Command } from 'commander';
import { parseGoDuration } from '../pilot/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import type { Exposition } from './metrics-prom.js';
import { parseExposition } from './metrics-prom.js';
import type { GoldenSignals, QuantileRow } from './metrics-signals.js';
import { QUANTILES, goldenSignals } from './metrics-signals.js';
import { tabulate } from './tabwriter.js';
import type { TabWriterOptions } from './tabwriter.js';

const TABLE: TabWriterOptions = { minwidth: 0, tabwidth: 8, padding: 3, padchar: ' ' };
const DEFAULT_MONITORING = '127.0.0.1:15014';

export interface MetricsFlags {
  address?: string;
  interval?: string;
  once?: boolean;
  output?: string;
  stateDir?: string;
}

/** Seconds as a short duration: `850µs`, `4.95ms`, `1.20s`; `-` for NaN (no observations). */
export function formatSeconds(v: number): string {
  if (Number.isNaN(v)) return '-';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (v === 0) return '0s';
  if (Math.abs(v) < 1e-3) return `${(v * 1e6).toPrecision(3)}µs`;
  if (Math.abs(v) < 1) return `${(v * 1e3).toPrecision(3)}ms`;
  return `${v.toPrecision(3)}s`;
}

/** Bytes in binary units: `512B`, `3.4KiB`, `12.0MiB`; `-` for NaN. */
export function formatBytes(v: number): string {
  if (Number.isNaN(v)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let x = v;
  let i = 0;
  while (Math.abs(x) >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(x)}B` : `${x.toFixed(1)}${units[i]}`;
}

/** A rate with up to three decimals, trailing zeros dropped. */
export function formatRate(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  return String(Number(v.toFixed(3)));
}

function quantileCells(row: QuantileRow, format: (v: number) => string): string[] {
  return QUANTILES.map(([, key]) => format(row.quantiles[key] ?? NaN));
}

function table(rows: string[][]): string {
  return tabulate(rows.map((cells) => `${cells.join('\t')}\n`).join(''), TABLE);
}

/** The human-readable report: one section per golden signal. */
export function renderSignals(s: GoldenSignals): string {
  const window =
    s.mode === 'rate'
      ? `rates and quantiles over the last ${formatRate(s.seconds)}s`
      : `totals since the control plane started ${Number.isFinite(s.seconds) ? `${Math.round(s.seconds)}s ago` : ''} (--once)`;
  const out: string[] = [`Control plane ${s.source}: ${window.trim()}`, ''];

  out.push('LATENCY');
  out.push(
    table([
      ['HISTOGRAM', 'TYPE', 'COUNT', 'P50', 'P90', 'P99', 'P99.9'],
      ...s.latency.map((r) => [r.metric, r.type ?? '*', String(r.count), ...quantileCells(r, formatSeconds)]),
    ]),
  );

  if (s.mode === 'rate' && s.latency.every((r) => r.count === 0))
    out.push('(no pushes in the window: a longer --interval, or --once for totals since start)\n');
  out.push('TRAFFIC');
  const types = Object.keys(s.traffic.pushesTotal);
  const pushRows = types.map((t) => [
    `pushes/s ${t}`,
    formatRate(s.traffic.pushesPerSecond[t] ?? 0),
    `(total ${s.traffic.pushesTotal[t] ?? 0})`,
  ]);
  const totalRate = Object.values(s.traffic.pushesPerSecond).reduce((a, b) => a + b, 0);
  const totalPushes = Object.values(s.traffic.pushesTotal).reduce((a, b) => a + b, 0);
  const connected = s.traffic.connectedProxies.reduce((a, c) => a + c.count, 0);
  const versions = s.traffic.connectedProxies
    .filter((c) => c.count > 0)
    .map((c) => `${c.version || 'unknown'}: ${c.count}`)
    .join(', ');
  out.push(
    table([
      ['SIGNAL', 'VALUE', ''],
      ['pushes/s (all types)', formatRate(totalRate), `(total ${totalPushes})`],
      ...pushRows,
      ['connected proxies', String(connected), versions ? `(${versions})` : ''],
      ...Object.entries(s.traffic.triggersPerSecond).map(([t, v]) => [
        `push triggers/s ${t}`,
        formatRate(v),
        '',
      ]),
      ...Object.entries(s.traffic.inboundUpdatesPerSecond).map(([t, v]) => [
        `inbound updates/s ${t}`,
        formatRate(v),
        '',
      ]),
      ...(s.traffic.services === undefined ? [] : [['services', String(s.traffic.services), '']]),
    ]),
  );
  if (s.traffic.configSize.length > 0) {
    out.push(
      table([
        ['CONFIG SIZE PER PUSH', 'COUNT', 'P50', 'P99'],
        ...s.traffic.configSize.map((r) => [
          r.type ?? '*',
          String(r.count),
          formatBytes(r.quantiles['p50'] ?? NaN),
          formatBytes(r.quantiles['p99'] ?? NaN),
        ]),
      ]),
    );
  }

  out.push('ERRORS');
  out.push(
    table([
      ['SIGNAL', 'METRIC', 'TYPE', 'TOTAL', 'PER SECOND'],
      ...s.errors.map((e) => [
        e.signal,
        e.metric,
        e.type ?? '',
        String(e.total),
        e.perSecond === undefined ? '' : formatRate(e.perSecond),
      ]),
    ]),
  );

  out.push('SATURATION');
  const sat = s.saturation;
  out.push(
    table([
      ['SIGNAL', 'VALUE'],
      [
        'cpu (process_cpu_seconds_total rate)',
        sat.cpuCores === undefined
          ? '-'
          : `${formatRate(sat.cpuCores)} cores (${Math.ceil(sat.cpuCores * 1000)}m)`,
      ],
      [
        'memory (process_resident_memory_bytes)',
        sat.residentMemoryBytes === undefined ? '-' : formatBytes(sat.residentMemoryBytes),
      ],
      [
        'heap used (nodejs_heap_size_used_bytes)',
        sat.heapUsedBytes === undefined ? '-' : formatBytes(sat.heapUsedBytes),
      ],
      ['open fds (process_open_fds)', sat.openFds === undefined ? '-' : String(sat.openFds)],
    ]),
  );
  return out.join('\n');
}

/** `host:port` or a URL → the /metrics URL. */
export function metricsUrl(address: string): string {
  const trimmed = address.trim().replace(/\/+$/, '');
  if (trimmed === '') throw new CliError('--address must not be empty', EXIT.usage);
  const base = /^https?:\/\//.test(trimmed) ? trimmed : `http://${trimmed}`;
  try {
    const url = new URL(base);
    if (url.pathname === '/' || url.pathname === '') url.pathname = '/metrics';
    return url.toString();
  } catch {
    throw new CliError(`invalid --address "${address}": want host:port`, EXIT.usage);
  }
}

/** The running lab's monitoring address, or istiod's usual one. */
async function defaultAddress(stateDir: string | undefined): Promise<string> {
  const lab = await import('../lab/index.js');
  const state = lab.readLabState(lab.stateDirPath(stateDir));
  const monitoring = state?.endpoints?.monitoring;
  if (state && monitoring && state.status !== 'failed' && lab.processAlive(state.pid)) return monitoring;
  return DEFAULT_MONITORING;
}

export async function scrape(url: string): Promise<Exposition> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CliError(`cannot scrape ${url}: ${cause}`, EXIT.unknown);
  }
  const text = await res.text();
  if (res.status !== 200) throw new CliError(`cannot scrape ${url}: HTTP ${res.status}`, EXIT.unknown);
  return parseExposition(text);
}

export async function metricsControlplaneCommand(flags: MetricsFlags, io: CommandIO): Promise<number> {
  const output = flags.output ?? 'table';
  if (!['table', 'json'].includes(output))
    throw new CliError(`unknown output format "${output}": want table or json`, EXIT.usage);
  const intervalMs = parseGoDuration(flags.interval ?? '5s');
  if (intervalMs === undefined || intervalMs <= 0)
    throw new CliError(
      `invalid --interval "${flags.interval ?? ''}": want a duration such as 5s`,
      EXIT.usage,
    );
  const address = flags.address ?? (await defaultAddress(flags.stateDir));
  const url = metricsUrl(address);
  let before: Exposition | undefined;
  let seconds = 0;
  if (!flags.once) {
    before = await scrape(url);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, intervalMs));
    seconds = (performance.now() - t0) / 1000;
  }
  const after = await scrape(url);
  const signals = goldenSignals(after, before, seconds, new URL(url).host);
  io.stdout(output === 'json' ? `${JSON.stringify(signals, null, 2)}\n` : renderSignals(signals));
  return EXIT.ok;
}

/** Adds `metrics controlplane` to the `experimental` group. */
export function registerMetrics(experimental: Command, io: CommandIO, setExit: (code: number) => void): void {
  const metrics = experimental.command('metrics').description("The control plane's golden signals");
  metrics
    .command('controlplane')
    .description('Latency, traffic, errors and saturation of the control plane, from its /metrics')
    .option(
      '--address <host:port>',
      'the monitoring address (default: the running lab, else 127.0.0.1:15014)',
    )
    .option('--interval <duration>', 'time between the two scrapes rates are computed over', '5s')
    .option('--once', 'scrape once and report totals since the control plane started')
    .option('-o, --output <format>', 'table or json', 'table')
    .option('--state-dir <dir>', 'the lab state dir to find the running lab in')
    .action(async (flags: MetricsFlags) => {
      setExit(await metricsControlplaneCommand(flags, io));
    });
}
