import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quantiles } from '../src/cli/index.js';
import { runSkiff } from './helpers.js';

describe('skiff bench xds', () => {
  it('takes nearest-rank quantiles', () => {
    const q = quantiles(Array.from({ length: 100 }, (_, i) => 100 - i));
    assert.deepEqual(q, { p50: 50, p90: 90, p99: 99, max: 100 });
    assert.ok(Number.isNaN(quantiles([]).p99));
  });

  it('refuses a bad proxy count with a usage error', async () => {
    const run = await runSkiff(['bench', 'xds', '--proxies', 'many']);
    assert.equal(run.code, 64);
    assert.match(run.stderr, /--proxies/);
  });

  it('runs end to end on a small mesh and reports every figure', { timeout: 120_000 }, async () => {
    const run = await runSkiff([
      'bench',
      'xds',
      '--proxies',
      '5',
      '--services',
      '3',
      '--changes',
      '2',
      '--full-pushes',
      '1',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(run.stdout) as {
      change: {
        rounds: number;
        pushes: number;
        missing: number;
        convergenceMs: { p99: number; max: number };
        perChange: { max: number }[];
      };
      fullPush: { pushes: number; missing: number; totalMs: number };
      pilotCpuSeconds: number;
      pilotPeakRssBytes: number;
      configBytesPerProxy: number;
    };
    assert.equal(r.change.missing, 0);
    assert.ok(r.change.pushes >= 5, `pushes ${r.change.pushes}`);
    assert.ok(r.change.convergenceMs.p99 >= 100, 'convergence includes the 100 ms debounce');
    assert.equal(r.change.rounds, 2);
    assert.equal(r.change.perChange.length, 2, 'each change reported on its own');
    assert.equal(r.change.convergenceMs.max, Math.max(...r.change.perChange.map((q) => q.max)));
    assert.equal(r.fullPush.missing, 0);
    assert.ok(r.fullPush.pushes >= 5 * 4, 'a full push sends CDS, EDS, LDS and RDS to each proxy');
    assert.ok(r.pilotCpuSeconds > 0 && r.pilotPeakRssBytes > 10 * 1024 * 1024);
    assert.ok(r.configBytesPerProxy > 1000);
  });
});
