/**
 * Output of `skiff bench controlplane`: the book's two lines exactly as `performance-test.sh` prints them
 * (`Push count: N`, `Latency in the last minute: 0.45 seconds`), then what the book lacks, and for
 * `--scenario ch11` one Markdown table comparing the steps.
 */
import type { RunResult } from './bench-controlplane-run.js';

/** The script's `printf "%.2f"`; `NaN` when pilot observed no convergence. */
export function seconds2(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : 'NaN';
}

/** 1.92 MB, 520.3 KB, 812 B (decimal units, as `wc -c` figures are read in the book). */
export function bytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return 'n/a';
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} KB`;
  return `${Math.round(n)} B`;
}

function mib(n: number | undefined): string {
  return n === undefined ? 'n/a' : `${(n / 1048576).toFixed(1)} MiB`;
}

function secs(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(3)} s` : 'n/a';
}

/** The book's two result lines. */
export function bookLines(r: Pick<RunResult, 'pushCount' | 'latencyP99'>): string {
  return `Push count: ${r.pushCount}\nLatency in the last minute: ${seconds2(r.latencyP99)} seconds\n`;
}

/** The figures the book does not print. */
export function extraLines(r: RunResult): string {
  const p = r.proxy;
  const lines = [
    `Routed: ${r.lastHost} answered 200 through the ingress gateway ${(r.routedAfterMs / 1000).toFixed(2)} s after its VirtualService was created`,
    `Pilot convergence observations: ${r.convergenceObservations} (pilot_proxy_convergence_time; excludes debounce, first bucket 0.1 s)`,
    `Convergence measured by the proxies: p50 ${secs(p.p50)}, p90 ${secs(p.p90)}, p99 ${secs(p.p99)} (${p.samples.length} samples; ${p.reached} of ${p.proxies} proxies received the new sets, ${p.untouched} never did${p.unreachable ? `, ${p.unreachable} unreachable` : ''})`,
    `Control plane CPU: ${r.cpuSeconds.toFixed(2)} s (supervisor pid ${r.supervisorPid}: store, REST API and pilot in one process)`,
    `Control plane peak RSS: ${mib(r.peakRssBytes)}${r.peakRssOfRun ? '' : ' (since the supervisor started)'}, now ${mib(r.residentBytes)}`,
    `Bytes pushed: ${bytes(r.bytesPushed)} in ${r.responses} responses (pilot_xds_config_size_bytes)`,
    `Config per proxy: ${bytes(r.configBytesPerProxy)}${r.configProxy ? ` (/config_dump of ${r.configProxy})` : ''}`,
  ];
  return `${lines.join('\n')}\n`;
}

export interface StepRow {
  step: string;
  result: RunResult;
}

/** One Markdown table comparing the ch11 steps. */
export function comparisonTable(rows: StepRow[]): string {
  const header = [
    'step',
    'push count',
    'p99 convergence (pilot)',
    'p99 convergence (proxies)',
    'config per proxy',
    'bytes pushed',
    'CPU s',
    'peak RSS',
  ];
  const cells = rows.map(({ step, result: r }) => [
    step,
    String(r.pushCount),
    `${seconds2(r.latencyP99)} s`,
    secs(r.proxy.p99),
    bytes(r.configBytesPerProxy),
    bytes(r.bytesPushed),
    r.cpuSeconds.toFixed(2),
    mib(r.peakRssBytes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    `| ${c.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(Math.max(1, w - 1))}:`)).join(' | ')} |`;
  return [line(header), rule, ...cells.map(line)].join('\n') + '\n';
}
