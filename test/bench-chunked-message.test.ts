import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ChunkedMessage, parseResponseEnvelope } from '../src/pilot/index.js';

/** `buf` cut into pieces of `size` bytes (the last one shorter), as HTTP/2 DATA frames deliver it. */
function cut(buf: Buffer, size: number): ChunkedMessage {
  const parts: Buffer[] = [];
  for (let at = 0; at < buf.length; at += size) parts.push(buf.subarray(at, at + size));
  return new ChunkedMessage(parts, buf.length);
}

const field = (n: number, text: string | Buffer): Buffer => {
  const body = Buffer.isBuffer(text) ? text : Buffer.from(text);
  assert.ok(body.length < 128 * 128);
  const len = body.length < 128 ? [body.length] : [(body.length & 127) | 128, body.length >> 7];
  return Buffer.concat([Buffer.from([n * 8 + 2, ...len]), body]);
};

describe('ChunkedMessage (the simulated proxies read responses in the pieces they arrived in)', () => {
  const data = randomBytes(5000);

  it('reads, slices and compares across piece boundaries as one buffer would', () => {
    for (const size of [1, 7, 1000, 5000]) {
      const msg = cut(data, size);
      assert.equal(msg.byteAt(4999), data[4999]);
      assert.equal(msg.byteAt(0), data[0]);
      assert.ok(msg.slice(3, 4003).equals(data.subarray(3, 4003)), `slice, pieces of ${size}`);
      assert.ok(msg.equals(10, 4010, data.subarray(10, 4010)));
      const other = Buffer.from(data.subarray(10, 4010));
      other[3999] = (other[3999] as number) ^ 1;
      assert.equal(msg.equals(10, 4010, other), false, 'a different last byte');
      assert.equal(msg.equals(10, 4010, data.subarray(10, 4009)), false, 'a different length');
      assert.equal(msg.fingerprint(0, 5000), cut(data, 13).fingerprint(0, 5000), 'fingerprint ignores cuts');
    }
    assert.throws(() => cut(data, 100).byteAt(5000), /truncated/);
    assert.throws(() => new ChunkedMessage([data], 10), /expected 10/);
  });

  it('finds a DiscoveryResponse envelope and its resources in place, whatever the cuts', () => {
    const anys = [field(2, field(1, 'type/x')), field(2, Buffer.concat([field(1, 'type/x'), field(2, 'y')]))];
    const resources = Buffer.concat(anys);
    const response = Buffer.concat([field(1, 'v7'), field(4, 'type/x'), field(5, 'nonce-3'), resources]);
    for (const size of [1, 3, 64]) {
      const raw = parseResponseEnvelope(cut(response, size));
      assert.deepEqual([raw.versionInfo, raw.typeUrl, raw.nonce], ['v7', 'type/x', 'nonce-3']);
      const { message, start, end } = raw.resources;
      assert.ok(message.equals(start, end, resources), `pieces of ${size}`);
    }
    // Resources interrupted by another field are joined, in order.
    const interleaved = Buffer.concat([anys[0] as Buffer, field(5, 'n'), anys[1] as Buffer]);
    const raw = parseResponseEnvelope(cut(interleaved, 5));
    assert.ok(raw.resources.message.slice(raw.resources.start, raw.resources.end).equals(resources));
    assert.throws(() => parseResponseEnvelope(Buffer.from([0x12, 0x05, 1])), /truncated/);
  });
});
