/**
 * `node dist/bench/run.js xds`: the control-plane load test (`skiff bench xds`) at 200 services × 200
 * proxies and 1,000 × 1,000, next to the goals of issues 4 and 8 (single change p99 ≤ 1 s including
 * debounce and no proxy later than 2 s, full push ≤ 5 s, control-plane RSS ≤ 1 GB at 1,000 × 1,000). Results are recorded in docs/benchmarks.md.
 */
import { formatBenchXds, runBenchXds } from '../src/cli/index.js';
import type { BenchXdsResult } from '../src/cli/index.js';

const SIZES = [
  { proxies: 200, services: 200 },
  { proxies: 1000, services: 1000 },
];

const GOALS = { changeP99Ms: 1000, changeMaxMs: 2000, fullPushMs: 5000, rssBytes: 1024 ** 3 };

function verdicts(r: BenchXdsResult): string {
  const ok = (b: boolean) => (b ? 'met' : 'NOT met');
  return [
    `change p99 ≤ 1 s: ${ok(r.change.missing === 0 && r.change.convergenceMs.p99 <= GOALS.changeP99Ms)}`,
    `change max ≤ 2 s: ${ok(r.change.missing === 0 && r.change.convergenceMs.max <= GOALS.changeMaxMs)}`,
    `full push ≤ 5 s: ${ok(r.fullPush.missing === 0 && r.fullPush.totalMs <= GOALS.fullPushMs)}`,
    `RSS ≤ 1 GB: ${ok(r.pilotPeakRssBytes <= GOALS.rssBytes)}`,
  ].join('; ');
}

export async function runXdsBench(sizes = SIZES): Promise<string[]> {
  const lines: string[] = [];
  for (const size of sizes) {
    const result = await runBenchXds({ ...size, log: (l) => console.error(l) });
    lines.push(`## ${size.services} services × ${size.proxies} proxies\n`, ...formatBenchXds(result));
    lines.push(`goals: ${verdicts(result)}\n`);
  }
  return lines;
}
