/**
 * istiod's PushQueue plus its PILOT_PUSH_THROTTLE semaphore: a FIFO of connections with one pending entry
 * per connection (a second push for a connection that is already waiting merges into it; one for a
 * connection being pushed is held and re-queued when that push ends), at most `throttle` pushes in flight.
 */
export class PushQueue<C, R> {
  private readonly order: C[] = [];
  private readonly pending = new Map<C, R>();
  /** Connections being pushed, with a request that arrived meanwhile (or undefined). */
  private readonly inProgress = new Map<C, R | undefined>();
  private active = 0;
  private closed = false;

  constructor(
    private readonly throttle: number,
    private readonly merge: (older: R, newer: R) => R,
    private readonly run: (con: C, req: R) => Promise<void>,
  ) {}

  enqueue(con: C, req: R): void {
    if (this.closed) return;
    if (this.inProgress.has(con)) {
      const held = this.inProgress.get(con);
      this.inProgress.set(con, held === undefined ? req : this.merge(held, req));
      return;
    }
    const waiting = this.pending.get(con);
    if (waiting !== undefined) {
      this.pending.set(con, this.merge(waiting, req));
      return;
    }
    this.pending.set(con, req);
    this.order.push(con);
    this.pump();
  }

  /** Forgets a connection (disconnected): its waiting push is dropped. */
  remove(con: C): void {
    if (this.pending.delete(con)) {
      const i = this.order.indexOf(con);
      if (i >= 0) this.order.splice(i, 1);
    }
    if (this.inProgress.has(con)) this.inProgress.set(con, undefined);
  }

  get pendingCount(): number {
    return this.order.length;
  }

  get activeCount(): number {
    return this.active;
  }

  close(): void {
    this.closed = true;
    this.order.length = 0;
    this.pending.clear();
  }

  private pump(): void {
    while (!this.closed && this.active < Math.max(1, this.throttle) && this.order.length > 0) {
      const con = this.order.shift() as C;
      const req = this.pending.get(con) as R;
      this.pending.delete(con);
      this.active++;
      this.inProgress.set(con, undefined);
      void this.run(con, req)
        .catch(() => {})
        .finally(() => {
          this.active--;
          const held = this.inProgress.get(con);
          this.inProgress.delete(con);
          if (held !== undefined) this.enqueue(con, held);
          this.pump();
        });
    }
  }
}
