/**
 * istiod's debounce (pilot/pkg/xds/discovery.go): events are merged until none arrived for `afterMs`
 * (quiet period) or `maxMs` passed since the first one; then one push runs, and events arriving while it
 * runs wait for the next round.
 */
export interface DebounceOptions {
  afterMs: number;
  maxMs: number;
}

export class Debouncer<E> {
  private merged: E | undefined;
  private events = 0;
  private firstEventAt = 0;
  private lastEventAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private closed = false;

  constructor(
    private readonly options: DebounceOptions,
    private readonly merge: (older: E, newer: E) => E,
    /** Runs the push; `sinceFirstMs` is the time since the first merged event, `events` how many merged. */
    private readonly fire: (
      event: E,
      info: { events: number; quietMs: number; sinceFirstMs: number },
    ) => void,
  ) {}

  add(event: E): void {
    if (this.closed) return;
    const now = performance.now();
    this.lastEventAt = now;
    if (this.events === 0) {
      this.firstEventAt = now;
      this.arm(this.options.afterMs);
    }
    this.events++;
    this.merged = this.merged === undefined ? event : this.merge(this.merged, event);
  }

  /** Events waiting for the quiet period. */
  get pending(): number {
    return this.events;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), Math.max(0, ms));
    this.timer.unref?.();
  }

  private check(): void {
    this.timer = undefined;
    if (this.closed || this.busy || this.merged === undefined) return;
    const now = performance.now();
    const sinceFirst = now - this.firstEventAt;
    const quiet = now - this.lastEventAt;
    if (sinceFirst >= this.options.maxMs || quiet >= this.options.afterMs) {
      const event = this.merged;
      const events = this.events;
      this.merged = undefined;
      this.events = 0;
      this.busy = true;
      try {
        this.fire(event, { events, quietMs: quiet, sinceFirstMs: sinceFirst });
      } finally {
        this.busy = false;
      }
      return;
    }
    this.arm(Math.min(this.options.afterMs - quiet, this.options.maxMs - sinceFirst));
  }
}
