// `skiff port-forward` against the REST API and a stand-in pod served on 127.0.0.1: kubectl's
// `Forwarding from` lines, a pod, a workload and a Service (service port → named target port), and errors.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { CLI } from './helpers.js';

function fixtures(port: number): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: istioinaction}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: istioinaction}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: skiff/sleep, ports: [{name: http, containerPort: ${port}}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: istioinaction}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: istioinaction, labels: {app: web}}
spec:
  containers: [{name: web, image: skiff/sleep, ports: [{name: http, containerPort: ${port}}]}]
status: {phase: Running, podIP: 127.0.0.1}
`;
}

interface Forward {
  lines: () => string;
  stop: () => Promise<number | null>;
}

function forward(args: string[]): Forward {
  const child = spawn(process.execPath, [CLI, 'port-forward', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout.on('data', (b: Buffer) => (text += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (text += b.toString('utf8')));
  return {
    lines: () => text,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

async function waitFor(f: Forward, re: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const m = re.exec(f.lines());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`no ${re} in ${JSON.stringify(f.lines())}`);
}

describe('skiff port-forward', () => {
  let store: ObjectStore;
  let api: StoreApiServer;
  let app: Server;
  let appPort = 0;

  before(async () => {
    app = createServer((req, res) => res.end(`hello from ${req.url ?? ''}`));
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as AddressInfo).port;
    store = ObjectStore.open({ stateDir: null });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    seedStore(store, fixtures(appPort));
  });

  after(async () => {
    await api.close();
    store.close();
    await new Promise((r) => app.close(r));
  });

  for (const target of ['web-1', 'pod/web-1', 'deploy/web']) {
    it(`forwards a local port to ${target} and prints kubectl's lines`, async () => {
      const f = forward([target, '-n', 'istioinaction', `:${appPort}`, '--server', api.url]);
      try {
        const m = await waitFor(f, /^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)\n/);
        assert.equal(m[2], String(appPort));
        const local = Number(m[1]);
        assert.notEqual(local, appPort);
        const body = await (await fetch(`http://127.0.0.1:${local}/items`)).text();
        assert.equal(body, 'hello from /items');
        await waitFor(f, new RegExp(`Handling connection for ${local}\\n`));
      } finally {
        assert.equal(await f.stop(), 0);
      }
    });
  }

  it('maps a Service port to its (named) target port', async () => {
    const f = forward(['svc/web', '-n', 'istioinaction', ':80', '--server', api.url]);
    try {
      const m = await waitFor(f, /^Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)\n/);
      assert.equal(m[2], String(appPort));
      assert.equal(await (await fetch(`http://127.0.0.1:${m[1] ?? ''}/x`)).text(), 'hello from /x');
    } finally {
      await f.stop();
    }
  });

  it('refuses what kubectl refuses', async () => {
    const missing = await skiff([
      'port-forward',
      'pod/nope',
      '-n',
      'istioinaction',
      '80',
      '--server',
      api.url,
    ]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
    const bad = await skiff(['port-forward', 'web-1', '-n', 'istioinaction', 'x:y:z', '--server', api.url]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /invalid port format 'x:y:z'/);
    const noPort = await skiff([
      'port-forward',
      'svc/web',
      '-n',
      'istioinaction',
      '9999',
      '--server',
      api.url,
    ]);
    assert.equal(noPort.code, 1);
    assert.equal(noPort.stderr, 'error: Service web does not have a service port 9999\n');
  });
});
