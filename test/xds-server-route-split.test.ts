import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResourceCache, XDS_TYPE, decodeAny, encodeAny } from '../src/xds/index.js';

/** A route configuration with `n` virtual hosts, host 0 with the given timeout. */
function routeConfig(n: number, timeout: string): Record<string, unknown> {
  const virtualHosts = Array.from({ length: n }, (_, i) => ({
    name: `svc-${i}.bench.svc.cluster.local:8080`,
    domains: [`svc-${i}.bench.svc.cluster.local`, `svc-${i}`],
    routes: [
      {
        match: { prefix: '/' },
        route: {
          cluster: `outbound|8080||svc-${i}.bench.svc.cluster.local`,
          timeout: i === 0 ? timeout : '10s',
        },
        decorator: { operation: `svc-${i}:8080/*` },
      },
    ],
    includeRequestAttemptCount: true,
  }));
  return { name: '8080', virtualHosts, validateClusters: false, ignorePortInHostMatching: true };
}

/** The message bytes of encoding the whole resource at once. */
function wholeBytes(json: object): Buffer {
  return Buffer.from(encodeAny(XDS_TYPE.route, json).value);
}

function valueOf(anyBytes: Uint8Array, size: number): Buffer {
  return Buffer.from(anyBytes).subarray(anyBytes.length - size);
}

describe('large route configurations encoded per virtual host', () => {
  it('gives exactly the bytes of encoding the whole message, before and after a change', () => {
    const cache = new ResourceCache();
    for (const timeout of ['10s', '7s', '10s']) {
      const json = routeConfig(40, timeout);
      const r = cache.encode(XDS_TYPE.route, json);
      assert.equal(r.size, wholeBytes(json).length);
      assert.deepEqual(valueOf(r.anyBytes, r.size), wholeBytes(json));
      assert.deepEqual(
        decodeAny({ type_url: XDS_TYPE.route, value: valueOf(r.anyBytes, r.size) }),
        decodeAny(encodeAny(XDS_TYPE.route, json)),
      );
      cache.nextGeneration();
    }
  });

  it('changes the bytes when one virtual host changes, and keeps name and other fields', () => {
    const cache = new ResourceCache();
    const a = cache.encode(XDS_TYPE.route, routeConfig(40, '10s'));
    const b = cache.encode(XDS_TYPE.route, routeConfig(40, '7s'));
    assert.notEqual(a.hash, b.hash);
    assert.notDeepEqual(Buffer.from(a.anyBytes), Buffer.from(b.anyBytes));
    const decoded = decodeAny({ type_url: XDS_TYPE.route, value: valueOf(b.anyBytes, b.size) });
    assert.equal(decoded['name'], '8080');
    assert.equal(decoded['ignorePortInHostMatching'], true);
    const hosts = decoded['virtualHosts'] as Record<string, unknown>[];
    assert.equal(hosts.length, 40);
    assert.ok(JSON.stringify(hosts[0]).includes('"7s"'));
    assert.ok(!JSON.stringify(hosts[1]).includes('"7s"'));
  });

  it('encodes odd virtual hosts as the whole message does', () => {
    const cache = new ResourceCache();
    const json = routeConfig(20, '10s');
    const hosts = json['virtualHosts'] as Record<string, unknown>[];
    hosts[3] = { name: 'odd', domains: 'not-a-list' };
    hosts[4] = { name: 'odd', unknownField: 1 };
    const r = cache.encode(XDS_TYPE.route, json);
    assert.deepEqual(valueOf(r.anyBytes, r.size), wholeBytes(json));
    // Fewer hosts than the split threshold: encoded whole, same bytes.
    const small = routeConfig(3, '10s');
    const s = cache.encode(XDS_TYPE.route, small);
    assert.deepEqual(valueOf(s.anyBytes, s.size), wholeBytes(small));
  });
});
