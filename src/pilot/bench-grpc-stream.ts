/**
 * One client-side gRPC bidi stream straight on node:http2, for the benchmark's simulated proxies: messages
 * are handed over as the DATA frames that carried them (`ChunkedMessage`), never joined. grpc-js copies
 * every received message into one new buffer; at 1,000 proxies × 541 KiB per change that copy and its
 * garbage cost the simulated fleet more CPU than the control plane spends producing the push, on the same
 * two cores. The wire is the same: HTTP/2 POST with `content-type: application/grpc`, 5-byte
 * length-prefixed messages, `grpc-status` in the trailers.
 */
import * as http2 from 'node:http2';
import { ChunkedMessage } from './bench-chunked-message.js';

export interface GrpcStreamOptions {
  /** `host:port`. */
  target: string;
  /** Full method path, e.g. `/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources`. */
  method: string;
  /** HTTP/2 flow-control window for the stream and the connection (bytes); 0 keeps the 64 KiB default. */
  windowBytes: number;
  onMessage(message: ChunkedMessage): void;
  /** The stream ended: `status` is its grpc-status, or undefined when the connection failed. */
  onClose(status: number | undefined, detail: string): void;
}

const PREFIX_BYTES = 5;

export class GrpcBidiStream {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private closed = false;
  private status: number | undefined;
  private detail = '';
  // Framing state: the pieces of the prefix or message being read.
  private prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixHave = 0;
  private messageLength = -1;
  private pieces: Buffer[] = [];
  private piecesHave = 0;

  constructor(private readonly options: GrpcStreamOptions) {
    const window = options.windowBytes;
    this.session = http2.connect(`http://${options.target}`, {
      settings: window > 0 ? { initialWindowSize: Math.min(window, 2 ** 31 - 1) } : {},
    });
    this.session.on('error', (err: Error) => this.finish(undefined, err.message));
    if (window > 0) {
      this.session.once('connect', () => {
        if (!this.session.destroyed) this.session.setLocalWindowSize(Math.min(window, 2 ** 31 - 1));
      });
    }
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': options.method,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    this.stream.on('response', (headers) => this.readStatus(headers));
    this.stream.on('trailers', (headers) => this.readStatus(headers));
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.on('error', (err: Error) => this.finish(undefined, err.message));
    this.stream.on('close', () => this.finish(this.status, this.detail));
  }

  write(message: Buffer): void {
    if (this.closed) return;
    const framed = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
    framed[0] = 0;
    framed.writeUInt32BE(message.length, 1);
    message.copy(framed, PREFIX_BYTES);
    this.stream.write(framed);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.session.destroy();
  }

  private readStatus(headers: http2.IncomingHttpHeaders): void {
    const status = headers['grpc-status'];
    if (status !== undefined) this.status = Number(status);
    const message = headers['grpc-message'];
    if (typeof message === 'string') this.detail = decodeURIComponent(message);
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let at = 0;
    while (at < chunk.length) {
      if (this.messageLength < 0) {
        const n = Math.min(PREFIX_BYTES - this.prefixHave, chunk.length - at);
        chunk.copy(this.prefix, this.prefixHave, at, at + n);
        this.prefixHave += n;
        at += n;
        if (this.prefixHave < PREFIX_BYTES) return;
        if (this.prefix[0] !== 0) {
          this.stream.close(http2.constants.NGHTTP2_CANCEL);
          this.finish(undefined, 'compressed gRPC messages are not supported');
          return;
        }
        this.messageLength = this.prefix.readUInt32BE(1);
        this.prefixHave = 0;
      }
      const n = Math.min(this.messageLength - this.piecesHave, chunk.length - at);
      if (n > 0) this.pieces.push(chunk.subarray(at, at + n));
      this.piecesHave += n;
      at += n;
      if (this.piecesHave === this.messageLength) {
        const message = new ChunkedMessage(this.pieces, this.messageLength);
        this.pieces = [];
        this.piecesHave = 0;
        this.messageLength = -1;
        this.options.onMessage(message);
      }
    }
  }

  /** Reports the end once (not after `close`, which the owner asked for). */
  private finish(status: number | undefined, detail: string): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.session.destroyed) this.session.destroy();
    this.options.onClose(status, detail);
  }
}
