/**
 * `skiff pilot --kubeconfig` as a real process: against skiff's store REST API it serves xDS for what the
 * API server holds (found through `KUBECONFIG` as well as the flag), and bad kubeconfigs are clear errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { SimulatedProxy } from './pilot-fixtures.js';
import { CLI, ROOT, tempDir } from './helpers.js';
import { eventually } from './xds-server-client.js';

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: catalog
  namespace: shop
spec:
  selector:
    app: catalog
  ports:
    - name: http
      port: 80
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pilot(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'pilot', ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function kubeconfig(dir: string, server: string, current = 'skiff'): string {
  const file = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
  - name: skiff
    cluster:
      server: ${server}
users:
  - name: admin
    user: {}
contexts:
  - name: skiff
    context: { cluster: skiff, user: admin }
current-context: ${current}
`,
  );
  return file;
}

describe('skiff pilot --kubeconfig', () => {
  let store: ObjectStore;
  let api: StoreApiServer;
  let dir: string;

  before(async () => {
    store = ObjectStore.open({ stateDir: null });
    for (const r of parseManifests(SERVICE, 'svc.yaml').resources) store.create(structuredClone(r.object));
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    dir = tempDir('skiff-kube-cli-');
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it('a missing kubeconfig file is an error naming it (exit 1)', async () => {
    const run = await pilot(['--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(run.code, 1);
    assert.equal(
      run.stderr,
      'Error: cannot load kubeconfig /nonexistent/kubeconfig: no such file or directory\n',
    );
  });

  it('an unknown context, a kubeconfig that is not one, and both sources at once are refused', async () => {
    const file = kubeconfig(dir, api.url);
    const context = await pilot(['--kubeconfig', file, '--context', 'prod']);
    assert.equal(context.code, 1);
    assert.equal(context.stderr, `Error: context "prod" does not exist in kubeconfig ${file}\n`);

    const notYaml = join(dir, 'broken');
    writeFileSync(notYaml, 'clusters: [\n');
    const broken = await pilot(['--kubeconfig', notYaml]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, new RegExp(`^Error: cannot load kubeconfig ${notYaml}: [^\\n]+\\n$`));

    const both = await pilot(['--kubeconfig', file, '--config-dir', dir]);
    assert.equal(both.code, 64);
    assert.match(both.stderr, /--config-dir cannot be combined with --kubeconfig/);

    const neither = await pilot([]);
    assert.equal(neither.code, 64);
    assert.match(neither.stderr, /--config-dir or --kubeconfig is required/);
  });

  it('with KUBECONFIG set, serves xDS for the API server’s objects and exits 0 on SIGTERM', async () => {
    const file = kubeconfig(dir, api.url);
    const child = spawn(
      process.execPath,
      [
        CLI,
        'pilot',
        '--grpc-addr',
        '127.0.0.1:0',
        '--http-addr',
        '127.0.0.1:0',
        '--monitoring-addr',
        '127.0.0.1:0',
        '--secure-addr',
        'off',
      ],
      { cwd: ROOT, env: { ...process.env, KUBECONFIG: file }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const serving = await eventually(() => /XDS: serving on (127\.0\.0\.1:\d+)/.exec(out), 20_000);
      assert.ok(serving, out);
      assert.match(
        out,
        /\tinfo\tkube\tLoaded \d+ objects from the Kubernetes API server http:\/\/127\.0\.0\.1:\d+ \(context skiff\)/,
      );
      const proxy = SimulatedProxy.sidecar(serving[1] as string, {
        ip: '10.0.0.9',
        podName: 'sleep-1',
        namespace: 'shop',
        labels: { app: 'sleep' },
        istioVersion: '1.17.8',
      });
      try {
        await proxy.start();
        assert.ok(proxy.client.snapshot().clusters['outbound|80||catalog.shop.svc.cluster.local']);
      } finally {
        await proxy.close();
      }
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await code, 0, out);
  });
});
