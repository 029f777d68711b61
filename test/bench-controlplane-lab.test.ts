// End to end: `skiff up`, then `skiff bench controlplane --reps 3 --delay 0` against it, as the book runs
// performance-test.sh. The lab runs in a private network namespace when the machine allows one
// (`unshare -rn`), so its loopback addresses and port 30000 cannot clash with another lab on the host.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CLI, tempDir } from './helpers.js';

function privateNetworkAvailable(): boolean {
  const r = spawnSync('unshare', ['-rn', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  return r.status === 0;
}

function runScript(script: string, cwd: string): Promise<string> {
  const file = join(cwd, 'run.sh');
  writeFileSync(file, script);
  const [cmd, args] = privateNetworkAvailable()
    ? ['unshare', ['-rn', 'sh', '-c', `ip link set lo up && sh ${file}`]]
    : ['sh', [file]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TERM: 'dumb' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

describe('skiff bench controlplane against a real lab', () => {
  it(
    'creates sets until the last routes, prints the book lines, keeps or cleans up',
    { timeout: 240_000 },
    async () => {
      const cwd = tempDir('skiff-bench-cp-');
      const skiff = `"${process.execPath}" "${CLI}"`;
      const out = await runScript(
        `
${skiff} up --timeout 120s > up.log 2>&1 || { echo "UP FAILED"; tail -20 up.log; exit 0; }
echo "=== KEEP"
${skiff} bench controlplane --reps 3 --delay 0 --settle 1s --keep; echo "EXIT=$?"
echo "=== VS AFTER KEEP"
${skiff} get virtualservices -n istioinaction
echo "=== CLEAN"
${skiff} bench controlplane --reps 1 --settle 0; echo "EXIT=$?"
echo "=== VS AFTER CLEAN"
${skiff} get virtualservices -n istioinaction
echo "=== BAD"
${skiff} bench controlplane --reps 0; echo "EXIT=$?"
${skiff} bench controlplane --scenario ch12; echo "EXIT=$?"
${skiff} down > /dev/null
echo "=== END"
`,
        cwd,
      );
      assert.doesNotMatch(out, /UP FAILED/, out);
      const section = (name: string) => out.split(`=== ${name}\n`)[1]?.split('\n=== ')[0] ?? '';
      const keep = section('KEEP');
      assert.match(
        keep,
        /^Pre Pushes: \d+\n==============\n\nPush count: (\d+)\nLatency in the last minute: (\d+\.\d\d|NaN) seconds\n/,
        keep,
      );
      assert.ok(Number(/Push count: (\d+)/.exec(keep)?.[1]) > 0, 'creating sets pushes config');
      const routed = /Routed: (service-[0-9a-f]{4}-2)\.istioinaction\.io answered 200/.exec(keep);
      assert.ok(routed, keep);
      assert.match(
        keep,
        /Convergence measured by the proxies: p50 \d+\.\d{3} s, p90 \d+\.\d{3} s, p99 \d+\.\d{3} s \(\d+ samples; [1-9]\d* of \d+ proxies/,
      );
      assert.match(keep, /Control plane CPU: \d+\.\d\d s/);
      assert.match(keep, /Bytes pushed: \d+(\.\d+)? (KB|MB)/);
      assert.match(keep, /Config per proxy: \d+(\.\d+)? (KB|MB) \(\/config_dump of catalog-/);
      assert.match(keep, /EXIT=0/);

      const kept = section('VS AFTER KEEP');
      assert.ok(kept.includes(routed[1] ?? '?'), `--keep leaves the sets: ${kept}`);
      assert.equal(kept.match(/^service-[0-9a-f]{4}-\d\s/gm)?.length, 3, kept);

      const clean = section('CLEAN');
      const cleaned = /Routed: (service-[0-9a-f]{4}-0)\.istioinaction\.io answered 200/.exec(clean);
      assert.ok(cleaned, clean);
      assert.match(clean, /EXIT=0/);
      const after = section('VS AFTER CLEAN');
      assert.ok(!after.includes(cleaned[1] ?? '?'), `without --keep the set is deleted: ${after}`);
      assert.equal(after.match(/^service-[0-9a-f]{4}-\d\s/gm)?.length, 3, 'the kept sets stay');

      const bad = section('BAD');
      assert.match(bad, /Error: invalid --reps "0"/);
      assert.match(bad, /Error: unknown scenario "ch12": want ch11/);
      assert.equal(bad.match(/EXIT=64/g)?.length, 2, bad);
      assert.match(out, /=== END/);
    },
  );
});
