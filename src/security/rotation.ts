/**
 * When to renew a workload certificate (security/pkg/nodeagent/cache/secretcache.go rotateTime):
 * grace = (ratio + jitter) × (expire − created), renew at expire − grace, never in the past.
 * SECRET_GRACE_PERIOD_RATIO defaults to 0.5. Istio 1.17 has no jitter; later releases add
 * SECRET_GRACE_PERIOD_RATIO_JITTER (0.01, a random ± share of the lifetime), which the issue asks for.
 */
export const SECRET_GRACE_PERIOD_RATIO = 0.5;
export const SECRET_GRACE_PERIOD_RATIO_JITTER = 0.01;

export interface RotationInput {
  /** When the agent received the certificate (Istio's CreatedTime), ms since the epoch. */
  createdMs: number;
  /** The certificate's notAfter, ms since the epoch. */
  expireMs: number;
  nowMs: number;
  graceRatio?: number;
  graceRatioJitter?: number;
  /** A value in [0, 1) (Math.random), injectable for tests. */
  random?: () => number;
}

/** Milliseconds from now until the certificate should be renewed (≥ 0). */
export function rotationDelayMs(input: RotationInput): number {
  const random = input.random ?? Math.random;
  const ratio = input.graceRatio ?? SECRET_GRACE_PERIOD_RATIO;
  const jitterRatio = input.graceRatioJitter ?? SECRET_GRACE_PERIOD_RATIO_JITTER;
  const jitter = jitterRatio > 0 ? random() * jitterRatio * (random() < 0.5 ? -1 : 1) : 0;
  const lifetime = Math.max(0, input.expireMs - input.createdMs);
  const grace = (ratio + jitter) * lifetime;
  return Math.max(0, Math.round(input.expireMs - grace - input.nowMs));
}
