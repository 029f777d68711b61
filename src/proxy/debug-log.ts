/**
 * Envoy's named loggers with levels (admin /logging) and Envoy-style debug lines:
 * `<ts>\tdebug\tenvoy router external/envoy/source/common/router/router.cc:947\t[C11][S123] upstream timeout\tthread=1`
 * Callers check `enabled()` before building a message, so disabled loggers cost one map lookup.
 */
import { threadId } from 'node:worker_threads';

/** Envoy 1.25's logger names, in the order `/logging` lists them. */
export const LOGGER_NAMES = [
  'admin', 'alternate_protocols_cache', 'aws', 'assert', 'backtrace', 'cache_filter', 'client', 'config',
  'connection', 'conn_handler', 'decompression', 'dns', 'dubbo', 'envoy_bug', 'ext_authz', 'ext_proc',
  'rocketmq', 'file', 'filter', 'forward_proxy', 'grpc', 'happy_eyeballs', 'hc', 'health_checker', 'http',
  'http2', 'hystrix', 'init', 'io', 'jwt', 'kafka', 'key_value_store', 'lua', 'main', 'matcher', 'misc',
  'mongo', 'multi_connection', 'oauth2', 'quic', 'quic_stream', 'pool', 'rate_limit_quota', 'rbac', 'rds',
  'redis', 'router', 'runtime', 'stats', 'secret', 'tap', 'testing', 'thrift', 'tracing', 'upstream', 'udp',
  'wasm', 'websocket',
] as const; // prettier-ignore

export type LoggerName = (typeof LOGGER_NAMES)[number];

export const LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
export type Level = (typeof LEVELS)[number];

const RANK = new Map<string, number>(LEVELS.map((l, i) => [l, i]));

/** Envoy source locations of the lines we write, so lines grep like a real proxy's. */
export const SOURCE = {
  newStream: 'external/envoy/source/common/http/conn_manager_impl.cc:329',
  requestHeaders: 'external/envoy/source/common/http/conn_manager_impl.cc:1049',
  requestEnd: 'external/envoy/source/common/http/conn_manager_impl.cc:1032',
  encodeHeaders: 'external/envoy/source/common/http/conn_manager_impl.cc:1687',
  localReply: 'external/envoy/source/common/http/filter_manager.cc:967',
  clusterMatch: 'external/envoy/source/common/router/router.cc:470',
  noRoute: 'external/envoy/source/common/router/router.cc:443',
  noCluster: 'external/envoy/source/common/router/router.cc:493',
  routerDecoding: 'external/envoy/source/common/router/router.cc:678',
  upstreamTimeout: 'external/envoy/source/common/router/router.cc:947',
  perTryTimeout: 'external/envoy/source/common/router/router.cc:1061',
  upstreamHeaders: 'external/envoy/source/common/router/router.cc:1359',
  retry: 'external/envoy/source/common/router/router.cc:1866',
  resetStream: 'external/envoy/source/common/router/router.cc:1196',
  poolReady: 'external/envoy/source/common/router/upstream_request.cc:581',
  resetPool: 'external/envoy/source/common/router/upstream_request.cc:500',
  poolExisting: 'external/envoy/source/common/conn_pool/conn_pool_base.cc:265',
  poolCreate: 'external/envoy/source/common/conn_pool/conn_pool_base.cc:182',
  poolNewConnection: 'external/envoy/source/common/conn_pool/conn_pool_base.cc:312',
  poolDisconnected: 'external/envoy/source/common/conn_pool/conn_pool_base.cc:484',
  connecting: 'external/envoy/source/common/network/connection_impl.cc:911',
  connected: 'external/envoy/source/common/network/connection_impl.cc:683',
  remoteClose: 'external/envoy/source/common/network/connection_impl.cc:656',
  closing: 'external/envoy/source/common/network/connection_impl.cc:250',
  newConnection: 'external/envoy/source/common/http/conn_manager_impl.cc:1014',
} as const;

export type DebugSink = (line: string) => void;

/** The loggers an HTTP stream writes to. */
const STREAM_LOGGERS = ['http', 'router', 'pool', 'connection'];

export class DebugLog {
  private readonly levels = new Map<string, number>();
  sink: DebugSink;
  /** True when any stream logger (http, router, pool, connection) is at debug or finer. */
  streamDebug = false;

  private refresh(): void {
    const debug = RANK.get('debug') ?? 1;
    this.streamDebug = STREAM_LOGGERS.some((n) => (this.levels.get(n) ?? 3) <= debug);
  }

  constructor(sink: DebugSink = (line) => void process.stderr.write(line)) {
    this.sink = sink;
    for (const name of LOGGER_NAMES)
      this.levels.set(name, RANK.get(name === 'misc' ? 'error' : 'warning') ?? 3);
  }

  /** Sets one logger's level; false for an unknown logger or level. */
  setLevel(name: string, level: string): boolean {
    const rank = RANK.get(level);
    if (rank === undefined || !this.levels.has(name)) return false;
    this.levels.set(name, rank);
    this.refresh();
    return true;
  }

  /** Sets every logger (`/logging?level=debug`). */
  setAll(level: string): boolean {
    const rank = RANK.get(level);
    if (rank === undefined) return false;
    for (const name of this.levels.keys()) this.levels.set(name, rank);
    this.refresh();
    return true;
  }

  /**
   * Applies `http:debug,router:debug` (the `?paths=` / istioctl `--level` syntax) all-or-nothing, as Envoy
   * does; returns Envoy's error text when a pair is malformed or names an unknown logger or level.
   */
  setPaths(spec: string): string | undefined {
    const changes: [string, string][] = [];
    for (const part of spec.split(',')) {
      if (part.trim() === '') continue;
      const colon = part.indexOf(':');
      const name = colon < 0 ? part.trim() : part.slice(0, colon).trim();
      const level = colon < 0 ? '' : part.slice(colon + 1).trim();
      if (name === '' || level === '') return 'empty logger name or empty logger level';
      if (!RANK.has(level)) return 'unknown logger level';
      changes.push([name, level]);
    }
    if (changes.some(([name]) => !this.levels.has(name))) return 'unknown logger name';
    for (const [name, level] of changes) this.setLevel(name, level);
    return undefined;
  }

  isLevel(level: string): boolean {
    return RANK.has(level);
  }

  level(name: string): Level {
    return LEVELS[this.levels.get(name) ?? 3] ?? 'warning';
  }

  /** `active loggers:` listing as Envoy's /logging prints it. */
  render(): string {
    return `active loggers:\n${[...this.levels.keys()].map((n) => `  ${n}: ${this.level(n)}\n`).join('')}\n`;
  }

  enabled(name: LoggerName, level: Level = 'debug'): boolean {
    return (this.levels.get(name) ?? 3) <= (RANK.get(level) ?? 1);
  }

  /** Writes one line; ids are `[C<conn>]` or `[C<conn>][S<stream>]` when given. */
  write(
    name: LoggerName,
    level: Level,
    source: string,
    message: string,
    connection?: number,
    stream?: string,
  ): void {
    const ids =
      connection === undefined
        ? ''
        : stream === undefined
          ? `[C${connection}] `
          : `[C${connection}][S${stream}] `;
    this.sink(
      `${timestamp()}\t${level}\tenvoy ${name} ${source}\t${ids}${message}\tthread=${threadId + 1}\n`,
    );
  }
}

/** ISO-8601 with microseconds, as Envoy prints. */
function timestamp(): string {
  const now = performance.timeOrigin + performance.now();
  const iso = new Date(Math.floor(now)).toISOString();
  const micros = String(Math.floor((now % 1) * 1000)).padStart(3, '0');
  return `${iso.slice(0, -1)}${micros}Z`;
}

/** Envoy's header dump inside debug lines: `':authority', 'x'` one per line. */
export function dumpHeaders(headers: Record<string, string | string[] | undefined>): string {
  let out = '';
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) out += `\n'${k}', '${one}'`;
  }
  return out + '\n';
}
