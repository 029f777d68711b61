/**
 * One HTTP stream through the HTTP connection manager and the router filter: header sanitizing, path
 * normalization, the RBAC filters, route and cluster selection, upstream attempts with retries and
 * timeouts, local replies with Envoy's status codes, bodies, response flags and details, then stats and
 * access logs.
 */
import { randomUUID } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import type { AccessLogger } from './access-log.js';
import type { CompiledCluster, Host } from './clusters.js';
import { upstreamTlsFor, usesHttp2 } from './clusters.js';
import type { CompiledConfig } from './config.js';
import { dumpHeaders, SOURCE } from './debug-log.js';
import type { CorsPolicy, FaultConfig } from './filters.js';
import { originAllowed, preflightHeaders, responseCorsHeaders, shadowAuthority } from './filters.js';
import { forwardTrailers, grpcLocalReplyHeaders, isGrpcRequest, teTrailers } from './h2-grpc.js';
import type { UpstreamResetError, UpstreamResetReason } from './h2-upstream.js';
import { h2Target, H2UpstreamRequest, h2PoolOf, resetFlag, retriableUpstreamReset } from './h2-upstream.js';
import { fnv1a, requestHash } from './hash-lb.js';
import type { HeaderMutation, OutgoingHeaders } from './headers.js';
import { applyMutations, NO_MUTATION } from './headers.js';
import { peerFromWorkloadMetadata } from './istio-stats.js';
import { pickHost, trackEnd, trackStart } from './lb.js';
import type { HttpConnectionManager } from './listeners.js';
import type { HeaderBag } from './matchers.js';
import { normalizePath } from './path-normalize.js';
import type { PeerInfo } from './peer-metadata.js';
import { PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, parsePeerHeader } from './peer-metadata.js';
import type { CompiledRbac, RbacAttributes, RbacDecision } from './rbac.js';
import { evaluateRbac, RBAC_DENIED_BODY, RBAC_DENIED_STATUS, rbacResponseCodeDetails } from './rbac.js';
import { backOffMs, retriableReset, retriableStatus } from './retry.js';
import type { RetryPolicy } from './retry.js';
import type { CompiledRoute, CompiledRouteConfig, CompiledVirtualHost, ForwardAction } from './routes.js';
import { matchRoute, pickWeighted, redirectLocation, rewritePath, selectVirtualHost } from './routes.js';
import type { ClusterRuntime, HostStats, Runtime } from './runtime.js';
import { clusterRuntime, hostStats, releaseCluster, tlsAgentOf } from './runtime.js';
import { observe } from './stats.js';
import {
  durationTimer,
  formatGrpcTimeout,
  legacyGrpcGlobalTimeout,
  parseGrpcTimeout,
} from './stream-duration.js';
import type { StreamInfo } from './stream-info.js';
import { flagsShort, hasFlag, joinHostPort, newStreamInfo, setFlag } from './stream-info.js';
import type { CompiledTls, ResolvedTls } from './tls-context.js';
import { peerChain, resolveTls, tlsFailureReason, uriSans, verifyPeer } from './tls-context.js';
import type { XfccPeer } from './xfcc.js';
import { forwardedClientCert, XFCC_HEADER, xfccPeer } from './xfcc.js';

/** A downstream connection as the router sees it. */
export interface DownstreamConnection {
  id: number;
  localAddress: string;
  remoteAddress: string;
  remoteIp: string;
  /** The peer's port (Envoy's direct remote address port). */
  remotePort?: number;
  /** The local (destination) IP and the listener's configured port, as filter chain matching saw them. */
  destinationIp?: string;
  destinationPort?: number;
  /** SNI from the ClientHello. */
  requestedServerName?: string;
  /** Set when the connection terminated TLS. */
  tls?: DownstreamTls;
}

/** The downstream request the router reads: Node's IncomingMessage (HTTP/1) or an h2-downstream H2Request. */
export interface DownstreamRequest extends NodeJS.EventEmitter {
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly url?: string | undefined;
  readonly method?: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly readableEnded: boolean;
  pause(): unknown;
  resume(): unknown;
}

/** The downstream response the router writes: Node's ServerResponse or an h2-downstream H2Response. */
export interface DownstreamResponse extends NodeJS.EventEmitter {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  writeHead(status: number, headers?: OutgoingHeaders): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): unknown;
  destroy(): unknown;
}

/** An attempt's upstream request: Node's ClientRequest (HTTP/1) or an h2-upstream stream. */
export interface UpstreamRequest extends NodeJS.EventEmitter {
  readonly destroyed: boolean;
  write(chunk: Buffer): boolean;
  end(): unknown;
  destroy(): unknown;
}

/** An attempt's upstream response: Node's IncomingMessage or an h2-upstream response. */
export interface UpstreamResponse extends NodeJS.EventEmitter {
  readonly statusCode?: number | undefined;
  readonly headers: http.IncomingHttpHeaders;
  readonly complete: boolean;
  readonly trailers?: NodeJS.Dict<string | string[]> | undefined;
  pause(): unknown;
  resume(): unknown;
}

/**
 * Where upstream connections leave from, per proxy: Envoy in a pod connects from the pod's address, so
 * %UPSTREAM_LOCAL_ADDRESS% shows podIP:port. Kept beside the runtime (set by the engine's
 * `upstreamBindAddress` option).
 */
const upstreamBind = new WeakMap<Runtime, string>();

export function setUpstreamBindAddress(rt: Runtime, address: string | undefined): void {
  if (address === undefined || address === '') upstreamBind.delete(rt);
  else upstreamBind.set(rt, address);
}

/** The local address for a connection to `host`; none when unset or of the other IP family. */
export function upstreamLocalAddress(rt: Runtime, host: string): string | undefined {
  const bind = upstreamBind.get(rt);
  if (bind === undefined) return undefined;
  const family = net.isIP(host);
  return family !== 0 && family !== net.isIP(bind) ? undefined : bind;
}

/**
 * Envoy's getLastAddressFromXFF: the XFF entry `skip` places from the right, when it is an IP address.
 */
export function addressFromXff(xff: string | undefined, skip: number): string | undefined {
  if (xff === undefined || xff === '') return undefined;
  const entries = xff.split(',').map((e) => e.trim());
  const pick = entries[entries.length - 1 - skip];
  return pick !== undefined && net.isIP(pick) !== 0 ? pick : undefined;
}

/**
 * The request's remote address as the HCM's mutateRequestHeaders decides it (before its own XFF append):
 * with use_remote_address the connection's peer unless xff_num_trusted_hops trusts proxies in XFF;
 * without it the XFF entry after the trusted hops, else the peer.
 */
export function remoteAddressOf(
  xff: string | undefined,
  directIp: string,
  useRemoteAddress: boolean,
  trustedHops: number,
): string {
  if (useRemoteAddress)
    return (trustedHops > 0 ? addressFromXff(xff, trustedHops - 1) : undefined) ?? directIp;
  return addressFromXff(xff, trustedHops) ?? directIp;
}

export type RbacLogEvent = 'checking' | 'shadow' | 'allowed' | 'denied' | 'none';

/**
 * Envoy's RBAC filter sources for the `rbac` logger's debug lines. The line numbers are approximate
 * (Envoy 1.25's files were not at hand); the file names and the wording are Envoy's.
 */
const RBAC_HTTP_LINES: Record<RbacLogEvent, number> = {
  checking: 114,
  shadow: 137,
  allowed: 155,
  denied: 167,
  none: 176,
};
const RBAC_NETWORK_LINES: Record<RbacLogEvent, number> = {
  checking: 61,
  shadow: 121,
  allowed: 125,
  denied: 133,
  none: 100,
};

export function rbacSource(kind: 'http' | 'network', event: RbacLogEvent): string {
  const lines = kind === 'http' ? RBAC_HTTP_LINES : RBAC_NETWORK_LINES;
  return `external/envoy/source/extensions/filters/${kind}/rbac/rbac_filter.cc:${lines[event]}`;
}

/** Counts and logs one RBAC decision as Envoy's filters do (`<prefix>rbac.allowed`, shadow stats). */
export function reportRbac(
  rt: Runtime,
  rbac: CompiledRbac,
  decision: RbacDecision,
  counter: (stat: string) => void,
  kind: 'http' | 'network',
): void {
  const debug = rt.log.enabled('rbac');
  if (decision.shadowResult !== undefined) {
    counter(`rbac.${rbac.shadowRulesStatPrefix}shadow_${decision.shadowResult}`);
    if (debug)
      rt.log.write(
        'rbac',
        'debug',
        rbacSource(kind, 'shadow'),
        `shadow ${decision.shadowResult}, matched policy ${decision.shadowMatched ?? 'none'}`,
      );
  }
  if (!rbac.rules) {
    if (debug) rt.log.write('rbac', 'debug', rbacSource(kind, 'none'), 'no engine, allowed by default');
    return;
  }
  counter(decision.allowed ? 'rbac.allowed' : 'rbac.denied');
  if (debug)
    rt.log.write(
      'rbac',
      'debug',
      rbacSource(kind, decision.allowed ? 'allowed' : 'denied'),
      `enforced ${decision.allowed ? 'allowed' : 'denied'}, matched policy ${decision.matchedPolicy ?? 'none'}`,
    );
}

/** The connection facts RBAC reads (no headers: the network filter's view). */
export function connectionRbacAttributes(conn: DownstreamConnection): RbacAttributes {
  const a: RbacAttributes = { directRemoteAddress: conn.remoteIp, remoteAddress: conn.remoteIp };
  const port = conn.remotePort ?? portOf(conn.remoteAddress);
  if (port !== undefined) a.directRemotePort = port;
  const local = conn.destinationIp ?? hostOf(conn.localAddress);
  if (local !== undefined) a.destinationAddress = local;
  const dport = conn.destinationPort ?? portOf(conn.localAddress);
  if (dport !== undefined) a.destinationPort = dport;
  if (conn.requestedServerName !== undefined) a.sni = conn.requestedServerName;
  const t = conn.tls;
  if (t?.peerCertificate) {
    a.peerCertificate = { uriSans: [...t.peerUriSans] };
    const principal = t.peerUriSans[0];
    if (principal !== undefined) {
      a.peerPrincipal = principal;
      // Istio's metadata exchange / authn put the peer's SPIFFE identity in filter state.
      a.filterState = { 'io.istio.peer_principal': principal };
    }
  }
  return a;
}

function portOf(hostPort: string): number | undefined {
  const m = /:(\d+)$/.exec(hostPort);
  return m ? Number(m[1]) : undefined;
}

function hostOf(hostPort: string): string | undefined {
  const m = /^\[?([^\]]*?)\]?:\d+$/.exec(hostPort);
  return m ? m[1] : undefined;
}

export interface DownstreamTls {
  version: string;
  peerUriSans: string[];
  localUriSans: string[];
  /** The client presented a (verified) certificate: mutual TLS. */
  peerCertificate: boolean;
  /** The verified peer chain, leaf first (what x-forwarded-client-cert describes). */
  peerChain?: readonly X509Certificate[];
  /** The XFCC facts of this connection, computed on the first request that needs them. */
  xfcc?: XfccPeer;
}

/** An upstream TLS connection's identities, kept per socket so reused connections report them too. */
interface UpstreamTlsFacts {
  peerUriSans: string[];
  localUriSans: string[];
}

const upstreamTls = new WeakMap<Socket, UpstreamTlsFacts>();

/** An upstream failure that carries Envoy's transport failure reason (TLS). */
interface TransportError extends NodeJS.ErrnoException {
  transportFailureReason?: string;
}

/** Request bytes kept for retries (Envoy's default per-connection buffer limit). */
const RETRY_BUFFER_LIMIT = 1024 * 1024;

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authenticate',
  'http2-settings',
]);

/** Envoy-internal request headers cleaned from downstream requests (they steer Envoy, not the app). */
const ENVOY_INTERNAL = new Set([
  'x-envoy-internal',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-original-path',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-is-timeout-retry',
  'x-envoy-upstream-service-time',
]);

const TIMEOUT_BODY = 'upstream request timeout';

/** grpc-status DEADLINE_EXCEEDED, which the max-duration local reply carries. */
const GRPC_DEADLINE_EXCEEDED = 4;

/** Envoy's source line of the `Stream max duration time reached` debug line (approximate). */
const STREAM_MAX_DURATION_SOURCE = 'external/envoy/source/common/http/conn_manager_impl.cc:774';

/** RFC 1918, loopback, link-local and unique-local addresses count as internal, as Envoy's default. */
export function isInternalAddress(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  const parts = v4.split('.');
  if (parts.length === 4) {
    if (!parts.every((p) => p !== '' && p.length <= 3 && Number.isInteger(Number(p)))) return false;
    const a = Number(parts[0]);
    const b = Number(parts[1]);
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  const lower = ip.toLowerCase();
  return lower === '::1' || lower.startsWith('fd') || lower.startsWith('fc');
}

function streamId(): string {
  // Envoy's stream ids are random 64-bit integers printed in decimal (up to 20 digits); two random halves
  // give the same look without BigInt arithmetic on every request.
  const high = Math.floor(Math.random() * 1e9) + 1;
  return `${high}${String(Math.floor(Math.random() * 1e10)).padStart(10, '0')}`;
}

interface Attempt {
  number: number;
  host: Host;
  req?: UpstreamRequest;
  startMono: number;
  perTryTimer?: NodeJS.Timeout;
  connected: boolean;
  responded: boolean;
  /** Abandoned attempts (timed out, superseded) ignore whatever their request still reports. */
  abandoned: boolean;
  /** Set once the attempt's load-balancer and circuit-breaker accounting is released. */
  ended: boolean;
  upstreamConnectionId?: number;
  stats?: HostStats;
  /** The endpoint's TLS transport socket, resolved against the secrets. */
  tls?: { config: CompiledTls; resolved: ResolvedTls };
}

const socketIds = new WeakMap<Socket, number>();

/** Buffers the request body for replay by retries while streaming it to the current attempt. */
class RequestBody {
  chunks: Buffer[] = [];
  bytes = 0;
  ended = false;
  replayable = true;
  private target: UpstreamRequest | undefined;
  /** Shadow requests get every chunk too; they never slow the main request down. */
  private readonly mirrors: UpstreamRequest[] = [];

  constructor(
    private readonly req: DownstreamRequest,
    private readonly onData: (n: number) => void,
    private readonly onEnd: () => void,
  ) {
    req.on('data', (chunk: Buffer) => this.push(chunk));
    req.on('end', () => {
      this.ended = true;
      this.target?.end();
      for (const m of this.mirrors) m.end();
      this.onEnd();
    });
  }

  private push(chunk: Buffer): void {
    this.onData(chunk.length);
    this.bytes += chunk.length;
    for (const m of this.mirrors) if (!m.destroyed) m.write(chunk);
    if (this.replayable || !this.target) this.chunks.push(chunk);
    if (this.bytes > RETRY_BUFFER_LIMIT) this.replayable = false;
    if (this.target) {
      if (!this.replayable) this.chunks = [];
      if (!this.target.write(chunk)) {
        this.req.pause();
        this.target.once('drain', () => this.req.resume());
      }
    } else if (!this.replayable) {
      this.req.pause(); // nowhere to send it yet, and too much to hold
    }
  }

  /** Sends everything received so far to a new attempt and streams the rest to it. */
  attach(target: UpstreamRequest): void {
    this.target = target;
    for (const c of this.chunks) target.write(c);
    if (!this.replayable) this.chunks = [];
    if (this.ended) target.end();
    else this.req.resume();
  }

  detach(): void {
    this.target = undefined;
  }

  /** Copies what was received so far and the rest of the body to a shadow request. */
  mirror(target: UpstreamRequest): void {
    for (const c of this.chunks) target.write(c);
    if (this.ended) target.end();
    else this.mirrors.push(target);
  }
}

/** A weighted cluster's header mutations; replaced per request, never changed in place. */
interface ClusterMutations {
  readonly request: HeaderMutation;
  readonly response: HeaderMutation;
}

const NO_CLUSTER_MUTATIONS: ClusterMutations = { request: NO_MUTATION, response: NO_MUTATION };

/** Handles one request on an HTTP listener. */
export class HttpStream {
  readonly info: StreamInfo;
  private readonly config: CompiledConfig;
  private finished = false;
  private globalTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt: Attempt | undefined;
  private attempts = 0;
  /** Hosts already tried, kept only when the retry policy avoids previous hosts. */
  private triedHosts: Set<string> | undefined;
  private body: RequestBody | undefined;
  private requestEnded = false;
  private fwd: OutgoingHeaders = {};
  private route: CompiledRoute | undefined;
  private vh: CompiledVirtualHost | undefined;
  private rc: CompiledRouteConfig | undefined;
  private action: ForwardAction | undefined;
  private cluster: CompiledCluster | undefined;
  private crt: ClusterRuntime | undefined;
  private retry: RetryPolicy | undefined;
  private clusterMutations: ClusterMutations = NO_CLUSTER_MUTATIONS;
  private globalTimeoutMs = 0;
  /** The HCM's max stream duration timer (route max_stream_duration or the gRPC deadline under it). */
  private durationTimer: NodeJS.Timeout | undefined;
  private faultTimer: NodeJS.Timeout | undefined;
  /** The other side's workload, from metadata exchange (request on inbound, response on outbound). */
  private peer: PeerInfo | undefined;
  /** The CORS policy and origin when the request's origin is allowed: actual responses get the headers. */
  private cors: { policy: CorsPolicy; origin: string } | undefined;
  /** The consistent-hash value, computed on the first attempt. */
  private hash: number | undefined;
  private hashComputed = false;
  /** Set-Cookie values from cookie hash policies with a TTL. */
  private setCookies: string[] | undefined;
  private grpc = false;
  /** The upstream response's trailers (gRPC status), once it ended. */
  private trailers: OutgoingHeaders | undefined;
  /** The client address after XFF handling (Envoy's remote address), for RBAC's remote_ip. */
  private remoteIp = '';

  constructor(
    private readonly rt: Runtime,
    private readonly hcm: HttpConnectionManager,
    private readonly accessLoggers: readonly AccessLogger[],
    private readonly conn: DownstreamConnection,
    private readonly req: DownstreamRequest,
    private readonly res: DownstreamResponse,
  ) {
    this.config = rt.config;
    this.dbg = rt.log.streamDebug;
    this.info = newStreamInfo(conn.id, streamId(), conn.localAddress, conn.remoteAddress);
    this.info.protocol = `HTTP/${req.httpVersion}`;
    if (conn.requestedServerName !== undefined) this.info.requestedServerName = conn.requestedServerName;
    if (conn.tls) {
      this.info.scheme = 'https';
      this.info.downstreamTlsVersion = conn.tls.version;
      if (conn.tls.peerUriSans.length > 0) this.info.downstreamPeerUriSan = conn.tls.peerUriSans.join(',');
      if (conn.tls.localUriSans.length > 0) this.info.downstreamLocalUriSan = conn.tls.localUriSans.join(',');
    }
  }

  /** Whether any stream logger is at debug: one check keeps disabled debug lines free of closures. */
  private readonly dbg: boolean;

  private debug(logger: 'http' | 'router' | 'pool' | 'connection', source: string, msg: () => string): void {
    if (this.rt.log.enabled(logger))
      this.rt.log.write(logger, 'debug', source, msg(), this.conn.id, this.info.streamId);
  }

  private httpStat(stat: string): void {
    this.rt.stats.http('counter', this.hcm.statPrefix, stat).value++;
  }

  private clusterStat(stat: string, by = 1): void {
    if (this.cluster) this.rt.stats.cluster('counter', this.cluster.statName, stat).value += by;
  }

  start(): void {
    const { req, res, info } = this;
    const stats = this.rt.stats;
    const prefix = this.hcm.statPrefix;
    this.httpStat('downstream_rq_total');
    this.httpStat(req.httpVersionMajor === 1 ? 'downstream_rq_http1_total' : 'downstream_rq_http2_total');
    stats.http('gauge', prefix, 'downstream_rq_active').value++;
    res.on('finish', () => this.finish());
    res.on('close', () => this.onDownstreamClose());
    if (this.dbg) this.debug('http', SOURCE.newStream, () => 'new stream');

    // Absolute-form targets arrive when applications use the sidecar as their HTTP proxy.
    let path = req.url ?? '/';
    let authority = req.headers.host ?? '';
    if (!path.startsWith('/') && /^[a-z]+:\/\//i.test(path)) {
      try {
        const url = new URL(path);
        authority = url.host;
        path = `${url.pathname}${url.search}`;
      } catch {
        path = '/';
      }
    }
    info.method = req.method ?? 'GET';
    info.path = path;
    info.authority = authority;
    if (this.dbg)
      this.debug('http', SOURCE.requestHeaders, () => {
        const pseudo: HeaderBag = { ':authority': authority, ':path': path, ':method': info.method };
        return `request headers complete (end_stream=${req.readableEnded}):${dumpHeaders({ ...pseudo, ...req.headers })}`;
      });

    if (isHttp1Message(req) && bodiless(req.headers)) {
      // Nothing to stream or replay: no body listeners; the request ends as soon as Node would report it
      // (after this tick), so local replies and timers see the same order as a streamed body's end.
      process.nextTick(() => this.onRequestEnd());
    } else {
      this.body = new RequestBody(
        req,
        (n) => {
          info.bytesReceived += n;
        },
        () => this.onRequestEnd(),
      );
    }

    if (req.rawHeaders.length / 2 > this.hcm.maxHeadersCount) {
      setFlag(info, 'DPE');
      this.localReply(431, 'Request Header Fields Too Large', 'http1.too_many_headers');
      return;
    }
    if (authority === '') {
      this.localReply(400, 'Bad Request', 'missing_host_header');
      return;
    }
    this.fwd = this.sanitizedHeaders();
    info.requestHeaders = this.fwd;
    this.grpc = isGrpcRequest(this.fwd);
    if (!this.normalizeRequestPath()) return;
    if (this.hcm.inbound) {
      // The inbound side consumes the peer's metadata; the app never sees it.
      const raw = this.fwd[PEER_METADATA_HEADER];
      if (raw !== undefined) {
        this.peer = parsePeerHeader(raw);
        delete this.fwd[PEER_METADATA_HEADER];
        delete this.fwd[PEER_METADATA_ID_HEADER];
      }
    } else if (this.rt.peer) {
      this.fwd[PEER_METADATA_HEADER] = this.rt.peer.metadata;
      this.fwd[PEER_METADATA_ID_HEADER] = this.rt.peer.id;
    }
    if (!this.checkRbac()) return;
    this.routeRequest();
  }

  /**
   * The HCM's maybeNormalizePath: a path that cannot be normalized (or escaped slashes with
   * REJECT_REQUEST) is a 400; UNESCAPE_AND_REDIRECT answers 307 to the normalized path (400 for gRPC);
   * otherwise the normalized path is what RBAC, routing and the upstream see. Returns false when answered.
   */
  private normalizeRequestPath(): boolean {
    const info = this.info;
    const result = normalizePath(info.path ?? '/', this.hcm.pathOptions);
    if (result.action === 'continue') {
      info.path = result.path;
      return true;
    }
    if (result.action === 'reject' || this.grpc) {
      this.httpStat('downstream_rq_failed_path_normalization');
      this.localReply(400, '', result.details);
      return false;
    }
    this.httpStat('downstream_rq_redirected_with_normalized_path');
    this.localReply(result.status, '', result.details, false, { location: result.path });
    return false;
  }

  /**
   * The `envoy.filters.http.rbac` filters in chain order (Istio: AUDIT, DENY, ALLOW), before routing: the
   * first denial answers 403 `RBAC: access denied` with `rbac_access_denied_matched_policy[...]` details.
   * Envoy sets no response flag for it. Returns false when the request was denied.
   */
  private checkRbac(): boolean {
    const filters = this.hcm.rbacFilters;
    if (filters.length === 0) return true;
    const attrs = this.rbacAttributes();
    const counter = (stat: string): void => this.httpStat(stat);
    for (const f of filters) {
      if (this.rt.log.enabled('rbac'))
        this.rt.log.write('rbac', 'debug', rbacSource('http', 'checking'), this.rbacCheckingLine(attrs));
      const decision = evaluateRbac(f.rbac, attrs);
      reportRbac(this.rt, f.rbac, decision, counter, 'http');
      if (!decision.allowed) {
        this.localReply(RBAC_DENIED_STATUS, RBAC_DENIED_BODY, rbacResponseCodeDetails(decision));
        return false;
      }
    }
    return true;
  }

  /** What RBAC reads from this request: the connection, the remote address after XFF, the headers. */
  private rbacAttributes(): RbacAttributes {
    const info = this.info;
    const a = connectionRbacAttributes(this.conn);
    a.remoteAddress = this.remoteIp || this.conn.remoteIp;
    a.headers = {
      ...this.fwd,
      ':authority': info.authority ?? '',
      ':method': info.method ?? 'GET',
      ':path': info.path ?? '/',
      ':scheme': info.scheme,
    };
    return a;
  }

  /** Envoy's `checking request: ...` line (rbac logger, debug). */
  private rbacCheckingLine(a: RbacAttributes): string {
    const c = this.conn;
    const ssl = c.tls
      ? `uriSanPeerCertificate: ${c.tls.peerUriSans.join(',')}, dnsSanPeerCertificate: , subjectPeerCertificate: `
      : 'none';
    const remote = a.remoteAddress === c.remoteIp ? c.remoteAddress : `${a.remoteAddress ?? ''}:0`;
    return (
      `checking request: requestedServerName: ${c.requestedServerName ?? ''}, sourceIP: ${c.remoteAddress}, ` +
      `directRemoteIP: ${c.remoteAddress}, remoteIP: ${remote},localAddress: ${c.localAddress}, ssl: ${ssl}, ` +
      `headers: ${dumpHeaders(a.headers ?? {})}, dynamicMetadata: `
    );
  }

  /** The HCM's request header mutation: x-envoy-* cleaning, XFF, x-forwarded-proto, x-request-id. */
  private sanitizedHeaders(): OutgoingHeaders {
    const out: OutgoingHeaders = {};
    const h = this.req.headers;
    for (const name in h) {
      const v = h[name];
      if (v === undefined || name === 'host' || ENVOY_INTERNAL.has(name)) continue;
      if (HOP_BY_HOP.has(name)) {
        // TE crosses the proxy only as `trailers`, which gRPC needs; other hop-by-hop headers stop here.
        if (name === 'te' && teTrailers(v)) out['te'] = 'trailers';
        continue;
      }
      out[name] = v;
    }
    const hcm = this.hcm;
    const priorXff = out['x-forwarded-for'];
    this.remoteIp = remoteAddressOf(
      Array.isArray(priorXff) ? priorXff.join(',') : priorXff,
      this.conn.remoteIp,
      hcm.useRemoteAddress,
      hcm.xffNumTrustedHops,
    );
    let internal = false;
    if (hcm.useRemoteAddress) {
      if (!hcm.skipXffAppend) {
        const prior = out['x-forwarded-for'];
        const joined = Array.isArray(prior) ? prior.join(',') : prior;
        out['x-forwarded-for'] = joined ? `${joined},${this.conn.remoteIp}` : this.conn.remoteIp;
      }
      internal = isInternalAddress(this.conn.remoteIp);
      out['x-forwarded-proto'] = this.info.scheme;
    } else {
      if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = this.info.scheme;
      const xff = out['x-forwarded-for'];
      const one = typeof xff === 'string' && !xff.includes(',') ? xff.trim() : undefined;
      internal = one !== undefined && isInternalAddress(one);
    }
    if (internal) out['x-envoy-internal'] = 'true';
    this.forwardClientCert(out);
    if (hcm.generateRequestId) {
      const id = out['x-request-id'];
      if (
        id === undefined ||
        id === '' ||
        (!internal && hcm.useRemoteAddress && !hcm.preserveExternalRequestId)
      )
        out['x-request-id'] = randomUUID();
    }
    return out;
  }

  /** x-forwarded-client-cert per the HCM's forward_client_cert_details (Envoy's mutateXfccRequestHeader). */
  private forwardClientCert(out: OutgoingHeaders): void {
    const options = this.hcm.xfcc;
    const incoming = out[XFCC_HEADER];
    const tlsFacts = this.conn.tls;
    let peer: XfccPeer | undefined;
    if (tlsFacts?.peerCertificate && tlsFacts.peerChain && options.mode !== 'SANITIZE') {
      tlsFacts.xfcc ??= xfccPeer(tlsFacts.peerChain, tlsFacts.localUriSans);
      peer = tlsFacts.xfcc;
    }
    const value = forwardedClientCert(Array.isArray(incoming) ? incoming.join(',') : incoming, options, peer);
    if (value === undefined) delete out[XFCC_HEADER];
    else out[XFCC_HEADER] = value;
  }

  private routeRequest(): void {
    const info = this.info;
    const rc = this.hcm.inlineRoutes ?? this.config.routes.get(this.hcm.routeConfigName ?? '');
    const input = {
      headers: this.fwd as HeaderBag,
      method: info.method ?? 'GET',
      path: info.path ?? '/',
      authority: info.authority ?? '',
      scheme: info.scheme,
    };
    const vh = rc ? selectVirtualHost(rc, input.authority) : undefined;
    const route = vh ? matchRoute(vh, input) : undefined;
    if (!rc || !vh || !route) {
      if (this.dbg) this.debug('router', SOURCE.noRoute, () => `no route match for URL '${input.path}'`);
      this.httpStat('no_route');
      setFlag(info, 'NR');
      this.localReply(404, '', 'route_not_found');
      return;
    }
    this.rc = rc;
    this.vh = vh;
    this.route = route;
    info.routeName = route.name;
    this.armDurationTimer(route);
    if (this.hcm.corsFilter && this.applyCors(route, vh)) return;
    const fault = this.hcm.faultFilter ? (route.fault ?? vh.fault ?? this.hcm.defaultFault) : undefined;
    if (fault) {
      this.applyFault(fault, input.path);
      return;
    }
    this.routeAction(input.path, input.authority);
  }

  /**
   * The CORS filter: a preflight from an allowed origin is answered here (200, no upstream); an actual
   * request from an allowed origin continues and its response gets the allow headers. Returns true when
   * the stream was answered.
   */
  private applyCors(route: CompiledRoute, vh: CompiledVirtualHost): boolean {
    const policy = (route.action.kind === 'forward' ? route.action.cors : undefined) ?? route.cors ?? vh.cors;
    const origin = this.fwd['origin'];
    if (!policy || typeof origin !== 'string' || origin === '') return false;
    if (policy.enabled < 1 && Math.random() >= policy.enabled) return false;
    if (!originAllowed(policy, origin)) return false;
    const preflight =
      this.info.method === 'OPTIONS' && this.fwd['access-control-request-method'] !== undefined;
    if (preflight) {
      this.httpStat('cors.preflight');
      this.localReply(200, '', 'cors_response', false, preflightHeaders(policy, origin));
      return true;
    }
    this.cors = { policy, origin };
    return false;
  }

  /** The fault filter: an optional delay (DI), then an optional abort (FI) with Envoy's body and details. */
  private applyFault(fault: FaultConfig, path: string): void {
    const abort = fault.abort && Math.random() < fault.abort.probability ? fault.abort : undefined;
    const doAbort = (): void => {
      if (!abort) {
        this.routeAction(path, this.info.authority ?? '');
        return;
      }
      setFlag(this.info, 'FI');
      this.httpStat('fault.aborts_injected');
      if (abort.grpcStatus !== undefined) {
        this.localReply(200, '', 'fault_filter_abort', false, {
          'content-type': 'application/grpc',
          'grpc-status': String(abort.grpcStatus),
          'grpc-message': 'fault filter abort',
        });
        return;
      }
      this.localReply(abort.httpStatus ?? 503, 'fault filter abort', 'fault_filter_abort');
    };
    if (fault.delay && Math.random() < fault.delay.probability) {
      setFlag(this.info, 'DI');
      this.httpStat('fault.delays_injected');
      this.faultTimer = setTimeout(() => {
        this.faultTimer = undefined;
        if (!this.finished) doAbort();
      }, fault.delay.ms);
      return;
    }
    doAbort();
  }

  /** The router's part after route selection: direct responses, redirects, or a cluster to forward to. */
  private routeAction(path: string, authority: string): void {
    const info = this.info;
    const route = this.route;
    const vh = this.vh;
    const rc = this.rc;
    if (!route || !vh || !rc) return;
    const input = { path, authority };
    const action = route.action;
    if (action.kind === 'direct') {
      this.httpStat('rq_direct_response');
      this.localReply(action.status, action.body, 'direct_response', true);
      return;
    }
    if (action.kind === 'redirect') {
      this.httpStat('rq_redirect');
      const location = redirectLocation(route, action, info.scheme, input.authority, input.path);
      this.localReply(action.status, '', 'direct_response', true, { location });
      return;
    }
    this.action = action;
    let clusterName = action.cluster;
    if (action.weighted) {
      const picked = pickWeighted(action.weighted);
      clusterName = picked?.name;
      if (picked)
        this.clusterMutations = { request: picked.requestHeaders, response: picked.responseHeaders };
    } else if (action.clusterHeader !== undefined) {
      const v = this.fwd[action.clusterHeader];
      clusterName = Array.isArray(v) ? v[0] : v;
    }
    const cluster = clusterName !== undefined ? this.config.clusters.get(clusterName) : undefined;
    if (!cluster) {
      if (this.dbg) this.debug('router', SOURCE.noCluster, () => `unknown cluster '${clusterName ?? ''}'`);
      this.httpStat('no_cluster');
      setFlag(info, 'NC');
      this.localReply(503, '', 'cluster_not_found');
      return;
    }
    this.cluster = cluster;
    this.crt = clusterRuntime(this.rt, cluster.name, cluster.statName);
    info.upstreamCluster = cluster.name;
    info.upstreamClusterStatName = cluster.statName;
    if (this.dbg)
      this.debug(
        'router',
        SOURCE.clusterMatch,
        () => `cluster '${cluster.name}' match for URL '${input.path}'`,
      );

    // Rewrites change the forwarded request; x-envoy-original-path keeps the downstream path.
    const rewritten = rewritePath(route, input.path);
    if (rewritten !== undefined) {
      info.originalPath = input.path;
      info.path = rewritten;
      if (!this.hcm.suppressEnvoyHeaders) this.fwd['x-envoy-original-path'] = input.path;
    }
    if (action.hostRewriteLiteral !== undefined) info.authority = action.hostRewriteLiteral;
    applyMutations(this.fwd, [
      this.clusterMutations.request,
      route.requestHeaders,
      vh.requestHeaders,
      rc.requestHeaders,
    ]);

    this.retry = action.retry ?? vh.retry;
    this.setRouteTimeouts(action);
    if (route.decorator !== undefined && this.fwd['x-envoy-decorator-operation'] === undefined)
      this.fwd['x-envoy-decorator-operation'] = route.decorator;
    this.fwd['x-forwarded-proto'] ??= info.scheme;
    this.fwd['host'] = info.authority ?? '';

    for (const m of action.mirrors)
      if (m.probability >= 1 || Math.random() < m.probability) this.mirror(m.cluster);
    if (this.requestEnded) this.armGlobalTimer();
    this.startAttempt();
  }

  /**
   * The router's FilterUtility::finalTimeout and setTimeoutHeaders: with a MaxStreamDuration on the route
   * (Envoy's "new timeouts") the router has no global timeout; otherwise the route timeout, or for gRPC
   * requests under max_grpc_timeout the grpc-timeout header's (offset, capped). The expected timeout (the
   * per-try timeout when shorter) goes upstream in x-envoy-expected-rq-timeout-ms and, under
   * max_grpc_timeout, in grpc-timeout.
   */
  private setRouteTimeouts(action: ForwardAction): void {
    const legacy = action.maxStreamDuration ? undefined : action.legacyGrpcTimeout;
    const grpcLegacy = this.grpc && legacy !== undefined;
    if (action.maxStreamDuration) this.globalTimeoutMs = 0;
    else if (grpcLegacy)
      this.globalTimeoutMs = legacyGrpcGlobalTimeout(legacy, parseGrpcTimeout(this.fwd['grpc-timeout']));
    else this.globalTimeoutMs = action.timeoutMs;
    const global = this.globalTimeoutMs;
    const perTry = this.retry?.perTryTimeoutMs ?? 0;
    const expected = perTry > 0 && (global === 0 || perTry < global) ? perTry : global;
    if (expected <= 0) return;
    if (!this.hcm.suppressEnvoyHeaders) this.fwd['x-envoy-expected-rq-timeout-ms'] = String(expected);
    if (grpcLegacy) this.fwd['grpc-timeout'] = formatGrpcTimeout(expected);
  }

  /**
   * The HCM's refreshDurationTimeout once the route is known: a route with MaxStreamDuration bounds the
   * stream (from its start) by max_stream_duration, or for gRPC requests with grpc_timeout_header_max by
   * the grpc-timeout header, which is rewritten to the limit.
   */
  private armDurationTimer(route: CompiledRoute): void {
    const action = route.action;
    if (action.kind !== 'forward' || !action.maxStreamDuration) return;
    const timer = durationTimer(
      action.maxStreamDuration,
      parseGrpcTimeout(this.fwd['grpc-timeout']),
      this.grpc,
    );
    if (timer.timeoutMs === undefined) return;
    if (timer.grpcTimeout !== undefined) this.fwd['grpc-timeout'] = timer.grpcTimeout;
    const left = Math.max(0, timer.timeoutMs - (performance.now() - this.info.startMono));
    this.durationTimer = setTimeout(() => this.onStreamMaxDurationReached(), left);
  }

  /**
   * ActiveStream::onStreamMaxDurationReached: 504 when the request was received whole, else 408, body
   * `downstream duration timeout`, gRPC DEADLINE_EXCEEDED, details max_duration_timeout and no response
   * flag (Envoy sets DT only for connection durations); the upstream request is reset.
   */
  private onStreamMaxDurationReached(): void {
    this.durationTimer = undefined;
    if (this.finished) return;
    if (this.dbg) this.debug('http', STREAM_MAX_DURATION_SOURCE, () => 'Stream max duration time reached');
    this.httpStat('downstream_rq_max_duration_reached');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.faultTimer) clearTimeout(this.faultTimer);
    this.faultTimer = undefined;
    if (this.attempt && !this.attempt.abandoned) this.abandon(this.attempt);
    this.localReply(
      this.requestEnded ? 504 : 408,
      'downstream duration timeout',
      'max_duration_timeout',
      false,
      this.grpc ? { 'grpc-status': String(GRPC_DEADLINE_EXCEEDED) } : {},
    );
  }

  /**
   * Request mirroring: a fire-and-forget copy to another cluster with `-shadow` appended to the host.
   * Its response is drained and ignored; its failures never affect the main request.
   */
  private mirror(clusterName: string): void {
    const cluster = this.config.clusters.get(clusterName);
    if (!cluster) return;
    const crt = clusterRuntime(this.rt, cluster.name, cluster.statName);
    const host = pickHost(cluster.lbPolicy, cluster.hosts, crt.lb);
    if (!host) return;
    const authority = shadowAuthority(this.info.authority ?? '');
    const headers: OutgoingHeaders = { ...this.fwd, host: authority };
    const timeoutMs = this.globalTimeoutMs > 0 ? this.globalTimeoutMs : 15_000;
    try {
      const localAddress = upstreamLocalAddress(this.rt, host.address);
      let req: UpstreamRequest;
      if (usesHttp2(cluster, this.req.httpVersionMajor)) {
        // The shadow goes through the mirror cluster's HTTP/2 pool, as the main request would.
        const h2req = new H2UpstreamRequest(h2PoolOf(crt), h2Target(cluster, host, undefined, localAddress), {
          method: this.info.method ?? 'GET',
          path: this.info.path ?? '/',
          authority,
          scheme: 'http',
          headers,
        });
        const timer = setTimeout(() => h2req.destroy(), timeoutMs);
        timer.unref();
        const done = (): void => clearTimeout(timer);
        h2req.on('response', (r: UpstreamResponse) => {
          r.on('end', done);
          r.on('aborted', done);
        });
        h2req.on('error', done);
        req = h2req;
      } else {
        const h1req = http.request({
          host: host.address,
          port: host.port,
          method: this.info.method,
          path: this.info.path,
          headers,
          agent: crt.agent,
          setHost: false,
          ...(localAddress !== undefined ? { localAddress } : {}),
        });
        h1req.on('response', (r) => r.resume());
        h1req.setTimeout(timeoutMs, () => h1req.destroy());
        req = h1req;
      }
      req.on('error', () => undefined);
      this.rt.stats.cluster('counter', cluster.statName, 'upstream_rq_total').value++;
      if (this.body) this.body.mirror(req);
      else req.end();
    } catch {
      // A shadow that cannot even be built is dropped silently, as Envoy's shadow writer does.
    }
  }

  /** The route's hash policies applied to this request (RING_HASH / MAGLEV clusters). */
  private requestHash(): number | undefined {
    const policies = this.action?.hashPolicies ?? [];
    if (policies.length === 0) return undefined;
    return requestHash(policies, {
      headers: this.fwd,
      path: this.info.path ?? '/',
      sourceIp: this.conn.remoteIp,
      generateCookie: (name, path, ttlMs) => {
        // As Envoy: the value is a hash of the connection's addresses, so one connection keeps one cookie.
        const value = fnvHex(`${this.conn.remoteAddress}${this.conn.localAddress}`);
        let cookie = `${name}="${value}"`;
        if (ttlMs > 0) cookie += `; Max-Age=${Math.floor(ttlMs / 1000)}`;
        if (path) cookie += `; Path=${path}`;
        (this.setCookies ??= []).push(`${cookie}; HttpOnly`);
        return value;
      },
    });
  }

  /** Feeds the outlier detector: an HTTP status, or 0 for a local-origin failure. */
  private outlierResult(a: Attempt, status: number): void {
    if (a.stats) {
      if (status === 0 || status >= 500) a.stats.rq_error++;
      else a.stats.rq_success++;
    }
    const cluster = this.cluster;
    if (cluster?.outlier && this.crt)
      this.crt.outlier.record(cluster.outlier, a.host.key, status, cluster.hosts.length);
  }

  private onRequestEnd(): void {
    this.requestEnded = true;
    if (this.dbg) this.debug('http', SOURCE.requestEnd, () => 'request end stream');
    if (this.cluster && !this.finished) {
      this.armGlobalTimer();
      if (this.attempt && !this.attempt.perTryTimer) this.armPerTry(this.attempt);
    }
  }

  /** The route timeout runs from the end of the downstream request, across retries. */
  private armGlobalTimer(): void {
    if (this.globalTimer || this.globalTimeoutMs <= 0) return;
    this.globalTimer = setTimeout(() => this.onGlobalTimeout(), this.globalTimeoutMs);
  }

  private armPerTry(a: Attempt): void {
    const ms = this.retry?.perTryTimeoutMs ?? 0;
    if (ms <= 0 || !this.requestEnded || a.perTryTimer) return;
    a.perTryTimer = setTimeout(() => this.onPerTryTimeout(a), ms);
  }

  private startAttempt(): void {
    const cluster = this.cluster;
    const crt = this.crt;
    if (!cluster || !crt || this.finished) return;
    this.retryTimer = undefined;
    const info = this.info;
    let host: Host | undefined;
    if (cluster.lbPolicy === 'CLUSTER_PROVIDED') host = originalDestination(info.authority ?? '');
    else {
      if (cluster.hashTable && !this.hashComputed) {
        this.hashComputed = true;
        this.hash = this.requestHash();
      }
      const outlier = cluster.outlier ? crt.outlier : undefined;
      host = pickHost(cluster.lbPolicy, cluster.hosts, crt.lb, {
        avoid: this.triedHosts,
        hash: this.hash,
        table: cluster.hashTable,
        ejected: outlier ? (h) => outlier.isEjected(h.key) : undefined,
      });
    }
    if (!host) {
      this.clusterStat('upstream_cx_none_healthy');
      setFlag(info, 'UH');
      this.localReply(503, 'no healthy upstream', 'no_healthy_upstream');
      return;
    }
    if (crt.active >= cluster.maxRequests) {
      this.clusterStat('upstream_rq_pending_overflow');
      setFlag(info, 'UO');
      this.localReply(
        503,
        'upstream connect error or disconnect/reset before headers. reset reason: overflow',
        'upstream_reset_before_response_started{overflow}',
      );
      return;
    }
    this.attempts++;
    info.attemptCount = this.attempts;
    info.upstreamHost = host.key;
    if (this.retry?.avoidPreviousHosts) (this.triedHosts ??= new Set()).add(host.key);
    const a: Attempt = {
      number: this.attempts,
      host,
      startMono: performance.now(),
      connected: false,
      responded: false,
      abandoned: false,
      ended: false,
    };
    this.attempt = a;
    const hs = hostStats(crt, host.key);
    a.stats = hs;
    hs.rq_total++;
    hs.rq_active++;
    // The forwarded headers go out as they are (no per-attempt copy); only the attempt count changes.
    const headers = this.fwd;
    if (this.vh?.includeAttemptCount) headers['x-envoy-attempt-count'] = String(a.number);
    if (this.dbg)
      this.debug('router', SOURCE.routerDecoding, () => {
        const pseudo = {
          ':authority': info.authority,
          ':path': info.path,
          ':method': info.method,
          ':scheme': info.scheme,
        };
        const { host: _h, ...rest } = headers;
        return `router decoding headers:${dumpHeaders({ ...pseudo, ...rest })}`;
      });
    crt.active++;
    trackStart(crt.lb, host);
    this.clusterStat('upstream_rq_total');
    this.rt.stats.cluster('gauge', cluster.statName, 'upstream_rq_active').value++;
    const h2 = usesHttp2(cluster, this.req.httpVersionMajor);
    const tlsConfig = upstreamTlsFor(cluster, host);
    let secure: (https.RequestOptions & tls.ConnectionOptions) | undefined;
    if (tlsConfig) {
      const resolved = resolveTls(tlsConfig, this.rt.secrets);
      if ('error' in resolved) {
        // Envoy's "not ready" TLS socket: the connection fails at once with the SDS reason.
        const err: TransportError = new Error(resolved.error);
        err.transportFailureReason = resolved.error;
        setImmediate(() => this.onUpstreamError(a, err));
        return;
      }
      a.tls = { config: tlsConfig, resolved };
      // Istio's istio.alpn filter: the ALPN for the upstream protocol, when the cluster allows the override.
      const alpnOverride = h2 ? this.hcm.upstreamAlpnH2 : this.hcm.upstreamAlpn;
      secure = {
        agent: tlsAgentOf(crt),
        secureContext: resolved.context,
        rejectUnauthorized: false,
        ALPNProtocols: alpnOverride && cluster.alpnOverride ? alpnOverride : tlsConfig.alpn,
      };
      if (tlsConfig.sni !== undefined) secure.servername = tlsConfig.sni;
    }
    let req: UpstreamRequest;
    try {
      const localAddress = upstreamLocalAddress(this.rt, host.address);
      if (h2) {
        const target = h2Target(cluster, host, secure, localAddress);
        req = new H2UpstreamRequest(h2PoolOf(crt), target, {
          method: info.method ?? 'GET',
          path: info.path ?? '/',
          authority: info.authority ?? '',
          scheme: secure ? 'https' : 'http',
          headers,
        });
      } else {
        const options: http.RequestOptions = {
          host: host.address,
          port: host.port,
          method: info.method,
          path: info.path,
          headers,
          agent: crt.agent,
          setHost: false,
        };
        if (localAddress !== undefined) options.localAddress = localAddress;
        req = secure ? https.request({ ...options, ...secure }) : http.request(options);
      }
    } catch {
      // Header values Node refuses (invalid characters) end the attempt like a protocol error.
      this.endAttempt(a);
      setFlag(info, 'DPE');
      this.localReply(400, 'Bad Request', 'http1.codec_error');
      return;
    }
    a.req = req;
    req.on('socket', (socket: Socket) => this.onSocket(a, socket, cluster, h2));
    req.on('response', (ures) => this.onUpstreamResponse(a, ures));
    req.on('error', (err) => this.onUpstreamError(a, err));
    // Without a retry policy nothing will be replayed, so the body streams through unbuffered.
    if (this.body && !this.retry) this.body.replayable = false;
    if (this.body) this.body.attach(req);
    else req.end();
    this.armPerTry(a);
  }

  private onSocket(a: Attempt, socket: Socket, cluster: CompiledCluster, h2: boolean): void {
    let id = socketIds.get(socket);
    const reused = id !== undefined && !socket.connecting;
    if (id === undefined) {
      id = this.rt.nextConnectionId();
      socketIds.set(socket, id);
    }
    a.upstreamConnectionId = id;
    const cid = id;
    const ready = (): void => {
      a.connected = true;
      const facts = upstreamTls.get(socket);
      if (facts) {
        if (facts.peerUriSans.length > 0) this.info.upstreamPeerUriSan = facts.peerUriSans.join(',');
        if (facts.localUriSans.length > 0) this.info.upstreamLocalUriSan = facts.localUriSans.join(',');
      }
      this.info.upstreamLocalAddress = joinHostPort(socket.localAddress, socket.localPort);
      if (this.dbg) this.debug('pool', SOURCE.poolCreate, () => `[C${cid}] creating stream`);
      if (this.dbg) this.debug('router', SOURCE.poolReady, () => 'pool ready');
    };
    if (reused) {
      if (this.dbg)
        this.debug('pool', SOURCE.poolExisting, () => `[C${cid}] using existing fully connected connection`);
      ready();
      return;
    }
    if (this.dbg)
      this.debug('pool', SOURCE.poolNewConnection, () => `creating a new connection (connecting=0)`);
    this.rt.stats.cluster('counter', cluster.statName, 'upstream_cx_total').value++;
    // Envoy's codec client counts each new connection by its protocol.
    this.rt.stats.cluster(
      'counter',
      cluster.statName,
      h2 ? 'upstream_cx_http2_total' : 'upstream_cx_http1_total',
    ).value++;
    const active = this.rt.stats.cluster('gauge', cluster.statName, 'upstream_cx_active');
    active.value++;
    const hs = a.stats;
    if (hs) {
      hs.cx_total++;
      hs.cx_active++;
    }
    socket.once('close', () => {
      active.value--;
      if (hs) hs.cx_active--;
    });
    const timer = setTimeout(() => {
      const err = new Error('connect timeout') as NodeJS.ErrnoException;
      err.code = 'ECONNECTTIMEOUT';
      this.clusterStat('upstream_cx_connect_timeout');
      socket.destroy(err);
    }, cluster.connectTimeoutMs);
    const tlsAttempt = a.tls;
    if (tlsAttempt && socket instanceof tls.TLSSocket) {
      // A TLS connection is connected once the handshake is done and the server passed the checks.
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const chain = peerChain(socket);
        const failure =
          chain.length === 0
            ? {
                reason: 'TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED',
                detail: 'no peer certificate',
              }
            : verifyPeer(chain, tlsAttempt.resolved, tlsAttempt.config.sanMatchers);
        if (failure && (tlsAttempt.resolved.roots || failure.detail.includes('SAN'))) {
          this.clusterStat(failure.detail.includes('SAN') ? 'ssl.fail_verify_san' : 'ssl.fail_verify_error');
          this.clusterStat('ssl.connection_error');
          this.debug('connection', SOURCE.connected, () => failure.detail);
          const err: TransportError = new Error(failure.reason);
          err.code = 'ERR_TLS_PEER_VERIFY';
          err.transportFailureReason = failure.reason;
          socket.destroy(err);
          return;
        }
        this.clusterStat('ssl.handshake');
        upstreamTls.set(socket, {
          peerUriSans: uriSans(chain[0]),
          localUriSans: uriSans(tlsAttempt.resolved.own),
        });
        ready();
      });
    } else {
      socket.once('connect', () => {
        clearTimeout(timer);
        ready();
      });
    }
    socket.once('close', () => clearTimeout(timer));
  }

  private endAttempt(a: Attempt): void {
    if (a.perTryTimer) clearTimeout(a.perTryTimer);
    a.perTryTimer = undefined;
    const crt = this.crt;
    if (crt && this.cluster && !a.ended) {
      a.ended = true;
      if (a.stats) a.stats.rq_active--;
      trackEnd(crt.lb, a.host);
      this.rt.stats.cluster('gauge', this.cluster.statName, 'upstream_rq_active').value--;
      releaseCluster(this.rt, crt);
    }
  }

  /** Stops an attempt whose outcome no longer matters and resets its upstream stream. */
  private abandon(a: Attempt): void {
    a.abandoned = true;
    this.body?.detach();
    if (this.dbg) this.debug('router', SOURCE.resetPool, () => 'resetting pool request');
    a.req?.destroy();
    this.endAttempt(a);
  }

  private canRetry(): boolean {
    const r = this.retry;
    return (
      r !== undefined && this.attempts <= r.numRetries && (this.body?.replayable ?? true) && !this.finished
    );
  }

  private scheduleRetry(): void {
    const policy = this.retry;
    if (!policy) return;
    this.clusterStat('upstream_rq_retry');
    const wait = backOffMs(policy, this.attempts);
    if (this.dbg) this.debug('router', SOURCE.retry, () => `performing retry`);
    this.retryTimer = setTimeout(() => this.startAttempt(), wait);
  }

  /** Marks the stream URX when the policy would have retried but the attempts are used up. */
  private retryLimitReached(): void {
    if (this.retry && this.attempts > this.retry.numRetries) {
      setFlag(this.info, 'URX');
      this.clusterStat('upstream_rq_retry_limit_exceeded');
    }
  }

  private onUpstreamResponse(a: Attempt, ures: UpstreamResponse): void {
    if (a.abandoned || this.finished) {
      ures.resume();
      return;
    }
    a.responded = true;
    if (a.perTryTimer) clearTimeout(a.perTryTimer);
    a.perTryTimer = undefined;
    const status = ures.statusCode ?? 502;
    this.outlierResult(a, status);
    const policy = this.retry;
    if (policy && retriableStatus(policy, status)) {
      if (this.canRetry()) {
        if (this.dbg)
          this.debug('router', SOURCE.upstreamHeaders, () => `upstream headers complete: end_stream=false`);
        ures.resume();
        ures.on('end', () => this.endAttempt(a));
        ures.on('error', () => this.endAttempt(a));
        a.abandoned = true;
        this.body?.detach();
        if (this.cluster) this.rt.stats.clusterStatus(this.cluster.statName).code(status).value++;
        this.scheduleRetry();
        return;
      }
      this.retryLimitReached();
    }
    const info = this.info;
    const now = performance.now();
    info.firstUpstreamByteMono = now;
    const cluster = this.cluster;
    if (cluster) {
      const codes = this.rt.stats.clusterStatus(cluster.statName);
      codes.code(status).value++;
      codes.codeClass(status).value++;
      this.clusterStat('upstream_rq_completed');
      observe(this.rt.stats.cluster('histogram', cluster.statName, 'upstream_rq_time'), now - a.startMono);
    }
    const headers: OutgoingHeaders = {};
    const uh = ures.headers;
    for (const k in uh) {
      const v = uh[k];
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    }
    this.exchangeResponseMetadata(headers);
    if (this.cors) Object.assign(headers, responseCorsHeaders(this.cors.policy, this.cors.origin));
    if (this.setCookies !== undefined && this.setCookies.length > 0) {
      const prior = headers['set-cookie'];
      headers['set-cookie'] = [
        ...(prior === undefined ? [] : Array.isArray(prior) ? prior : [prior]),
        ...this.setCookies,
      ];
    }
    if (!this.hcm.suppressEnvoyHeaders)
      headers['x-envoy-upstream-service-time'] = String(Math.floor(now - a.startMono));
    this.setServerHeader(headers);
    this.applyResponseMutations(headers);
    info.responseCode = status;
    info.details = 'via_upstream';
    info.responseHeaders = headers;
    if (this.dbg)
      this.debug('http', SOURCE.encodeHeaders, () => {
        return `encoding headers via codec (end_stream=false):${dumpHeaders({ ':status': String(status), ...headers })}`;
      });
    try {
      this.res.writeHead(status, headers);
    } catch {
      this.res.writeHead(502);
    }
    const res = this.res;
    ures.on('data', (chunk: Buffer) => {
      info.bytesSent += chunk.length;
      if (!res.write(chunk)) {
        ures.pause();
        res.once('drain', () => ures.resume());
      }
    });
    ures.on('end', () => {
      this.endAttempt(a);
      this.trailers = forwardTrailers(ures, res);
      res.end();
    });
    const onReset = (err?: UpstreamResetError): void => {
      if (ures.complete || this.finished) return;
      this.endAttempt(a);
      const reason = err?.resetReason ?? 'connection_termination';
      setFlag(info, resetFlag(reason));
      info.details = `upstream_reset_after_response_started{${reason}}`;
      res.destroy();
    };
    ures.on('aborted', onReset);
    ures.on('error', onReset);
  }

  /**
   * Metadata exchange on the response: the outbound side learns (and strips) the upstream's metadata; the
   * inbound side sends its own back to the caller.
   */
  private exchangeResponseMetadata(headers: OutgoingHeaders): void {
    if (this.hcm.inbound) {
      if (this.rt.peer) {
        headers[PEER_METADATA_HEADER] = this.rt.peer.metadata;
        headers[PEER_METADATA_ID_HEADER] = this.rt.peer.id;
      }
      return;
    }
    const raw = headers[PEER_METADATA_HEADER];
    if (raw === undefined) return;
    this.peer = parsePeerHeader(raw);
    delete headers[PEER_METADATA_HEADER];
    delete headers[PEER_METADATA_ID_HEADER];
  }

  private onUpstreamError(a: Attempt, err: NodeJS.ErrnoException): void {
    if (a.abandoned || a.responded || this.finished) return;
    this.outlierResult(a, 0);
    this.endAttempt(a);
    this.body?.detach();
    const reason: UpstreamResetReason =
      (err as UpstreamResetError).resetReason ??
      // The HTTP/1 codec could not parse the upstream's response: Envoy's codec client protocol error.
      ((err.code ?? '').startsWith('HPE_')
        ? 'protocol_error'
        : a.connected
          ? 'connection_termination'
          : 'connection_failure');
    // A TLS handshake that fails is a connection failure with the TLS error as its transport reason.
    let transport = (err as TransportError).transportFailureReason;
    if (transport === undefined && a.tls && !a.connected && (err.code ?? '').startsWith('ERR_SSL_'))
      transport = tlsFailureReason(err);
    if (reason === 'connection_failure') {
      this.clusterStat('upstream_cx_connect_fail');
      if (a.stats) a.stats.cx_connect_fail++;
      if (transport !== undefined) this.info.upstreamTransportFailureReason = transport;
    }
    if (this.dbg)
      this.debug(
        'router',
        SOURCE.resetStream,
        () =>
          `upstream reset: reset reason: ${reason.replaceAll('_', ' ')}, transport failure reason: ${transport ?? err.code ?? err.message}`,
      );
    const policy = this.retry;
    if (policy && retriableUpstreamReset(policy, reason)) {
      if (this.canRetry()) {
        this.scheduleRetry();
        return;
      }
      this.retryLimitReached();
    }
    setFlag(this.info, resetFlag(reason));
    const retried = this.attempts > 1 ? 'retried and the latest ' : '';
    const why = reason === 'connection_failure' ? transport : undefined;
    this.localReply(
      503,
      `upstream connect error or disconnect/reset before headers. ${retried}reset reason: ${reason.replaceAll('_', ' ')}` +
        (why !== undefined ? `, transport failure reason: ${why}` : ''),
      // Envoy writes the details with spaces turned into underscores.
      `upstream_reset_before_response_started{${reason}${why !== undefined ? `,${why.replace(/\s/g, '_')}` : ''}}`,
    );
  }

  private onPerTryTimeout(a: Attempt): void {
    if (a.abandoned || a.responded || this.finished) return;
    a.perTryTimer = undefined;
    this.outlierResult(a, 0);
    if (a.stats) a.stats.rq_timeout++;
    if (this.dbg) this.debug('router', SOURCE.perTryTimeout, () => 'upstream per try timeout');
    this.clusterStat('upstream_rq_per_try_timeout');
    this.abandon(a);
    const policy = this.retry;
    if (policy && retriableReset(policy, 'per_try_timeout')) {
      if (this.canRetry()) {
        this.scheduleRetry();
        return;
      }
      this.retryLimitReached();
    }
    this.clusterStat('upstream_rq_504');
    this.clusterStat('upstream_rq_5xx');
    setFlag(this.info, 'UT');
    this.localReply(504, TIMEOUT_BODY, 'upstream_per_try_timeout');
  }

  private onGlobalTimeout(): void {
    this.globalTimer = undefined;
    if (this.finished) return;
    if (this.dbg) this.debug('router', SOURCE.upstreamTimeout, () => 'upstream timeout');
    this.clusterStat('upstream_rq_timeout');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    setFlag(this.info, 'UT');
    if (this.res.headersSent) {
      // Envoy resets a stream whose response already started.
      if (this.attempt) this.abandon(this.attempt);
      this.res.destroy();
      return;
    }
    if (this.attempt && !this.attempt.abandoned) this.abandon(this.attempt);
    this.clusterStat('upstream_rq_504');
    this.clusterStat('upstream_rq_5xx');
    this.localReply(504, TIMEOUT_BODY, 'response_timeout');
  }

  private setServerHeader(headers: OutgoingHeaders): void {
    const mode = this.hcm.serverHeader;
    if (mode === 'overwrite' || (mode === 'append-if-absent' && headers['server'] === undefined))
      headers['server'] = this.hcm.serverName;
  }

  private applyResponseMutations(headers: OutgoingHeaders): void {
    const list: HeaderMutation[] = [this.clusterMutations.response];
    if (this.route) list.push(this.route.responseHeaders);
    if (this.vh) list.push(this.vh.responseHeaders);
    if (this.rc) list.push(this.rc.responseHeaders);
    applyMutations(headers, list);
  }

  /** Envoy's local reply: status, text/plain body when there is one, server header; logged as sent. */
  private localReply(
    status: number,
    body: string,
    details: string,
    routeHeaders = false,
    extra: OutgoingHeaders = {},
  ): void {
    const info = this.info;
    const res = this.res;
    if (this.finished) return;
    if (this.globalTimer) clearTimeout(this.globalTimer);
    this.globalTimer = undefined;
    info.details = details;
    if (this.dbg) this.debug('http', SOURCE.localReply, () => `Sending local reply with details ${details}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A gRPC request gets a trailers-only reply: HTTP 200 (as logged) with the status in grpc-status.
    const grpc = this.grpc;
    const code = grpc ? 200 : status;
    const payload = grpc ? Buffer.alloc(0) : Buffer.from(body, 'latin1');
    const headers: OutgoingHeaders = grpc
      ? grpcLocalReplyHeaders(status, body, extra)
      : { ...extra, 'content-length': String(payload.length) };
    if (!grpc && payload.length > 0) headers['content-type'] = 'text/plain';
    this.setServerHeader(headers);
    if (routeHeaders) this.applyResponseMutations(headers);
    info.responseCode = code;
    info.responseHeaders = headers;
    info.bytesSent = payload.length;
    if (this.dbg)
      this.debug('http', SOURCE.encodeHeaders, () => {
        return `encoding headers via codec (end_stream=${payload.length === 0}):${dumpHeaders({ ':status': String(code), ...headers })}`;
      });
    if (!this.requestEnded) headers['connection'] = 'close';
    try {
      res.writeHead(code, headers);
      res.end(payload);
    } catch {
      res.destroy();
    }
  }

  private onDownstreamClose(): void {
    if (this.finished) return;
    if (!this.res.writableFinished) {
      setFlag(this.info, 'DC');
      if (!this.res.headersSent || this.info.details === undefined)
        this.info.details = 'downstream_remote_disconnect';
      if (!this.res.headersSent) this.info.responseCode = 0;
      if (this.dbg) this.debug('http', SOURCE.remoteClose, () => 'stream reset: reset reason: remote reset');
      if (this.attempt && !this.attempt.abandoned) this.abandon(this.attempt);
      else if (this.attempt) this.endAttempt(this.attempt);
    }
    this.finish();
  }

  private recordIstioMetrics(): void {
    const info = this.info;
    const inbound = this.hcm.inbound;
    // Without metadata exchange the outbound side still knows the endpoint's workload from EDS metadata.
    const peer = this.peer ?? (inbound ? undefined : peerFromWorkloadMetadata(this.attempt?.host.workload));
    const o: Parameters<NonNullable<Runtime['istio']>['record']>[0] = {
      reporter: inbound ? 'destination' : 'source',
      protocol: this.grpc ? 'grpc' : 'http',
      responseCode: info.responseCode,
      responseFlags: flagsShort(info.flags) ?? '-',
      durationMs: (info.endMono ?? info.startMono) - info.startMono,
      requestBytes: info.bytesReceived,
      responseBytes: info.bytesSent,
    };
    if (peer) o.peer = peer;
    if (inbound) {
      const t = this.conn.tls;
      if (t?.peerCertificate) o.mtls = true;
      if (t?.peerUriSans[0] !== undefined) o.sourcePrincipal = t.peerUriSans[0];
      if (t?.localUriSans[0] !== undefined && t.peerCertificate) o.destinationPrincipal = t.localUriSans[0];
    } else {
      const peerSan = info.upstreamPeerUriSan?.split(',')[0];
      const localSan = info.upstreamLocalUriSan?.split(',')[0];
      if (peerSan !== undefined) o.destinationPrincipal = peerSan;
      if (localSan !== undefined) o.sourcePrincipal = localSan;
    }
    if (this.cluster?.istioService) o.service = this.cluster.istioService;
    if (info.authority) o.authority = info.authority;
    const grpcStatus = this.grpc
      ? (grpcStatusOf(this.trailers) ?? grpcStatusOf(info.responseHeaders))
      : undefined;
    if (grpcStatus !== undefined) o.grpcStatus = grpcStatus;
    this.rt.istio?.record(o);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.globalTimer) clearTimeout(this.globalTimer);
    if (this.durationTimer) clearTimeout(this.durationTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.faultTimer) clearTimeout(this.faultTimer);
    if (this.attempt?.perTryTimer) clearTimeout(this.attempt.perTryTimer);
    if (this.attempt && hasFlag(this.info, 'DC')) this.endAttempt(this.attempt);
    const info = this.info;
    info.endMono = performance.now();
    const stats = this.rt.stats;
    const prefix = this.hcm.statPrefix;
    stats.http('gauge', prefix, 'downstream_rq_active').value--;
    if (info.responseCode > 0) this.httpStat(`downstream_rq_${Math.floor(info.responseCode / 100)}xx`);
    this.httpStat('downstream_rq_completed');
    observe(stats.http('histogram', prefix, 'downstream_rq_time'), info.endMono - info.startMono);
    if (this.rt.istio) this.recordIstioMetrics();
    for (const logger of this.accessLoggers) {
      try {
        logger.sink(logger.format(info));
      } catch {
        // a broken sink must not break traffic
      }
    }
  }
}

/**
 * An HTTP/1 request without a body: no transfer-encoding and no (or a zero) content-length (RFC 9112 6.3:
 * a request has a body only when one of them says so). Node's server has already built `req.headers` for
 * its own Host and Expect checks, so reading it here costs nothing extra.
 */
function bodiless(h: http.IncomingHttpHeaders): boolean {
  const length = h['content-length'];
  return h['transfer-encoding'] === undefined && (length === undefined || length === '0');
}

/** Node's HTTP/1 request (HTTP/2 requests come as h2-downstream H2Requests). */
function isHttp1Message(req: DownstreamRequest): req is http.IncomingMessage {
  return req.httpVersionMajor === 1 && req instanceof http.IncomingMessage;
}

function fnvHex(text: string): string {
  return fnv1a(text).toString(16).padStart(8, '0') + fnv1a(text, 0x9747b28c).toString(16).padStart(8, '0');
}

/** gRPC status of a response: the grpc-status header (trailers-only answers). */
function grpcStatusOf(headers: HeaderBag | undefined): string | undefined {
  const v = headers?.['grpc-status'];
  return typeof v === 'string' ? v : undefined;
}

/** ORIGINAL_DST: the request's own destination (authority host:port, port 80 by default). */
function originalDestination(authority: string): Host | undefined {
  if (authority === '') return undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (!m) return undefined;
  const address = (m[1] ?? '').replace(/^\[|\]$/g, '');
  const port = m[2] ? Number(m[2]) : 80;
  return { address, port, key: joinHostPort(address, port), healthy: true, weight: 1, priority: 0 };
}

/**
 * Answers a request the HTTP/1 codec rejected (oversized or malformed headers) on the raw socket, as
 * Envoy's codec does, and returns the stream info for the access log.
 */
export function codecErrorReply(
  conn: DownstreamConnection,
  socket: Socket,
  err: NodeJS.ErrnoException,
  serverName: string,
): StreamInfo | undefined {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const info = newStreamInfo(conn.id, streamId(), conn.localAddress, conn.remoteAddress);
  if (!socket.writable || err.code === 'ECONNRESET') {
    socket.destroy();
    return undefined;
  }
  const status = tooLarge ? 431 : 400;
  const body = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
  info.responseCode = status;
  info.details = tooLarge ? 'http1.headers_too_large' : 'http1.codec_error';
  setFlag(info, 'DPE');
  info.bytesSent = body.length;
  info.endMono = performance.now();
  const reason = http.STATUS_CODES[status] ?? '';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\n` +
      `date: ${new Date().toUTCString()}\r\nserver: ${serverName}\r\nconnection: close\r\n\r\n${body}`,
  );
  return info;
}
