/**
 * The simulated proxies of `skiff bench xds`, run in their own process so that their CPU never counts as
 * the control plane's: N AdsClients with sidecar node ids sharing one DecodeCache, each subscribing,
 * ACKing and timing every response it applies. Driven over IPC by the benchmark:
 * - `{op: 'start', target, count, namespace}` → `{op: 'ready', ms}` once every proxy is ready and warm;
 * - `{op: 'mark', at}` → `{op: 'converged', latenciesMs, missing}`: per proxy, the time from `at` (wall
 *   clock ms, e.g. the moment a file was written) until it applied a response that changed its config;
 * - `{op: 'mark-full', at}`: the same, until it applied a response of every type it watches (a full push);
 * - `{op: 'usage'}` → `{op: 'usage', cpuSeconds}` (this process's CPU time so far);
 * - `{op: 'exit'}`.
 */
import { AdsClient, DecodeCache, XDS_TYPE, sidecarNode } from '../xds/index.js';
import type { AppliedEvent } from '../xds/index.js';
import { LightProxy, SharedResponses } from './bench-light-proxy.js';
import type { SimulatedProxy } from './bench-light-proxy.js';

type Command =
  | { op: 'start'; target: string; count: number; namespace: string }
  | { op: 'mark' | 'mark-full'; at: number; timeoutMs: number }
  | { op: 'usage' }
  | { op: 'exit' };

const WATCHED = [XDS_TYPE.cluster, XDS_TYPE.endpoint, XDS_TYPE.listener, XDS_TYPE.route];

const clients: SimulatedProxy[] = [];

/**
 * `SKIFF_BENCH_PROXY_CLIENT=full` simulates proxies with `AdsClient` (every response decoded and checked
 * per proxy, as the data plane does); the default `LightProxy` takes each distinct response apart once
 * per process, so that the proxies' side costs about a memcmp per response and the measurement is the
 * control plane's.
 */
function useFullClient(): boolean {
  return process.env['SKIFF_BENCH_PROXY_CLIENT'] === 'full';
}

/**
 * Envoy's HTTP/2 windows for the xDS cluster (256 MiB per stream and per connection, its defaults),
 * instead of grpc-js's 64 KiB: with the default a 500 KiB response needs ~9 WINDOW_UPDATE round trips
 * through the (busy) event loops of both processes. `SKIFF_BENCH_PROXY_WINDOW` overrides it (bytes; 0 keeps
 * grpc-js's default), for comparing the two.
 */
const ENVOY_WINDOW_BYTES = 256 * 1024 * 1024;

function windowBytes(): number {
  const text = process.env['SKIFF_BENCH_PROXY_WINDOW'];
  const n = text === undefined || text === '' ? ENVOY_WINDOW_BYTES : Number(text);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, 2 ** 31 - 1) : ENVOY_WINDOW_BYTES;
}

function send(message: unknown): void {
  process.send?.(message);
}

async function start(target: string, count: number, namespace: string): Promise<void> {
  const cache = new DecodeCache();
  const shared = new SharedResponses();
  const window = windowBytes();
  const channelOptions = window > 0 ? { 'grpc-node.flow_control_window': window } : {};
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const node = sidecarNode({
      ip: `10.200.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      podName: `bench-proxy-${i}`,
      namespace,
    });
    clients.push(
      useFullClient()
        ? new AdsClient({ target, node, decodeCache: cache, initialFetchTimeoutMs: 0, channelOptions })
        : new LightProxy({ target, node, shared, windowBytes: window }),
    );
  }
  const ready = clients.map((c) => new Promise<void>((resolve) => c.once('ready', () => resolve())));
  for (const c of clients) c.start();
  await Promise.all(ready);
  send({ op: 'ready', ms: performance.now() - t0 });
}

/**
 * Waits for each proxy's first applied response after `at` that changed something (`full`: until every
 * type it holds was applied again), and reports the latencies.
 */
function measure(at: number, full: boolean, timeoutMs: number): void {
  const latencies: (number | undefined)[] = clients.map(() => undefined);
  const seen = clients.map(() => new Set<string>());
  const wanted = clients.map((c) => WATCHED.filter((t) => c.version(t) !== ''));
  let remaining = clients.length;
  const listeners: ((e: AppliedEvent) => void)[] = [];
  const finish = (): void => {
    clearTimeout(timer);
    clients.forEach((c, i) => c.off('applied', listeners[i] as (e: AppliedEvent) => void));
    const done = latencies.filter((l): l is number => l !== undefined);
    send({ op: 'converged', latenciesMs: done, missing: clients.length - done.length });
  };
  const timer = setTimeout(finish, timeoutMs);
  clients.forEach((c, i) => {
    const onApplied = (e: AppliedEvent): void => {
      if (latencies[i] !== undefined || e.receivedAt < at) return;
      let complete: boolean;
      if (full) {
        seen[i]?.add(e.typeUrl);
        complete = (wanted[i] ?? []).every((t) => seen[i]?.has(t));
      } else {
        const ch = e.changes;
        complete = ch.added.length + ch.updated.length + ch.removed.length > 0;
      }
      if (!complete) return;
      latencies[i] = e.appliedAt - at;
      if (--remaining === 0) finish();
    };
    listeners.push(onApplied);
    c.on('applied', onApplied);
  });
}

process.on('message', (cmd: Command) => {
  if (cmd.op === 'start') {
    void start(cmd.target, cmd.count, cmd.namespace);
  } else if (cmd.op === 'mark' || cmd.op === 'mark-full') {
    measure(cmd.at, cmd.op === 'mark-full', cmd.timeoutMs);
  } else if (cmd.op === 'usage') {
    const cpu = process.cpuUsage();
    send({ op: 'usage', cpuSeconds: (cpu.user + cpu.system) / 1e6 });
  } else if (cmd.op === 'exit') {
    for (const c of clients) c.close();
    process.exit(0);
  }
});
send({ op: 'loaded' });
