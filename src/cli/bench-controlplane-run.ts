/**
 * One performance test against the running lab, as Istio in Action's `performance-test.sh` runs it:
 * read pilot's push count, create `reps` random Gateway + Service + VirtualService sets spaced by `delay`
 * (each set in the background, as the script's `&`), wait until the last host answers 200 through the
 * ingress gateway, let pushes settle, read the metrics again. Alongside: the proxies' own convergence,
 * the supervisor's CPU and peak RSS, the bytes pushed and one sleep proxy's config size. The created
 * objects are deleted afterwards unless `keep`.
 */
import { CliError, EXIT } from './errors.js';
import {
  adminGet,
  createObject,
  deleteObject,
  findLab,
  httpStatus,
  listProxies,
  peakRssBytes,
  readPilot,
  resetPeakRss,
} from './bench-controlplane-lab.js';
import type { LabTarget, ProxyPod } from './bench-controlplane-lab.js';
import {
  histogramQuantile,
  bucketDelta,
  pilotDelta,
  quantile,
  windowStart,
} from './bench-controlplane-metrics.js';
import type { PilotReading } from './bench-controlplane-metrics.js';
import { ProxyObserver } from './bench-controlplane-proxies.js';
import type { ProxyConvergence } from './bench-controlplane-proxies.js';
import { randomSetName, setHost, setObjects } from './bench-controlplane-sets.js';
import type { KubeBody } from './bench-controlplane-sets.js';

export interface RunOptions {
  reps: number;
  delayMs: number;
  namespace: string;
  stateDir?: string;
  /** `host:port` of the ingress gateway (default: the lab's published port 30000). */
  gateway?: string;
  /** How long to wait for the last host to route. */
  timeoutMs: number;
  /** Wait after the last host routes before reading the metrics (the book sleeps 10 s). */
  settleMs: number;
  keep: boolean;
  pollMs?: number;
  /** Where the book's progress lines go as they happen (`Pre Pushes:`, `==============`). */
  progress?: (text: string) => void;
  names?: (index: number) => string;
}

export interface RunResult {
  prePushes: number;
  pushCount: number;
  /** p99 of pilot_proxy_convergence_time over the last minute (or the run, when shorter), seconds. */
  latencyP99: number;
  convergenceObservations: number;
  proxy: ProxyConvergence & { p50: number; p90: number; p99: number };
  cpuSeconds: number;
  peakRssBytes: number | undefined;
  /** Whether the peak was reset before the run (else it is the peak since the supervisor started). */
  peakRssOfRun: boolean;
  residentBytes: number;
  bytesPushed: number;
  responses: number;
  configBytesPerProxy: number | undefined;
  configProxy: string | undefined;
  lastHost: string;
  /** From the last set's VirtualService being accepted to the gateway answering 200, ms. */
  routedAfterMs: number;
  durationMs: number;
  supervisorPid: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The proxy whose config size is reported: a sleep pod of the namespace, else any of its sidecars. */
export function configProxy(proxies: ProxyPod[], namespace: string): ProxyPod | undefined {
  const inNs = proxies.filter((p) => p.namespace === namespace && !p.router);
  return inNs.find((p) => p.labels['app'] === 'sleep') ?? inNs[0] ?? proxies.find((p) => !p.router);
}

async function waitRouted(target: LabTarget, host: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await httpStatus(target.gateway, '/items', host)) !== 200) {
    if (Date.now() > deadline)
      throw new CliError(
        `${host} did not answer 200 through the ingress gateway (${target.gateway}) within ${timeoutMs} ms`,
        EXIT.unknown,
      );
    await sleep(200);
  }
}

interface CreatedSet {
  name: string;
  objects: KubeBody[];
  serviceAt: number;
  virtualServiceAt: number;
}

/** Creates one set in the book's order; every object the store accepted is added to `made`. */
async function createSet(
  api: string,
  name: string,
  namespace: string,
  made: KubeBody[],
): Promise<CreatedSet> {
  const objects = setObjects(name, { namespace });
  const at: number[] = [];
  for (const o of objects) {
    if ((await createObject(api, o)) === 'created') made.push(o);
    at.push(Date.now());
  }
  return { name, objects, serviceAt: at[1] ?? Date.now(), virtualServiceAt: at[2] ?? Date.now() };
}

export async function runPerformanceTest(opts: RunOptions): Promise<RunResult> {
  const target = await findLab({ stateDir: opts.stateDir, gateway: opts.gateway });
  const progress = opts.progress ?? (() => undefined);
  const proxies = await listProxies(target.api);
  const observer = new ProxyObserver(proxies, opts.pollMs);
  const before = await readPilot(target);
  const readings: PilotReading[] = [before];
  progress(`Pre Pushes: ${before.pushes}\n`);
  const peakReset = resetPeakRss(target.supervisorPid);
  const started = Date.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      await sleep(5000);
      if (sampling) readings.push(await readPilot(target).catch(() => before));
    }
  })();
  observer.start();
  const created: Promise<CreatedSet>[] = [];
  const made: KubeBody[] = [];
  try {
    for (let i = 0; i < opts.reps; i++) {
      const name = (opts.names ?? randomSetName)(i);
      const set = createSet(target.api, name, opts.namespace, made);
      set.then(
        (s) => observer.expect({ ...s, namespace: opts.namespace }),
        () => undefined,
      );
      created.push(set);
      if (i < opts.reps - 1) await sleep(opts.delayMs);
    }
    const sets = await Promise.all(created);
    const last = sets[sets.length - 1];
    if (!last) throw new CliError('--reps must be at least 1', EXIT.usage);
    await waitRouted(target, setHost(last.name), opts.timeoutMs);
    const routedAfterMs = Date.now() - last.virtualServiceAt;
    progress('==============\n');
    await sleep(opts.settleMs);
    const after = await readPilot(target);
    sampling = false;
    const proxy = await observer.stop();
    await sampler;
    const delta = pilotDelta(before, after);
    const window = windowStart(readings, after);
    const latencyP99 = histogramQuantile(0.99, bucketDelta(window.convergence, after.convergence));
    const sized = configProxy(proxies, opts.namespace);
    const dump = sized ? await adminGet(sized.ip, '/config_dump', 10_000) : undefined;
    const result: RunResult = {
      prePushes: before.pushes,
      pushCount: delta.pushes,
      latencyP99,
      convergenceObservations: delta.convergenceObservations,
      proxy: {
        ...proxy,
        p50: quantile(proxy.samples, 0.5),
        p90: quantile(proxy.samples, 0.9),
        p99: quantile(proxy.samples, 0.99),
      },
      cpuSeconds: delta.cpuSeconds,
      peakRssBytes: peakRssBytes(target.supervisorPid),
      peakRssOfRun: peakReset,
      residentBytes: after.residentBytes,
      bytesPushed: delta.configBytes,
      responses: delta.configResponses,
      configBytesPerProxy: dump === undefined ? undefined : Buffer.byteLength(dump),
      configProxy: sized ? `${sized.name}.${sized.namespace}` : undefined,
      lastHost: setHost(last.name),
      routedAfterMs,
      durationMs: Date.now() - started,
      supervisorPid: target.supervisorPid,
    };
    return result;
  } finally {
    sampling = false;
    observer.halt();
    await Promise.allSettled(created);
    if (!opts.keep)
      for (const o of [...made].reverse()) await deleteObject(target.api, o).catch(() => undefined);
  }
}
