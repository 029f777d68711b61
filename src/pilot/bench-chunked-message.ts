/**
 * A received gRPC message left in the pieces it was received into (reused slabs): the simulated
 * proxies read a DiscoveryResponse's envelope, fingerprint and compare its resources in place, so that a
 * 541 KiB route configuration sent to 1,000 proxies is never joined into 1,000 fresh buffers (that copy
 * and its garbage were most of the benchmark's receiving cost).
 */
import { sampledFingerprintOf } from '../xds/index.js';

export class ChunkedMessage {
  /** Start offset of each part within the message. */
  private readonly starts: number[] = [];
  /** The part of the last `byteAt` lookup: reads are mostly sequential. */
  private cursor = 0;

  constructor(
    readonly parts: readonly Buffer[],
    readonly length: number,
  ) {
    let at = 0;
    for (const p of parts) {
      this.starts.push(at);
      at += p.length;
    }
    if (at !== length) throw new Error(`message parts hold ${at} bytes, expected ${length}`);
  }

  static of(buf: Buffer): ChunkedMessage {
    return new ChunkedMessage([buf], buf.length);
  }

  private partAt(offset: number): number {
    let i = this.cursor;
    const starts = this.starts;
    if (offset < (starts[i] ?? 0)) i = 0;
    while (i + 1 < starts.length && (starts[i + 1] as number) <= offset) i++;
    this.cursor = i;
    return i;
  }

  byteAt(offset: number): number {
    if (offset < 0 || offset >= this.length) throw new Error('truncated message');
    const i = this.partAt(offset);
    return (this.parts[i] as Buffer)[offset - (this.starts[i] as number)] as number;
  }

  /** Bytes [start, end): a view when they lie in one part, else a copy. */
  slice(start: number, end: number): Buffer {
    if (start < 0 || end > this.length || start > end) throw new Error('range outside the message');
    if (start === end) return Buffer.alloc(0);
    const i = this.partAt(start);
    const partStart = this.starts[i] as number;
    const part = this.parts[i] as Buffer;
    if (end - partStart <= part.length) return part.subarray(start - partStart, end - partStart);
    const out = Buffer.allocUnsafe(end - start);
    this.copyTo(out, start, end);
    return out;
  }

  toString(start: number, end: number): string {
    return this.slice(start, end).toString('utf8');
  }

  /** Whether bytes [start, end) equal `other` (one memcmp per part, nothing copied). */
  equals(start: number, end: number, other: Buffer): boolean {
    if (end - start !== other.length) return false;
    return this.eachPiece(
      start,
      end,
      (part, from, n, at) => part.compare(other, at, at + n, from, from + n) === 0,
    );
  }

  /** `sampledFingerprint` of bytes [start, end): equal ranges always agree, `equals` tells the rest apart. */
  fingerprint(start: number, end: number, samples = 256): number {
    return sampledFingerprintOf(end - start, (i) => this.byteAt(start + i), samples);
  }

  private copyTo(out: Buffer, start: number, end: number): void {
    this.eachPiece(start, end, (part, from, n, at) => {
      part.copy(out, at, from, from + n);
      return true;
    });
  }

  /**
   * Visits the pieces of bytes [start, end) in order: `part` bytes [from, from + n) are the range's bytes
   * [at, at + n). Stops, returning false, when `visit` returns false.
   */
  private eachPiece(
    start: number,
    end: number,
    visit: (part: Buffer, from: number, n: number, at: number) => boolean,
  ): boolean {
    let at = start;
    while (at < end) {
      const i = this.partAt(at);
      const part = this.parts[i] as Buffer;
      const from = at - (this.starts[i] as number);
      const n = Math.min(part.length - from, end - at);
      if (!visit(part, from, n, at - start)) return false;
      at += n;
    }
    return true;
  }
}
