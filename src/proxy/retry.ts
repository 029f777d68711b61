/**
 * Route retry policies (config.route.v3.RetryPolicy) and Envoy's decisions: which outcomes of an attempt
 * may be retried (router/retry_state_impl.cc).
 */
import type { JsonObject } from './json.js';
import { durationMs, num, record, records, str, unwrap } from './json.js';

export interface RetryPolicy {
  retryOn: ReadonlySet<string>;
  numRetries: number;
  perTryTimeoutMs: number | undefined;
  retriableStatusCodes: ReadonlySet<number>;
  /** previous_hosts predicate: prefer hosts not tried before. */
  avoidPreviousHosts: boolean;
  hostSelectionMaxAttempts: number;
  baseIntervalMs: number;
  maxIntervalMs: number;
}

export function compileRetryPolicy(v: unknown): RetryPolicy | undefined {
  const p = record(v);
  if (!p) return undefined;
  const retryOn = new Set(
    (str(p['retryOn']) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
  const numRetries = num(unwrap(p['numRetries'])) ?? 1; // Envoy's default when unset
  const codes = new Set<number>();
  if (Array.isArray(p['retriableStatusCodes'])) {
    for (const c of p['retriableStatusCodes']) {
      const n = num(c);
      if (n !== undefined) codes.add(n);
    }
  }
  const backOff = record(p['retryBackOff']) as JsonObject | undefined;
  const base = durationMs(backOff?.['baseInterval']) ?? 25;
  return {
    retryOn,
    numRetries: Math.max(0, Math.floor(numRetries)),
    perTryTimeoutMs: durationMs(p['perTryTimeout']) || undefined,
    retriableStatusCodes: codes,
    avoidPreviousHosts: records(p['retryHostPredicate']).some(
      (h) => str(h['name']) === 'envoy.retry_host_predicates.previous_hosts',
    ),
    hostSelectionMaxAttempts: num(p['hostSelectionRetryMaxAttempts']) ?? 1,
    baseIntervalMs: base,
    maxIntervalMs: durationMs(backOff?.['maxInterval']) ?? base * 10,
  };
}

/** Why an attempt ended without a usable response. */
export type ResetReason = 'connection_failure' | 'connection_termination' | 'per_try_timeout' | 'local_reset';

/** Whether a reset (no response headers) may be retried under the policy. */
export function retriableReset(policy: RetryPolicy, reason: ResetReason): boolean {
  const on = policy.retryOn;
  if (reason === 'connection_failure' && on.has('connect-failure')) return true;
  if (reason === 'per_try_timeout') return on.has('5xx') || on.has('gateway-error');
  return on.has('5xx') || on.has('gateway-error') || on.has('reset');
}

/** Whether a response with this status may be retried under the policy. */
export function retriableStatus(policy: RetryPolicy, status: number): boolean {
  const on = policy.retryOn;
  if (on.has('5xx') && status >= 500) return true;
  if (on.has('gateway-error') && (status === 502 || status === 503 || status === 504)) return true;
  if (on.has('retriable-4xx') && status === 409) return true;
  if (on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status)) return true;
  return false;
}

/** Envoy's jittered exponential back-off: a random wait in [0, min(base * 2^(n-1), max)). */
export function backOffMs(policy: RetryPolicy, retryNumber: number): number {
  const ceiling = Math.min(policy.baseIntervalMs * 2 ** Math.max(0, retryNumber - 1), policy.maxIntervalMs);
  return Math.floor(Math.random() * ceiling);
}
