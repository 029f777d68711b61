/**
 * Fixed-size buffers reused for received bytes. The simulated proxies copy each DATA payload out of one
 * shared socket read buffer into slabs from here and hand the slabs back once the message is handled, so
 * that receiving 541 MB per change allocates nothing: every fresh read buffer is external memory to V8,
 * and at that rate it triggered a full garbage collection every ~20 MB (about 40 % of the fleet's CPU).
 */
export class SlabPool {
  private readonly free: Buffer[] = [];
  /** Slabs ever allocated (in use or free). */
  allocated = 0;

  constructor(
    readonly slabBytes = 64 * 1024,
    /** Free slabs kept beyond this many are left to the garbage collector. */
    private readonly maxFree = 4096,
  ) {}

  take(): Buffer {
    const slab = this.free.pop();
    if (slab) return slab;
    this.allocated++;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  give(slab: Buffer): void {
    if (slab.length === this.slabBytes && this.free.length < this.maxFree) this.free.push(slab);
  }

  get freeCount(): number {
    return this.free.length;
  }
}
