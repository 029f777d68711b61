/**
 * The lab's metrics-server: CPU and memory of every running container process, sampled from /proc and
 * served as metrics.k8s.io/v1beta1 PodMetrics. As metrics-server does with the kubelet's cAdvisor data, CPU
 * usage is a rate — CPU seconds used between the oldest and newest sample inside a sliding window, divided
 * by the time between them — and memory is the working set, which for one process without page cache of
 * its own is its resident set (VmRSS). Container processes are found through the pods' container statuses
 * (`containerID: skiff://<pid>`), which the kubelet writes.
 */
import { readFileSync } from 'node:fs';
import type { KubeObject, ObjectStore } from '../store/index.js';
import { arrayAt, labelsOf, nsOf, recordAt, stringAt } from './objects.js';

/** Linux's USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessSample {
  /** Monotonic milliseconds when the sample was taken. */
  at: number;
  /** User + system CPU seconds the process (all its threads) has used. */
  cpuSeconds: number;
  /** Resident set in bytes. */
  rssBytes: number;
  /** The process start time in clock ticks since boot: a pid reused by another process differs here. */
  startTicks: number;
}

/** utime + stime and starttime from the text of /proc/<pid>/stat; undefined when it does not parse. */
export function parseProcStat(text: string): { cpuSeconds: number; startTicks: number } | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces or parentheses.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const start = Number(fields[19]);
  if (![utime, stime, start].every(Number.isFinite)) return undefined;
  return { cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND, startTicks: start };
}

/** VmRSS from the text of /proc/<pid>/status, in bytes; undefined when absent (a zombie has none). */
export function parseProcStatusRss(text: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** One sample of a process, or undefined when it is gone or /proc cannot be read. */
export function sampleProcess(pid: number, now = performance.now()): ProcessSample | undefined {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const rss = parseProcStatusRss(readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!stat || rss === undefined) return undefined;
    return { at: now, cpuSeconds: stat.cpuSeconds, rssBytes: rss, startTicks: stat.startTicks };
  } catch {
    return undefined;
  }
}

export interface ContainerUsage {
  /** CPU in cores, averaged over `windowMs`. */
  cpuCores: number;
  memoryBytes: number;
  windowMs: number;
}

/**
 * The usage over a series of samples of one process (oldest first): the CPU rate between the oldest and
 * newest, memory from the newest. Undefined with fewer than two samples, or samples too close together to
 * give a rate (metrics-server likewise reports nothing for a container it has seen once).
 */
export function usageOf(samples: readonly ProcessSample[], minWindowMs = 500): ContainerUsage | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || samples.length < 2) return undefined;
  const windowMs = last.at - first.at;
  if (windowMs < minWindowMs) return undefined;
  const cpu = Math.max(0, last.cpuSeconds - first.cpuSeconds);
  return { cpuCores: cpu / (windowMs / 1000), memoryBytes: last.rssBytes, windowMs };
}

/** A CPU quantity in nanocores, as metrics-server writes it (`1234567n`). */
export function cpuQuantity(cores: number): string {
  return `${Math.max(0, Math.round(cores * 1e9))}n`;
}

/** A memory quantity in kibibytes, as metrics-server writes it (`12345Ki`). */
export function memoryQuantity(bytes: number): string {
  return `${Math.max(0, Math.round(bytes / 1024))}Ki`;
}

/** A window as metav1.Duration prints it: Go's time.Duration text (`15.004s`, `1m0.5s`). */
export function windowText(ms: number): string {
  const totalMs = Math.max(0, Math.round(ms));
  if (totalMs === 0) return '0s';
  const minutes = Math.floor(totalMs / 60_000);
  const secs = (totalMs % 60_000) / 1000;
  const s = `${Number(secs.toFixed(3))}s`;
  return minutes > 0 ? `${minutes}m${s}` : s;
}

/** The process id of a running container, from its status (`containerID: skiff://<pid>`). */
export function containerPid(status: Record<string, unknown>): number | undefined {
  if (!recordAt(status, 'state')['running']) return undefined;
  const m = /^skiff:\/\/(\d+)$/.exec(stringAt(status, 'containerID') ?? '');
  return m ? Number(m[1]) : undefined;
}

export interface PodMetricsOptions {
  /** How often every container is sampled (default 5 s). */
  intervalMs?: number;
  /** The sliding window rates are computed over (default 30 s, metrics-server's upper end). */
  windowMs?: number;
  /** Samples a pid; injectable for tests. */
  sample?: (pid: number) => ProcessSample | undefined;
}

export const METRICS_GROUP_VERSION = 'metrics.k8s.io/v1beta1';

/** Samples the lab's container processes and answers PodMetrics queries from what it has seen. */
export class PodMetricsCollector {
  private readonly series = new Map<string, ProcessSample[]>();
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly sampleFn: (pid: number) => ProcessSample | undefined;
  private lastSweep = -Infinity;

  constructor(
    private readonly store: ObjectStore,
    opts: PodMetricsOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.windowMs = opts.windowMs ?? 30_000;
    this.sampleFn = opts.sample ?? ((pid) => sampleProcess(pid));
  }

  start(): void {
    this.sweep();
    this.timer = setInterval(() => this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Samples every running container now and drops series of processes that are gone. */
  sweep(): void {
    const now = performance.now();
    this.lastSweep = now;
    const live = new Set<string>();
    for (const pod of this.store.list('/Pod').items) {
      for (const status of arrayAt(pod['status'], 'containerStatuses')) {
        const pid = containerPid(status);
        if (pid === undefined) continue;
        const sample = this.sampleFn(pid);
        if (!sample) continue;
        const key = `${pod.metadata.uid ?? ''}/${stringAt(status, 'name') ?? ''}/${pid}/${sample.startTicks}`;
        live.add(key);
        const list = this.series.get(key) ?? [];
        list.push({ ...sample, at: now });
        // Keep the samples inside the window (and always two, for a rate).
        while (list.length > 2 && now - (list[0] as ProcessSample).at > this.windowMs) list.shift();
        this.series.set(key, list);
      }
    }
    for (const key of this.series.keys()) if (!live.has(key)) this.series.delete(key);
  }

  /** A fresh sample when the last one is older than a second, so a query sees current usage. */
  private refresh(): void {
    if (performance.now() - this.lastSweep >= 1000) this.sweep();
  }

  /** The PodMetrics of a pod, or undefined when no container of it has usage yet. */
  podMetrics(pod: KubeObject): Record<string, unknown> | undefined {
    const containers: { name: string; usage: { cpu: string; memory: string } }[] = [];
    let windowMs = 0;
    for (const status of arrayAt(pod['status'], 'containerStatuses')) {
      const name = stringAt(status, 'name') ?? '';
      const pid = containerPid(status);
      if (pid === undefined) continue;
      const prefix = `${pod.metadata.uid ?? ''}/${name}/${pid}/`;
      const key = [...this.series.keys()].find((k) => k.startsWith(prefix));
      const usage = key ? usageOf(this.series.get(key) ?? []) : undefined;
      if (!usage) continue;
      windowMs = Math.max(windowMs, usage.windowMs);
      containers.push({
        name,
        usage: { cpu: cpuQuantity(usage.cpuCores), memory: memoryQuantity(usage.memoryBytes) },
      });
    }
    // metrics-server leaves a pod out until it has a usage for every running container.
    const running = arrayAt(pod['status'], 'containerStatuses').filter((s) => containerPid(s) !== undefined);
    if (containers.length === 0 || containers.length < running.length) return undefined;
    const labels = labelsOf(pod);
    return {
      kind: 'PodMetrics',
      apiVersion: METRICS_GROUP_VERSION,
      metadata: {
        name: pod.metadata.name,
        namespace: nsOf(pod),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
      },
      timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      window: windowText(windowMs),
      containers,
    };
  }

  /** PodMetrics of the pods a list query selects (namespace undefined: every namespace). */
  list(namespace: string | undefined, labelSelector: string | undefined): Record<string, unknown>[] {
    this.refresh();
    const pods = this.store.list('/Pod', { namespace, labelSelector });
    const out: Record<string, unknown>[] = [];
    for (const pod of pods.items) {
      const m = this.podMetrics(pod);
      if (m) out.push(m);
    }
    return out;
  }

  /** The PodMetrics of one pod; undefined when the pod is unknown or has no usage yet. */
  get(namespace: string, name: string): Record<string, unknown> | undefined {
    this.refresh();
    const pod = this.store.get('/Pod', namespace, name);
    return pod ? this.podMetrics(pod) : undefined;
  }
}
