/**
 * `node dist/bench/run.js lab`: how long `skiff up` takes from a cold state dir until every pod is ready,
 * and how much memory the whole lab (supervisor + every pod process) holds once it is up, and the CPU
 * seconds the launcher, the supervisor and the pods spent until then. Goals from issue 6: ready in ≤ 5 s
 * cold, the whole lab ≤ 1 GB RSS.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI } from './analyze.js';

const RUNS = 3;
const UP_GOAL_S = 5;
const RSS_GOAL_MB = 1024;

interface ProcInfo {
  pid: number;
  ppid: number;
  rssKb: number;
  /** CPU seconds used so far (user + system). */
  cpuS: number;
}

/** Linux's USER_HZ: /proc times are in 1/100 s on every architecture Node runs on. */
const TICKS_PER_S = 100;

/** utime + stime (and, for `children`, cutime + cstime: waited-for children) from a /proc stat line. */
function statCpuS(stat: string, children = false): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [a, b] = children ? [fields[13], fields[14]] : [fields[11], fields[12]];
  return (Number(a ?? 0) + Number(b ?? 0)) / TICKS_PER_S;
}

function readProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const cpuS = statCpuS(readFileSync(`/proc/${entry}/stat`, 'utf8'));
      out.push({ pid: Number(entry), ppid, rssKb, cpuS });
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

/** RSS and CPU time of a process and all its descendants, and how many processes that is. */
function treeRss(root: number): { mb: number; cpuS: number; processes: number } {
  const procs = readProcs();
  const children = new Map<number, ProcInfo[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  let kb = 0;
  let cpuS = 0;
  let count = 0;
  const stack = procs.filter((p) => p.pid === root);
  while (stack.length > 0) {
    const p = stack.pop();
    if (!p) break;
    kb += p.rssKb;
    cpuS += p.cpuS;
    count++;
    stack.push(...(children.get(p.pid) ?? []));
  }
  return { mb: kb / 1024, cpuS, processes: count };
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

/** CPU seconds of this process's waited-for children (the `skiff up` launcher, once it returned). */
function childrenCpuS(): number {
  return statCpuS(readFileSync('/proc/self/stat', 'utf8'), true);
}

export function runLabBench(): string[] {
  const upTimes: number[] = [];
  const rss: number[] = [];
  // The machine may be shared: CPU seconds say more than wall time about what a start costs.
  const cpu: number[] = [];
  let processes = 0;
  const lines: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cwd = mkdtempSync(join(tmpdir(), 'skiff-lab-bench-'));
    try {
      const childCpu = childrenCpuS();
      const up = skiff(['up'], cwd);
      const launcherCpuS = childrenCpuS() - childCpu;
      if (up.status !== 0) {
        lines.push(`run ${i + 1}: skiff up failed (exit ${String(up.status)})`);
        continue;
      }
      upTimes.push(up.ms / 1000);
      const state = JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as { pid: number };
      const tree = treeRss(state.pid);
      rss.push(tree.mb);
      cpu.push(launcherCpuS + tree.cpuS);
      processes = tree.processes;
    } finally {
      skiff(['down'], cwd);
      rmSync(cwd, { recursive: true, force: true });
    }
  }
  const up = median(upTimes);
  const mem = median(rss);
  const cpuS = median(cpu);
  lines.push(
    `| runs | skiff up → all pods ready (median, cold) | goal | CPU until ready (median) | lab RSS (median) | processes | goal |`,
    `|---:|---:|---:|---:|---:|---:|---:|`,
    `| ${upTimes.length} | ${up.toFixed(2)} s | ≤ ${UP_GOAL_S} s (${up <= UP_GOAL_S ? 'met' : 'NOT met'}) | ${cpuS.toFixed(2)} s | ${mem.toFixed(0)} MiB | ${processes} | ≤ ${RSS_GOAL_MB} MiB (${mem <= RSS_GOAL_MB ? 'met' : 'NOT met'}) |`,
    ``,
    `Individual up times: ${upTimes.map((t) => `${t.toFixed(2)} s`).join(', ')}; CPU (launcher + supervisor + pods): ${cpu.map((c) => `${c.toFixed(2)} s`).join(', ')}; load average ${loadavg()[0]?.toFixed(2) ?? '?'}.`,
  );
  return lines;
}
