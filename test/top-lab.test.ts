/**
 * `skiff top pod` end to end on a real `skiff up` lab: the metrics.k8s.io API sampled from the pods'
 * processes, the control plane's mirror pod (istio-system/istiod-skiff, container `discovery`, the
 * supervisor's own process), kubectl's table shapes and error texts, and `x metrics controlplane` finding
 * the lab's monitoring port by itself. One lab for the whole file: the machine is small.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CliRun } from './helpers.js';
import { runSkiff, tempDir } from './helpers.js';

const SIZE = /^(\d+)m\s+(\d+)Mi\s*$/;

/** Runs `skiff top ...` until it succeeds (a container seen once has no CPU rate yet, as with metrics-server). */
async function topUntilReady(args: string[], cwd: string, ms = 20_000): Promise<CliRun> {
  const deadline = Date.now() + ms;
  let run = await runSkiff(['top', ...args], { cwd });
  while (run.code !== 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    run = await runSkiff(['top', ...args], { cwd });
  }
  return run;
}

function rows(stdout: string): string[][] {
  return stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.trim().split(/\s{3,}/));
}

describe('skiff top pod on the lab', { timeout: 150_000 }, () => {
  let cwd = '';
  let supervisorPid = 0;

  before(async () => {
    cwd = tempDir('skiff-top-lab-');
    const up = await runSkiff(['up'], { cwd });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /istio-system\s+istiod-skiff\s+1\/1\s+Running\s+0\s+127\.0\.0\.1/);
    supervisorPid = (JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as { pid: number })
      .pid;
  });

  after(async () => {
    await runSkiff(['down'], { cwd });
  });

  it('shows istiod as in the book: -n istio-system -l app=istiod --containers', async () => {
    const run = await topUntilReady(
      ['pod', '-n', 'istio-system', '-l', 'app=istiod', '--containers=true'],
      cwd,
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(lines[0] ?? '', /^POD {12}NAME {8}CPU\(cores\) {3}MEMORY\(bytes\) {3}$/);
    assert.equal(lines.length, 3, run.stdout);
    const [pod, container, ...usage] = rows(run.stdout)[1] ?? [];
    assert.equal(pod, 'istiod-skiff');
    assert.equal(container, 'discovery');
    const m = SIZE.exec(usage.join('   '));
    assert.ok(m, run.stdout);
    // The supervisor holds the store, the API and the control plane: tens of MiB at least.
    assert.ok(Number(m[2]) >= 20, `istiod memory ${m[2]}Mi`);
    const pod2 = await runSkiff(['get', 'pod', 'istiod-skiff', '-n', 'istio-system', '-o', 'json'], { cwd });
    const status = (JSON.parse(pod2.stdout) as { status: { containerStatuses: { containerID: string }[] } })
      .status;
    assert.equal(status.containerStatuses[0]?.containerID, `skiff://${supervisorPid}`);
  });

  it('shows the catalog pods with plausible usage, per pod and per container', async () => {
    const pods = await topUntilReady(['pod', '-n', 'istioinaction'], cwd);
    assert.equal(pods.code, 0, pods.stderr);
    const table = rows(pods.stdout);
    assert.deepEqual(table[0], ['NAME', 'CPU(cores)', 'MEMORY(bytes)']);
    assert.equal(table.length, 4, pods.stdout);
    for (const [name, cpu, memory] of table.slice(1)) {
      assert.match(name ?? '', /^catalog-/);
      assert.match(cpu ?? '', /^\d+m$/);
      assert.ok(Number((memory ?? '').replace('Mi', '')) > 0, `memory of ${name}: ${memory}`);
    }
    const containers = await topUntilReady(['pod', '-n', 'istioinaction', '--containers'], cwd);
    assert.equal(containers.code, 0, containers.stderr);
    const byContainer = rows(containers.stdout).slice(1);
    assert.equal(byContainer.length, 6);
    assert.deepEqual(
      [...new Set(byContainer.map((r) => r[1]))],
      ['catalog', 'istio-proxy'],
      'containers sorted by name within each pod',
    );
    const all = await topUntilReady(['pod', '-A', '--no-headers', '--sort-by', 'memory'], cwd);
    assert.equal(all.code, 0, all.stderr);
    const memories = rows(all.stdout).map((r) => Number((r[3] ?? '').replace('Mi', '')));
    assert.equal(memories.length, 5, all.stdout);
    assert.deepEqual(
      memories,
      [...memories].sort((a, b) => b - a),
      'biggest first',
    );
  });

  it("gives kubectl's errors for unknown pods, empty namespaces and bad flags", async () => {
    const missing = await runSkiff(['top', 'pod', 'nope', '-n', 'istioinaction'], { cwd });
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      'Error from server (NotFound): podmetrics.metrics.k8s.io "istioinaction/nope" not found\n',
    );
    const empty = await runSkiff(['top', 'pod', '-n', 'nothing-here'], { cwd });
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, 'No resources found in nothing-here namespace.\n');
    const badSort = await runSkiff(['top', 'pod', '--sort-by', 'disk'], { cwd });
    assert.equal(badSort.stderr, 'error: --sort-by accepts only cpu or memory\n');
    const both = await runSkiff(['top', 'pod', 'x', '-l', 'app=catalog'], { cwd });
    assert.equal(both.stderr, 'error: only one of NAME or --selector can be provided\n');
  });

  it("reads the lab's control plane in x metrics controlplane without --address", async () => {
    interface Signals {
      source: string;
      mode: string;
      traffic: { connectedProxies: { count: number }[]; pushesTotal: Record<string, number> };
    }
    const monitoring = (
      JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as {
        endpoints: { monitoring: string };
      }
    ).endpoints.monitoring;
    let s: Signals | undefined;
    let last = '';
    const connected = (x: Signals | undefined) =>
      x?.traffic.connectedProxies.reduce((a, c) => a + c.count, 0) ?? 0;
    // Three catalog sidecars and the ingress gateway; a proxy restarting under load reconnects shortly.
    for (let i = 0; i < 10 && connected(s) !== 4; i++) {
      const run = await runSkiff(['x', 'metrics', 'controlplane', '--once', '-o', 'json'], { cwd });
      assert.equal(run.code, 0, run.stderr);
      last = run.stdout;
      s = JSON.parse(run.stdout) as Signals;
      if (connected(s) !== 4) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(s, last);
    assert.equal(s.source, new URL(monitoring).host, 'the lab monitoring port');
    assert.equal(s.mode, 'total');
    assert.equal(connected(s), 4, last);
    assert.ok((s.traffic.pushesTotal['cds'] ?? 0) >= 4);
  });
});
