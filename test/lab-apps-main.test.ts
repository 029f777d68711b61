import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { ROOT } from './helpers.js';
import { catalogOptionsFromEnv, startSleep } from '../src/lab/index.js';

const MAIN = join(ROOT, 'dist/src/lab/apps/main.js');

interface Running {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function run(app: string, env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN, app], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the `listening on host:port` line and returns the port. */
async function listeningPort(r: Running, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = /^listening on 127\.0\.0\.1:(\d+)$/m.exec(r.stdout());
    if (m) return Number(m[1]);
    if (r.child.exitCode !== null) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`no listening line; stdout=${r.stdout()} stderr=${r.stderr()}`);
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('sample app processes', () => {
  it('catalog: prints its address, serves items, logs requests, exits 0 on SIGTERM', async () => {
    const r = run('catalog', { HOST: '127.0.0.1', PORT: '0', SHOW_IMAGE: 'true', VERSION: 'v2' });
    const port = await listeningPort(r);
    const items = await get(port, '/items');
    assert.equal(items.status, 200);
    const parsed = JSON.parse(items.body) as { name: string; imageUrl?: string }[];
    assert.equal(parsed[0]?.name, 'Elinor Glasses');
    assert.equal(parsed[0]?.imageUrl, 'http://lorempixel.com/640/480');
    r.child.kill('SIGTERM');
    assert.deepEqual(await r.exited, { code: 0, signal: null });
    assert.equal(
      r
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('listening on ')).length,
      1,
    );
    assert.match(r.stdout(), /^GET 127\.0\.0\.1:\d+ \/items 200 \d+ - [\d.]+ ms$/m);
  });

  it('sleep: answers GET / with sleep and stops on SIGINT', async () => {
    const r = run('sleep', { HOST: '127.0.0.1', PORT: '0' });
    const port = await listeningPort(r);
    assert.deepEqual(await get(port, '/'), { status: 200, body: 'sleep\n' });
    r.child.kill('SIGINT');
    assert.equal((await r.exited).code, 0);
  });

  it('webapp: starts from the book variables and reaches the catalog process', async () => {
    const cat = run('catalog', { HOST: '127.0.0.1', PORT: '0' });
    const catPort = await listeningPort(cat);
    const web = run('webapp', {
      HOST: '127.0.0.1',
      PORT: '0',
      CATALOG_SERVICE_HOST: '127.0.0.1',
      CATALOG_SERVICE_PORT: String(catPort),
    });
    try {
      const port = await listeningPort(web);
      const r = await get(port, '/api/catalog');
      assert.equal(r.status, 200);
      assert.match(r.body, /^\[\{"id":1,"color":"amber"/);
    } finally {
      web.child.kill('SIGTERM');
      cat.child.kill('SIGTERM');
    }
    assert.equal((await web.exited).code, 0);
    assert.equal((await cat.exited).code, 0);
  });

  it('exits 64 with usage for an unknown app or a bad variable', async () => {
    const unknown = run('forum', {});
    assert.equal((await unknown.exited).code, 64);
    assert.match(unknown.stderr(), /usage: main\.js <catalog\|webapp\|sleep>/);
    const none = run('', {});
    assert.equal((await none.exited).code, 64);
    const badPort = run('catalog', { PORT: 'http' });
    assert.equal((await badPort.exited).code, 64);
    assert.match(badPort.stderr(), /catalog: invalid PORT "http"/);
    const badProxy = run('webapp', { HTTP_PROXY_ADDR: 'sidecar' });
    assert.equal((await badProxy.exited).code, 64);
    assert.match(badProxy.stderr(), /HTTP_PROXY_ADDR/);
  });

  it('exits 1 when the port is taken', async () => {
    const holder = await startSleep({ host: '127.0.0.1', port: 0, log: () => {} });
    try {
      const r = run('catalog', { HOST: '127.0.0.1', PORT: String(holder.port) });
      assert.equal((await r.exited).code, 1);
      assert.match(r.stderr(), /EADDRINUSE/);
    } finally {
      await holder.close();
    }
  });

  it('reads SHOW_IMAGE as the book does, with explicit false/0 meaning off', () => {
    assert.equal(catalogOptionsFromEnv({ SHOW_IMAGE: 'true' }).showImage, true);
    assert.equal(catalogOptionsFromEnv({ SHOW_IMAGE: 'yes' }).showImage, true);
    assert.equal(catalogOptionsFromEnv({ SHOW_IMAGE: 'false' }).showImage, false);
    assert.equal(catalogOptionsFromEnv({ SHOW_IMAGE: '0' }).showImage, false);
    assert.equal(catalogOptionsFromEnv({}).showImage, false);
    assert.equal(catalogOptionsFromEnv({ VERSION: 'v2' }).version, 'v2');
  });
});
