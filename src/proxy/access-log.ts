/**
 * Access-log formatting with Envoy's command operators (%START_TIME%, %REQ(X?Y):N%, %RESPONSE_FLAGS%, ...),
 * Istio's default TEXT and JSON formats, and file writers. A format is parsed once into segments;
 * formatting a stream walks the segments. Unknown operators print `-`.
 */
import { openSync, write, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { headerValue } from './matchers.js';
import type { StreamInfo } from './stream-info.js';
import { flagsLong, flagsShort } from './stream-info.js';

/** Istio's EnvoyTextLogFormat (pilot/pkg/model/telemetry_logging.go). */
export const ISTIO_TEXT_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
  '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ' +
  '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" ' +
  '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ' +
  '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% ' +
  '%REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/**
 * Istio's EnvoyJSONLogFormatIstio: 24 keys. Envoy prints a Struct's keys in its map order, not the
 * config's; this is the order a real gateway printed them in the lab notes.
 */
export const ISTIO_JSON_FORMAT: Readonly<Record<string, string>> = {
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  request_id: '%REQ(X-REQUEST-ID)%',
  method: '%REQ(:METHOD)%',
  response_flags: '%RESPONSE_FLAGS%',
  protocol: '%PROTOCOL%',
  upstream_host: '%UPSTREAM_HOST%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
  route_name: '%ROUTE_NAME%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  response_code: '%RESPONSE_CODE%',
  start_time: '%START_TIME%',
  user_agent: '%REQ(USER-AGENT)%',
  duration: '%DURATION%',
  authority: '%REQ(:AUTHORITY)%',
};

type Value = string | number | undefined;
type Operator = (s: StreamInfo) => Value;
type Segment = string | Operator;

function ms(from: number, to: number | undefined): number | undefined {
  return to === undefined ? undefined : Math.max(0, Math.floor(to - from));
}

function withoutPort(addr: string | undefined): string | undefined {
  if (!addr) return undefined;
  if (addr.startsWith('[')) return addr.slice(1, addr.indexOf(']'));
  const colon = addr.lastIndexOf(':');
  return colon < 0 ? addr : addr.slice(0, colon);
}

function pseudo(s: StreamInfo, name: string, response: boolean): string | undefined {
  if (response) {
    if (name === ':status') return s.responseCode ? String(s.responseCode) : undefined;
    return s.responseHeaders ? headerValue(s.responseHeaders, name) : undefined;
  }
  switch (name) {
    case ':method':
      return s.method;
    case ':path':
      return s.path;
    case ':authority':
    case 'host':
      return s.authority;
    case ':scheme':
      return s.scheme;
    case 'x-envoy-original-path':
      return s.originalPath;
    default:
      return headerValue(s.requestHeaders, name);
  }
}

/** %REQ(X?Y):N% / %RESP(...)%: header X, else Y, truncated to N characters. */
function headerOperator(arg: string, maxLen: number | undefined, response: boolean): Operator {
  const [main = '', alt] = arg.toLowerCase().split('?');
  return (s) => {
    let v = pseudo(s, main, response);
    if ((v === undefined || v === '') && alt !== undefined) v = pseudo(s, alt, response);
    if (v === undefined || v === '') return undefined;
    return maxLen !== undefined ? v.slice(0, maxLen) : v;
  };
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The last second formatted (`2026-11-26T00:37:27.`): one Date per second instead of one per line. */
let isoSecond = NaN;
let isoPrefix = '';

/** %START_TIME% in Envoy's default form, `toISOString()` with milliseconds. */
function isoStartTime(s: StreamInfo): string {
  const t = s.startTime;
  const second = Math.floor(t / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years outside 0000–9999 have a longer form; they are formatted whole.
    if (iso.length !== 24) return new Date(t).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
  }
  const millis = t - second * 1000;
  return `${isoPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
}

/** %START_TIME(fmt)%: a strftime subset plus Envoy's %<n>f fractional seconds. */
function startTimeOperator(fmt: string | undefined): Operator {
  if (fmt === undefined || fmt === '') return isoStartTime;
  return (s) => {
    const d = new Date(s.startTime);
    return fmt.replace(/%(\d?)([a-zA-Z%])/g, (_m, width: string, c: string) => {
      switch (c) {
        case 'Y':
          return String(d.getUTCFullYear());
        case 'm':
          return pad(d.getUTCMonth() + 1);
        case 'd':
          return pad(d.getUTCDate());
        case 'H':
          return pad(d.getUTCHours());
        case 'M':
          return pad(d.getUTCMinutes());
        case 'S':
          return pad(d.getUTCSeconds());
        case 'f':
          return pad(d.getUTCMilliseconds(), 3)
            .padEnd(9, '0')
            .slice(0, width ? Number(width) : 9);
        case 's':
          return String(Math.floor(s.startTime / 1000));
        case 'z':
          return '+0000';
        case 'Z':
          return 'UTC';
        case '%':
          return '%';
        default:
          return `%${width}${c}`;
      }
    });
  };
}

const SIMPLE: Record<string, Operator> = {
  PROTOCOL: (s) => s.protocol,
  RESPONSE_CODE: (s) => s.responseCode,
  RESPONSE_FLAGS: (s) => flagsShort(s.flags),
  RESPONSE_FLAGS_LONG: (s) => flagsLong(s.flags),
  RESPONSE_CODE_DETAILS: (s) => s.details,
  CONNECTION_TERMINATION_DETAILS: (s) => s.connectionTerminationDetails,
  UPSTREAM_TRANSPORT_FAILURE_REASON: (s) => s.upstreamTransportFailureReason,
  BYTES_RECEIVED: (s) => s.bytesReceived,
  BYTES_SENT: (s) => s.bytesSent,
  DURATION: (s) => ms(s.startMono, s.endMono),
  REQUEST_DURATION: (s) => ms(s.startMono, s.endMono),
  RESPONSE_DURATION: (s) => ms(s.startMono, s.firstUpstreamByteMono),
  UPSTREAM_HOST: (s) => s.upstreamHost,
  UPSTREAM_CLUSTER: (s) => s.upstreamClusterStatName ?? s.upstreamCluster,
  UPSTREAM_CLUSTER_RAW: (s) => s.upstreamCluster,
  UPSTREAM_LOCAL_ADDRESS: (s) => s.upstreamLocalAddress,
  UPSTREAM_REMOTE_ADDRESS: (s) => s.upstreamHost,
  UPSTREAM_REQUEST_ATTEMPT_COUNT: (s) => s.attemptCount,
  DOWNSTREAM_LOCAL_ADDRESS: (s) => s.downstreamLocalAddress,
  DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT: (s) => withoutPort(s.downstreamLocalAddress),
  DOWNSTREAM_REMOTE_ADDRESS: (s) => s.downstreamRemoteAddress,
  DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT: (s) => withoutPort(s.downstreamRemoteAddress),
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS: (s) => s.downstreamRemoteAddress,
  DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT: (s) => withoutPort(s.downstreamRemoteAddress),
  REQUESTED_SERVER_NAME: (s) => s.requestedServerName,
  // TLS facts of the connections (unset, printed `-`, on plaintext): the URI SANs comma-joined.
  DOWNSTREAM_PEER_URI_SAN: (s) => s.downstreamPeerUriSan,
  DOWNSTREAM_LOCAL_URI_SAN: (s) => s.downstreamLocalUriSan,
  DOWNSTREAM_TLS_VERSION: (s) => s.downstreamTlsVersion,
  UPSTREAM_PEER_URI_SAN: (s) => s.upstreamPeerUriSan,
  UPSTREAM_LOCAL_URI_SAN: (s) => s.upstreamLocalUriSan,
  ROUTE_NAME: (s) => (s.routeName === '' ? undefined : s.routeName),
  STREAM_ID: (s) => s.streamId,
  CONNECTION_ID: (s) => s.connectionId,
  HOSTNAME: () => hostname(),
  METHOD: (s) => s.method,
};

function operatorFor(command: string, arg: string | undefined, maxLen: number | undefined): Operator {
  if (command === 'REQ') return headerOperator(arg ?? '', maxLen, false);
  if (command === 'RESP') return headerOperator(arg ?? '', maxLen, true);
  if (command === 'START_TIME') return startTimeOperator(arg);
  return SIMPLE[command] ?? (() => undefined);
}

const OPERATOR = /%([A-Z_0-9]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

/** Parses a format string into literal and operator segments. */
export function parseFormat(format: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of format.matchAll(OPERATOR)) {
    const index = m.index ?? 0;
    if (index > last) out.push(format.slice(last, index));
    out.push(operatorFor(m[1] ?? '', m[2], m[3] !== undefined ? Number(m[3]) : undefined));
    last = index + m[0].length;
  }
  if (last < format.length) out.push(format.slice(last));
  return out;
}

export type Formatter = (s: StreamInfo) => string;

/** A text formatter; as Istio does, a format without a trailing newline gets one. */
export function textFormatter(format: string = ISTIO_TEXT_FORMAT): Formatter {
  const segments = parseFormat(format.endsWith('\n') ? format : `${format}\n`);
  return (s) => {
    let line = '';
    for (const seg of segments) {
      if (typeof seg === 'string') line += seg;
      else {
        const v = seg(s);
        line += v === undefined || v === '' ? '-' : String(v);
      }
    }
    return line;
  };
}

/**
 * A JSON formatter: a value that is exactly one operator keeps its type (numbers as numbers, unset as
 * null); anything else is formatted as text. Nested objects are formatted recursively.
 */
export function jsonFormatter(format: Readonly<Record<string, unknown>> = ISTIO_JSON_FORMAT): Formatter {
  type Node = { key: string; typed?: Operator; text?: Formatter; nested?: Formatter; literal?: unknown };
  const nodes: Node[] = [];
  for (const [key, value] of Object.entries(format)) {
    if (typeof value === 'string') {
      const segments = parseFormat(value);
      const only = segments.length === 1 ? segments[0] : undefined;
      if (typeof only === 'function') nodes.push({ key, typed: only });
      else {
        const text = textFormatter(value);
        nodes.push({ key, text: (s) => text(s).slice(0, -1) });
      }
    } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const inner = jsonFormatter(value as Record<string, unknown>);
      nodes.push({ key, nested: (s) => inner(s).slice(0, -1) });
    } else nodes.push({ key, literal: value });
  }
  return (s) => {
    const parts: string[] = [];
    for (const n of nodes) {
      let v: string;
      if (n.typed) {
        const raw = n.typed(s);
        v = raw === undefined || raw === '' ? 'null' : JSON.stringify(raw);
      } else if (n.text) v = JSON.stringify(n.text(s));
      else if (n.nested) v = n.nested(s);
      else v = JSON.stringify(n.literal ?? null);
      parts.push(`${JSON.stringify(n.key)}:${v}`);
    }
    return `{${parts.join(',')}}\n`;
  };
}

export type AccessLogSink = (line: string) => void;

/**
 * Lines are gathered and written in batches, as Envoy's file access logs are (a buffer flushed when full or
 * on a timer): one write per flush instead of one per request. Pending lines are written synchronously
 * when the process exits.
 */
const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

/** Where a batch goes: asynchronously (calling done when written), or synchronously at exit. */
interface LogTarget {
  write(text: string, done: () => void): void;
  writeSync(text: string): void;
}

class BufferedLog {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  private writing = false;

  constructor(private readonly target: LogTarget) {
    flushOnExit.add(this);
  }

  write(line: string): void {
    this.pending += line;
    if (this.pending.length >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    this.writing = true;
    this.target.write(chunk, () => {
      this.writing = false;
      if (this.pending.length >= FLUSH_BYTES) this.flush();
      else if (this.pending !== '') this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
    });
  }

  flushSync(): void {
    if (this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    try {
      this.target.writeSync(chunk);
    } catch {
      // nothing left to do at exit
    }
  }
}

/** stdout/stderr: through the process stream, so lines stay in order with the process's other output. */
function streamTarget(stream: NodeJS.WriteStream): LogTarget {
  const put = (text: string): void => {
    try {
      stream.write(text);
    } catch {
      // a closed stream drops the lines
    }
  };
  return {
    write: (text, done) => {
      put(text);
      done();
    },
    writeSync: put,
  };
}

/** A file opened for appending. A log that cannot be written must not take the proxy down: errors drop lines. */
function fileTarget(fd: number): LogTarget {
  return { write: (text, done) => writeFile(fd, text, done), writeSync: (text) => void writeSync(fd, text) };
}

/** Writes all of `text` (fs.write may write part of it). */
function writeFile(fd: number, text: string, done: () => void): void {
  const buf = Buffer.from(text, 'utf8');
  const step = (offset: number): void => {
    write(fd, buf, offset, buf.length - offset, null, (err, n) => {
      if (err || n <= 0 || offset + n >= buf.length) done();
      else step(offset + n);
    });
  };
  step(0);
}

const flushOnExit = new Set<BufferedLog>();
process.once('exit', () => {
  for (const log of flushOnExit) log.flushSync();
});

const fileSinks = new Map<string, BufferedLog | undefined>();

/** A sink for an access-log path: stdout/stderr, or an append-mode file shared by every log naming it. */
export function fileSink(path: string): AccessLogSink {
  let log = fileSinks.get(path);
  if (!fileSinks.has(path)) {
    try {
      log = new BufferedLog(
        path === '/dev/stdout'
          ? streamTarget(process.stdout)
          : path === '/dev/stderr'
            ? streamTarget(process.stderr)
            : fileTarget(openSync(path, 'a')),
      );
    } catch {
      log = undefined; // a path that cannot be opened logs nothing, as before
    }
    fileSinks.set(path, log);
  }
  const target = log;
  return target ? (line) => target.write(line) : () => undefined;
}

/** An access logger: a formatter and where its lines go. */
export interface AccessLogger {
  format: Formatter;
  sink: AccessLogSink;
}

/** Mesh-config style access-log settings (accessLogFile / accessLogEncoding / accessLogFormat). */
export interface AccessLogOptions {
  encoding?: 'TEXT' | 'JSON';
  /** A custom format: a text format, or for JSON a JSON object's text. Empty: Istio's default. */
  format?: string;
  /** Where lines go (default stdout). */
  sink?: AccessLogSink;
}

/** Builds the logger mesh config asks for; an invalid JSON custom format falls back to the default. */
export function accessLoggerFromOptions(opts: AccessLogOptions): AccessLogger {
  const sink = opts.sink ?? fileSink('/dev/stdout');
  if (opts.encoding === 'JSON') {
    let map: Record<string, unknown> = ISTIO_JSON_FORMAT;
    if (opts.format) {
      try {
        const parsed: unknown = JSON.parse(opts.format);
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
          map = parsed as Record<string, unknown>;
      } catch {
        // Istio logs the error and keeps its default map.
      }
    }
    return { format: jsonFormatter(map), sink };
  }
  return { format: textFormatter(opts.format || ISTIO_TEXT_FORMAT), sink };
}
