/**
 * Writing one gRPC message as several buffers. grpc-js serializes a response into one Buffer and copies
 * it behind its 5-byte prefix; for the ADS server a response is mostly a body shared by every proxy that
 * is sent the same resources (hundreds of KiB), so both copies per proxy — and the garbage collections
 * their large allocations cause — are avoided by writing the prefixed head and the shared body straight
 * onto the call's HTTP/2 stream, corked into one writev.
 *
 * The HTTP/2 stream is a grpc-js internal (`ServerDuplexStream.call.stream` when no interceptor is
 * installed). When it is not where this expects it, messages go through grpc-js's public `write` as one
 * concatenated Buffer (the serializer passes Buffers through), with the same bytes on the wire.
 */
import { Metadata } from '@grpc/grpc-js';
import type { ServerDuplexStream } from '@grpc/grpc-js';

/** The part of Node's Http2Stream used here. */
interface RawStream {
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  respond: unknown;
}

function isRawStream(v: unknown): v is RawStream {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<Record<keyof RawStream, unknown>>;
  return (
    typeof s.write === 'function' &&
    typeof s.cork === 'function' &&
    typeof s.uncork === 'function' &&
    typeof s.respond === 'function' &&
    typeof s.destroyed === 'boolean'
  );
}

/** The stream closed (or was cancelled) before the message could be written. */
export class StreamClosedError extends Error {}

/** Writes framed gRPC messages for one server call. */
export class MessageWriter {
  private readonly raw: RawStream | undefined;
  private headersSent = false;

  constructor(private readonly call: ServerDuplexStream<unknown, unknown>) {
    const inner = (call as unknown as { call?: { stream?: unknown; constructor?: { name?: string } } }).call;
    // Only grpc-js's base call writes straight to the stream; an interceptor in between must see messages.
    const stream = inner?.constructor?.name === 'BaseServerInterceptingCall' ? inner.stream : undefined;
    this.raw = isRawStream(stream) ? stream : undefined;
  }

  /** Whether messages bypass grpc-js's serializer (false: the fallback through `call.write`). */
  get direct(): boolean {
    return this.raw !== undefined;
  }

  /**
   * Writes one message: `chunks` are the gRPC length prefix and the message bytes, in order (the prefix
   * must count every chunk after it). `done` runs once the bytes were handed to the HTTP/2 stream.
   */
  write(chunks: readonly Buffer[], done: (err?: Error) => void): void {
    const raw = this.raw;
    if (!raw) {
      const message = Buffer.concat(chunks).subarray(5);
      this.call.write(message, (err: Error | null | undefined) => done(err ?? undefined));
      return;
    }
    if (raw.destroyed || raw.writableEnded) {
      done(new StreamClosedError('stream closed'));
      return;
    }
    if (!this.headersSent) {
      // grpc-js sends the response headers before its first message; do the same (it does it only once).
      this.headersSent = true;
      this.call.sendMetadata(new Metadata());
    }
    const parts = chunks.filter((c) => c.length > 0);
    const last = parts.length - 1;
    raw.cork();
    try {
      parts.forEach((chunk, i) =>
        raw.write(
          chunk,
          i === last
            ? (err?: Error | null) =>
                done(err ? (raw.destroyed ? new StreamClosedError(err.message) : err) : undefined)
            : undefined,
        ),
      );
    } finally {
      raw.uncork();
    }
  }
}
