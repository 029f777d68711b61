/**
 * Reconnect delays as Envoy computes them for its xDS stream (JitteredExponentialBackOffStrategy with
 * 500 ms base and 30 s maximum, xds-protocol.md §2.10): the ceiling doubles per failed attempt up to the
 * maximum and each delay is drawn at random below it, so a fleet of proxies does not reconnect in step.
 */
export interface BackoffOptions {
  /** First ceiling in ms (Envoy: 500). */
  initialMs?: number;
  /** Largest ceiling in ms (Envoy: 30000). */
  maxMs?: number;
  /** Random source in [0, 1); injectable for tests. */
  random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = Math.max(1, options.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, options.maxMs ?? 30_000);
    this.random = options.random ?? Math.random;
  }

  /** The ceiling the next delay is drawn under. */
  ceilingMs(): number {
    // 2^attempt grows past maxMs long before it overflows; cap the exponent anyway.
    return Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 30));
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const ceiling = this.ceilingMs();
    this.attempt++;
    // Half fixed, half random: never reconnect in a tight loop, still spread reconnects out.
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** A stream that got a response counts as healthy again. */
  reset(): void {
    this.attempt = 0;
  }
}
