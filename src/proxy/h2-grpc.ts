/**
 * gRPC semantics the HTTP connection manager and router apply to streams whose content-type is
 * application/grpc: local replies become trailers-only responses (HTTP 200, the status in grpc-status,
 * the body in grpc-message; Envoy's Utility::prepareLocalReply / encodeLocalReply), the HTTP status maps to
 * a gRPC status as Grpc::Utility::httpToGrpcStatus does, and response trailers pass through to HTTP/2
 * downstreams.
 */
import type { OutgoingHeaders } from './headers.js';
import type { HeaderBag } from './matchers.js';

/** Envoy's Grpc::Utility::httpToGrpcStatus (grpc's http-grpc-status-mapping.md). */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/**
 * Envoy's PercentEncoding::encode for grpc-message: bytes outside printable ASCII and `%` become `%XX`
 * (UTF-8 bytes for non-ASCII text).
 */
export function percentEncode(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** Whether request headers make a gRPC request (Grpc::Common::isGrpcRequestHeaders: the content-type). */
export function isGrpcRequest(headers: HeaderBag): boolean {
  const ct = headers['content-type'];
  const v = Array.isArray(ct) ? ct[0] : ct;
  return typeof v === 'string' && /^application\/grpc(\+|;|$)/i.test(v);
}

/**
 * The headers of a trailers-only local reply to a gRPC request: `:status` 200, content-type
 * application/grpc, grpc-status (unless the caller set one, as the fault filter does) and grpc-message with
 * the local reply body when there is one; no content-length.
 */
export function grpcLocalReplyHeaders(status: number, body: string, extra: OutgoingHeaders): OutgoingHeaders {
  const headers: OutgoingHeaders = { ...extra, 'content-type': 'application/grpc' };
  delete headers['content-length'];
  if (headers['grpc-status'] === undefined) headers['grpc-status'] = String(httpToGrpcStatus(status));
  if (body !== '') headers['grpc-message'] = percentEncode(body);
  return headers;
}

/** Trailers as a response carries them (HTTP/1 IncomingMessage or an HTTP/2 upstream stream). */
export interface TrailerSource {
  trailers?: Record<string, string | string[] | undefined>;
}

/** A downstream response that sends trailers (the HTTP/2 codec's). */
export interface TrailerSink {
  readonly sendsTrailers: true;
  addTrailers(trailers: OutgoingHeaders): void;
}

function canSendTrailers(res: object): res is TrailerSink {
  return (res as Partial<TrailerSink>).sendsTrailers === true;
}

/**
 * Passes the upstream response's trailers (grpc-status, grpc-message, ...) to the downstream response
 * when its codec can carry them (HTTP/2; Envoy's HTTP/1 codec drops trailers unless enable_trailers is
 * set). Returns the trailers seen, for the access log and gRPC metrics.
 */
export function forwardTrailers(upstream: TrailerSource, res: object): OutgoingHeaders | undefined {
  const raw = upstream.trailers;
  if (!raw) return undefined;
  let out: OutgoingHeaders | undefined;
  for (const name in raw) {
    const v = raw[name];
    if (v === undefined || name.startsWith(':')) continue;
    out ??= {};
    out[name] = v;
  }
  if (out && canSendTrailers(res)) res.addTrailers(out);
  return out;
}

/**
 * Whether a TE request header names `trailers`, the one TE value that may cross a proxy (and that gRPC
 * servers require); Envoy's sanitizeConnectionHeader keeps it as `te: trailers`.
 */
export function teTrailers(v: string | string[]): boolean {
  const list = Array.isArray(v) ? v.join(',') : v;
  return list.split(',').some((t) => t.trim().toLowerCase() === 'trailers');
}
