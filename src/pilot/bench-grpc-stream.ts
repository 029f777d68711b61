/**
 * One client-side gRPC bidi stream on a plain TCP socket, for the benchmark's simulated proxies: HTTP/2
 * framing written here, received bytes read into one process-wide buffer (`net` `onread`) and copied into
 * reused slabs (`SlabPool`), messages handed over in those pieces (`ChunkedMessage`). Neither grpc-js nor
 * node:http2 can receive without a fresh buffer per socket read (grpc-js also joins every message), and at
 * 1,000 proxies × 541 KiB per change those buffers made V8 run a full collection every ~20 MB: the
 * simulated fleet then needed more CPU than the control plane it measures, on the same two cores.
 *
 * What it speaks: the client preface and SETTINGS (push off, the stream window asked for) plus a
 * connection WINDOW_UPDATE; one request HEADERS block (HPACK literals, no Huffman, no dynamic table);
 * 5-byte length-prefixed messages in DATA frames within the server's windows and frame size; WINDOW_UPDATEs
 * as data is consumed; SETTINGS and PING acknowledged. Response header blocks are not decoded (the
 * simulated proxy needs none of their values, so no HPACK state is kept): the stream ends on trailers
 * (HEADERS with END_STREAM), RST_STREAM, GOAWAY or the connection closing.
 */
import * as net from 'node:net';
import { ChunkedMessage } from './bench-chunked-message.js';
import type { SlabPool } from './bench-slab-pool.js';

export interface GrpcStreamOptions {
  /** `host:port` or `[v6]:port`. */
  target: string;
  /** Full method path, e.g. `/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources`. */
  method: string;
  /** HTTP/2 receive window for the stream and the connection (bytes); 0 keeps the protocol's 65,535. */
  windowBytes: number;
  slabs: SlabPool;
  /** A whole message; its pieces are reused once this returns, so nothing may keep them. */
  onMessage(message: ChunkedMessage): void;
  /** The stream ended (not called after `close`). */
  onClose(detail: string): void;
}

const FRAME = {
  data: 0,
  headers: 1,
  rstStream: 3,
  settings: 4,
  ping: 6,
  goaway: 7,
  windowUpdate: 8,
} as const;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const SETTING_ENABLE_PUSH = 0x2;
const SETTING_INITIAL_WINDOW_SIZE = 0x4;
const SETTING_MAX_FRAME_SIZE = 0x5;
const DEFAULT_WINDOW = 65_535;
const MAX_WINDOW = 2 ** 31 - 1;
/** The frame size every endpoint must accept; this client never raises its own. */
const MAX_FRAME = 16_384;
const STREAM = 1;
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Every socket's reads land here, one read at a time; the bytes are copied out before the next. */
let readBuffer: Buffer | undefined;

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId, 5);
  payload.copy(out, 9);
  return out;
}

/** An HPACK integer with an N-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, pattern: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [pattern | value];
  const out = [pattern | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function hpackString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from(hpackInteger(bytes.length, 7, 0)), bytes]);
}

/** A request header block: static-table entries where they exist, else literals never indexed. */
export function requestHeaderBlock(method: string, authority: string): Buffer {
  // RFC 7541 Appendix A: 1 :authority, 3 :method POST, 4 :path, 6 :scheme http, 31 content-type.
  const literalWithName = (index: number, value: string): Buffer =>
    Buffer.concat([Buffer.from(hpackInteger(index, 4, 0)), hpackString(value)]);
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),
    literalWithName(4, method),
    literalWithName(1, authority),
    literalWithName(31, 'application/grpc'),
    Buffer.from([0]),
    hpackString('te'),
    hpackString('trailers'),
  ]);
}

function hostAndPort(target: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(target) ?? /^([^:]+):(\d+)$/.exec(target);
  if (!m) throw new Error(`target "${target}" is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

export class GrpcBidiStream {
  private readonly socket: net.Socket;
  private readonly window: number;
  private ended = false;
  // Sending: the server's windows and frame size, and the bytes waiting for window.
  private sendConnection = DEFAULT_WINDOW;
  private sendStream = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = MAX_FRAME;
  private readonly waiting: Buffer[] = [];
  // Receiving: consumed bytes not yet given back with WINDOW_UPDATE.
  private unackedConnection = 0;
  private unackedStream = 0;
  // Frame parsing.
  private readonly head = Buffer.alloc(9);
  private headHave = 0;
  private frameType = 0;
  private frameFlags = 0;
  private frameStream = 0;
  private frameLength = 0;
  /** Payload bytes of the current frame still to come; -1 while reading a frame header. */
  private frameLeft = -1;
  /** DATA: payload bytes before the padding (-1 until the pad length byte of a padded frame is read). */
  private dataLeft = 0;
  private control = Buffer.alloc(0);
  private controlHave = 0;
  // Message assembly.
  private readonly prefix = Buffer.alloc(5);
  private prefixHave = 0;
  private messageLength = -1;
  private messageHave = 0;
  private slabs: Buffer[] = [];
  private slabUsed = 0;

  constructor(private readonly options: GrpcStreamOptions) {
    this.window = options.windowBytes > 0 ? Math.min(options.windowBytes, MAX_WINDOW) : DEFAULT_WINDOW;
    const { host, port } = hostAndPort(options.target);
    readBuffer ??= Buffer.allocUnsafeSlow(256 * 1024);
    this.socket = net.connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          this.onBytes(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket.on('error', (err) => this.end(err.message));
    this.socket.on('close', () => this.end('connection closed'));
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTING_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTING_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(this.window, 8);
    const parts = [PREFACE, frame(FRAME.settings, 0, 0, settings)];
    if (this.window > DEFAULT_WINDOW) parts.push(this.windowUpdate(0, this.window - DEFAULT_WINDOW));
    parts.push(
      frame(FRAME.headers, FLAG_END_HEADERS, STREAM, requestHeaderBlock(options.method, options.target)),
    );
    this.socket.write(Buffer.concat(parts));
  }

  write(message: Buffer): void {
    if (this.ended) return;
    const framed = Buffer.allocUnsafe(5 + message.length);
    framed[0] = 0;
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, 5);
    this.waiting.push(framed);
    this.flush();
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.releaseMessage();
    this.socket.destroy();
  }

  private end(detail: string): void {
    if (this.ended) return;
    this.ended = true;
    this.releaseMessage();
    this.socket.destroy();
    this.options.onClose(detail);
  }

  private windowUpdate(streamId: number, increment: number): Buffer {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    return frame(FRAME.windowUpdate, 0, streamId, payload);
  }

  /** Sends waiting message bytes as far as the server's windows allow. */
  private flush(): void {
    while (this.waiting.length > 0 && !this.ended) {
      const allowed = Math.min(this.sendConnection, this.sendStream, this.peerMaxFrame);
      if (allowed <= 0) return;
      const first = this.waiting[0] as Buffer;
      const n = Math.min(allowed, first.length);
      this.socket.write(frame(FRAME.data, 0, STREAM, first.subarray(0, n)));
      this.sendConnection -= n;
      this.sendStream -= n;
      if (n === first.length) this.waiting.shift();
      else this.waiting[0] = first.subarray(n);
    }
  }

  private onBytes(buf: Buffer, length: number): void {
    let at = 0;
    while (at < length && !this.ended) {
      if (this.frameLeft < 0) {
        const n = Math.min(9 - this.headHave, length - at);
        buf.copy(this.head, this.headHave, at, at + n);
        this.headHave += n;
        at += n;
        if (this.headHave < 9) return;
        this.headHave = 0;
        this.startFrame();
        if (this.frameLeft === 0) this.finishFrame();
        continue;
      }
      const n = Math.min(this.frameLeft, length - at);
      if (this.frameType === FRAME.data) this.onDataBytes(buf, at, at + n);
      else {
        buf.copy(this.control, this.controlHave, at, at + n);
        this.controlHave += n;
      }
      at += n;
      this.frameLeft -= n;
      if (this.frameLeft === 0) this.finishFrame();
    }
  }

  private startFrame(): void {
    this.frameLength = this.head.readUIntBE(0, 3);
    this.frameType = this.head[3] as number;
    this.frameFlags = this.head[4] as number;
    this.frameStream = this.head.readUInt32BE(5) & 0x7fffffff;
    if (this.frameLength > MAX_FRAME) {
      this.end(`frame of ${this.frameLength} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${MAX_FRAME}`);
      return;
    }
    this.frameLeft = this.frameLength;
    if (this.frameType === FRAME.data) {
      this.dataLeft = this.frameFlags & FLAG_PADDED ? -1 : this.frameLength;
    } else {
      if (this.control.length < this.frameLength) this.control = Buffer.alloc(MAX_FRAME);
      this.controlHave = 0;
    }
  }

  private onDataBytes(buf: Buffer, start: number, end: number): void {
    let at = start;
    if (this.dataLeft < 0) {
      // The pad length byte of a padded frame: the data is what remains before the padding.
      this.dataLeft = this.frameLength - 1 - (buf[at] as number);
      at++;
      if (this.dataLeft < 0) {
        this.end('DATA frame padding exceeds its length');
        return;
      }
    }
    const n = Math.min(this.dataLeft, end - at);
    if (n > 0 && this.frameStream === STREAM) this.onMessageBytes(buf, at, at + n);
    this.dataLeft -= n;
  }

  private finishFrame(): void {
    this.frameLeft = -1;
    const type = this.frameType;
    const flags = this.frameFlags;
    const payload = this.control.subarray(0, this.controlHave);
    if (type === FRAME.data) {
      this.consumed(this.frameLength);
      if (flags & FLAG_END_STREAM && this.frameStream === STREAM) this.end('stream ended without trailers');
    } else if (type === FRAME.headers) {
      if (flags & FLAG_END_STREAM && this.frameStream === STREAM) this.end('stream ended (trailers)');
    } else if (type === FRAME.rstStream) {
      if (this.frameStream === STREAM) this.end(`stream reset (code ${payload.readUInt32BE(0)})`);
    } else if (type === FRAME.goaway) {
      this.end(`GOAWAY (code ${payload.length >= 8 ? payload.readUInt32BE(4) : 0})`);
    } else if (type === FRAME.settings && !(flags & FLAG_ACK)) {
      this.applySettings(payload);
    } else if (type === FRAME.ping && !(flags & FLAG_ACK)) {
      this.socket.write(frame(FRAME.ping, FLAG_ACK, 0, payload));
    } else if (type === FRAME.windowUpdate && payload.length === 4) {
      const increment = payload.readUInt32BE(0) & 0x7fffffff;
      if (this.frameStream === 0) this.sendConnection += increment;
      else if (this.frameStream === STREAM) this.sendStream += increment;
      this.flush();
    }
  }

  private applySettings(payload: Buffer): void {
    for (let at = 0; at + 6 <= payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === SETTING_INITIAL_WINDOW_SIZE) {
        this.sendStream += value - this.peerInitialWindow;
        this.peerInitialWindow = value;
      } else if (id === SETTING_MAX_FRAME_SIZE) {
        this.peerMaxFrame = value;
      }
    }
    this.socket.write(frame(FRAME.settings, FLAG_ACK, 0, Buffer.alloc(0)));
    this.flush();
  }

  /** Gives received bytes back to the server's view of our windows once half of one is used. */
  private consumed(bytes: number): void {
    this.unackedConnection += bytes;
    if (this.frameStream === STREAM) this.unackedStream += bytes;
    const half = Math.floor(this.window / 2);
    const updates: Buffer[] = [];
    if (this.unackedConnection >= half) {
      updates.push(this.windowUpdate(0, this.unackedConnection));
      this.unackedConnection = 0;
    }
    if (this.unackedStream >= half) {
      updates.push(this.windowUpdate(STREAM, this.unackedStream));
      this.unackedStream = 0;
    }
    if (updates.length > 0) this.socket.write(Buffer.concat(updates));
  }

  private onMessageBytes(buf: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end && !this.ended) {
      if (this.messageLength < 0) {
        const n = Math.min(5 - this.prefixHave, end - at);
        buf.copy(this.prefix, this.prefixHave, at, at + n);
        this.prefixHave += n;
        at += n;
        if (this.prefixHave < 5) return;
        this.prefixHave = 0;
        if (this.prefix[0] !== 0) {
          this.end('compressed gRPC messages are not supported');
          return;
        }
        this.messageLength = this.prefix.readUInt32BE(1);
        this.messageHave = 0;
        if (this.messageLength === 0) this.deliver();
        continue;
      }
      const slabBytes = this.options.slabs.slabBytes;
      if (this.slabs.length === 0 || this.slabUsed === slabBytes) {
        this.slabs.push(this.options.slabs.take());
        this.slabUsed = 0;
      }
      const n = Math.min(this.messageLength - this.messageHave, end - at, slabBytes - this.slabUsed);
      buf.copy(this.slabs[this.slabs.length - 1] as Buffer, this.slabUsed, at, at + n);
      this.slabUsed += n;
      this.messageHave += n;
      at += n;
      if (this.messageHave === this.messageLength) this.deliver();
    }
  }

  private deliver(): void {
    const slabBytes = this.options.slabs.slabBytes;
    const last = this.slabs.length - 1;
    const parts = this.slabs.map((s, i) => s.subarray(0, i === last ? this.slabUsed : slabBytes));
    const message = new ChunkedMessage(parts, this.messageLength);
    this.messageLength = -1;
    try {
      this.options.onMessage(message);
    } finally {
      this.releaseMessage();
    }
  }

  private releaseMessage(): void {
    for (const slab of this.slabs) this.options.slabs.give(slab);
    this.slabs = [];
    this.slabUsed = 0;
  }
}
