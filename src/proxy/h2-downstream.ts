/**
 * The HTTP connection manager's HTTP/2 codec (downstream): Envoy's codec_type AUTO picks HTTP/2 when TLS
 * negotiated `h2` (or Istio's `istio-h2`) or when the first bytes are the HTTP/2 connection preface, and
 * HTTP/1.1 otherwise. HTTP/2 connections get a node:http2 session; each stream is presented to the router
 * as a request/response pair shaped like Node's HTTP/1 ones, so both codecs share one pipeline.
 */
import { EventEmitter } from 'node:events';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { OutgoingHeaders } from './headers.js';
import type { DownstreamRequest, DownstreamResponse } from './router.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const PREFACE_WAIT_MS = 15_000;

/** ALPN values that select the HTTP/2 codec (Istio's mTLS clients offer `istio-h2`). */
export function isH2Alpn(protocol: string | false | null | undefined): boolean {
  return protocol === 'h2' || protocol === 'istio-h2';
}

/** ALPN values that settle on HTTP/1 without looking at the bytes. */
export function isH1Alpn(protocol: string | false | null | undefined): boolean {
  return typeof protocol === 'string' && /^(istio-)?http\/1\.[01]$/.test(protocol);
}

/**
 * Reads the connection's first bytes until they either are the HTTP/2 preface or cannot be, puts them
 * back on the (paused) socket and reports which codec serves it.
 */
export function detectPreface(socket: Duplex, done: (h2: boolean) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  let decided = false;
  // A client that never completes its first bytes is handed to HTTP/1, whose own timeouts close it.
  const timer = setTimeout(() => finish(false), PREFACE_WAIT_MS).unref();
  const finish = (h2: boolean): void => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.pause();
    if (buf.length > 0) socket.unshift(buf);
    done(h2);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const n = Math.min(buf.length, PREFACE.length);
    if (buf.compare(PREFACE, 0, n, 0, n) !== 0) finish(false);
    else if (n === PREFACE.length) finish(true);
  };
  const onEnd = (): void => finish(false);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.resume();
}

/** Limits of the HTTP/2 codec, from the HCM (max_request_headers_kb, max_headers_count). */
export interface H2CodecLimits {
  maxHeaderBytes: number;
  maxHeaders: number;
}

export type H2StreamHandler = (
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
) => void;

const noop = (): void => undefined;

/**
 * One filter chain's HTTP/2 server: never listens; the engine hands it connections whose codec is HTTP/2.
 * Protocol errors (bad frames, oversized header blocks, floods) are answered by nghttp2 with RST_STREAM or
 * GOAWAY and end at the session; none reaches the process.
 */
export class H2Codec {
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private accepting: ((session: http2.ServerHttp2Session) => void) | undefined;

  constructor(limits: H2CodecLimits) {
    this.server = http2.createServer({
      maxHeaderListPairs: Math.max(128, limits.maxHeaders * 2),
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      settings: { maxHeaderListSize: limits.maxHeaderBytes, enablePush: false },
    });
    this.server.on('session', (session: http2.ServerHttp2Session) => this.accepting?.(session));
    this.server.on('sessionError', noop);
  }

  /** Starts an HTTP/2 session on a connection (plaintext or terminated TLS); streams go to `onStream`. */
  accept(socket: Socket, onStream: H2StreamHandler): void {
    this.accepting = (session) => {
      this.sessions.add(session);
      session.on('error', noop);
      session.on('close', () => this.sessions.delete(session));
      session.on(
        'stream',
        (
          stream: http2.ServerHttp2Stream,
          headers: http2.IncomingHttpHeaders,
          _flags: number,
          rawHeaders: string[],
        ) => {
          stream.on('error', noop);
          try {
            onStream(stream, headers, rawHeaders);
          } catch {
            if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          }
        },
      );
    };
    // Node's HTTP/2 server turns TLS connections without ALPN away; Envoy's AUTO codec already chose
    // HTTP/2 from the preface, so the session is told the connection negotiated h2.
    const secure = socket as Socket & { alpnProtocol?: string | false | null; secureConnecting?: boolean };
    if (secure.alpnProtocol === false || secure.alpnProtocol === null) secure.alpnProtocol = 'h2';
    // A TLSSocket made without a tls.Server keeps secureConnecting after its handshake; the session would
    // wait for a 'secureConnect' a server socket never emits. The engine hands over finished handshakes only.
    if (secure.secureConnecting === true) secure.secureConnecting = false;
    try {
      this.server.emit('connection', socket);
    } catch {
      socket.destroy();
    } finally {
      this.accepting = undefined;
    }
  }

  /** Closes the sessions: gracefully (GOAWAY, in-flight streams finish) or at once. */
  close(force = false): void {
    for (const s of this.sessions) {
      if (force) s.destroy();
      else if (!s.closed) s.close();
    }
  }
}

/** An HTTP/2 request stream as the router reads requests: pseudo-headers folded into Node's HTTP/1 shape. */
export class H2Request extends EventEmitter implements DownstreamRequest {
  readonly httpVersion = '2';
  readonly httpVersionMajor = 2;
  readonly method: string;
  readonly url: string;
  readonly headers: http2.IncomingHttpHeaders = {};
  /** Regular headers as name/value pairs (pseudo-headers are not counted against max_headers_count). */
  readonly rawHeaders: string[] = [];

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
  ) {
    super();
    this.method = str(headers[':method']) ?? 'GET';
    this.url = str(headers[':path']) ?? '/';
    for (const name in headers) {
      if (name.startsWith(':')) continue;
      const v = headers[name];
      if (v !== undefined) this.headers[name] = v;
    }
    // :authority is HTTP/2's Host; a Host header is only a fallback (RFC 9113 8.3.1).
    const authority = str(headers[':authority']);
    if (authority !== undefined && authority !== '') this.headers.host = authority;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i] ?? '';
      if (!name.startsWith(':')) this.rawHeaders.push(name, rawHeaders[i + 1] ?? '');
    }
    stream.on('data', (chunk: Buffer) => this.emit('data', chunk));
    stream.on('end', () => this.emit('end'));
  }

  get readableEnded(): boolean {
    return this.stream.readableEnded;
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

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Headers HTTP/2 forbids (RFC 9113 8.2.2); Envoy's codec drops them. */
const CONNECTION_SPECIFIC = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

/**
 * An HTTP/2 response stream written like Node's ServerResponse. Headers go out with the first body bytes
 * or at the end, so a response without body or trailers is one HEADERS frame with END_STREAM (the shape
 * of gRPC's trailers-only responses); trailers set before the end follow the body.
 */
export class H2Response extends EventEmitter implements DownstreamResponse {
  readonly sendsTrailers = true;
  private status = 200;
  private head: OutgoingHeaders = {};
  private headed = false;
  private sent = false;
  private trailers: OutgoingHeaders | undefined;

  constructor(private readonly stream: http2.ServerHttp2Stream) {
    super();
    stream.on('finish', () => {
      this.emit('finish');
      // Envoy resets a stream whose response is complete while its request is not (RST_STREAM NO_ERROR,
      // RFC 9113 8.1), so the client stops sending a body nobody reads.
      if (!stream.readableEnded && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
    stream.on('close', () => this.emit('close'));
    stream.on('drain', () => this.emit('drain'));
    stream.on('wantTrailers', () => {
      try {
        stream.sendTrailers(this.trailers ?? {});
      } catch {
        stream.close();
      }
    });
  }

  /** Whether the response has started (writeHead was called), as for HTTP/1. */
  get headersSent(): boolean {
    return this.headed;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  writeHead(status: number, headers: OutgoingHeaders = {}): this {
    if (this.headed) throw new Error('headers already sent');
    this.headed = true;
    this.status = status;
    this.head = headers;
    return this;
  }

  addTrailers(trailers: OutgoingHeaders): void {
    this.trailers = { ...this.trailers, ...trailers };
  }

  write(chunk: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    this.flushHead(false);
    // HEAD, 204 and 304 responses end with their headers: the body has nowhere to go.
    if (this.stream.writableEnded) return true;
    return this.stream.write(chunk);
  }

  end(chunk?: Buffer): this {
    if (this.stream.destroyed || this.stream.writableEnded) return this;
    if (chunk !== undefined && chunk.length > 0) this.write(chunk);
    if (!this.sent) {
      const headersOnly = this.trailers === undefined;
      this.flushHead(headersOnly);
      if (headersOnly) return this;
    }
    if (!this.stream.writableEnded) this.stream.end();
    return this;
  }

  /** Resets the stream (RST_STREAM), as Envoy resets a downstream stream whose response broke off. */
  destroy(): this {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return this;
  }

  private flushHead(endStream: boolean): void {
    if (this.sent) return;
    this.sent = true;
    if (!this.headed) this.headed = true;
    const headers: OutgoingHeaders = { ':status': String(this.status) };
    for (const name in this.head) {
      const v = this.head[name];
      if (v === undefined || CONNECTION_SPECIFIC.has(name) || name.startsWith(':')) continue;
      if (name === 'te' && v !== 'trailers') continue;
      headers[name] = v;
    }
    try {
      this.stream.respond(headers, { endStream, waitForTrailers: !endStream });
    } catch {
      // Headers HTTP/2 cannot carry (a repeated single-value header, an invalid status): reset the stream.
      this.destroy();
    }
  }
}

/** The router's view of one HTTP/2 stream: its request and its response. */
export function h2Stream(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
): { req: H2Request; res: H2Response } {
  return { req: new H2Request(stream, headers, rawHeaders), res: new H2Response(stream) };
}
