/**
 * `kubectl top pod`'s numbers and table: Kubernetes quantities read exactly, CPU as MilliValue (rounded
 * up) and memory as Value()/Mi (bytes rounded up, then truncated), kubectl's metricsutil column layout with
 * trailing padding, sorting, and the lab's PodMetrics building blocks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatCpu,
  formatMemory,
  goDurationString,
  parseQuantity,
  podUsage,
  renderTopPods,
} from '../src/cli/index.js';
import {
  cpuQuantity,
  memoryQuantity,
  parseProcStat,
  parseProcStatusRss,
  usageOf,
  windowText,
} from '../src/lab/index.js';

const q = (s: string) => {
  const r = parseQuantity(s);
  assert.ok(r, s);
  return r;
};

describe('quantities as kubectl top prints them', () => {
  it('prints CPU in millicores, rounding up like resource.Quantity.MilliValue', () => {
    assert.equal(formatCpu(q('1234567n')), '2m');
    assert.equal(formatCpu(q('1000000n')), '1m');
    assert.equal(formatCpu(q('0')), '0m');
    assert.equal(formatCpu(q('1n')), '1m');
    assert.equal(formatCpu(q('250m')), '250m');
    assert.equal(formatCpu(q('1.5')), '1500m');
    assert.equal(formatCpu(q('2500u')), '3m');
  });

  it('prints memory in whole Mi: bytes rounded up, then divided down', () => {
    assert.equal(formatMemory(q('12345Ki')), '12Mi');
    assert.equal(formatMemory(q('1048575')), '0Mi');
    assert.equal(formatMemory(q('1048576')), '1Mi');
    assert.equal(formatMemory(q('73728Ki')), '72Mi');
    assert.equal(formatMemory(q('1Gi')), '1024Mi');
    assert.equal(formatMemory(q('1.5M')), '1Mi');
    assert.equal(formatMemory(q('1e6')), '0Mi');
  });

  it('refuses malformed quantities', () => {
    for (const bad of ['', 'abc', '1.2.3', '5Xi', '--1', '1 m'])
      assert.equal(parseQuantity(bad), undefined, bad);
    assert.equal(parseQuantity(42), undefined);
  });

  it('sums containers exactly before rounding the pod total', () => {
    const pod = podUsage({
      metadata: { name: 'p', namespace: 'ns' },
      containers: [
        { name: 'a', usage: { cpu: '400000n', memory: '1024Ki' } },
        { name: 'b', usage: { cpu: '400000n', memory: '1023Ki' } },
      ],
    });
    assert.ok(pod);
    // 0.4m + 0.4m = 0.8m → 1m (rounding each first would give 2m); 2047 Ki → 1Mi.
    assert.equal(
      renderTopPods([pod], { containers: false, withNamespace: false, noHeaders: true }),
      // kubectl's tabwriter has a minimum cell width of 6.
      'p     1m    1Mi   \n',
    );
  });

  it('treats missing or malformed fields as absent or zero', () => {
    assert.equal(podUsage(null), undefined);
    assert.equal(podUsage({ metadata: {} }), undefined);
    const p = podUsage({ metadata: { name: 'x' }, containers: [{ name: 'c', usage: { cpu: 7 } }, 'junk'] });
    assert.deepEqual(
      p?.containers.map((c) => [c.name, formatCpu(c.cpu), formatMemory(c.memory)]),
      [['c', '0m', '0Mi']],
    );
  });
});

describe('the top pod table', () => {
  const pods = [
    podUsage({
      metadata: { name: 'catalog-6cf4b97d-66qhb', namespace: 'istioinaction' },
      containers: [
        { name: 'istio-proxy', usage: { cpu: '5200000n', memory: '50176Ki' } },
        { name: 'catalog', usage: { cpu: '2100000n', memory: '26624Ki' } },
      ],
    }),
    podUsage({
      metadata: { name: 'istiod-8d74787f-q8md7', namespace: 'istio-system' },
      containers: [{ name: 'discovery', usage: { cpu: '3500000n', memory: '73728Ki' } }],
    }),
  ].filter((p) => p !== undefined);

  it('matches the book: POD, NAME, CPU(cores), MEMORY(bytes) with kubectl spacing and trailing padding', () => {
    const istiod = pods.filter((p) => p.namespace === 'istio-system');
    assert.equal(
      renderTopPods(istiod, { containers: true, withNamespace: false, noHeaders: false }),
      'POD                     NAME        CPU(cores)   MEMORY(bytes)   \n' +
        'istiod-8d74787f-q8md7   discovery   4m           72Mi            \n',
    );
    const catalog = pods.filter((p) => p.namespace === 'istioinaction');
    assert.equal(
      renderTopPods(catalog, { containers: true, withNamespace: false, noHeaders: false }),
      'POD                      NAME          CPU(cores)   MEMORY(bytes)   \n' +
        'catalog-6cf4b97d-66qhb   catalog       3m           26Mi            \n' +
        'catalog-6cf4b97d-66qhb   istio-proxy   6m           49Mi            \n',
    );
  });

  it('prints pod totals, NAMESPACE first with -A, sorted by namespace then name', () => {
    assert.equal(
      renderTopPods(pods, { containers: false, withNamespace: true, noHeaders: false }),
      'NAMESPACE       NAME                     CPU(cores)   MEMORY(bytes)   \n' +
        'istio-system    istiod-8d74787f-q8md7    4m           72Mi            \n' +
        'istioinaction   catalog-6cf4b97d-66qhb   8m           75Mi            \n',
    );
  });

  it('sorts by cpu or memory, biggest first', () => {
    const byCpu = renderTopPods(pods, {
      containers: false,
      withNamespace: false,
      noHeaders: true,
      sortBy: 'cpu',
    });
    assert.match(byCpu, /^catalog.*\nistiod/);
    const byMemory = renderTopPods(pods, {
      containers: true,
      withNamespace: false,
      noHeaders: true,
      sortBy: 'memory',
    });
    assert.deepEqual(
      byMemory
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[1]),
      ['istio-proxy', 'catalog', 'discovery'],
    );
  });

  it('prints nothing for no pods', () => {
    assert.equal(renderTopPods([], { containers: false, withNamespace: false, noHeaders: false }), '');
  });

  it("formats a pod's age as Go's Duration.String", () => {
    assert.equal(goDurationString(123_500), '2m3.5s');
    assert.equal(goDurationString(3_600_250), '1h0m0.25s');
    assert.equal(goDurationString(5000), '5s');
  });
});

describe('the lab metrics-server building blocks', () => {
  it('reads utime+stime and starttime from /proc/<pid>/stat, even with spaces and parens in the name', () => {
    const fields = [
      'S',
      ...Array.from({ length: 10 }, () => '0'),
      '250',
      '50',
      ...Array.from({ length: 6 }, () => '0'),
      '987',
    ];
    const stat = parseProcStat(`1234 (node (my) app) ${fields.join(' ')} 0 0`);
    assert.deepEqual(stat, { cpuSeconds: 3, startTicks: 987 });
    assert.equal(parseProcStat('garbage'), undefined);
    assert.equal(parseProcStatusRss('Name:\tnode\nVmRSS:\t   75000 kB\n'), 75000 * 1024);
    assert.equal(parseProcStatusRss('Name:\tzombie\n'), undefined);
  });

  it('computes a CPU rate over the window and takes memory from the newest sample', () => {
    const s = (at: number, cpuSeconds: number, rssBytes: number) => ({
      at,
      cpuSeconds,
      rssBytes,
      startTicks: 1,
    });
    const u = usageOf([s(0, 1, 10), s(5000, 1.02, 20), s(10_000, 1.05, 30)]);
    assert.ok(u);
    assert.ok(Math.abs(u.cpuCores - 0.005) < 1e-12);
    assert.equal(u.memoryBytes, 30);
    assert.equal(cpuQuantity(u.cpuCores), '5000000n');
    assert.equal(memoryQuantity(75_000 * 1024), '75000Ki');
    assert.equal(usageOf([s(0, 1, 10)]), undefined, 'one sample gives no rate');
    assert.equal(usageOf([s(0, 1, 10), s(100, 1, 10)]), undefined, 'too short a window');
    assert.equal(windowText(15_004), '15.004s');
    assert.equal(windowText(60_500), '1m0.5s');
  });
});
