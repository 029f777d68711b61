/**
 * `node dist/bench/run.js lab`: how long `skiff up` takes from a cold state dir until every pod is ready,
 * and how much memory the whole lab (supervisor + every pod process) holds once it is up. Goals from
 * issue 6: ready in ≤ 5 s cold, the whole lab ≤ 1 GB RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './analyze.js';

const RUNS = 3;
const UP_GOAL_S = 5;
const RSS_GOAL_MB = 1024;

interface ProcInfo {
  pid: number;
  ppid: number;
  rssKb: number;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      out.push({ pid: Number(entry), ppid, rssKb });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** RSS of a process and all its descendants, and how many processes that is. */
function treeRss(root: number): { mb: number; processes: number } {
  const procs = readProcs();
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  let kb = 0;
  let count = 0;
  const stack = procs.filter((p) => p.pid === root);
  while (stack.length > 0) {
    const p = stack.pop();
    if (!p) break;
    kb += p.rssKb;
    count++;
    stack.push(...(children.get(p.pid) ?? []));
  }
  return { mb: kb / 1024, processes: count };
}

function skiff(args: string[], cwd: string): { status: number | null; stdout: string; ms: number } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, ms: performance.now() - started };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

export function runLabBench(): string[] {
  const upTimes: number[] = [];
  const rss: number[] = [];
  let processes = 0;
  const lines: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cwd = mkdtempSync(join(tmpdir(), 'skiff-lab-bench-'));
    try {
      const up = skiff(['up'], cwd);
      if (up.status !== 0) {
        lines.push(`run ${i + 1}: skiff up failed (exit ${String(up.status)})`);
        continue;
      }
      upTimes.push(up.ms / 1000);
      const state = JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as { pid: number };
      const tree = treeRss(state.pid);
      rss.push(tree.mb);
      processes = tree.processes;
    } finally {
      skiff(['down'], cwd);
      rmSync(cwd, { recursive: true, force: true });
    }
  }
  const up = median(upTimes);
  const mem = median(rss);
  lines.push(
    `| runs | skiff up → all pods ready (median, cold) | goal | lab RSS (median) | processes | goal |`,
    `|---:|---:|---:|---:|---:|---:|`,
    `| ${upTimes.length} | ${up.toFixed(2)} s | ≤ ${UP_GOAL_S} s (${up <= UP_GOAL_S ? 'met' : 'NOT met'}) | ${mem.toFixed(0)} MiB | ${processes} | ≤ ${RSS_GOAL_MB} MiB (${mem <= RSS_GOAL_MB ? 'met' : 'NOT met'}) |`,
    ``,
    `Individual up times: ${upTimes.map((t) => `${t.toFixed(2)} s`).join(', ')}.`,
  );
  return lines;
}
