/**
 * `node dist/bench/run.js dataplane`: the data-plane benchmark of issue 5, in one run and side by side:
 *
 *   direct  client → app
 *   skiff   client → skiff sidecar (outbound listener) → skiff sidecar (inbound listener) → app
 *   peer    client → http-proxy → http-proxy → app
 *   floor   client → TCP relay → TCP relay → app (node:net sockets piped, no HTTP at all)
 *
 * App, each proxy and the load generator are separate processes (child_process.fork of this file). The two
 * skiff proxies run the engine on a generated-like sidecar snapshot (outbound HCM + RDS route with Istio's
 * default retry policy to an EDS cluster whose endpoint is the other proxy's inbound listener; inbound
 * listener with an inline route to a STATIC `inbound|8080||` cluster to the app), with Istio's TEXT access
 * log written to a file, Envoy stats, Istio's standard metrics and metadata exchange on.
 *
 * Per path: an open-loop client at a fixed rate (1,000 rps) measures latency from each request's send to
 * its last byte (p50/p90/p99); the added latency is the path's percentile minus the direct one. Then
 * autocannon with 50 connections measures the maximum throughput. Each proxy reports its own CPU time
 * (process.cpuUsage) over both windows through IPC: CPU per 1,000 rps = (CPU s / window s) / (rps / 1000).
 *
 * Options (after `dataplane`): `--seconds=N` (fixed-rate and max windows, default 10), `--rate=N` (default
 * 1000), `--connections=N` (default 50), `--cpu-prof=<dir>` (run the skiff proxies under --cpu-prof),
 * `--paths=skiff,mtls,peer,floor` (measure only these beside direct, and print one compact table: the
 * quick form for before/after comparisons; the full report needs all of them).
 *
 * The floor path is what any Node.js proxy pair pays on this machine before doing any HTTP: two processes
 * that each read and write every byte once per direction. Its added latency and CPU bound from below what
 * a Node.js data plane can reach here, and so put the goals' figures (Envoy's, C++ on dedicated cores) in
 * proportion.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxySnapshot } from '../src/proxy/index.js';
import { createProxy, ISTIO_TEXT_FORMAT } from '../src/proxy/index.js';
import type { MtlsMaterial } from './dataplane-mtls.js';
import {
  benchIdentity,
  issueBenchCertificates,
  mtlsComparisonLines,
  mtlsSecrets,
  withMtls,
} from './dataplane-mtls.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const ROLE_ENV = 'SKIFF_DATAPLANE_ROLE';

/** The goals of issue 5. */
const GOALS = { cpuPer1000: 0.25, addedP90Ms: 0.5, addedP99Ms: 1 };
/** Above this direct-path p99 at the fixed rate the machine is too busy for the latency goals to mean anything. */
const QUIET_DIRECT_P99_MS = 5;

const SERVICE = 'app.bench.svc.cluster.local';
const PORT = 8080;
const OUTBOUND_LISTENER = `0.0.0.0_${PORT}`;
const INBOUND_LISTENER = `virtualInbound|${PORT}`;
const OUTBOUND_CLUSTER = `outbound|${PORT}||${SERVICE}`;
const INBOUND_CLUSTER = `inbound|${PORT}||`;
const TYPE_PREFIX = 'type.googleapis.com/';
const HCM_TYPE = `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const APP_BODY = JSON.stringify({ id: 1, name: 'Bench item', price: 12.5, tags: ['a', 'b'], stock: 42 });

// ---------------------------------------------------------------- generated-like sidecar config

interface SidecarConfig {
  /** Where the outbound cluster's endpoint is (the other sidecar's inbound listener). */
  upstream: { address: string; port: number };
  /** Where the application listens (the inbound cluster's endpoint). */
  app: { address: string; port: number };
  accessLogPath: string;
}

function httpFilters(): unknown[] {
  // Istio 1.17's sidecar chain; the engine acts on fault, cors and router and skips the rest.
  return [
    { name: 'istio.metadata_exchange', typedConfig: { '@type': `${TYPE_PREFIX}udpa.type.v1.TypedStruct` } },
    {
      name: 'envoy.filters.http.grpc_stats',
      typedConfig: { '@type': `${TYPE_PREFIX}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig` },
    },
    {
      name: 'envoy.filters.http.fault',
      typedConfig: { '@type': `${TYPE_PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault` },
    },
    {
      name: 'envoy.filters.http.cors',
      typedConfig: { '@type': `${TYPE_PREFIX}envoy.extensions.filters.http.cors.v3.Cors` },
    },
    { name: 'istio.stats', typedConfig: { '@type': `${TYPE_PREFIX}udpa.type.v1.TypedStruct` } },
    {
      name: 'envoy.filters.http.router',
      typedConfig: { '@type': `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router` },
    },
  ];
}

function accessLog(path: string): unknown[] {
  return [
    {
      name: 'envoy.access_loggers.file',
      typedConfig: {
        '@type': `${TYPE_PREFIX}envoy.extensions.access_loggers.file.v3.FileAccessLog`,
        path,
        logFormat: { textFormatSource: { inlineString: ISTIO_TEXT_FORMAT } },
      },
    },
  ];
}

function hcmFilter(config: Record<string, unknown>): unknown {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typedConfig: { '@type': HCM_TYPE, ...config },
  };
}

/** Istio's defaults for a DestinationRule-less service: no limits that a benchmark could reach. */
const CIRCUIT_BREAKERS = {
  thresholds: [
    {
      maxConnections: 4294967295,
      maxPendingRequests: 4294967295,
      maxRequests: 4294967295,
      maxRetries: 4294967295,
    },
  ],
};

/** One sidecar's config in the shape `planCapture` hands the engine: outbound and inbound HTTP on 8080. */
export function sidecarSnapshot(c: SidecarConfig): ProxySnapshot {
  const decorator = { operation: `${SERVICE}:${PORT}/*` };
  const domains = [SERVICE, 'app.bench.svc', 'app.bench', 'app'].flatMap((d) => [d, `${d}:${PORT}`]);
  return {
    version: 'bench-1',
    listeners: [
      {
        name: OUTBOUND_LISTENER,
        address: { socketAddress: { address: '0.0.0.0', portValue: PORT } },
        trafficDirection: 'OUTBOUND',
        filterChains: [
          {
            filters: [
              hcmFilter({
                statPrefix: `outbound_0.0.0.0_${PORT}`,
                rds: { configSource: { ads: {}, resourceApiVersion: 'V3' }, routeConfigName: String(PORT) },
                httpFilters: httpFilters(),
                accessLog: accessLog(c.accessLogPath),
                useRemoteAddress: false,
                upgradeConfigs: [{ upgradeType: 'websocket' }],
                streamIdleTimeout: '0s',
                normalizePath: true,
                pathWithEscapedSlashesAction: 'KEEP_UNCHANGED',
              }),
            ],
          },
        ],
      },
      {
        name: INBOUND_LISTENER,
        address: { socketAddress: { address: '0.0.0.0', portValue: PORT } },
        trafficDirection: 'INBOUND',
        filterChains: [
          {
            filters: [
              hcmFilter({
                statPrefix: 'inbound_0.0.0.0_8080',
                routeConfig: {
                  name: INBOUND_CLUSTER,
                  validateClusters: false,
                  virtualHosts: [
                    {
                      name: 'inbound|http|8080',
                      domains: ['*'],
                      routes: [
                        {
                          name: 'default',
                          match: { prefix: '/' },
                          route: {
                            cluster: INBOUND_CLUSTER,
                            timeout: '0s',
                            maxStreamDuration: { maxStreamDuration: '0s', grpcTimeoutHeaderMax: '0s' },
                          },
                          decorator,
                        },
                      ],
                    },
                  ],
                },
                httpFilters: httpFilters(),
                accessLog: accessLog(c.accessLogPath),
                useRemoteAddress: false,
                forwardClientCertDetails: 'APPEND_FORWARD',
                serverName: 'istio-envoy',
                normalizePath: true,
              }),
            ],
          },
        ],
      },
    ],
    routes: [
      {
        name: String(PORT),
        validateClusters: false,
        virtualHosts: [
          {
            name: `${SERVICE}:${PORT}`,
            domains,
            routes: [
              {
                name: 'default',
                match: { prefix: '/' },
                route: {
                  cluster: OUTBOUND_CLUSTER,
                  timeout: '0s',
                  retryPolicy: {
                    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
                    numRetries: 2,
                    retryHostPredicate: [
                      {
                        name: 'envoy.retry_host_predicates.previous_hosts',
                        typedConfig: {
                          '@type': `${TYPE_PREFIX}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
                        },
                      },
                    ],
                    hostSelectionRetryMaxAttempts: '5',
                    retriableStatusCodes: [503],
                  },
                  maxGrpcTimeout: '0s',
                },
                decorator,
              },
            ],
            includeRequestAttemptCount: true,
          },
        ],
      },
    ],
    clusters: [
      {
        name: OUTBOUND_CLUSTER,
        type: 'EDS',
        edsClusterConfig: { edsConfig: { ads: {}, resourceApiVersion: 'V3' }, serviceName: OUTBOUND_CLUSTER },
        connectTimeout: '10s',
        lbPolicy: 'LEAST_REQUEST',
        circuitBreakers: CIRCUIT_BREAKERS,
        commonLbConfig: { localityWeightedLbConfig: {} },
        metadata: {
          filterMetadata: {
            istio: {
              default_original_port: PORT,
              services: [{ host: SERVICE, name: 'app', namespace: 'bench' }],
            },
          },
        },
      },
      {
        name: INBOUND_CLUSTER,
        type: 'STATIC',
        connectTimeout: '10s',
        circuitBreakers: CIRCUIT_BREAKERS,
        loadAssignment: {
          clusterName: INBOUND_CLUSTER,
          endpoints: [{ lbEndpoints: [{ endpoint: { address: socket(c.app.address, c.app.port) } }] }],
        },
        metadata: {
          filterMetadata: { istio: { services: [{ host: SERVICE, name: 'app', namespace: 'bench' }] } },
        },
      },
    ],
    endpoints: [
      {
        clusterName: OUTBOUND_CLUSTER,
        endpoints: [
          {
            locality: {},
            lbEndpoints: [
              {
                endpoint: { address: socket(c.upstream.address, c.upstream.port) },
                healthStatus: 'HEALTHY',
                metadata: { filterMetadata: { istio: { workload: 'app-v1;bench;app;v1;Kubernetes' } } },
                loadBalancingWeight: 1,
              },
            ],
            loadBalancingWeight: 1,
          },
        ],
      },
    ],
  };
}

function socket(address: string, port: number): unknown {
  return { socketAddress: { address, portValue: port } };
}

// ---------------------------------------------------------------- child processes

/** A request from the bench to a child, and its answer (matched by id). */
interface Call {
  id: number;
  cmd: string;
  args?: unknown;
}
interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

interface CpuWindow {
  /** user + system CPU time over the window, ms. */
  cpuMs: number;
  /** The user and system parts (system: the kernel's share, mostly socket syscalls). */
  userMs: number;
  systemMs: number;
  wallMs: number;
}

type Handler = (args: unknown) => unknown;

/** A child's command loop: `cpu-start`/`cpu-stop` windows and `exit` for every role, plus its own. */
function serve(handlers: Record<string, Handler>): void {
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  const all: Record<string, Handler> = {
    'cpu-start': () => {
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      return true;
    },
    'cpu-stop': (): CpuWindow => {
      const d = process.cpuUsage(cpu0);
      return {
        cpuMs: (d.user + d.system) / 1000,
        userMs: d.user / 1000,
        systemMs: d.system / 1000,
        wallMs: performance.now() - wall0,
      };
    },
    exit: () => {
      // process.exit lets --cpu-prof write its profile (a signal would not).
      setTimeout(() => process.exit(0), 20);
      return true;
    },
    ...handlers,
  };
  process.on('message', (m: Call) => {
    const h = all[m.cmd];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        return h(m.args);
      })
      .then(
        (result: unknown) => process.send?.({ id: m.id, result } satisfies Reply),
        (err: unknown) => process.send?.({ id: m.id, error: String(err) } satisfies Reply),
      );
  });
  process.on('disconnect', () => process.exit(0));
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

async function appChild(): Promise<void> {
  const body = Buffer.from(APP_BODY);
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  const port = await listen(server);
  serve({ port: () => port });
}

interface SkiffArgs {
  config: SidecarConfig;
  workload: string;
  /** mTLS between the pair (bench/dataplane-mtls.ts): this sidecar's certificate and the peer's name. */
  mtls?: { material: MtlsMaterial; serverWorkload: string };
}

async function skiffChild(): Promise<void> {
  let engine: Awaited<ReturnType<typeof createProxy>> | undefined;
  serve({
    start: async (raw) => {
      const a = raw as SkiffArgs;
      const plain = sidecarSnapshot(a.config);
      const snapshot = a.mtls
        ? withMtls(plain, { host: SERVICE, port: PORT, serverSan: benchIdentity(a.mtls.serverWorkload) })
        : plain;
      engine = await createProxy(snapshot, {
        bind: () => ({ address: '127.0.0.1', port: 0 }),
        peer: {
          name: `${a.workload}-7d9f8b6c5d-x2x4q`,
          namespace: 'bench',
          workloadName: a.workload,
          labels: { app: a.workload, version: 'v1' },
          clusterId: 'Kubernetes',
          meshId: 'cluster.local',
          serviceAccount: a.workload,
          nodeId: `sidecar~127.0.0.1~${a.workload}-7d9f8b6c5d-x2x4q.bench~bench.svc.cluster.local`,
        },
      });
      if (a.mtls) engine.updateSecrets(mtlsSecrets(a.mtls.material));
      return {
        outbound: engine.address(OUTBOUND_LISTENER)?.port,
        inbound: engine.address(INBOUND_LISTENER)?.port,
      };
    },
    stats: () => {
      let istio = 0;
      let downstream = 0;
      let upstreamCx = 0;
      let downstreamCx = 0;
      let tlsHandshakes = 0;
      let tlsErrors = 0;
      let mutualTls = 0;
      for (const c of engine?.stats.counters.values() ?? []) {
        if (c.name.startsWith('istiocustom.istio_requests_total.')) istio += c.value;
        if (c.name.startsWith('istiocustom.istio_requests_total.') && c.name.includes('=mutual_tls'))
          mutualTls += c.value;
        if (c.name.endsWith('.ssl.handshake')) tlsHandshakes += c.value;
        if (c.name.endsWith('.ssl.connection_error')) tlsErrors += c.value;
        if (/^http\..*\.downstream_rq_completed$/.test(c.name)) downstream += c.value;
        if (/^cluster\..*\.upstream_cx_total$/.test(c.name)) upstreamCx += c.value;
        if (/^listener\..*\.downstream_cx_total$/.test(c.name)) downstreamCx += c.value;
      }
      return {
        istioRequests: istio,
        downstreamCompleted: downstream,
        upstreamCx,
        downstreamCx,
        tlsHandshakes,
        tlsErrors,
        mutualTls,
      };
    },
  });
}

async function peerChild(): Promise<void> {
  const { default: httpProxy } = await import('http-proxy');
  serve({
    start: async (raw) => {
      const target = raw as { port: number };
      const proxy = httpProxy.createProxyServer({
        target: `http://127.0.0.1:${target.port}`,
        agent: new http.Agent({ keepAlive: true, maxSockets: 1024 }),
        xfwd: true,
      });
      proxy.on('error', (_err, _req, res) => {
        if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => proxy.web(req, res));
      return { port: await listen(server) };
    },
  });
}

/** The floor: every accepted connection piped to a new connection to the target, bytes untouched. */
async function relayChild(): Promise<void> {
  const net = await import('node:net');
  serve({
    start: async (raw) => {
      const target = raw as { port: number };
      const server = net.createServer((down) => {
        const up = net.connect({ host: '127.0.0.1', port: target.port, noDelay: true });
        down.setNoDelay(true);
        down.pipe(up);
        up.pipe(down);
        const close = (): void => {
          down.destroy();
          up.destroy();
        };
        down.on('error', close);
        up.on('error', close);
        down.on('close', close);
        up.on('close', close);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { port: (server.address() as AddressInfo).port };
    },
  });
}

interface FixedResult {
  sent: number;
  ok: number;
  errors: number;
  /** Latencies of the requests sent in the measured window, ms, sorted. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  mean: number;
  windowMs: number;
}

interface MaxResult {
  requests: number;
  rps: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** The load generator: an open-loop fixed-rate client over a keep-alive pool, and autocannon. */
async function loadChild(): Promise<void> {
  const { default: autocannon } = await import('autocannon');
  const headers = { host: `${SERVICE}:${PORT}`, 'user-agent': 'skiff-bench/1' };
  let fixed:
    | { timer: NodeJS.Timeout; agent: http.Agent; latencies: number[]; recording: boolean; markMono: number }
    | undefined;
  let counts = { sent: 0, ok: 0, errors: 0 };
  serve({
    'fixed-start': (raw) => {
      const { port, rate } = raw as { port: number; rate: number };
      const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
      const state = {
        agent,
        latencies: [] as number[],
        recording: false,
        markMono: 0,
        timer: undefined as unknown as NodeJS.Timeout,
      };
      const interval = 1000 / rate;
      const start = performance.now();
      let issued = 0;
      const one = (): void => {
        const t0 = performance.now();
        const recording = state.recording;
        if (recording) counts.sent++;
        const req = http.request({ host: '127.0.0.1', port, path: '/items', headers, agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (!recording) return;
            state.latencies.push(performance.now() - t0);
            if (res.statusCode === 200) counts.ok++;
            else counts.errors++;
          });
        });
        req.on('error', () => {
          if (recording) counts.errors++;
        });
        req.end();
      };
      // Sends whatever is due each millisecond: the schedule is kept even when a timer fires late.
      state.timer = setInterval(() => {
        const due = Math.floor((performance.now() - start) / interval) + 1;
        for (; issued < due; issued++) one();
      }, 1);
      fixed = state;
      return true;
    },
    'fixed-mark': () => {
      if (!fixed) return false;
      counts = { sent: 0, ok: 0, errors: 0 };
      fixed.latencies = [];
      fixed.recording = true;
      fixed.markMono = performance.now();
      return true;
    },
    'fixed-stop': async (): Promise<FixedResult> => {
      const f = fixed;
      if (!f) throw new Error('no fixed-rate run');
      const windowMs = performance.now() - f.markMono;
      f.recording = false;
      clearInterval(f.timer);
      await new Promise((r) => setTimeout(r, 200)); // let the last window requests finish
      f.agent.destroy();
      fixed = undefined;
      const sorted = Float64Array.from(f.latencies).sort();
      let sum = 0;
      for (const v of sorted) sum += v;
      return {
        ...counts,
        p50: percentile(sorted, 0.5),
        p90: percentile(sorted, 0.9),
        p99: percentile(sorted, 0.99),
        p999: percentile(sorted, 0.999),
        mean: sum / Math.max(1, sorted.length),
        windowMs,
      };
    },
    max: async (raw): Promise<MaxResult> => {
      const { port, connections, seconds } = raw as { port: number; connections: number; seconds: number };
      const r = await autocannon({
        url: `http://127.0.0.1:${port}/items`,
        connections,
        duration: seconds,
        headers,
      });
      return {
        requests: r.requests.total,
        rps: r.requests.total / seconds,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        p50: r.latency.p50,
        p99: r.latency.p99,
      };
    },
  });
}

/** A forked child with a promise-returning call(). */
class Child {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly proc: ChildProcess;

  constructor(
    readonly name: string,
    role: string,
    execArgv: string[] = [],
  ) {
    this.proc = fork(THIS_FILE, [], {
      env: { ...process.env, [ROLE_ENV]: role },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`${this.name}: ${m.error}`));
      else p.resolve(m.result);
    });
    this.proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code})`));
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args?: unknown): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args } satisfies Call);
    });
  }

  /** Asks the child to exit (so --cpu-prof writes) and waits for it. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    await this.call('exit').catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- the bench

interface Options {
  seconds: number;
  warmupSeconds: number;
  rate: number;
  connections: number;
  cpuProfDir?: string;
  /** The paths to measure beside direct; all of them unless `--paths` names a subset. */
  paths: Set<PathName>;
}

const PATH_NAMES = ['skiff', 'mtls', 'peer', 'floor'] as const;
type PathName = (typeof PATH_NAMES)[number];

function parseOptions(argv: readonly string[]): Options {
  const opts: Options = {
    seconds: 10,
    warmupSeconds: 2,
    rate: 1000,
    connections: 50,
    paths: new Set(PATH_NAMES),
  };
  for (const a of argv) {
    const [k, v = ''] = a.replace(/^--/, '').split('=');
    const n = Number(v);
    if (k === 'seconds' && n > 0) opts.seconds = n;
    else if (k === 'rate' && n > 0) opts.rate = n;
    else if (k === 'connections' && n > 0) opts.connections = n;
    else if (k === 'warmup' && n >= 0) opts.warmupSeconds = n;
    else if (k === 'cpu-prof' && v !== '') opts.cpuProfDir = v;
    else if (k === 'paths') {
      const picked = PATH_NAMES.filter((p) => v.split(',').includes(p));
      if (picked.length > 0) opts.paths = new Set(picked);
    }
  }
  return opts;
}

interface PathResult {
  name: string;
  proxies: Child[];
  fixed: FixedResult;
  max: MaxResult;
  /** Per proxy: CPU seconds per second per 1,000 rps in the fixed-rate and max windows. */
  cpuFixed: number[];
  cpuMax: number[];
  /** Per proxy: the system (kernel) share of cpuFixed. */
  sysFixed: number[];
  appCpuFixed: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measurePath(
  name: string,
  port: number,
  proxies: Child[],
  app: Child,
  load: Child,
  o: Options,
  log: (l: string) => void,
): Promise<PathResult> {
  log(`dataplane: ${name}: ${o.rate} rps for ${o.warmupSeconds} s warm-up + ${o.seconds} s`);
  const watched = [...proxies, app];
  await load.call('fixed-start', { port, rate: o.rate });
  await sleep(o.warmupSeconds * 1000);
  await Promise.all([load.call('fixed-mark'), ...watched.map((c) => c.call('cpu-start'))]);
  await sleep(o.seconds * 1000);
  const [cpuF, fixed] = await Promise.all([
    Promise.all(watched.map((c) => c.call<CpuWindow>('cpu-stop'))),
    load.call<FixedResult>('fixed-stop'),
  ]);
  const fixedRps = fixed.sent / (fixed.windowMs / 1000);
  log(`dataplane: ${name}: max throughput, ${o.connections} connections for ${o.seconds} s`);
  await Promise.all(proxies.map((c) => c.call('cpu-start')));
  const max = await load.call<MaxResult>('max', { port, connections: o.connections, seconds: o.seconds });
  const cpuM = await Promise.all(proxies.map((c) => c.call<CpuWindow>('cpu-stop')));
  const perK = (w: Pick<CpuWindow, 'cpuMs' | 'wallMs'>, rps: number): number =>
    w.cpuMs / w.wallMs / (rps / 1000);
  return {
    name,
    proxies,
    fixed,
    max,
    cpuFixed: cpuF.slice(0, proxies.length).map((w) => perK(w, fixedRps)),
    cpuMax: cpuM.map((w) => perK(w, max.rps)),
    sysFixed: cpuF.slice(0, proxies.length).map((w) => perK({ ...w, cpuMs: w.systemMs }, fixedRps)),
    appCpuFixed: perK(cpuF[proxies.length] ?? { cpuMs: NaN, wallMs: 1 }, fixedRps),
  };
}

const f3 = (ms: number): string => (Number.isFinite(ms) ? `${ms.toFixed(3)} ms` : '—');
const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : '—');
const fRps = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number): string =>
  Number.isFinite(a / b) && b !== 0 ? `${(a / b).toFixed(2)}×` : '—';
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
const worst = (xs: number[]): number => (xs.length === 0 ? NaN : Math.max(...xs));

export async function runDataplaneBench(argv: readonly string[] = []): Promise<string[]> {
  const o = parseOptions(argv);
  const log = (l: string): void => console.error(l);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), 'skiff-dataplane-'));
  const profArgs = o.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${o.cpuProfDir}`] : [];
  const app = new Child('app', 'app');
  const skiffIn = new Child('skiff inbound sidecar', 'skiff', profArgs);
  const skiffOut = new Child('skiff outbound sidecar', 'skiff', profArgs);
  const peerIn = new Child('peer inbound', 'peer');
  const peerOut = new Child('peer outbound', 'peer');
  const load = new Child('load generator', 'load');
  const tlsIn = new Child('skiff mTLS inbound sidecar', 'skiff', profArgs);
  const tlsOut = new Child('skiff mTLS outbound sidecar', 'skiff', profArgs);
  const relayIn = new Child('floor inbound relay', 'relay');
  const relayOut = new Child('floor outbound relay', 'relay');
  const children = [app, skiffIn, skiffOut, peerIn, peerOut, load, tlsIn, tlsOut, relayIn, relayOut];
  try {
    const appPort = await app.call<number>('port');
    const local = (port: number) => ({ address: '127.0.0.1', port });
    const logIn = join(dir, 'inbound-access.log');
    const logOut = join(dir, 'outbound-access.log');
    const inbound = await skiffIn.call<{ inbound: number }>('start', {
      config: { upstream: local(1), app: local(appPort), accessLogPath: logIn },
      workload: 'app',
    } satisfies SkiffArgs);
    const outbound = await skiffOut.call<{ outbound: number }>('start', {
      config: { upstream: local(inbound.inbound), app: local(1), accessLogPath: logOut },
      workload: 'sleep',
    } satisfies SkiffArgs);
    const certs = await issueBenchCertificates(['app', 'sleep']);
    const mtlsIn = await tlsIn.call<{ inbound: number }>('start', {
      config: {
        upstream: local(1),
        app: local(appPort),
        accessLogPath: join(dir, 'mtls-inbound-access.log'),
      },
      workload: 'app',
      mtls: { material: certs.get('app')!, serverWorkload: 'app' },
    } satisfies SkiffArgs);
    const mtlsOut = await tlsOut.call<{ outbound: number }>('start', {
      config: {
        upstream: local(mtlsIn.inbound),
        app: local(1),
        accessLogPath: join(dir, 'mtls-outbound-access.log'),
      },
      workload: 'sleep',
      mtls: { material: certs.get('sleep')!, serverWorkload: 'app' },
    } satisfies SkiffArgs);
    const peerInPort = (await peerIn.call<{ port: number }>('start', { port: appPort })).port;
    const peerOutPort = (await peerOut.call<{ port: number }>('start', { port: peerInPort })).port;
    const relayInPort = (await relayIn.call<{ port: number }>('start', { port: appPort })).port;
    const relayOutPort = (await relayOut.call<{ port: number }>('start', { port: relayInPort })).port;

    const load1 = loadavg()[0] ?? 0;
    const direct = await measurePath('direct', appPort, [], app, load, o, log);
    if (o.paths.size < PATH_NAMES.length) {
      const picked: { path: PathResult; stats?: [Child, Child] }[] = [];
      if (o.paths.has('skiff'))
        picked.push({
          path: await measurePath('skiff', outbound.outbound, [skiffOut, skiffIn], app, load, o, log),
          stats: [skiffOut, skiffIn],
        });
      if (o.paths.has('mtls'))
        picked.push({
          path: await measurePath('skiff mTLS', mtlsOut.outbound, [tlsOut, tlsIn], app, load, o, log),
          stats: [tlsOut, tlsIn],
        });
      if (o.paths.has('peer'))
        picked.push({ path: await measurePath('peer', peerOutPort, [peerOut, peerIn], app, load, o, log) });
      if (o.paths.has('floor'))
        picked.push({
          path: await measurePath('floor', relayOutPort, [relayOut, relayIn], app, load, o, log),
        });
      return await compactReport(direct, picked, o, load1, started);
    }
    const skiff = await measurePath('skiff', outbound.outbound, [skiffOut, skiffIn], app, load, o, log);
    const peer = await measurePath('peer', peerOutPort, [peerOut, peerIn], app, load, o, log);
    const mtls = await measurePath('skiff mTLS', mtlsOut.outbound, [tlsOut, tlsIn], app, load, o, log);
    const floor = await measurePath('floor', relayOutPort, [relayOut, relayIn], app, load, o, log);
    const load2 = loadavg()[0] ?? 0;

    type ProxyStats = ProxyCounts;
    const statsOut = await skiffOut.call<ProxyStats>('stats');
    const statsIn = await skiffIn.call<ProxyStats>('stats');
    const mtlsStatsOut = await tlsOut.call<ProxyStats>('stats');
    const mtlsStatsIn = await tlsIn.call<ProxyStats>('stats');
    const logLines = (p: string): number => {
      try {
        return readFileSync(p, 'latin1').split('\n').length - 1;
      } catch {
        return 0;
      }
    };

    const lines: string[] = [];
    lines.push(
      `node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), ${new Date().toISOString()}, load average ${load1.toFixed(1)} → ${load2.toFixed(1)}`,
      `fixed rate ${o.rate} rps (${o.warmupSeconds} s warm-up, ${o.seconds} s measured); max throughput: autocannon, ${o.connections} connections, ${o.seconds} s`,
      '',
      `| path | rps (fixed) | p50 | p90 | p99 | p99.9 | added p50 | added p90 | added p99 | errors | max rps | CPU / 1k rps per proxy (fixed) | CPU / 1k rps per proxy (at max) |`,
      `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`,
    );
    const rows = [direct, skiff, mtls, peer, floor];
    for (const r of rows) {
      const rps = r.fixed.sent / (r.fixed.windowMs / 1000);
      const added = (q: 'p50' | 'p90' | 'p99'): string =>
        r === direct ? '—' : f3(r.fixed[q] - direct.fixed[q]);
      const cpu = (xs: number[]): string => (xs.length === 0 ? '—' : xs.map((x) => f2(x)).join(' / '));
      lines.push(
        `| ${r.name} | ${fRps(rps)} | ${f3(r.fixed.p50)} | ${f3(r.fixed.p90)} | ${f3(r.fixed.p99)} | ${f3(r.fixed.p999)} | ${added('p50')} | ${added('p90')} | ${added('p99')} | ${r.fixed.errors + r.max.errors + r.max.non2xx} | ${fRps(r.max.rps)} | ${cpu(r.cpuFixed)} | ${cpu(r.cpuMax)} |`,
      );
    }
    lines.push(
      '',
      'CPU columns: vCPU per 1,000 rps for the outbound / inbound proxy process. ' +
        `The app itself used ${f2(direct.appCpuFixed)} vCPU per 1,000 rps (direct).`,
      '',
    );
    // With the machine saturated by other work, the direct path's own tail is queueing, and a difference
    // of two such tails says nothing about the proxies: the latency goals are then not judged.
    const quiet = direct.fixed.p99 <= QUIET_DIRECT_P99_MS;
    const judge = (ok: boolean): string =>
      quiet ? verdict(ok) : `not judged (direct p99 ${f3(direct.fixed.p99)}: machine busy)`;
    const add = (r: PathResult, q: 'p50' | 'p90' | 'p99'): number => r.fixed[q] - direct.fixed[q];
    lines.push(
      `| figure | skiff | peer (http-proxy) | floor (TCP relays) | direct | skiff / direct | skiff / peer | goal |`,
      `|---|---:|---:|---:|---:|---:|---:|---|`,
    );
    for (const q of ['p50', 'p90', 'p99'] as const) {
      const goal =
        q === 'p90'
          ? `≤ ${GOALS.addedP90Ms} ms: ${verdict(add(skiff, q) <= GOALS.addedP90Ms)}`
          : q === 'p99'
            ? `≤ ${GOALS.addedP99Ms} ms: ${verdict(add(skiff, q) <= GOALS.addedP99Ms)}`
            : '';
      lines.push(
        `| added ${q} at ${o.rate} rps (pair) | ${f3(add(skiff, q))} | ${f3(add(peer, q))} | ${f3(add(floor, q))} | — | ${ratio(skiff.fixed[q], direct.fixed[q])} (latency) | ${ratio(add(skiff, q), add(peer, q))} | ${goal} |`,
      );
    }
    lines.push(
      `| max rps (${o.connections} connections) | ${fRps(skiff.max.rps)} | ${fRps(peer.max.rps)} | ${fRps(floor.max.rps)} | ${fRps(direct.max.rps)} | ${ratio(skiff.max.rps, direct.max.rps)} | ${ratio(skiff.max.rps, peer.max.rps)} | above peer: ${verdict(skiff.max.rps > peer.max.rps)} |`,
      `| vCPU / 1k rps, worst proxy (fixed rate) | ${f2(worst(skiff.cpuFixed))} | ${f2(worst(peer.cpuFixed))} | ${f2(worst(floor.cpuFixed))} | — | — | ${ratio(worst(skiff.cpuFixed), worst(peer.cpuFixed))} | ≤ ${GOALS.cpuPer1000}: ${verdict(worst(skiff.cpuFixed) <= GOALS.cpuPer1000)} |`,
      `| vCPU / 1k rps, worst proxy (at max) | ${f2(worst(skiff.cpuMax))} | ${f2(worst(peer.cpuMax))} | ${f2(worst(floor.cpuMax))} | — | — | ${ratio(worst(skiff.cpuMax), worst(peer.cpuMax))} | |`,
    );
    lines.push(
      '',
      ...mtlsComparisonLines(direct, skiff, mtls, o.rate, o.connections, {
        handshakesOut: mtlsStatsOut.tlsHandshakes,
        handshakesIn: mtlsStatsIn.tlsHandshakes,
        mutualTlsRequestsIn: mtlsStatsIn.mutualTls,
        tlsErrors: mtlsStatsIn.tlsErrors + mtlsStatsOut.tlsErrors,
      }),
    );
    const ahead =
      (['p50', 'p90', 'p99'] as const).every((q) => add(skiff, q) < add(peer, q)) &&
      skiff.max.rps > peer.max.rps &&
      worst(skiff.cpuFixed) < worst(peer.cpuFixed) &&
      worst(skiff.cpuMax) < worst(peer.cpuMax);
    lines.push(
      '',
      `goals: CPU ≤ ${GOALS.cpuPer1000} vCPU / 1k rps per proxy: ${verdict(worst(skiff.cpuFixed) <= GOALS.cpuPer1000)}; ` +
        `added p90 ≤ ${GOALS.addedP90Ms} ms: ${judge(add(skiff, 'p90') <= GOALS.addedP90Ms)}; ` +
        `added p99 ≤ ${GOALS.addedP99Ms} ms: ${judge(add(skiff, 'p99') <= GOALS.addedP99Ms)}; ` +
        `ahead of the peer on every figure: ${verdict(ahead)}`,
      `evidence: access-log lines outbound ${logLines(logOut).toLocaleString('en-US')}, inbound ${logLines(logIn).toLocaleString('en-US')}; ` +
        `istio_requests_total outbound ${statsOut.istioRequests.toLocaleString('en-US')}, inbound ${statsIn.istioRequests.toLocaleString('en-US')}; ` +
        `connections accepted / opened upstream: outbound ${statsOut.downstreamCx} / ${statsOut.upstreamCx}, inbound ${statsIn.downstreamCx} / ${statsIn.upstreamCx}`,
      `dataplane bench took ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    return lines;
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a skiff sidecar counted (the `stats` command). */
interface ProxyCounts {
  istioRequests: number;
  upstreamCx: number;
  downstreamCx: number;
  tlsHandshakes: number;
  tlsErrors: number;
  mutualTls: number;
}

/**
 * The `--paths` form: one row per measured path beside direct, with the CPU's system share and the
 * connection and TLS counts, for quick before/after comparisons.
 */
async function compactReport(
  direct: PathResult,
  picked: { path: PathResult; stats?: [Child, Child] }[],
  o: Options,
  load1: number,
  started: number,
): Promise<string[]> {
  const load2 = loadavg()[0] ?? 0;
  const lines = [
    `node ${process.version}, ${availableParallelism()} CPUs, ${new Date().toISOString()}, load average ${load1.toFixed(1)} → ${load2.toFixed(1)}; ` +
      `fixed rate ${o.rate} rps (${o.seconds} s measured), max: ${o.connections} connections`,
    '',
    `| path | p50 | p90 | p99 | added p50 | added p90 | added p99 | errors | max rps | vCPU / 1k rps out / in (fixed) | of which system | (at max) | connections out / in, TLS handshakes / errors |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`,
  ];
  const cpu = (xs: number[]): string => (xs.length === 0 ? '—' : xs.map((x) => f2(x)).join(' / '));
  for (const { path: r, stats } of [{ path: direct }, ...picked]) {
    const added = (q: 'p50' | 'p90' | 'p99'): string =>
      r === direct ? '—' : f3(r.fixed[q] - direct.fixed[q]);
    let evidence = '—';
    if (stats) {
      const [out, inn] = await Promise.all(stats.map((c) => c.call<ProxyCounts>('stats')));
      if (out && inn)
        evidence =
          `${out.upstreamCx} / ${inn.downstreamCx}` +
          (out.tlsHandshakes + inn.tlsHandshakes > 0
            ? `, ${out.tlsHandshakes} / ${inn.tlsErrors + out.tlsErrors}`
            : '');
    }
    lines.push(
      `| ${r.name} | ${f3(r.fixed.p50)} | ${f3(r.fixed.p90)} | ${f3(r.fixed.p99)} | ${added('p50')} | ${added('p90')} | ${added('p99')} | ${r.fixed.errors + r.max.errors + r.max.non2xx} | ${fRps(r.max.rps)} | ${cpu(r.cpuFixed)} | ${cpu(r.sysFixed)} | ${cpu(r.cpuMax)} | ${evidence} |`,
    );
  }
  lines.push('', `dataplane bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return lines;
}

// ---------------------------------------------------------------- entry point of the forked children

const role = process.env[ROLE_ENV];
if (role === 'app') await appChild();
else if (role === 'skiff') await skiffChild();
else if (role === 'peer') await peerChild();
else if (role === 'relay') await relayChild();
else if (role === 'load') await loadChild();
