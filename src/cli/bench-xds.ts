/**
 * `skiff bench xds --proxies N --services M`: the control-plane load test. It writes M services (Service +
 * Gateway + VirtualService each, the shape of Istio in Action's performance test, the VirtualService also
 * bound to `mesh` so sidecars route by it) to a temporary config directory, starts skiff pilot on it in a
 * child process, connects N simulated sidecars from a second child process, waits until all are synced,
 * then changes one VirtualService (several times, one change at a time) and times, per proxy, from the
 * file write to the moment the proxy applied the new config; then full pushes (`/debug/adsz?push=true`) to
 * everyone. It prints the push count (Δ pilot_xds_pushes), convergence p50/p90/p99 over every proxy and
 * change and each change's own, control-plane CPU seconds and peak RSS, and the config bytes sent per
 * proxy. Repeating the change shows the steady state and not only the first push after start (whose
 * code paths are still being compiled), and one noisy moment on a shared machine is seen as such.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseDurationFlag, parseIntFlag, SettingError } from '../pilot/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';

export interface BenchXdsOptions {
  proxies: number;
  services: number;
  debounceAfterMs?: number;
  /** VirtualService changes, one after another (default 5). */
  changes?: number;
  /** Full pushes after the changes (default 2). */
  fullPushes?: number;
  /** How long to wait for convergence before reporting the proxies that never got there. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface Quantiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface BenchXdsResult {
  proxies: number;
  services: number;
  /** From starting the proxies until all were ready and warm. */
  initialSyncMs: number;
  /** Bytes of resources sent per proxy during the initial sync (pilot_xds_config_size_bytes / N). */
  configBytesPerProxy: number;
  /** `pushes` per change; `convergenceMs` over every proxy and change; `perChange` each change's own. */
  change: {
    rounds: number;
    pushes: number;
    convergenceMs: Quantiles;
    perChange: Quantiles[];
    missing: number;
  };
  /** `pushes` per full push; `totalMs` the slowest full push's last proxy. */
  fullPush: {
    rounds: number;
    pushes: number;
    convergenceMs: Quantiles;
    perPush: Quantiles[];
    totalMs: number;
    missing: number;
  };
  pilotCpuSeconds: number;
  pilotPeakRssBytes: number;
  /**
   * CPU seconds spent in each phase by the control plane and by the simulated proxies' process (per
   * change and per full push): on a shared machine wall times stretch with other load, CPU time much less.
   */
  cpuSeconds: {
    pilot: { initialSync: number; change: number; fullPush: number };
    proxies: { initialSync: number; change: number; fullPush: number };
  };
}

const NAMESPACE = 'bench';
const HOST_SUFFIX = `${NAMESPACE}.svc.cluster.local`;

function serviceDocs(i: number, timeout: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: svc-${i}, namespace: ${NAMESPACE}}
spec:
  selector: {app: svc-${i}}
  ports: [{name: http, port: 8080, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: {name: gw-${i}, namespace: ${NAMESPACE}}
spec:
  selector: {istio: ingressgateway}
  servers:
    - port: {number: 80, name: http, protocol: HTTP}
      hosts: [svc-${i}.bench.example.com]
---
${virtualServiceDoc(i, timeout)}`;
}

function virtualServiceDoc(i: number, timeout: string): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: svc-${i}, namespace: ${NAMESPACE}}
spec:
  hosts: [svc-${i}.bench.example.com, svc-${i}.${HOST_SUFFIX}]
  gateways: [gw-${i}, mesh]
  http:
    - timeout: ${timeout}
      route:
        - destination: {host: svc-${i}.${HOST_SUFFIX}, port: {number: 8080}}
`;
}

/** Nearest-rank quantiles of `values` (ms). */
export function quantiles(values: readonly number[]): Quantiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number =>
    sorted.length === 0
      ? NaN
      : (sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

/** A forked child speaking `{op, ...}` messages. */
class Child {
  readonly proc: ChildProcess;
  private readonly waiting = new Map<
    string,
    { resolve: (m: Record<string, unknown>) => void; reject: (err: Error) => void }[]
  >();
  private readonly early: Record<string, unknown>[] = [];

  constructor(file: string, args: string[], execArgv: string[] = []) {
    this.proc = fork(new URL(file, import.meta.url), args, {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...execArgv],
    });
    this.proc.on('message', (m: Record<string, unknown>) => {
      const list = this.waiting.get(String(m['op']));
      const waiter = list?.shift();
      if (waiter) waiter.resolve(m);
      else this.early.push(m);
    });
    this.proc.on('exit', (code) => {
      for (const [op, list] of this.waiting) {
        for (const w of list.splice(0))
          w.reject(new Error(`child exited (${String(code)}) waiting for "${op}"`));
      }
    });
  }

  next(op: string, timeoutMs = 600_000): Promise<Record<string, unknown>> {
    const i = this.early.findIndex((m) => m['op'] === op);
    if (i >= 0) return Promise.resolve(this.early.splice(i, 1)[0] as Record<string, unknown>);
    if (this.proc.exitCode !== null) {
      return Promise.reject(new Error(`child exited (${String(this.proc.exitCode)}) waiting for "${op}"`));
    }
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(op) ?? [];
      const waiter = {
        resolve: (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        list.splice(list.indexOf(waiter), 1);
        reject(new Error(`no "${op}" from ${String(this.proc.pid)}`));
      }, timeoutMs);
      list.push(waiter);
      this.waiting.set(op, list);
    });
  }

  send(message: unknown): void {
    if (this.proc.connected) this.proc.send(message as Record<string, unknown>);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send({ op: 'exit' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Extra node flags for a child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`, for profiling it alone). */
function nodeArgs(variable: string): string[] {
  return (process.env[variable] ?? '').split(/\s+/).filter((a) => a !== '');
}

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Sum of the samples of `name` (optionally only label sets matching `filter`). */
function sumMetric(text: string, name: string, filter: (labels: string) => boolean = () => true): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name || !filter(m[2] ?? '')) continue;
    total += Number(m[3]);
  }
  return total;
}

const pushesOf = (text: string): number => sumMetric(text, 'pilot_xds_pushes', (l) => !l.includes('senderr'));

export async function runBenchXds(options: BenchXdsOptions): Promise<BenchXdsResult> {
  const log = options.log ?? (() => {});
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-xds-'));
  let pilot: Child | undefined;
  let proxies: Child | undefined;
  try {
    const docs: string[] = [`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NAMESPACE}}`];
    for (let i = 1; i < options.services; i++) docs.push(serviceDocs(i, '10s'));
    writeFileSync(join(dir, 'services.yaml'), docs.join('\n---\n'));
    // Service 0 lives in its own file, the one the benchmark changes.
    writeFileSync(join(dir, 'svc-0.yaml'), serviceDocs(0, '10s'));

    pilot = new Child(
      '../pilot/bench-pilot-child.js',
      [JSON.stringify({ configDir: dir, debounceAfterMs: options.debounceAfterMs })],
      nodeArgs('SKIFF_BENCH_PILOT_NODE_ARGS'),
    );
    const ready = await pilot.next('ready');
    const cpuOf = async (child: Child): Promise<number> => {
      child.send({ op: 'usage' });
      return Number((await child.next('usage'))['cpuSeconds']);
    };
    const pilotCpu0 = await cpuOf(pilot);
    const grpcAddress = String(ready['grpcAddress']);
    const httpPort = Number(ready['httpPort']);
    const monitoringPort = Number(ready['monitoringPort']);
    log(`pilot up on ${grpcAddress} with ${options.services} services`);

    proxies = new Child('../pilot/bench-proxies-child.js', [], nodeArgs('SKIFF_BENCH_PROXIES_NODE_ARGS'));
    await proxies.next('loaded');
    const proxiesCpu0 = await cpuOf(proxies);
    proxies.send({ op: 'start', target: grpcAddress, count: options.proxies, namespace: NAMESPACE });
    const synced = await proxies.next('ready');
    const initialSyncMs = Number(synced['ms']);
    log(`${options.proxies} proxies synced in ${(initialSyncMs / 1000).toFixed(1)} s`);
    // Let the last ACKs land before reading the counters.
    await new Promise((r) => setTimeout(r, 500));
    const afterSync = await metricsText(monitoringPort);
    const pilotCpu1 = await cpuOf(pilot);
    const proxiesCpu1 = await cpuOf(proxies);
    const configBytes = sumMetric(afterSync, 'pilot_xds_config_size_bytes_sum');

    // One VirtualService changes at a time: time from the file write to each proxy applying it.
    const changes = Math.max(1, options.changes ?? 5);
    const changeLatencies: number[] = [];
    const perChange: Quantiles[] = [];
    let changeMissing = 0;
    for (let k = 0; k < changes; k++) {
      const at = performance.timeOrigin + performance.now();
      proxies.send({ op: 'mark', at, timeoutMs });
      writeFileSync(join(dir, 'svc-0.yaml'), serviceDocs(0, `${7 + (k % 2)}s`));
      const changed = await proxies.next('converged', timeoutMs + 10_000);
      const latencies = changed['latenciesMs'] as number[];
      changeLatencies.push(...latencies);
      perChange.push(quantiles(latencies));
      changeMissing += Number(changed['missing']);
      log(`change ${k + 1}/${changes} converged on ${latencies.length}/${options.proxies} proxies`);
      await new Promise((r) => setTimeout(r, 300));
    }
    const afterChange = await metricsText(monitoringPort);
    const pilotCpu2 = await cpuOf(pilot);
    const proxiesCpu2 = await cpuOf(proxies);

    // Full pushes of everything to everyone.
    const fullPushes = Math.max(1, options.fullPushes ?? 2);
    const fullLatencies: number[] = [];
    const perPush: Quantiles[] = [];
    let fullMissing = 0;
    for (let k = 0; k < fullPushes; k++) {
      const fullAt = performance.timeOrigin + performance.now();
      proxies.send({ op: 'mark-full', at: fullAt, timeoutMs });
      await fetch(`http://127.0.0.1:${httpPort}/debug/adsz?push=true`);
      const full = await proxies.next('converged', timeoutMs + 10_000);
      const latencies = full['latenciesMs'] as number[];
      fullLatencies.push(...latencies);
      perPush.push(quantiles(latencies));
      fullMissing += Number(full['missing']);
      await new Promise((r) => setTimeout(r, 300));
    }
    const afterFull = await metricsText(monitoringPort);
    const pilotCpu3 = await cpuOf(pilot);
    const proxiesCpu3 = await cpuOf(proxies);

    pilot.send({ op: 'usage' });
    const usage = await pilot.next('usage');
    return {
      proxies: options.proxies,
      services: options.services,
      initialSyncMs,
      configBytesPerProxy: Math.round(configBytes / Math.max(1, options.proxies)),
      change: {
        rounds: changes,
        pushes: (pushesOf(afterChange) - pushesOf(afterSync)) / changes,
        convergenceMs: quantiles(changeLatencies),
        perChange,
        missing: changeMissing,
      },
      fullPush: {
        rounds: fullPushes,
        pushes: (pushesOf(afterFull) - pushesOf(afterChange)) / fullPushes,
        convergenceMs: quantiles(fullLatencies),
        perPush,
        totalMs: Math.max(...perPush.map((q) => q.max)),
        missing: fullMissing,
      },
      pilotCpuSeconds: Number(usage['cpuSeconds']),
      pilotPeakRssBytes: Number(usage['maxRssBytes']),
      cpuSeconds: {
        pilot: {
          initialSync: pilotCpu1 - pilotCpu0,
          change: (pilotCpu2 - pilotCpu1) / changes,
          fullPush: (pilotCpu3 - pilotCpu2) / fullPushes,
        },
        proxies: {
          initialSync: proxiesCpu1 - proxiesCpu0,
          change: (proxiesCpu2 - proxiesCpu1) / changes,
          fullPush: (proxiesCpu3 - proxiesCpu2) / fullPushes,
        },
      },
    };
  } finally {
    await Promise.allSettled([proxies?.stop(), pilot?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (v: number): string =>
  Number.isNaN(v) ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`;

const cpuText = (c: { initialSync: number; change: number; fullPush: number }): string =>
  `${c.initialSync.toFixed(2)} / ${c.change.toFixed(2)} / ${c.fullPush.toFixed(2)} s`;

/** The result as the text `skiff bench xds` prints. */
export function formatBenchXds(r: BenchXdsResult): string[] {
  const q = (x: Quantiles) => `p50 ${ms(x.p50)}, p90 ${ms(x.p90)}, p99 ${ms(x.p99)}, max ${ms(x.max)}`;
  return [
    `proxies: ${r.proxies}, services: ${r.services} (Service + Gateway + VirtualService each)`,
    `initial sync: ${ms(r.initialSyncMs)}; config per proxy: ${(r.configBytesPerProxy / 1024).toFixed(1)} KiB`,
    `one VirtualService change (${r.change.rounds}, one at a time): pushes ${r.change.pushes} each; convergence (file write → applied) ${q(r.change.convergenceMs)}${r.change.missing > 0 ? `; ${r.change.missing} proxies did not converge` : ''}`,
    `  each change p99 / max: ${r.change.perChange.map((x) => `${ms(x.p99)} / ${ms(x.max)}`).join(', ')}`,
    `full push (/debug/adsz?push=true, ${r.fullPush.rounds}): pushes ${r.fullPush.pushes} each; all proxies in ${ms(r.fullPush.totalMs)} at worst (${q(r.fullPush.convergenceMs)})${r.fullPush.missing > 0 ? `; ${r.fullPush.missing} proxies incomplete` : ''}`,
    `  each full push, all proxies in: ${r.fullPush.perPush.map((x) => ms(x.max)).join(', ')}`,
    `control plane: CPU ${r.pilotCpuSeconds.toFixed(1)} s, peak RSS ${(r.pilotPeakRssBytes / 1024 / 1024).toFixed(0)} MiB`,
    `CPU by phase (initial sync / per change / per full push): control plane ${cpuText(r.cpuSeconds.pilot)}; simulated proxies ${cpuText(r.cpuSeconds.proxies)}`,
  ];
}

function intFlag(name: string, value: string): number {
  try {
    return parseIntFlag(name, value);
  } catch (err) {
    if (err instanceof SettingError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

interface BenchXdsFlags {
  proxies: string;
  services: string;
  changes: string;
  fullPushes: string;
  debounceAfter?: string;
  json?: boolean;
}

/** `skiff bench xds`, added to the `bench` group. */
export function registerBenchXds(bench: Command, io: CommandIO, setExit: (code: number) => void): void {
  bench
    .command('xds')
    .description('Load-test the control plane with simulated proxies')
    .option('--proxies <n>', 'simulated sidecars', '200')
    .option('--services <n>', 'services (Service + Gateway + VirtualService each)', '200')
    .option('--changes <n>', 'VirtualService changes, one at a time', '5')
    .option('--full-pushes <n>', 'full pushes after the changes', '2')
    .option('--debounce-after <duration>', 'PILOT_DEBOUNCE_AFTER for the control plane')
    .option('--json', 'print the result as JSON')
    .action(async (flags: BenchXdsFlags) => {
      let debounceAfterMs: number | undefined;
      try {
        if (flags.debounceAfter) debounceAfterMs = parseDurationFlag('--debounce-after', flags.debounceAfter);
      } catch (err) {
        if (err instanceof SettingError) throw new CliError(err.message, EXIT.usage);
        throw err;
      }
      const result = await runBenchXds({
        proxies: intFlag('--proxies', flags.proxies),
        services: intFlag('--services', flags.services),
        changes: intFlag('--changes', flags.changes),
        fullPushes: intFlag('--full-pushes', flags.fullPushes),
        debounceAfterMs,
        log: (line) => io.stderr(`${line}\n`),
      });
      io.stdout(
        flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatBenchXds(result).join('\n')}\n`,
      );
      setExit(result.change.missing + result.fullPush.missing > 0 ? 1 : 0);
    });
}
