import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { decideBlowup, parseBlowup, startCatalog } from '../src/lab/index.js';
import type { AppHandle, Blowup } from '../src/lab/index.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ms: number;
}

/** One request on a fresh connection. */
function call(port: number, method: string, path: string, body?: string): Promise<Reply> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          ms: Date.now() - started,
        }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) {
      req.setHeader('content-type', 'application/json');
      // Node frames DELETE bodies only with an explicit length (curl -d sends one too).
      req.setHeader('content-length', Buffer.byteLength(body));
    }
    req.end(body);
  });
}

const blowup = (port: number, settings: Record<string, unknown>): Promise<Reply> =>
  call(port, 'POST', '/blowup', JSON.stringify(settings));

// `curl http://catalog.istioinaction.io:30000/items` in the seed, byte for byte.
const SEED_ITEMS = `[
  {
    "id": 1,
    "color": "amber",
    "department": "Eyewear",
    "name": "Elinor Glasses",
    "price": "282.00"
  },
  {
    "id": 2,
    "color": "cyan",
    "department": "Clothing",
    "name": "Atlas Shirt",
    "price": "127.00"
  },
  {
    "id": 3,
    "color": "teal",
    "department": "Clothing",
    "name": "Small Metal Shoes",
    "price": "232.00"
  },
  {
    "id": 4,
    "color": "red",
    "department": "Watches",
    "name": "Red Dragon Watch",
    "price": "232.00"
  }
]`;

const quiet = (): void => {};

describe('catalog items', () => {
  let app: AppHandle;
  before(async () => {
    app = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
  });
  after(() => app.close());

  it('serves the seed items byte for byte, 502 bytes as the gateway logs count', async () => {
    const r = await call(app.port, 'GET', '/items');
    assert.equal(r.status, 200);
    assert.equal(r.body, SEED_ITEMS);
    assert.equal(r.headers['content-length'], '502');
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const items = JSON.parse(r.body) as Record<string, unknown>[];
    assert.deepEqual(
      items.map((i) => Object.keys(i)),
      Array(4).fill(['id', 'color', 'department', 'name', 'price']),
    );
    assert.deepEqual(
      items.map((i) => i.id),
      [1, 2, 3, 4],
    );
  });

  it('serves one item by id and 404 for unknown or malformed ids', async () => {
    const one = await call(app.port, 'GET', '/items/2');
    assert.equal(one.status, 200);
    assert.deepEqual(JSON.parse(one.body), {
      id: 2,
      color: 'cyan',
      department: 'Clothing',
      name: 'Atlas Shirt',
      price: '127.00',
    });
    assert.equal((await call(app.port, 'GET', '/items/9')).status, 404);
    assert.equal((await call(app.port, 'GET', '/items/abc')).status, 404);
    assert.equal((await call(app.port, 'GET', '/nothing')).status, 404);
  });

  it('answers /health and treats /items/ like /items', async () => {
    const h = await call(app.port, 'GET', '/health');
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { status: 'ok' });
    assert.equal((await call(app.port, 'GET', '/items/')).body, SEED_ITEMS);
  });

  it('adds imageUrl last only when images are on', async () => {
    const v2 = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet, showImage: true, version: 'v2' });
    try {
      const items = JSON.parse((await call(v2.port, 'GET', '/items')).body) as Record<string, unknown>[];
      assert.equal(items.length, 4);
      for (const i of items) {
        assert.deepEqual(Object.keys(i), ['id', 'color', 'department', 'name', 'price', 'imageUrl']);
        assert.equal(i.imageUrl, 'http://lorempixel.com/640/480');
      }
      assert.deepEqual(JSON.parse((await call(v2.port, 'GET', '/health')).body), {
        status: 'ok',
        version: 'v2',
      });
    } finally {
      await v2.close();
    }
    assert.doesNotMatch((await call(app.port, 'GET', '/items')).body, /imageUrl/);
  });

  it('adds posted items with the next id, and refuses non-objects', async () => {
    const own = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
    try {
      const created = await call(
        own.port,
        'POST',
        '/items',
        JSON.stringify({ name: 'Hoop', price: '27.00' }),
      );
      assert.equal(created.status, 201);
      const five = JSON.parse((await call(own.port, 'GET', '/items/5')).body) as unknown;
      assert.deepEqual(five, { name: 'Hoop', price: '27.00', id: 5 });
      assert.equal((await call(own.port, 'POST', '/items', '[1]')).status, 400);
      assert.equal((await call(own.port, 'POST', '/items', '{oops')).status, 400);
    } finally {
      await own.close();
    }
  });
});

describe('catalog /blowup', () => {
  let app: AppHandle;
  const logs: string[] = [];
  before(async () => {
    app = await startCatalog({ host: '127.0.0.1', port: 0, log: (l) => logs.push(l) });
  });
  after(() => app.close());

  it('answers POST as the book does and shows the settings on GET', async () => {
    const r = await blowup(app.port, { type: '500', active: false, percentage: 50 });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'blowups=[object Object]');
    const shown = await call(app.port, 'GET', '/blowup');
    assert.deepEqual(JSON.parse(shown.body), { '500': { type: '500', active: false, percentage: 50 } });
    // Inactive: items are served normally.
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
    await call(app.port, 'DELETE', '/blowup');
  });

  it('refuses bodies it cannot use, without changing anything', async () => {
    for (const bad of ['', '{', '[]', '"x"', '{"type":"explode","active":true}', '{"active":true}']) {
      const r = await call(app.port, 'POST', '/blowup', bad);
      assert.equal(r.status, 400, bad);
    }
    assert.deepEqual(JSON.parse((await call(app.port, 'GET', '/blowup')).body), {});
  });

  it('500 with percentage 100 (or none) fails items requests only', async () => {
    await blowup(app.port, { type: '500', active: true, percentage: 100 });
    for (let i = 0; i < 5; i++) {
      const r = await call(app.port, 'GET', '/items');
      assert.equal(r.status, 500);
      assert.equal(r.body, '');
    }
    assert.equal((await call(app.port, 'GET', '/items/1')).status, 500);
    assert.equal((await call(app.port, 'GET', '/health')).status, 200);
    assert.equal((await call(app.port, 'GET', '/blowup')).status, 200);
    // A number type works as in the book (`type == "500"`); no percentage means every request.
    await blowup(app.port, { type: 500, active: true });
    assert.equal((await call(app.port, 'GET', '/items')).status, 500);
    assert.ok(logs.includes('Sending a 500 blowup'));
    // Setting the same type again replaces it: inactive now.
    await blowup(app.port, { type: '500', active: false });
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
    await call(app.port, 'DELETE', '/blowup');
  });

  it('latency delays items requests by at least latencyMs', async () => {
    await blowup(app.port, { type: 'latency', active: true, latencyMs: 300 });
    const slow = await call(app.port, 'GET', '/items');
    assert.equal(slow.status, 200);
    assert.equal(slow.body, SEED_ITEMS);
    assert.ok(slow.ms >= 295, `took ${slow.ms} ms`);
    const health = await call(app.port, 'GET', '/health');
    assert.ok(health.ms < 250, `health took ${health.ms} ms`);
    await call(app.port, 'DELETE', '/blowup');
    const fast = await call(app.port, 'GET', '/items');
    assert.ok(fast.ms < 250, `after DELETE took ${fast.ms} ms`);
  });

  it('drop closes the connection without a response', async () => {
    await blowup(app.port, { type: 'drop', active: true, percentage: 100 });
    await assert.rejects(call(app.port, 'GET', '/items'), (err: NodeJS.ErrnoException) => {
      assert.equal(err.code, 'ECONNRESET');
      assert.match(err.message, /socket hang up/);
      return true;
    });
    assert.equal((await call(app.port, 'GET', '/health')).status, 200);
    await call(app.port, 'DELETE', '/blowup');
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
  });

  it('DELETE with a type removes only that one; without a type it clears all', async () => {
    await blowup(app.port, { type: '500', active: true });
    await blowup(app.port, { type: 'latency', active: true, latencyMs: 50 });
    const del = await call(app.port, 'DELETE', '/blowup', JSON.stringify({ type: '500' }));
    assert.equal(del.body, 'deleted blowup 500');
    assert.deepEqual(Object.keys(JSON.parse((await call(app.port, 'GET', '/blowup')).body) as object), [
      'latency',
    ]);
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
    await call(app.port, 'DELETE', '/blowup?type=latency');
    assert.deepEqual(JSON.parse((await call(app.port, 'GET', '/blowup')).body), {});
    await blowup(app.port, { type: 'drop', active: true });
    await blowup(app.port, { type: '500', active: true });
    assert.equal((await call(app.port, 'DELETE', '/blowup')).body, 'deleted all blowups');
    assert.deepEqual(JSON.parse((await call(app.port, 'GET', '/blowup')).body), {});
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
  });

  it('survives a caller that gives up during a latency blowup', async () => {
    await blowup(app.port, { type: 'latency', active: true, latencyMs: 400 });
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port: app.port, path: '/items', agent: false });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 50);
    });
    await call(app.port, 'DELETE', '/blowup');
    assert.equal((await call(app.port, 'GET', '/items')).status, 200);
  });
});

describe('catalog blowup statistics', () => {
  it('500 with percentage 50 fails about half of the requests', async () => {
    const app = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
    try {
      await blowup(app.port, { type: '500', active: true, percentage: 50 });
      let failed = 0;
      const n = 200;
      for (let i = 0; i < n; i++) if ((await call(app.port, 'GET', '/items')).status === 500) failed++;
      assert.ok(failed > 60 && failed < 140, `${failed} of ${n} failed`);
    } finally {
      await app.close();
    }
  });

  it('volatile latency varies between 0 and latencyMs', async () => {
    const app = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
    try {
      // What the seed's lab posts: no latencyMs, so up to the default 1000 ms; here 200 ms to stay quick.
      await blowup(app.port, { type: 'latency', active: true, volatile: true, latencyMs: 200 });
      const times = await Promise.all(Array.from({ length: 30 }, () => call(app.port, 'GET', '/items')));
      const ms = times.map((t) => t.ms);
      assert.ok(
        ms.some((t) => t < 100),
        `no fast answers: ${ms.join(',')}`,
      );
      assert.ok(
        ms.some((t) => t >= 100),
        `no slow answers: ${ms.join(',')}`,
      );
      assert.ok(Math.max(...ms) < 600, `too slow: ${ms.join(',')}`);
    } finally {
      await app.close();
    }
  });

  it('uses the injected random source for percentages and volatile delays', async () => {
    let next = 0.49;
    const app = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet, random: () => next });
    try {
      await blowup(app.port, { type: '500', active: true, percentage: 50 });
      assert.equal((await call(app.port, 'GET', '/items')).status, 500);
      next = 0.5;
      assert.equal((await call(app.port, 'GET', '/items')).status, 200);
    } finally {
      await app.close();
    }
  });

  it('close() returns promptly with a request waiting on latency', async () => {
    const app = await startCatalog({ host: '127.0.0.1', port: 0, log: quiet });
    await blowup(app.port, { type: 'latency', active: true, latencyMs: 10_000 });
    const pending = call(app.port, 'GET', '/items').catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await app.close();
    assert.ok(Date.now() - started < 1000);
    assert.ok((await pending) instanceof Error);
  });
});

describe('blowup decisions', () => {
  const b = (settings: Record<string, unknown>): Blowup => {
    const parsed = parseBlowup(settings);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed;
  };

  it('reads settings with the book defaults', () => {
    const seedLatency = b({ active: true, type: 'latency', volatile: true });
    assert.equal(seedLatency.latencyMs, 1000);
    assert.equal(seedLatency.volatile, true);
    assert.equal(b({ type: '500', active: true }).percentage, 100);
    assert.equal(b({ type: '500', active: 'true', percentage: '30' }).percentage, 30);
    assert.equal(b({ type: '500', active: 'yes' }).active, false);
    assert.equal(b({ type: 'drop', percentage: 250 }).percentage, 100);
    assert.deepEqual(parseBlowup(null), { error: 'blowup must be a JSON object' });
    assert.ok('error' in parseBlowup({ type: ['500'] }));
  });

  it('volatile latency is random in [0, latencyMs); fixed latency is exact', () => {
    const volatile = b({ type: 'latency', active: true, volatile: true, latencyMs: 1000 });
    assert.deepEqual(
      decideBlowup([volatile], () => 0.4999),
      { kind: 'pass', delayMs: 499 },
    );
    assert.deepEqual(
      decideBlowup([volatile], () => 0),
      { kind: 'pass', delayMs: 0 },
    );
    const fixed = b({ type: 'latency', active: true, latencyMs: 250 });
    assert.deepEqual(
      decideBlowup([fixed], () => 0.9),
      { kind: 'pass', delayMs: 250 },
    );
  });

  it('a firing 500 or drop wins over latency; inactive blowups do nothing', () => {
    const latency = b({ type: 'latency', active: true, latencyMs: 250 });
    const err = b({ type: '500', active: true, percentage: 10 });
    assert.equal(decideBlowup([latency, err], () => 0.05).kind, 'error500');
    assert.deepEqual(
      decideBlowup([latency, err], () => 0.5),
      { kind: 'pass', delayMs: 250 },
    );
    const drop = b({ type: 'drop', active: false });
    assert.deepEqual(
      decideBlowup([drop], () => 0),
      { kind: 'pass', delayMs: 0 },
    );
    assert.equal(decideBlowup([b({ type: 'drop', active: 1 })], () => 0.99).kind, 'drop');
  });
});
