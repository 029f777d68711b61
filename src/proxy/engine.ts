/**
 * The proxy engine: owns one TCP server per listener, picks each connection's filter chain as Envoy does
 * (tls-chains.ts, after the TLS/HTTP inspectors when the chains need them), terminates TLS with the
 * chain's DownstreamTlsContext and hands the bytes to the chain's HTTP connection manager. Config
 * snapshots apply atomically (a request keeps the config it started with; new requests see the new one);
 * SDS secrets (the snapshot's and the agent's, updateSecrets) apply to new connections only.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import type { AccessLogger, AccessLogOptions } from './access-log.js';
import { accessLoggerFromOptions, fileSink, jsonFormatter, textFormatter } from './access-log.js';
import type { CompiledConfig, ProxySnapshot } from './config.js';
import { compileSnapshot } from './config.js';
import { DebugLog, SOURCE } from './debug-log.js';
import { detectPreface, H2Codec, isH1Alpn, isH2Alpn, h2Stream } from './h2-downstream.js';
import { IstioStats } from './istio-stats.js';
import type { CompiledChain, CompiledListener, HcmAccessLog, HttpConnectionManager } from './listeners.js';
import type { PeerInfo } from './peer-metadata.js';
import { peerHeaders } from './peer-metadata.js';
import type { DownstreamConnection, DownstreamRequest, DownstreamResponse } from './router.js';
import { codecErrorReply, HttpStream, setUpstreamBindAddress } from './router.js';
import type { ClusterRuntime, Runtime } from './runtime.js';
import { destroyPools, retireRemovedClusters } from './runtime.js';
import { Stats } from './stats.js';
import { joinHostPort, newStreamInfo, setFlag } from './stream-info.js';
import type { ConnectionFacts } from './tls-chains.js';
import { selectChain } from './tls-chains.js';
import { peerChain, resolveTls, tlsFailureReason, uriSans, verifyPeer } from './tls-context.js';
import type { Inspection } from './tls-inspect.js';
import { inspect } from './tls-inspect.js';
import { SecretStore } from './tls-secrets.js';
import { proxyTcp } from './tcp-proxy.js';

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
  /** More access loggers for every listener (e.g. a formatter of the caller's own). */
  accessLoggers?: AccessLogger[];
  /**
   * The local address upstream connections (HTTP, TLS, TCP) leave from: a pod's Envoy connects from the
   * pod IP, so %UPSTREAM_LOCAL_ADDRESS% shows podIP:port. Unset: the OS chooses.
   */
  upstreamBindAddress?: string;
}

export interface UpdateResult {
  ok: boolean;
  /** Why the snapshot was refused (the NACK detail); the previous config keeps serving. */
  error?: string;
  /** Listeners that could not bind (the rest of the snapshot still applied). */
  bindErrors: string[];
}

/** One filter chain's HTTP server (not listening: the listener hands it connections). */
interface ChainServer {
  chain: CompiledChain;
  hcm: HttpConnectionManager;
  http: http.Server;
  /** The chain's HTTP/2 codec, made on its first HTTP/2 connection. */
  h2?: H2Codec;
  loggers: AccessLogger[];
}

interface ListenerServer {
  name: string;
  bindKey: string;
  server: net.Server;
  listener: CompiledListener;
  /** HTTP servers by chain key; kept across updates so keep-alive connections see config changes. */
  chains: Map<string, ChainServer>;
  bound: BindAddress;
  /** Connections handed to an HTTP server, by the socket it reads (the TLS socket for TLS chains). */
  connections: Map<Socket, DownstreamConnection>;
  /** Every accepted socket (closed on a forced shutdown). */
  sockets: Set<Socket>;
}

/** Envoy's server-side reason when a client sends no certificate but one is required. */
const NO_PEER_CERT = 'TLS error: 268435655:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE';

const EMPTY: CompiledConfig = { version: '', listeners: new Map(), routes: new Map(), clusters: new Map() };

export class ProxyEngine {
  readonly stats: Stats;
  readonly log: DebugLog;
  private readonly rt: Runtime;
  /** SDS secrets: the snapshot's and the agent's. */
  private readonly secrets = new SecretStore();
  private readonly agentSecretDump = new Map<string, unknown>();
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
      accessLoggers: [
        ...(opts.accessLog ? [accessLoggerFromOptions(opts.accessLog)] : []),
        ...(opts.accessLoggers ?? []),
      ],
      clusters: new Map(),
      secrets: this.secrets,
      nextConnectionId: () => ++this.connectionIds,
    };
    if (opts.istioStats !== false) this.rt.istio = new IstioStats(this.stats, opts.peer);
    if (opts.peer) this.rt.peer = { info: opts.peer, ...peerHeaders(opts.peer) };
    setUpstreamBindAddress(this.rt, opts.upstreamBindAddress);
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

  /**
   * Adds or replaces SDS secrets the agent supplies (proto3-JSON `Secret`s: `default`, `ROOTCA`, ...).
   * New connections and handshakes use them; established connections keep the certificate they were
   * made with, so a rotation drops nothing. Returns the names that changed.
   */
  updateSecrets(secrets: unknown[]): string[] {
    for (const raw of secrets) {
      const name = raw && typeof raw === 'object' ? (raw as Record<string, unknown>)['name'] : undefined;
      if (typeof name === 'string' && name !== '') this.agentSecretDump.set(name, redactPrivateKey(raw));
    }
    const changed = this.secrets.updateAgentSecrets(secrets);
    if (changed.length > 0 && this.log.enabled('secret'))
      this.log.write('secret', 'debug', SECRET_SOURCE, `secret updated: ${changed.join(', ')}`);
    return changed;
  }

  /** Forgets agent-supplied secrets (TLS contexts naming them stop handshaking until they return). */
  removeSecrets(names: string[]): void {
    for (const name of names) this.agentSecretDump.delete(name);
    this.secrets.removeAgentSecrets(names);
  }

  /** The agent's secrets as /config_dump shows them: private keys `[redacted]`, as Envoy prints them. */
  agentSecrets(): unknown[] {
    return [...this.agentSecretDump.values()];
  }

  /** Names of the secrets the engine can resolve now (agent and snapshot). */
  secretNames(): string[] {
    return this.secrets.names();
  }

  /** The config serving new requests. */
  get config(): CompiledConfig {
    return this.rt.config;
  }

  /**
   * Applies a snapshot: compiles it completely first (a bad snapshot changes nothing), swaps it in, then
   * opens new listeners and closes removed ones (their in-flight requests finish). Updates run one at a time.
   * A caller that compiled the snapshot already (to validate it) passes the result instead of compiling twice.
   */
  update(snapshot: ProxySnapshot, compiled?: CompiledConfig): Promise<UpdateResult> {
    const next = this.updating.then(() => this.apply(snapshot, compiled));
    this.updating = next.catch(() => ({ ok: false, bindErrors: [] }));
    return next;
  }

  /** `compiled`: `compileSnapshot(snapshot)` already done by the caller (e.g. when it validated it). */
  private async apply(snapshot: ProxySnapshot, compiled?: CompiledConfig): Promise<UpdateResult> {
    let config: CompiledConfig;
    const count = (stat: string): void => {
      if (Array.isArray(snapshot.clusters)) this.stats.counter(`cluster_manager.cds.${stat}`).value++;
      if (Array.isArray(snapshot.listeners)) this.stats.counter(`listener_manager.lds.${stat}`).value++;
    };
    try {
      config = compiled ?? compileSnapshot(snapshot);
    } catch (err) {
      count('update_rejected');
      return { ok: false, error: (err as Error).message, bindErrors: [] };
    }
    count('update_success');
    this.applied = snapshot;
    this.appliedAt = new Date();
    this.rt.config = config;
    this.secrets.setSnapshotSecrets(snapshot.secrets);
    retireRemovedClusters(this.rt);
    const bindErrors: string[] = [];
    for (const [name, ls] of this.servers) {
      const l = config.listeners.get(name);
      if (!l || !servable(l) || bindKey(this.bind(l)) !== ls.bindKey) {
        this.servers.delete(name);
        this.closeServer(ls);
      }
    }
    for (const l of config.listeners.values()) {
      if (!servable(l)) continue;
      const existing = this.servers.get(l.name);
      if (existing) {
        existing.listener = l;
        this.syncChains(existing);
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
    for (const c of this.rt.clusters.values()) {
      destroyPools(c);
    }
    this.rt.clusters.clear();
  }

  private loggersFor(hcm: HttpConnectionManager | undefined): AccessLogger[] {
    const out = [...this.rt.accessLoggers];
    for (const log of hcm?.accessLogs ?? []) out.push(this.fileLogger(log));
    return out;
  }

  private fileLogger(log: HcmAccessLog): AccessLogger {
    const format = log.json ? jsonFormatter(log.json) : textFormatter(log.text);
    return { format, sink: fileSink(log.path) };
  }

  /** Creates, updates or retires the per-chain HTTP servers after a listener update. */
  private syncChains(ls: ListenerServer): void {
    const l = ls.listener;
    const wanted = new Map<string, CompiledChain>();
    for (const c of [...l.chains, ...(l.defaultChain ? [l.defaultChain] : [])])
      if (c.hcm) wanted.set(c.key, c);
    for (const [name, cs] of ls.chains) {
      if (wanted.has(name)) continue;
      ls.chains.delete(name);
      cs.http.close();
      cs.http.closeIdleConnections();
      cs.h2?.close();
    }
    for (const [name, chain] of wanted) {
      const hcm = chain.hcm as HttpConnectionManager;
      const existing = ls.chains.get(name);
      if (existing) {
        existing.chain = chain;
        existing.hcm = hcm;
        existing.loggers = this.loggersFor(hcm);
        continue;
      }
      const server = http.createServer({
        maxHeaderSize: Math.max(1, hcm.maxRequestHeadersKb) * 1024,
        requireHostHeader: false,
        requestTimeout: 0,
        keepAliveTimeout: 60_000,
      });
      const cs: ChainServer = { chain, hcm, http: server, loggers: this.loggersFor(hcm) };
      server.on('request', (req, res) => this.onRequest(ls, cs, req, res));
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
        this.onClientError(ls, cs, err, socket),
      );
      ls.chains.set(name, cs);
    }
  }

  private open(l: CompiledListener): Promise<void> {
    const bound = this.bind(l);
    const server = net.createServer();
    const ls: ListenerServer = {
      name: l.name,
      bindKey: bindKey(bound),
      server,
      listener: l,
      chains: new Map(),
      bound,
      connections: new Map(),
      sockets: new Set(),
    };
    this.syncChains(ls);
    server.on('connection', (socket: Socket) => this.onConnection(ls, socket));
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

  private debugConn(
    id: number,
    message: () => string,
    logger: 'connection' | 'conn_handler' = 'connection',
  ): void {
    if (this.log.enabled(logger)) this.log.write(logger, 'debug', CONN_SOURCE, message(), id);
  }

  /** A new downstream connection: inspect when the chains need it, choose the chain, then serve it. */
  private onConnection(ls: ListenerServer, socket: Socket): void {
    const id = this.rt.nextConnectionId();
    const conn: DownstreamConnection = {
      id,
      localAddress: joinHostPort(socket.localAddress, socket.localPort),
      remoteAddress: joinHostPort(socket.remoteAddress, socket.remotePort),
      remoteIp: (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, ''),
    };
    const listener = ls.listener;
    ls.sockets.add(socket);
    const stats = this.stats;
    stats.listener('counter', listener.statName, 'downstream_cx_total').value++;
    const lActive = stats.listener('gauge', listener.statName, 'downstream_cx_active');
    lActive.value++;
    this.debugConn(id, () => `new connection from ${conn.remoteAddress}`);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      ls.sockets.delete(socket);
      lActive.value--;
      this.debugConn(id, () => 'closing socket: 0');
    });
    if (!listener.inspect) {
      this.dispatch(ls, socket, conn, { transportProtocol: 'raw_buffer', applicationProtocols: [] });
      return;
    }
    // tls_inspector / http_inspector: peek at the first bytes, then give them back to the stream.
    let buf: Buffer = Buffer.alloc(0);
    const decide = (ended: boolean): void => {
      const seen = inspect(buf, ended);
      if (!seen) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      if (buf.length > 0) socket.unshift(buf);
      this.dispatch(ls, socket, conn, seen);
    };
    const onData = (chunk: Buffer): void => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      decide(false);
    };
    const onEnd = (): void => decide(true);
    socket.on('data', onData);
    socket.once('end', onEnd);
  }

  /** Chooses the connection's filter chain (or closes it: filter_chain_not_found) and serves it. */
  private dispatch(ls: ListenerServer, socket: Socket, conn: DownstreamConnection, seen: Inspection): void {
    const l = ls.listener;
    const facts: ConnectionFacts = {
      destinationIp: (socket.localAddress ?? '').replace(/^::ffff:(?=\d+\.)/, ''),
      // A listener the engine binds elsewhere (tests, the lab) still matches on its configured port.
      destinationPort: l.port > 0 ? l.port : (socket.localPort ?? 0),
      sourceIp: conn.remoteIp,
      sourcePort: socket.remotePort ?? 0,
      transportProtocol: seen.transportProtocol,
      applicationProtocols: seen.applicationProtocols,
    };
    if (seen.serverName !== undefined) facts.serverName = seen.serverName;
    // RBAC's destination_ip / destination_port and direct remote port read what chain matching saw.
    conn.destinationIp = facts.destinationIp;
    conn.destinationPort = facts.destinationPort;
    conn.remotePort = facts.sourcePort;
    const chain = selectChain(l.chains, (c) => c.match, facts) ?? l.defaultChain;
    if (seen.serverName !== undefined) conn.requestedServerName = seen.serverName;
    if (!chain || (!chain.hcm && !chain.tcp)) {
      this.noChain(ls, socket, conn);
      return;
    }
    if (!chain.tls) {
      // The http_inspector's verdict settles the codec; without it the HCM looks for the HTTP/2 preface.
      const codec =
        seen.transportProtocol === 'raw_buffer' && l.inspect
          ? seen.applicationProtocols.includes('h2c')
            ? 'h2'
            : 'h1'
          : undefined;
      this.serve(ls, chain, socket, conn, codec);
      return;
    }
    this.handshake(ls, chain, socket, conn, seen);
  }

  /** Envoy closes a connection no chain matches, counts it and logs it with NR / filter_chain_not_found. */
  private noChain(ls: ListenerServer, socket: Socket, conn: DownstreamConnection): void {
    this.stats.listener('counter', ls.listener.statName, 'no_filter_chain_match').value++;
    this.debugConn(
      conn.id,
      () => `closing connection from ${conn.remoteAddress}: no matching filter chain found`,
      'conn_handler',
    );
    const info = newStreamInfo(conn.id, '', conn.localAddress, conn.remoteAddress);
    info.protocol = '';
    setFlag(info, 'NR');
    info.details = 'filter_chain_not_found';
    if (conn.requestedServerName !== undefined) info.requestedServerName = conn.requestedServerName;
    info.endMono = performance.now();
    for (const logger of this.rt.accessLoggers) {
      try {
        logger.sink(logger.format(info));
      } catch {
        // ignore sink failures
      }
    }
    socket.destroy();
  }

  /** Terminates TLS with the chain's DownstreamTlsContext, checks the client, then serves the chain. */
  private handshake(
    ls: ListenerServer,
    chain: CompiledChain,
    socket: Socket,
    conn: DownstreamConnection,
    seen: Inspection,
  ): void {
    const cfg = chain.tls;
    if (!cfg) return;
    const statName = ls.listener.statName;
    const sslStat = (stat: string): void => {
      this.stats.listener('counter', statName, `ssl.${stat}`).value++;
    };
    const refuse = (reason: string, detail?: string): void => {
      sslStat('connection_error');
      if (detail) this.debugConn(conn.id, () => detail);
      this.debugConn(conn.id, () => `remote address:${conn.remoteAddress},${reason}`);
      socket.destroy();
    };
    const resolved = resolveTls(cfg, this.secrets);
    if ('error' in resolved) {
      refuse(resolved.error);
      return;
    }
    // Envoy's server picks the first of its own protocols the client offers, and goes on without ALPN
    // when none is shared (Node would fail the handshake, so only a shared one is offered to it).
    const alpn = cfg.alpn.find((p) => seen.applicationProtocols.includes(p));
    const options: tls.TLSSocketOptions = {
      isServer: true,
      secureContext: resolved.context,
      requestCert: resolved.roots !== undefined || cfg.requireClientCertificate,
      rejectUnauthorized: false,
    };
    if (alpn !== undefined) options.ALPNProtocols = [alpn];
    let secure: tls.TLSSocket;
    try {
      secure = new tls.TLSSocket(socket, options);
    } catch (err) {
      refuse(`TLS error: ${(err as Error).message}`);
      return;
    }
    secure.on('error', (err: NodeJS.ErrnoException) => {
      if (secure.listenerCount('secure') > 0) refuse(tlsReason(err));
    });
    secure.once('secure', () => {
      secure.removeAllListeners('secure');
      const chainCerts = peerChain(secure);
      if (chainCerts.length === 0 && cfg.requireClientCertificate) {
        sslStat('fail_verify_no_cert');
        refuse(NO_PEER_CERT);
        return;
      }
      const failure = verifyPeer(chainCerts, resolved, cfg.sanMatchers);
      if (failure) {
        sslStat(failure.detail.includes('SAN') ? 'fail_verify_san' : 'fail_verify_error');
        refuse(failure.reason, failure.detail);
        return;
      }
      sslStat('handshake');
      const version = secure.getProtocol();
      conn.tls = {
        version: version ?? '',
        peerUriSans: uriSans(chainCerts[0]),
        localUriSans: uriSans(resolved.own),
        peerCertificate: chainCerts.length > 0,
        peerChain: chainCerts,
      };
      const sni = (secure as tls.TLSSocket & { servername?: string | false }).servername;
      if (typeof sni === 'string' && sni !== '') conn.requestedServerName = sni;
      this.serve(ls, chain, secure, conn);
    });
    // A client that never finishes its handshake is not kept forever.
    secure.setTimeout(15_000, () => {
      if (secure.listenerCount('secure') > 0) refuse('TLS error: handshake timeout');
    });
  }

  /**
   * Hands a connection (plaintext or terminated TLS) to its chain's HTTP connection manager, with the
   * codec Envoy's AUTO picks: HTTP/2 for ALPN h2 or the HTTP/2 preface, HTTP/1 otherwise.
   */
  private serve(
    ls: ListenerServer,
    chain: CompiledChain,
    socket: Socket,
    conn: DownstreamConnection,
    codec?: 'h1' | 'h2',
  ): void {
    if (!chain.hcm && chain.tcp) {
      const tcp = chain.tcp;
      const loggers = [...this.rt.accessLoggers, ...tcp.accessLogs.map((log) => this.fileLogger(log))];
      const inbound =
        ls.listener.chains.some((c) => c.hcm?.inbound) || ls.listener.name.startsWith('virtualInbound');
      socket.pause();
      proxyTcp(this.rt, tcp, socket, conn, loggers, inbound);
      return;
    }
    const cs = chain.hcm ? ls.chains.get(chain.key) : undefined;
    if (!cs) {
      socket.destroy();
      return;
    }
    if (socket instanceof tls.TLSSocket) socket.setTimeout(0);
    ls.connections.set(socket, conn);
    const stats = this.stats;
    const prefix = cs.hcm.statPrefix;
    stats.http('counter', prefix, 'downstream_cx_total').value++;
    const hActive = stats.http('gauge', prefix, 'downstream_cx_active');
    hActive.value++;
    socket.on('error', () => undefined);
    socket.once('close', () => {
      ls.connections.delete(socket);
      hActive.value--;
    });
    const alpn = socket instanceof tls.TLSSocket ? socket.alpnProtocol : undefined;
    const settled = codec ?? (isH2Alpn(alpn) ? 'h2' : isH1Alpn(alpn) ? 'h1' : undefined);
    if (settled !== undefined) this.serveCodec(cs, socket, conn, settled === 'h2');
    else detectPreface(socket, (h2) => this.serveCodec(cs, socket, conn, h2));
  }

  /** Starts the chosen codec on the connection: the chain's HTTP/1 server or its HTTP/2 sessions. */
  private serveCodec(cs: ChainServer, socket: Socket, conn: DownstreamConnection, h2: boolean): void {
    if (socket.destroyed) return;
    if (!h2) {
      this.stats.http('counter', cs.hcm.statPrefix, 'downstream_cx_http1_total').value++;
      cs.http.emit('connection', socket);
      // Bytes the inspectors read were put back on a paused socket: let them flow to the HTTP parser.
      socket.resume();
      return;
    }
    this.stats.http('counter', cs.hcm.statPrefix, 'downstream_cx_http2_total').value++;
    cs.h2 ??= new H2Codec({
      maxHeaderBytes: Math.max(1, cs.hcm.maxRequestHeadersKb) * 1024,
      maxHeaders: cs.hcm.maxHeadersCount,
    });
    cs.h2.accept(socket, (stream, headers, rawHeaders) => {
      const { req, res } = h2Stream(stream, headers, rawHeaders);
      this.runStream(cs, conn, req, res);
    });
  }

  private onRequest(
    ls: ListenerServer,
    cs: ChainServer,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): void {
    const conn = ls.connections.get(req.socket) ?? {
      id: this.rt.nextConnectionId(),
      localAddress: joinHostPort(req.socket.localAddress, req.socket.localPort),
      remoteAddress: joinHostPort(req.socket.remoteAddress, req.socket.remotePort),
      remoteIp: req.socket.remoteAddress ?? '',
    };
    this.runStream(cs, conn, req, res);
  }

  /** One request on either codec through the router; a failure answers 500 and never escapes. */
  private runStream(
    cs: ChainServer,
    conn: DownstreamConnection,
    req: DownstreamRequest,
    res: DownstreamResponse,
  ): void {
    const hcm = cs.hcm;
    try {
      new HttpStream(this.rt, hcm, cs.loggers, conn, req, res).start();
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

  private onClientError(
    ls: ListenerServer,
    cs: ChainServer,
    err: NodeJS.ErrnoException,
    socket: Socket,
  ): void {
    const conn = ls.connections.get(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    const info = codecErrorReply(conn, socket, err, cs.hcm.serverName);
    if (!info) return;
    for (const logger of cs.loggers) {
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
      for (const cs of ls.chains.values()) {
        cs.http.close();
        if (force) cs.http.closeAllConnections();
        else cs.http.closeIdleConnections();
        cs.h2?.close(force);
      }
      if (force) for (const s of ls.sockets) s.destroy();
    });
  }
}

const CONN_SOURCE = 'external/envoy/source/common/network/connection_impl.cc:250';
const SECRET_SOURCE = 'external/envoy/source/common/secret/sds_api.cc:82';

/** A listener the engine serves: some chain has an HTTP connection manager or a TCP proxy. */
function servable(l: CompiledListener): boolean {
  return l.hcm !== undefined || [...l.chains, ...(l.defaultChain ? [l.defaultChain] : [])].some((c) => c.tcp);
}

function tlsReason(err: NodeJS.ErrnoException): string {
  return tlsFailureReason(err);
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

/** Envoy never prints key material: a TLS certificate's private key shows as `[redacted]`. */
function redactPrivateKey(secret: unknown): unknown {
  const copy = structuredClone(secret) as Record<string, unknown>;
  const cert = copy['tlsCertificate'];
  if (cert && typeof cert === 'object' && 'privateKey' in cert)
    (cert as Record<string, unknown>)['privateKey'] = {
      inlineBytes: Buffer.from('[redacted]').toString('base64'),
    };
  return copy;
}
