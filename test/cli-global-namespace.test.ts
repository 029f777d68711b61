import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../src/cli/index.js';
import type { CommandIO } from '../src/cli/index.js';
import { ROOT, runSkiff } from './helpers.js';

const MESH = join(ROOT, 'test/fixtures/proxy-config-sim');
const GATEWAY = 'istio-ingressgateway-7d4f9c-abcde';

async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdoutIsTTY: false,
    stdinIsTTY: false,
    readStdin: () => Promise.resolve(Buffer.alloc(0)),
    env,
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

describe('a global -n/--namespace before the subcommand', () => {
  let api: Server;
  let server: string;
  const paths: string[] = [];

  before(async () => {
    // A REST API with no pods anywhere: kubectl names the namespace it looked in.
    api = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [] }));
    });
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    server = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => api.close(() => resolve())));

  it('`skiff -n istioinaction get pods` lists the namespace given', async () => {
    for (const args of [
      ['-n', 'istioinaction', 'get', 'pods'],
      ['--namespace', 'istioinaction', 'get', 'pods'],
      ['--namespace=istioinaction', 'get', 'pods'],
      ['-nistioinaction', 'get', 'pods'],
      ['-n=istioinaction', 'get', 'pods'],
    ]) {
      paths.length = 0;
      const r = await run([...args, '--server', server]);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr, 'No resources found in istioinaction namespace.\n', args.join(' '));
      assert.ok(
        paths.some((p) => p.startsWith('/api/v1/namespaces/istioinaction/pods')),
        `${args.join(' ')}: ${paths.join(', ')}`,
      );
    }
  });

  it('a -n after the subcommand still wins, as pflag keeps the last value', async () => {
    const r = await run(['-n', 'other', 'get', 'pods', '-n', 'istioinaction', '--server', server]);
    assert.equal(r.stderr, 'No resources found in istioinaction namespace.\n');
    const d = await run(['get', 'pods', '--server', server]);
    assert.equal(d.stderr, 'No resources found in default namespace.\n');
  });

  it('reaches nested subcommands: `skiff -n istio-system proxy-config cluster <pod>`', async () => {
    const global = await run(['-n', 'istio-system', 'proxy-config', 'cluster', GATEWAY, '-f', MESH]);
    assert.equal(global.code, 0, global.stderr);
    const local = await run(['pc', 'cluster', `${GATEWAY}.istio-system`, '-f', MESH]);
    assert.equal(global.stdout, local.stdout);
    assert.match(global.stdout, /^SERVICE FQDN/);
    // Without the namespace the pod is looked for in "default".
    const none = await run(['pc', 'cluster', GATEWAY, '-f', MESH]);
    assert.notEqual(none.code, 0);
    assert.match(none.stderr, /not found in namespace "default"/);
  });

  it('leaves commands without -n, and a lone -n, to commander (usage error)', async () => {
    const r = await run(['-n', 'istio-system', 'status', '--state-dir', '/nonexistent']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /^Error: unknown flag: -n/);
    const lone = await run(['-n']);
    assert.equal(lone.code, 64);
  });

  it('works through the real CLI', async () => {
    const r = await runSkiff(['-n', 'istioinaction', 'get', 'pods', '--server', server]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, 'No resources found in istioinaction namespace.\n');
  });
});
