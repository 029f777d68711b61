/**
 * A cap on the bytes of responses encoded and not yet written, across all connections. Without it a burst
 * of requests (1,000 proxies connecting at once, each asking for a 2 MB CDS) would encode every response
 * at once and hold them all in memory while the clients read. Waiters are served in arrival order; a
 * response larger than the cap still goes out, alone. Each connection holds at most the one response it
 * is writing, and a write that stalls ends at the send timeout, so a stuck client cannot hold the budget.
 */
export class SendBudget {
  private inFlight = 0;
  private readonly waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(private readonly maxBytes: number) {}

  /** Resolves once `bytes` fit; pair every acquire with one release of the same size. */
  acquire(bytes: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.inFlight += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  release(bytes: number): void {
    this.inFlight = Math.max(0, this.inFlight - bytes);
    while (this.waiters.length > 0) {
      const next = this.waiters[0];
      if (!next || !this.fits(next.bytes)) break;
      this.waiters.shift();
      this.inFlight += next.bytes;
      next.resolve();
    }
  }

  /** Lets every waiter go (server shutdown). */
  drain(): void {
    for (const w of this.waiters.splice(0)) {
      this.inFlight += w.bytes;
      w.resolve();
    }
  }

  get bytesInFlight(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.maxBytes;
  }
}
