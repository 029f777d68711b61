/**
 * The proxy engine: owns one HTTP server per listener, applies config snapshots atomically (a request
 * keeps the config it started with; new requests see the new one), and exposes stats and loggers.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { AccessLogger, AccessLogOptions } from './access-log.js';
import { accessLoggerFromOptions, fileSink, jsonFormatter, textFormatter } from './access-log.js';
import type { CompiledConfig, ProxySnapshot } from './config.js';
import { compileSnapshot } from './config.js';
import { DebugLog, SOURCE } from './debug-log.js';
import { IstioStats } from './istio-stats.js';
import type { CompiledListener } from './listeners.js';
import type { PeerInfo } from './peer-metadata.js';
import { peerHeaders } from './peer-metadata.js';
import type { DownstreamConnection } from './router.js';
import { codecErrorReply, HttpStream } from './router.js';
import type { ClusterRuntime, Runtime } from './runtime.js';
import { retireRemovedClusters } from './runtime.js';
import { Stats } from './stats.js';
import { joinHostPort } from './stream-info.js';

export interface BindAddress {
  address: string;
  port: number;
}

export interface ProxyOptions {
  /** Where a listener binds; by default its own socket address (tests pass 127.0.0.1:0). */
  bind?: (listener: { name: string; address: string; port: number }) => BindAddress;
  /** Mesh-level access logging (accessLogFile / accessLogEncoding / accessLogFormat); off when absent. */
  accessLog?: AccessLogOptions;
  debugLog?: DebugLog;
  stats?: Stats;
  /**
   * This proxy's own workload (pod name, namespace, labels, ...): sent to peers in the metadata exchange
   * headers and used for the source_* / destination_* labels of Istio's metrics.
   */
  peer?: PeerInfo;
  /** Istio's standard metrics (istio_requests_total, ...); on unless false. */
  istioStats?: boolean;
}

export interface UpdateResult {
  ok: boolean;
  /** Why the snapshot was refused (the NACK detail); the previous config keeps serving. */
  error?: string;
  /** Listeners that could not bind (the rest of the snapshot still applied). */
  bindErrors: string[];
}

interface ListenerServer {
  name: string;
  bindKey: string;
  server: http.Server;
  listener: CompiledListener;
  loggers: AccessLogger[];
  bound: BindAddress;
  connections: Map<Socket, DownstreamConnection>;
}

const EMPTY: CompiledConfig = { version: '', listeners: new Map(), routes: new Map(), clusters: new Map() };

export class ProxyEngine {
  readonly stats: Stats;
  readonly log: DebugLog;
  private readonly rt: Runtime;
  private readonly servers = new Map<string, ListenerServer>();
  private readonly bind: NonNullable<ProxyOptions['bind']>;
  private connectionIds = 0;
  private updating: Promise<UpdateResult> = Promise.resolve({ ok: true, bindErrors: [] });
  /** The snapshot serving now, as received (for /config_dump), and when it was applied. */
  private applied: ProxySnapshot | undefined;
  private appliedAt: Date | undefined;
  /** /healthcheck/fail: the server reports DRAINING and readiness fails. */
  healthCheckFailed = false;
  readonly startedAt = Date.now();

  constructor(opts: ProxyOptions = {}) {
    this.stats = opts.stats ?? new Stats();
    this.log = opts.debugLog ?? new DebugLog();
    this.bind = opts.bind ?? ((l) => ({ address: l.address, port: l.port }));
    this.rt = {
      config: EMPTY,
      stats: this.stats,
      log: this.log,
      accessLoggers: opts.accessLog ? [accessLoggerFromOptions(opts.accessLog)] : [],
      clusters: new Map(),
      nextConnectionId: () => ++this.connectionIds,
    };
    if (opts.istioStats !== false) this.rt.istio = new IstioStats(this.stats, opts.peer);
    if (opts.peer) this.rt.peer = { info: opts.peer, ...peerHeaders(opts.peer) };
    this.stats.gauge('server.live', 'server.live').value = 1;
  }

  /** The snapshot serving now, exactly as it was given to update(). */
  get snapshot(): ProxySnapshot | undefined {
    return this.applied;
  }

  /** When the serving snapshot was applied. */
  get lastUpdated(): Date | undefined {
    return this.appliedAt;
  }

  /** Whether clusters and listeners have been received (Istio's readiness: CDS and LDS updated once). */
  hasConfig(): boolean {
    return (
      this.counterValue('cluster_manager.cds.update_success') > 0 &&
      this.counterValue('listener_manager.lds.update_success') > 0
    );
  }

  private counterValue(name: string): number {
    return this.stats.counters.get(name)?.value ?? 0;
  }

  /** Envoy's server state: LIVE, or DRAINING after /healthcheck/fail, PRE_INITIALIZING before config. */
  get serverState(): 'LIVE' | 'DRAINING' | 'PRE_INITIALIZING' {
    if (this.healthCheckFailed) return 'DRAINING';
    return this.applied ? 'LIVE' : 'PRE_INITIALIZING';
  }

  /** Per-cluster runtime state (pools, per-host stats, outlier ejections), for /clusters. */
  clusterRuntimes(): ReadonlyMap<string, ClusterRuntime> {
    return this.rt.clusters;
  }

  /** The proxy's own PeerInfo, when configured. */
  get peer(): PeerInfo | undefined {
    return this.rt.peer?.info;
  }

  /** Updates the server.* gauges Envoy keeps current (state, uptime, active connections). */
  refreshServerStats(): void {
    const state = this.serverState;
    this.stats.gauge('server.state', 'server.state').value =
      state === 'LIVE' ? 0 : state === 'DRAINING' ? 1 : 2;
    this.stats.gauge('server.uptime', 'server.uptime').value = Math.floor(
      (Date.now() - this.startedAt) / 1000,
    );
    this.stats.gauge('server.live', 'server.live').value = state === 'LIVE' ? 1 : 0;
    let cx = 0;
    for (const ls of this.servers.values()) cx += ls.connections.size;
    this.stats.gauge('server.total_connections', 'server.total_connections').value = cx;
  }

  /** The config serving new requests. */
  get config(): CompiledConfig {
    return this.rt.config;
  }

  /**
   * Applies a snapshot: compiles it completely first (a bad snapshot changes nothing), swaps it in, then
   * opens new listeners and closes removed ones (their in-flight requests finish). Updates run one at a time.
   */
  update(snapshot: ProxySnapshot): Promise<UpdateResult> {
    const next = this.updating.then(() => this.apply(snapshot));
    this.updating = next.catch(() => ({ ok: false, bindErrors: [] }));
    return next;
  }

  private async apply(snapshot: ProxySnapshot): Promise<UpdateResult> {
    let config: CompiledConfig;
    const count = (stat: string): void => {
      if (Array.isArray(snapshot.clusters)) this.stats.counter(`cluster_manager.cds.${stat}`).value++;
      if (Array.isArray(snapshot.listeners)) this.stats.counter(`listener_manager.lds.${stat}`).value++;
    };
    try {
      config = compileSnapshot(snapshot);
    } catch (err) {
      count('update_rejected');
      return { ok: false, error: (err as Error).message, bindErrors: [] };
    }
    count('update_success');
    this.applied = snapshot;
    this.appliedAt = new Date();
    this.rt.config = config;
    retireRemovedClusters(this.rt);
    const bindErrors: string[] = [];
    for (const [name, ls] of this.servers) {
      const l = config.listeners.get(name);
      if (!l?.hcm || bindKey(this.bind(l)) !== ls.bindKey) {
        this.servers.delete(name);
        this.closeServer(ls);
      }
    }
    for (const l of config.listeners.values()) {
      if (!l.hcm) continue; // TCP proxying is not served yet
      const existing = this.servers.get(l.name);
      if (existing) {
        existing.listener = l;
        existing.loggers = this.loggersFor(l);
        continue;
      }
      try {
        await this.open(l);
      } catch (err) {
        bindErrors.push(`${l.name}: ${(err as Error).message}`);
      }
    }
    return { ok: true, bindErrors };
  }

  /** The address a listener is bound to (with the real port when it asked for port 0). */
  address(listenerName: string): BindAddress | undefined {
    return this.servers.get(listenerName)?.bound;
  }

  listenerNames(): string[] {
    return [...this.servers.keys()];
  }

  /** Stops every listener and closes every connection, upstream pools included. */
  async close(): Promise<void> {
    await this.updating.catch(() => undefined);
    const closing = [...this.servers.values()].map((ls) => {
      this.servers.delete(ls.name);
      return this.closeServer(ls, true);
    });
    await Promise.all(closing);
    for (const c of this.rt.clusters.values()) c.agent.destroy();
    this.rt.clusters.clear();
  }

  private loggersFor(l: CompiledListener): AccessLogger[] {
    const out = [...this.rt.accessLoggers];
    for (const log of l.hcm?.accessLogs ?? []) {
      const format = log.json ? jsonFormatter(log.json) : textFormatter(log.text);
      out.push({ format, sink: fileSink(log.path) });
    }
    return out;
  }

  private open(l: CompiledListener): Promise<void> {
    const hcm = l.hcm;
    const bound = this.bind(l);
    const server = http.createServer({
      maxHeaderSize: Math.max(1, hcm?.maxRequestHeadersKb ?? 60) * 1024,
      requireHostHeader: false,
      requestTimeout: 0,
      keepAliveTimeout: 60_000,
    });
    const ls: ListenerServer = {
      name: l.name,
      bindKey: bindKey(bound),
      server,
      listener: l,
      loggers: this.loggersFor(l),
      bound,
      connections: new Map(),
    };
    server.on('connection', (socket: Socket) => this.onConnection(ls, socket));
    server.on('request', (req, res) => this.onRequest(ls, req, res));
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      this.onClientError(ls, err, socket),
    );
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: bound.address, port: bound.port }, () => {
        server.off('error', reject);
        server.on('error', () => undefined);
        const addr = server.address() as AddressInfo;
        ls.bound = { address: addr.address, port: addr.port };
        this.servers.set(l.name, ls);
        resolve();
      });
    });
  }

  private onConnection(ls: ListenerServer, socket: Socket): void {
    const id = this.rt.nextConnectionId();
    const conn: DownstreamConnection = {
      id,
      localAddress: joinHostPort(socket.localAddress, socket.localPort),
      remoteAddress: joinHostPort(socket.remoteAddress, socket.remotePort),
      remoteIp: (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, ''),
    };
    ls.connections.set(socket, conn);
    const stats = this.stats;
    const prefix = ls.listener.hcm?.statPrefix ?? ls.name;
    stats.listener('counter', ls.listener.statName, 'downstream_cx_total').value++;
    const lActive = stats.listener('gauge', ls.listener.statName, 'downstream_cx_active');
    lActive.value++;
    stats.http('counter', prefix, 'downstream_cx_total').value++;
    const hActive = stats.http('gauge', prefix, 'downstream_cx_active');
    hActive.value++;
    if (this.log.enabled('connection'))
      this.log.write(
        'connection',
        'debug',
        SOURCE.newConnection,
        `new connection from ${conn.remoteAddress}`,
        id,
      );
    socket.on('error', () => undefined);
    socket.once('close', () => {
      ls.connections.delete(socket);
      lActive.value--;
      hActive.value--;
      if (this.log.enabled('connection'))
        this.log.write('connection', 'debug', SOURCE.closing, 'closing socket: 0', id);
    });
  }

  private onRequest(ls: ListenerServer, req: http.IncomingMessage, res: http.ServerResponse): void {
    const hcm = ls.listener.hcm;
    const conn = ls.connections.get(req.socket) ?? {
      id: this.rt.nextConnectionId(),
      localAddress: joinHostPort(req.socket.localAddress, req.socket.localPort),
      remoteAddress: joinHostPort(req.socket.remoteAddress, req.socket.remotePort),
      remoteIp: req.socket.remoteAddress ?? '',
    };
    if (!hcm) {
      res.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    try {
      new HttpStream(this.rt, hcm, ls.loggers, conn, req, res).start();
    } catch (err) {
      // A bug in one stream must never take the proxy down: answer 500 and keep serving.
      if (this.log.enabled('http', 'error'))
        this.log.write(
          'http',
          'error',
          SOURCE.localReply,
          `stream failed: ${(err as Error).message}`,
          conn.id,
        );
      try {
        if (!res.headersSent) res.writeHead(500, { 'content-length': '0' });
        res.end();
      } catch {
        res.destroy();
      }
    }
  }

  private onClientError(ls: ListenerServer, err: NodeJS.ErrnoException, socket: Socket): void {
    const conn = ls.connections.get(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    const info = codecErrorReply(conn, socket, err, ls.listener.hcm?.serverName ?? 'envoy');
    if (!info) return;
    for (const logger of ls.loggers) {
      try {
        logger.sink(logger.format(info));
      } catch {
        // ignore sink failures
      }
    }
  }

  private closeServer(ls: ListenerServer, force = false): Promise<void> {
    return new Promise((resolve) => {
      ls.server.close(() => resolve());
      if (force) ls.server.closeAllConnections();
      else ls.server.closeIdleConnections();
    });
  }
}

function bindKey(b: BindAddress): string {
  return `${b.address}:${b.port}`;
}

/** Builds an engine and applies its first snapshot; throws when the snapshot is refused. */
export async function createProxy(snapshot: ProxySnapshot, opts: ProxyOptions = {}): Promise<ProxyEngine> {
  const engine = new ProxyEngine(opts);
  const result = await engine.update(snapshot);
  if (!result.ok) {
    await engine.close();
    throw new Error(result.error ?? 'config refused');
  }
  if (result.bindErrors.length > 0) {
    await engine.close();
    throw new Error(`cannot bind listeners: ${result.bindErrors.join('; ')}`);
  }
  return engine;
}
