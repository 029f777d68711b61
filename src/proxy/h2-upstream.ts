/**
 * HTTP/2 to upstream hosts: Envoy's HTTP/2 connection pool keeps one multiplexed connection per host (a
 * second one only when the first runs out of streams or goes away), over plaintext or the endpoint's TLS
 * transport socket. Each request is a stream presented to the router like Node's ClientRequest /
 * IncomingMessage pair, so retries, timeouts and accounting stay in one place; a stream reset by the
 * upstream carries Envoy's reset reason (remote_reset, remote_refused_stream_reset), and a connection the
 * HTTP/2 codec gave up on because the upstream broke the protocol resets its streams with protocol_error.
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { CompiledCluster, Host } from './clusters.js';
import type { OutgoingHeaders } from './headers.js';
import type { ResetReason, RetryPolicy } from './retry.js';
import { retriableReset } from './retry.js';
import type { UpstreamRequest, UpstreamResponse } from './router.js';

/** Envoy's stream reset reasons the router reports (Http::Utility::resetReasonToString, underscored). */
export type UpstreamResetReason =
  ResetReason | 'remote_reset' | 'remote_refused_stream_reset' | 'protocol_error';

/** An upstream failure that names its reset reason (HTTP/2 stream resets). */
export interface UpstreamResetError extends NodeJS.ErrnoException {
  resetReason?: UpstreamResetReason;
}

/** Envoy's Router::Filter::streamResetReasonToResponseFlag. */
export function resetFlag(reason: UpstreamResetReason): 'UF' | 'UC' | 'UR' | 'UT' | 'LR' | 'UPE' {
  switch (reason) {
    case 'protocol_error':
      return 'UPE';
    case 'connection_failure':
      return 'UF';
    case 'connection_termination':
      return 'UC';
    case 'remote_reset':
    case 'remote_refused_stream_reset':
      return 'UR';
    case 'per_try_timeout':
      return 'UT';
    default:
      return 'LR';
  }
}

/** retry_state_impl's wouldRetryOnReset, with refused-stream for REFUSED_STREAM resets. */
export function retriableUpstreamReset(policy: RetryPolicy, reason: UpstreamResetReason): boolean {
  if (reason === 'remote_refused_stream_reset' && policy.retryOn.has('refused-stream')) return true;
  // Any other reset counts under reset / 5xx / gateway-error (RetryStateImpl::wouldRetryFromReset).
  if (reason === 'remote_reset' || reason === 'remote_refused_stream_reset' || reason === 'protocol_error')
    return retriableReset(policy, 'connection_termination');
  return retriableReset(policy, reason);
}

/** Where one HTTP/2 request goes and how its connection is made. */
export interface H2Target {
  address: string;
  port: number;
  /** The endpoint's TLS client options (secure context, SNI, ALPN); undefined for plaintext. */
  tls?: tls.ConnectionOptions;
  localAddress?: string;
  /** http2_protocol_options.max_concurrent_streams: streams per connection before another is opened. */
  maxStreams: number;
  /** common_http_protocol_options.idle_timeout: an idle connection closes after it (0: never). */
  idleTimeoutMs: number;
  /** The cluster's connect_timeout. */
  connectTimeoutMs: number;
}

const CONNECT_GRACE_MS = 100;

/** The HTTP/2 target of one attempt: the endpoint, the cluster's stream and idle limits, its TLS. */
export function h2Target(
  cluster: CompiledCluster,
  host: Host,
  secure: (tls.ConnectionOptions & { agent?: unknown }) | undefined,
  localAddress: string | undefined,
): H2Target {
  const target: H2Target = {
    address: host.address,
    port: host.port,
    maxStreams: cluster.h2MaxConcurrentStreams,
    idleTimeoutMs: cluster.idleTimeoutMs,
    connectTimeoutMs: cluster.connectTimeoutMs,
  };
  if (secure) {
    const { agent: _pool, ...options } = secure;
    target.tls = options;
  }
  if (localAddress !== undefined) target.localAddress = localAddress;
  return target;
}

/** The request's pseudo-header values and its regular headers (as the router forwards them). */
export interface H2RequestHead {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  headers: OutgoingHeaders;
}

interface PooledSession {
  key: string;
  session: http2.ClientHttp2Session;
  socket: Socket;
  /** Streams opened and not yet closed. */
  streams: number;
  connected: boolean;
  /** GOAWAY received or the connection closed: no new streams. */
  draining: boolean;
  /** Requests waiting for the connection to be up before they report it. */
  waiters: (() => void)[];
  /** Why the connection failed, for the streams it takes down. */
  error?: Error;
}

/** HTTP/2 connection pool of one cluster: sessions per endpoint and transport. */
export class H2Pool {
  private readonly sessions = new Map<string, PooledSession[]>();

  /** A session with a free stream for the target, or a new one (`fresh`: the caller reports its socket). */
  acquire(target: H2Target): { entry: PooledSession; fresh: boolean } {
    const key = `${target.tls ? 'tls' : 'raw'}|${target.address}|${target.port}|${target.localAddress ?? ''}`;
    const list = this.sessions.get(key) ?? [];
    for (const entry of list) {
      if (entry.draining || entry.session.destroyed || entry.session.closed) continue;
      const remote = entry.connected ? entry.session.remoteSettings.maxConcurrentStreams : undefined;
      const limit = Math.min(target.maxStreams, remote ?? Number.MAX_SAFE_INTEGER);
      if (entry.streams < limit) return { entry, fresh: false };
    }
    const entry = this.connect(key, target);
    list.push(entry);
    this.sessions.set(key, list);
    return { entry, fresh: true };
  }

  private connect(key: string, target: H2Target): PooledSession {
    const local = target.localAddress !== undefined ? { localAddress: target.localAddress } : {};
    const socket: Socket = target.tls
      ? tls.connect({ ...target.tls, host: target.address, port: target.port, ...local })
      : net.connect({ host: target.address, port: target.port, ...local });
    socket.on('error', () => undefined);
    const host = net.isIPv6(target.address) ? `[${target.address}]` : target.address;
    let session: http2.ClientHttp2Session;
    try {
      session = http2.connect(`http://${host}:${target.port}`, {
        createConnection: () => socket,
        settings: { enablePush: false },
      });
    } catch (err) {
      socket.destroy();
      throw err;
    }
    // The router times the connect of the request that opened the connection; should that request be
    // gone before it reports the socket, this backstop still bounds the connect for the waiting ones.
    const backstop = setTimeout(() => {
      const err: NodeJS.ErrnoException = new Error('connect timeout');
      err.code = 'ECONNECTTIMEOUT';
      socket.destroy(err);
    }, target.connectTimeoutMs + CONNECT_GRACE_MS).unref();
    socket.once('close', () => clearTimeout(backstop));
    const entry: PooledSession = {
      key,
      session,
      socket,
      streams: 0,
      connected: false,
      draining: false,
      waiters: [],
    };
    session.on('error', (err: Error) => {
      entry.error = err;
    });
    session.once('connect', () => {
      clearTimeout(backstop);
      // A connection the router refused (TLS verification) is already destroyed: its waiters fail with it.
      if (socket.destroyed) return;
      entry.connected = true;
      const waiters = entry.waiters;
      entry.waiters = [];
      for (const w of waiters) w();
    });
    session.on('goaway', () => {
      entry.draining = true;
    });
    session.once('close', () => {
      entry.draining = true;
      const list = this.sessions.get(key);
      if (!list) return;
      const rest = list.filter((e) => e !== entry);
      if (rest.length > 0) this.sessions.set(key, rest);
      else this.sessions.delete(key);
    });
    if (target.idleTimeoutMs > 0)
      session.setTimeout(target.idleTimeoutMs, () => {
        if (entry.streams === 0) session.close();
      });
    return entry;
  }

  destroy(): void {
    for (const list of this.sessions.values()) for (const e of list) e.session.destroy();
    this.sessions.clear();
  }
}

const pools = new WeakMap<object, H2Pool>();

/** The HTTP/2 pool kept beside a cluster's runtime state. */
export function h2PoolOf(owner: object): H2Pool {
  let pool = pools.get(owner);
  if (!pool) {
    pool = new H2Pool();
    pools.set(owner, pool);
  }
  return pool;
}

export function destroyH2Pool(owner: object): void {
  pools.get(owner)?.destroy();
  pools.delete(owner);
}

/** Request headers HTTP/2 cannot carry; `host` travels as :authority. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

function requestHeaders(head: H2RequestHead): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    ':method': head.method,
    ':path': head.path,
    ':authority': head.authority,
    ':scheme': head.scheme,
  };
  for (const name in head.headers) {
    const v = head.headers[name];
    if (v === undefined || NOT_FORWARDED.has(name) || name.startsWith(':')) continue;
    if (name === 'te' && v !== 'trailers') continue;
    out[name] = v;
  }
  return out;
}

/**
 * nghttp2 gave up on the connection because of what the upstream sent (bad frames, a wrong preface):
 * Node reports it as ERR_HTTP2_ERROR ("Protocol error"), Envoy's CodecClient as a protocol error.
 */
function isProtocolError(err: Error | undefined): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ERR_HTTP2_ERROR';
}

const HEADER_ERRORS = new Set([
  'ERR_INVALID_CHAR',
  'ERR_INVALID_HTTP_TOKEN',
  'ERR_HTTP2_HEADER_SINGLE_VALUE',
  'ERR_HTTP2_INVALID_CONNECTION_HEADERS',
  'ERR_HTTP2_INVALID_PSEUDOHEADER',
  'ERR_HTTP2_INVALID_HEADER_VALUE',
]);

/** One upstream HTTP/2 stream, shaped like Node's ClientRequest for the router. */
export class H2UpstreamRequest extends EventEmitter implements UpstreamRequest {
  private stream: http2.ClientHttp2Stream | undefined;
  private response: H2UpstreamResponse | undefined;
  private failed = false;
  private closed = false;

  constructor(pool: H2Pool, target: H2Target, head: H2RequestHead) {
    super();
    const { entry, fresh } = pool.acquire(target);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = entry.session.request(requestHeaders(head), { endStream: false });
    } catch (err) {
      // Headers HTTP/2 refuses are the request's fault (the router answers 400, as for HTTP/1).
      if (HEADER_ERRORS.has((err as NodeJS.ErrnoException).code ?? '')) {
        if (fresh) entry.session.destroy();
        throw err;
      }
      process.nextTick(() => this.fail(err as Error));
      return;
    }
    this.stream = stream;
    entry.streams++;
    const report = (): void => {
      if (!this.closed) this.emit('socket', entry.socket);
    };
    if (fresh || entry.connected) process.nextTick(report);
    else entry.waiters.push(report);
    stream.on('response', (headers: http2.IncomingHttpHeaders) => {
      if (this.closed) return;
      this.response = new H2UpstreamResponse(stream, headers);
      this.emit('response', this.response);
    });
    stream.on('drain', () => this.emit('drain'));
    let streamError: Error | undefined;
    stream.on('error', (err: Error) => {
      streamError = err;
    });
    stream.once('close', () => {
      entry.streams--;
      if (this.closed) return;
      this.closed = true;
      const err = this.resetError(stream, streamError, entry);
      if (!this.response) this.fail(err);
      else if (!this.response.complete) this.response.abort(err);
    });
  }

  /** What ended a stream that closed before its response completed. */
  private resetError(
    stream: http2.ClientHttp2Stream,
    err: Error | undefined,
    entry: PooledSession,
  ): UpstreamResetError {
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    if (isProtocolError(err) || isProtocolError(entry.error)) {
      const out: UpstreamResetError = new Error('upstream HTTP/2 protocol error');
      out.code = 'ERR_HTTP2_ERROR';
      out.resetReason = 'protocol_error';
      return out;
    }
    // The connection went away: the session's own error (connect failure, TLS) is the cause.
    const connectionGone = entry.socket.destroyed || entry.session.destroyed || entry.session.closed;
    if (code === 'ERR_HTTP2_STREAM_CANCEL' || connectionGone || stream.rstCode === undefined) {
      const cause = (err as { cause?: unknown } | undefined)?.cause;
      const base = cause instanceof Error ? cause : (entry.error ?? err);
      const out: UpstreamResetError = base ?? new Error('upstream connection closed');
      out.code ??= 'ECONNRESET';
      return out;
    }
    const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
    const out: UpstreamResetError = new Error(
      `stream reset by upstream with code ${stream.rstCode ?? 0}`,
    ) as UpstreamResetError;
    out.code = 'ERR_HTTP2_STREAM_ERROR';
    out.resetReason = refused ? 'remote_refused_stream_reset' : 'remote_reset';
    return out;
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.closed = true;
    this.emit('error', err);
  }

  get destroyed(): boolean {
    return this.closed || (this.stream?.destroyed ?? true);
  }

  write(chunk: Buffer): boolean {
    const s = this.stream;
    if (!s || s.destroyed || s.writableEnded) return true;
    return s.write(chunk);
  }

  end(): this {
    const s = this.stream;
    if (s && !s.destroyed && !s.writableEnded) s.end();
    return this;
  }

  /** Resets the stream (RST_STREAM CANCEL), as Envoy resets an abandoned upstream request. */
  destroy(): this {
    this.closed = true;
    const s = this.stream;
    if (s && !s.destroyed) s.close(http2.constants.NGHTTP2_CANCEL);
    return this;
  }
}

/** An upstream HTTP/2 response, shaped like Node's IncomingMessage for the router. */
export class H2UpstreamResponse extends EventEmitter implements UpstreamResponse {
  readonly statusCode: number;
  readonly headers: http2.IncomingHttpHeaders = {};
  trailers: http2.IncomingHttpHeaders | undefined;
  complete = false;

  constructor(
    private readonly stream: http2.ClientHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ) {
    super();
    this.statusCode = Number(headers[':status']) || 502;
    for (const name in headers) {
      const v = headers[name];
      if (v !== undefined && !name.startsWith(':')) this.headers[name] = v;
    }
    stream.on('data', (chunk: Buffer) => this.emit('data', chunk));
    stream.on('trailers', (trailers: http2.IncomingHttpHeaders) => {
      this.trailers = trailers;
    });
    stream.on('end', () => {
      this.complete = true;
      this.emit('end');
    });
  }

  /** The stream broke off before its end: the router reports the reset. */
  abort(err: UpstreamResetError): void {
    this.emit('aborted', err);
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }
}
