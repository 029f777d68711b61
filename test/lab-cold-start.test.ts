// What keeps `skiff up` cold start fast without changing behaviour: the CLI registers only the command it
// runs (the table must match what each module registers), the launcher reads the state dir's layout without
// the lab module (it must match lab/state.ts), and the Envoy protos come from a cached JSON descriptor that
// must build the same Root as parsing the .proto files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { COMMAND_MODULES, launcherPaths, readLaunchState } from '../src/cli/index.js';
import type { CommandIO } from '../src/cli/index.js';
import { labFile, logDir, readLabState, stateDirPath } from '../src/lab/index.js';
import { ROOT, runSkiff, tempDir } from './helpers.js';

const io: CommandIO = {
  stdout: () => undefined,
  stderr: () => undefined,
  stdoutIsTTY: false,
  stdinIsTTY: false,
  readStdin: () => Promise.resolve(Buffer.alloc(0)),
  env: {},
};

describe('lazy command registration', () => {
  it('each entry registers exactly the top-level names and aliases it declares', async () => {
    const seen = new Set<string>();
    for (const entry of COMMAND_MODULES) {
      const program = new Command('skiff');
      await entry.register(program, io, () => undefined);
      const registered = program.commands.flatMap((c) => [c.name(), ...c.aliases()]).sort();
      assert.deepEqual(registered, [...entry.names].sort());
      for (const name of entry.names) {
        assert.ok(!seen.has(name), `${name} is declared twice`);
        seen.add(name);
      }
    }
    assert.ok(seen.has('up') && seen.has('get') && seen.has('x'));
  });

  it('help over all commands and a single command still work from the real CLI', async () => {
    const all = await runSkiff(['--help']);
    assert.equal(all.code, 0);
    for (const name of ['analyze', 'proxy-config|pc', 'up [options]', 'get [options]', 'port-forward'])
      assert.ok(all.stdout.includes(name), `--help lists ${name}`);
    const up = await runSkiff(['up', '--help']);
    assert.equal(up.code, 0);
    assert.match(up.stdout, /Usage: skiff up \[options\]/);
    assert.doesNotMatch(up.stdout, /port-forward/);
    const typo = await runSkiff(['uq']);
    assert.equal(typo.code, 64);
    assert.match(typo.stderr, /unknown command 'uq'/);
  });
});

describe('the launcher view of the state dir', () => {
  it('has the layout lab/state.ts writes', () => {
    for (const flag of [undefined, '/tmp/x/.skiff', 'rel/dir']) {
      const p = launcherPaths(flag);
      assert.equal(p.stateDir, stateDirPath(flag));
      assert.equal(p.labFile, labFile(p.stateDir));
      assert.equal(p.logDir, logDir(p.stateDir));
      assert.equal(p.supervisorLog, join(logDir(p.stateDir), 'supervisor.log'));
    }
  });

  it('reads lab.json as readLabState does, including bad files', () => {
    const dir = tempDir();
    const file = labFile(dir);
    assert.equal(readLaunchState(file), undefined);
    assert.equal(readLabState(dir), undefined);
    const cases = [
      JSON.stringify({ pid: 12, status: 'ready', startedAt: 'x', stateDir: dir }),
      JSON.stringify({ pid: '12', status: 'ready' }),
      JSON.stringify({ pid: 12 }),
      JSON.stringify([1, 2]),
      'null',
      '{not json',
    ];
    for (const text of cases) {
      writeFileSync(file, text);
      assert.deepEqual(readLaunchState(file), readLabState(dir), text);
    }
    writeFileSync(file, cases[0] ?? '');
    assert.equal(readLaunchState(file)?.pid, 12);
  });
});

/** Runs a script in a fresh node process with the given cache dir; returns its stdout. */
function inChild(cacheDir: string, script: string): string {
  const xds = join(ROOT, 'dist/src/xds/index.js');
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import * as xds from '${xds}';\n${script}`],
    {
      env: { ...process.env, SKIFF_CACHE_DIR: cacheDir },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

// Every field of every message and every enum, in a stable order: what encoding and decoding depend on.
const DESCRIBE_ROOT = `
const out = [];
const walk = (ns) => { for (const o of ns.nestedArray) {
  if (o.fieldsArray) for (const f of o.fieldsArray) { f.resolve();
    out.push([o.fullName, f.name, f.id, f.type, f.repeated, f.map, f.keyType, f.packed, f.hasPresence,
      f.resolvedType?.fullName, f.partOf?.name].join('|')); }
  else if (o.values) out.push(o.fullName + '=' + JSON.stringify(o.values));
  if (o.nestedArray) walk(o); } };
walk(xds.envoyRoot());
out.sort();
const cluster = { name: 'outbound|80||a.b.svc.cluster.local', type: 'EDS', connectTimeout: '10s',
  edsClusterConfig: { serviceName: 'x', edsConfig: { ads: {} } }, lbPolicy: 'LEAST_REQUEST',
  transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni: 'a' } } };
const rt = xds.roundTrip(xds.TYPE.Cluster, cluster);
console.log(JSON.stringify({ out, lost: rt.lost, bytes: Buffer.from(xds.encodeAny(xds.TYPE.Cluster, cluster).value).toString('base64') }));
`;

describe('the cached Envoy proto descriptor', () => {
  it('builds the same Root as parsing the protos, and is written once', () => {
    const cache = tempDir();
    const parsed = inChild(cache, DESCRIBE_ROOT);
    const files = readdirSync(cache).filter((f) => f.startsWith('envoy-protos-') && f.endsWith('.json'));
    assert.equal(files.length, 1, 'the first process writes the descriptor');
    const cached = inChild(cache, DESCRIBE_ROOT);
    const a = JSON.parse(parsed) as { out: string[]; lost: string[]; bytes: string };
    const b = JSON.parse(cached) as typeof a;
    assert.ok(a.out.length > 2000, 'the whole proto set is described');
    assert.deepEqual(b.out, a.out);
    assert.deepEqual(a.lost, []);
    assert.equal(b.bytes, a.bytes);
  });

  it('replaces a damaged cache file, and works without a cache', () => {
    const cache = tempDir();
    inChild(cache, 'xds.envoyRoot();');
    const file = join(cache, readdirSync(cache).find((f) => f.endsWith('.json')) ?? '');
    writeFileSync(file, '{"nested": {}}');
    const out = inChild(
      cache,
      `console.log(xds.lookupMessageType(xds.TYPE.Listener)?.fullName ?? 'missing');`,
    );
    assert.equal(out.trim(), '.envoy.config.listener.v3.Listener');
    assert.ok(statSync(file).size > 100_000, 'the parsed descriptor replaced the damaged one');
    const viaNone = inChild('', `console.log(xds.lookupMessageType(xds.TYPE.Secret) ? 'ok' : 'missing');`);
    assert.equal(viaNone.trim(), 'ok');
  });
});
