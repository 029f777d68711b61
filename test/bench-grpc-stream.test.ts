import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GrpcBidiStream, SlabPool } from '../src/pilot/index.js';
import type { ChunkedMessage } from '../src/pilot/index.js';

/** Splits a gRPC byte stream into messages. */
function messageReader(onMessage: (m: Buffer) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const n = pending.readUInt32BE(1);
      onMessage(pending.subarray(5, 5 + n));
      pending = pending.subarray(5 + n);
    }
  };
}

const framed = (m: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(m.length, 1);
  return Buffer.concat([head, m]);
};

describe('the simulated proxies\u2019 gRPC stream (HTTP/2 framing on a plain socket)', () => {
  let server: http2.Http2Server;
  let target: string;
  const seenHeaders: http2.IncomingHttpHeaders[] = [];

  before(async () => {
    // An echo service on node:http2 with padded DATA frames and the protocol's default 64 KiB windows:
    // a 300 KiB request needs the server's WINDOW_UPDATEs, a 1 MiB echo needs the client's.
    server = http2.createServer({ paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
    server.on('stream', (stream, headers) => {
      seenHeaders.push(headers);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.on(
        'data',
        messageReader((m) => {
          if (m.toString() === 'end') stream.end();
          else if (m.toString().startsWith('big:'))
            stream.write(framed(randomBytesOf(Number(m.subarray(4).toString()))));
          else stream.write(framed(m));
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** Deterministic bytes of a given length, so the client can check what it got. */
  function randomBytesOf(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = (i * 31 + 7) & 0xff;
    return out;
  }

  function open(windowBytes: number, slabs = new SlabPool(4096)) {
    const got: Buffer[] = [];
    let closed: string | undefined;
    const waiters: (() => void)[] = [];
    const wake = () => waiters.splice(0).forEach((w) => w());
    const stream = new GrpcBidiStream({
      target,
      method: '/test.Echo/Chat',
      windowBytes,
      slabs,
      onMessage: (m: ChunkedMessage) => {
        got.push(Buffer.from(m.slice(0, m.length)));
        wake();
      },
      onClose: (detail) => {
        closed = detail;
        wake();
      },
    });
    const until = async (ok: () => boolean) => {
      while (!ok()) await new Promise<void>((r) => waiters.push(r));
    };
    return { stream, got, until, closed: () => closed, slabs };
  }

  it('sends a request the server sees as gRPC, and messages larger than either window both ways', async () => {
    const c = open(0);
    const big = randomBytes(300 * 1024);
    c.stream.write(Buffer.from('hello'));
    c.stream.write(big);
    c.stream.write(Buffer.from('big:1048576'));
    await c.until(() => c.got.length === 3);
    const h = seenHeaders.at(-1) ?? {};
    assert.deepEqual(
      [h[':method'], h[':path'], h[':scheme'], h['content-type'], h['te'], h[':authority']],
      ['POST', '/test.Echo/Chat', 'http', 'application/grpc', 'trailers', target],
    );
    assert.equal(c.got[0]?.toString(), 'hello');
    assert.ok(c.got[1]?.equals(big), 'the 300 KiB message came back intact (padded frames, slab boundaries)');
    assert.ok(c.got[2]?.equals(randomBytesOf(1048576)), '1 MiB echo received within a 64 KiB window');
    assert.equal(c.slabs.allocated, c.slabs.freeCount, 'every slab returned after its message');
    c.stream.write(Buffer.from('end'));
    await c.until(() => c.closed() !== undefined);
    assert.match(c.closed() ?? '', /trailers/);
  });

  it('reuses slabs across messages and streams with a large window', async () => {
    const slabs = new SlabPool(1024);
    const a = open(256 * 1024 * 1024, slabs);
    a.stream.write(Buffer.from('big:200000'));
    await a.until(() => a.got.length === 1);
    const afterFirst = slabs.allocated;
    a.stream.write(Buffer.from('big:200000'));
    await a.until(() => a.got.length === 2);
    assert.equal(slabs.allocated, afterFirst, 'the second message fits in the slabs of the first');
    assert.ok(a.got[1]?.equals(randomBytesOf(200000)));
    a.stream.close();
  });

  it('reports a connection that fails', async () => {
    const probe = http2.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    let detail: string | undefined;
    await new Promise<void>((resolve) => {
      new GrpcBidiStream({
        target: `127.0.0.1:${port}`,
        method: '/x/y',
        windowBytes: 0,
        slabs: new SlabPool(),
        onMessage: () => {},
        onClose: (d) => {
          detail = d;
          resolve();
        },
      });
    });
    assert.match(detail ?? '', /ECONNREFUSED/);
  });
});
