/**
 * Route timeouts that come from gRPC deadlines and stream duration limits, as Envoy computes them:
 * the `grpc-timeout` header (Grpc::Common::getGrpcTimeout / toGrpcTimeout), RouteAction.MaxStreamDuration
 * (the HCM's ActiveStream::refreshDurationTimeout, which arms the downstream max-duration timer) and the
 * deprecated RouteAction.max_grpc_timeout / grpc_timeout_offset (the router's FilterUtility::finalTimeout,
 * used only when the route has no MaxStreamDuration, Envoy's `usingNewTimeouts()`).
 */
import { durationMs, isRecord } from './json.js';

/** gRPC's TimeoutValue: a positive integer of at most 8 digits. */
const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;

const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1 };

/**
 * A `grpc-timeout` header value in milliseconds; undefined when absent or malformed. Micro- and
 * nanoseconds round up to whole milliseconds, as Envoy's getGrpcTimeout does.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.length < 2) return undefined;
  const digits = v.slice(0, -1).trim().replace(/^\+/, '');
  if (!/^\d+$/.test(digits)) return undefined;
  const n = Number(digits);
  if (n > MAX_GRPC_TIMEOUT_VALUE) return undefined;
  const unit = v.slice(-1);
  const scale = UNIT_MS[unit];
  if (scale !== undefined) return n * scale;
  if (unit === 'u') return Math.ceil(n / 1000);
  if (unit === 'n') return Math.ceil(n / 1_000_000);
  return undefined;
}

/**
 * Envoy's toGrpcTimeout: milliseconds while they fit in 8 digits, then seconds, minutes and hours
 * (clipped to 99999999H).
 */
export function formatGrpcTimeout(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  const units = ['m', 'S', 'M', 'H'];
  let unit = 0;
  if (time > MAX_GRPC_TIMEOUT_VALUE) {
    time = Math.floor(time / 1000);
    unit = 1;
  }
  while (time > MAX_GRPC_TIMEOUT_VALUE) {
    if (unit === 3) time = MAX_GRPC_TIMEOUT_VALUE;
    else {
      time = Math.floor(time / 60);
      unit++;
    }
  }
  return `${time}${units[unit] ?? 'H'}`;
}

/** RouteAction.MaxStreamDuration; each field undefined when unset (0 is a set value). */
export interface MaxStreamDuration {
  maxStreamDurationMs?: number;
  grpcTimeoutHeaderMaxMs?: number;
  grpcTimeoutHeaderOffsetMs?: number;
}

/** The route's MaxStreamDuration message, or undefined when the route has none (the old timeouts apply). */
export function compileMaxStreamDuration(v: unknown): MaxStreamDuration | undefined {
  if (!isRecord(v)) return undefined;
  const out: MaxStreamDuration = {};
  const max = durationMs(v['maxStreamDuration']);
  if (max !== undefined) out.maxStreamDurationMs = Math.max(0, max);
  const headerMax = durationMs(v['grpcTimeoutHeaderMax']);
  if (headerMax !== undefined) out.grpcTimeoutHeaderMaxMs = Math.max(0, headerMax);
  const offset = durationMs(v['grpcTimeoutHeaderOffset']);
  if (offset !== undefined) out.grpcTimeoutHeaderOffsetMs = Math.max(0, offset);
  return out;
}

/** The deprecated gRPC timeout fields of a RouteAction (max_grpc_timeout, grpc_timeout_offset). */
export interface LegacyGrpcTimeout {
  maxMs: number;
  offsetMs?: number;
}

export function compileLegacyGrpcTimeout(action: Record<string, unknown>): LegacyGrpcTimeout | undefined {
  const max = durationMs(action['maxGrpcTimeout']);
  if (max === undefined) return undefined;
  const out: LegacyGrpcTimeout = { maxMs: Math.max(0, max) };
  const offset = durationMs(action['grpcTimeoutOffset']);
  if (offset !== undefined) out.offsetMs = Math.max(0, offset);
  return out;
}

/**
 * What the HCM's max-duration timer does for a request (refreshDurationTimeout): `timeoutMs` from the
 * stream's start, or undefined when the timer stays off; `grpcTimeout` is the value the `grpc-timeout`
 * request header is rewritten to (gRPC requests with a running timer only).
 */
export interface DurationTimer {
  timeoutMs?: number;
  grpcTimeout?: string;
}

/**
 * With a `grpc-timeout` header and grpc_timeout_header_max set, the header's value (capped by the max
 * unless it is 0, then reduced by the offset, down to 0) bounds the stream; otherwise max_stream_duration
 * does (0: no limit), else the HCM's own max_stream_duration.
 */
export function durationTimer(
  msd: MaxStreamDuration,
  grpcTimeoutMs: number | undefined,
  grpc: boolean,
  hcmMaxStreamDurationMs?: number,
): DurationTimer {
  let timeout: number;
  const headerMax = msd.grpcTimeoutHeaderMaxMs;
  if (grpcTimeoutMs === undefined || headerMax === undefined) {
    if (msd.maxStreamDurationMs !== undefined) {
      if (msd.maxStreamDurationMs === 0) return {};
      timeout = msd.maxStreamDurationMs;
    } else if (hcmMaxStreamDurationMs !== undefined && hcmMaxStreamDurationMs > 0) {
      timeout = hcmMaxStreamDurationMs;
    } else return {};
  } else {
    timeout = grpcTimeoutMs;
    if (headerMax !== 0 && timeout > headerMax) timeout = headerMax;
    const offset = msd.grpcTimeoutHeaderOffsetMs;
    if (timeout !== 0 && offset !== undefined) timeout = offset < timeout ? timeout - offset : 0;
  }
  const out: DurationTimer = { timeoutMs: timeout };
  if (grpc) out.grpcTimeout = formatGrpcTimeout(timeout);
  return out;
}

/**
 * The router's global timeout for a gRPC request under max_grpc_timeout (finalTimeout without
 * MaxStreamDuration): the header's timeout (0, infinite, without one) less the offset when the offset is
 * smaller, capped by the max unless the max is 0.
 */
export function legacyGrpcGlobalTimeout(
  legacy: LegacyGrpcTimeout,
  grpcTimeoutMs: number | undefined,
): number {
  let timeout = grpcTimeoutMs ?? 0;
  if (legacy.offsetMs !== undefined && legacy.offsetMs < timeout) timeout -= legacy.offsetMs;
  if (legacy.maxMs !== 0 && (timeout === 0 || timeout > legacy.maxMs)) timeout = legacy.maxMs;
  return timeout;
}
