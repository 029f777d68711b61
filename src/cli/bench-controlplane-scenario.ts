/**
 * `skiff bench controlplane --scenario ch11`: Istio in Action chapter 11's tuning steps on the running
 * lab, each measured with the same performance test, cumulative as in the book:
 *
 *   baseline   the workspace (10 sleep replicas, catalog, 200 Service + Gateway + VirtualService sets)
 *   sidecar    + the mesh-wide Sidecar, the namespace default and a workload Sidecar for sleep
 *   discovery  + discoverySelectors in the mesh config (the `istio` ConfigMap, read live)
 *   debounce   + PILOT_DEBOUNCE_AFTER (2500ms), which istiod reads only at start: the lab is restarted
 *              with it in its environment (the supervisor's pilot reads process.env)
 *
 * Afterwards the Sidecars and the mesh config are put back and, when the debounce step ran, the lab is
 * restarted without the variable (unless `keep`). The workspace stays for the next run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPaths } from '../api/index.js';
import { EXAMPLES_DIR, objectFromResource } from '../lab/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import {
  allPodsReady,
  createObject,
  deleteObject,
  findLab,
  getObject,
  httpStatus,
  patchObject,
  readPilot,
} from './bench-controlplane-lab.js';
import type { LabTarget } from './bench-controlplane-lab.js';
import { bookLines, extraLines } from './bench-controlplane-report.js';
import type { StepRow } from './bench-controlplane-report.js';
import { runPerformanceTest } from './bench-controlplane-run.js';
import type { RunOptions } from './bench-controlplane-run.js';
import {
  setHost,
  withDiscoverySelectors,
  workspaceObjects,
  workspaceSetName,
} from './bench-controlplane-sets.js';
import type { KubeBody } from './bench-controlplane-sets.js';
import { downCommand, upCommand } from './up.js';

export const CH11_STEPS = ['baseline', 'sidecar', 'discovery', 'debounce'] as const;
export type Ch11Step = (typeof CH11_STEPS)[number];

export interface ScenarioOptions extends Omit<RunOptions, 'progress'> {
  steps: Ch11Step[];
  /** Sets in the workspace (200 in the book). */
  services: number;
  debounceAfter: string;
  pushThrottle?: string;
  /** How long to wait for pods and pushes to settle between steps. */
  readyTimeoutMs: number;
}

const CH11_DIR = join(EXAMPLES_DIR, 'ch11');
const SIDECAR_FILES = [
  'sidecar-mesh-wide.yaml',
  'sidecar-namespace-wide.yaml',
  'sidecar-workload-specific.yaml',
];
const MESH_CONFIGMAP: KubeBody = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'istio', namespace: 'istio-system' },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function manifests(paths: string[]): Promise<KubeBody[]> {
  const loaded = await loadPaths(paths, { defaultNamespace: 'istioinaction' });
  if (loaded.errors.length > 0)
    throw new CliError(
      `examples/ch11: ${loaded.errors.map((e) => `${e.file}: ${e.message}`).join('; ')}`,
      EXIT.unknown,
    );
  // Namespaces first, so the pods of the others are injected.
  return loaded.resources
    .map(objectFromResource)
    .sort((a, b) => Number(b['kind'] === 'Namespace') - Number(a['kind'] === 'Namespace'));
}

/** Creates whatever is missing, a few requests at a time; how many were new. */
async function ensureObjects(api: string, objects: KubeBody[], parallel = 8): Promise<number> {
  let created = 0;
  for (let i = 0; i < objects.length; i += parallel) {
    const batch = await Promise.all(objects.slice(i, i + parallel).map((o) => createObject(api, o)));
    created += batch.filter((r) => r === 'created').length;
  }
  return created;
}

async function until(what: string, timeoutMs: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new CliError(`${what} within ${timeoutMs} ms`, EXIT.unknown);
    await sleep(250);
  }
}

/** Waits until pilot's push count has not moved for `quietMs` (pushes of the last change are done). */
async function pushesSettled(target: LabTarget, quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = (await readPilot(target)).pushes;
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) return;
    await sleep(250);
    const now = (await readPilot(target)).pushes;
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
}

/** The lab ready for a step: pods ready, the workspace's last host routed, pushes quiet. */
async function settle(opts: ScenarioOptions, quietMs: number): Promise<LabTarget> {
  let target: LabTarget | undefined;
  await until('the lab did not come back', opts.readyTimeoutMs, async () => {
    target = await findLab(opts);
    return true;
  });
  const t = target as LabTarget;
  await until('the pods were not all ready', opts.readyTimeoutMs, () => allPodsReady(t.api));
  if (opts.services > 0) {
    const host = setHost(workspaceSetName(opts.services - 1));
    await until(
      `${host} did not route`,
      opts.readyTimeoutMs,
      async () => (await httpStatus(t.gateway, '/items', host)) === 200,
    );
  }
  await pushesSettled(t, quietMs, opts.readyTimeoutMs);
  return t;
}

async function restartLab(opts: ScenarioOptions, env: NodeJS.ProcessEnv, io: CommandIO): Promise<void> {
  const quiet: CommandIO = { ...io, stdout: () => undefined, env };
  const timeout = `${Math.ceil(opts.readyTimeoutMs / 1000)}s`;
  await downCommand({ stateDir: opts.stateDir }, quiet);
  await upCommand({ stateDir: opts.stateDir, timeout }, quiet);
}

function meshText(cm: KubeBody | undefined): string {
  const data = cm?.['data'];
  const mesh =
    typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['mesh'] : undefined;
  return typeof mesh === 'string' ? mesh : '';
}

export async function runCh11Scenario(opts: ScenarioOptions, io: CommandIO): Promise<StepRow[]> {
  const t0 = Date.now();
  const say = (m: string): void => io.stderr(`[+${((Date.now() - t0) / 1000).toFixed(0)}s] ${m}\n`);
  let target = await findLab(opts);
  const base = await manifests([join(CH11_DIR, 'base')]);
  const workspace = workspaceObjects(opts.services, 'istioinaction');
  say(
    `ch11 workspace: ${await ensureObjects(target.api, base)} base objects and ${await ensureObjects(target.api, workspace)} of ${workspace.length} set objects created`,
  );
  target = await settle(opts, 1500);
  say('workspace ready: pods ready, its last host routes, pushes quiet');
  const sidecars = await manifests(SIDECAR_FILES.map((f) => join(CH11_DIR, f)));
  const originalMesh = meshText(await getObject(target.api, MESH_CONFIGMAP));
  const selectors = readFileSync(join(CH11_DIR, 'discovery-selectors.mesh'), 'utf8')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
  const rows: StepRow[] = [];
  let restarted = false;
  const want = new Set(opts.steps);
  try {
    for (const step of CH11_STEPS) {
      if (step === 'sidecar' && (want.has('sidecar') || CH11_STEPS.indexOf(step) < lastWanted(opts.steps))) {
        await ensureObjects(target.api, sidecars);
      }
      if (
        step === 'discovery' &&
        (want.has('discovery') || CH11_STEPS.indexOf(step) < lastWanted(opts.steps))
      ) {
        await patchObject(target.api, MESH_CONFIGMAP, {
          data: { mesh: withDiscoverySelectors(originalMesh, selectors) },
        });
      }
      if (step === 'debounce' && want.has('debounce')) {
        say(
          `restarting the lab with PILOT_DEBOUNCE_AFTER=${opts.debounceAfter}${opts.pushThrottle ? ` PILOT_PUSH_THROTTLE=${opts.pushThrottle}` : ''}`,
        );
        await restartLab(
          opts,
          {
            ...io.env,
            PILOT_DEBOUNCE_AFTER: opts.debounceAfter,
            ...(opts.pushThrottle ? { PILOT_PUSH_THROTTLE: opts.pushThrottle } : {}),
          },
          io,
        );
        restarted = true;
      }
      if (!want.has(step)) continue;
      target = await settle(opts, step === 'debounce' ? 4000 : 1500);
      say(`step ${step}: --reps ${opts.reps} --delay ${opts.delayMs / 1000}s`);
      io.stdout(`## ${step}\n`);
      const result = await runPerformanceTest({ ...opts, progress: io.stdout });
      io.stdout(`\n${bookLines(result)}\n${extraLines(result)}\n`);
      rows.push({ step, result });
    }
  } finally {
    if (!opts.keep) {
      say('restoring the lab: Sidecars removed, mesh config put back');
      const api = (await findLab(opts).catch(() => target)).api;
      for (const s of sidecars) await deleteObject(api, s).catch(() => undefined);
      await patchObject(api, MESH_CONFIGMAP, { data: { mesh: originalMesh } }).catch(() => undefined);
      if (restarted) {
        const env = { ...io.env };
        delete env['PILOT_DEBOUNCE_AFTER'];
        delete env['PILOT_PUSH_THROTTLE'];
        say('restarting the lab without PILOT_DEBOUNCE_AFTER');
        await restartLab(opts, env, io);
      }
    }
  }
  return rows;
}

function lastWanted(steps: Ch11Step[]): number {
  return Math.max(-1, ...steps.map((s) => CH11_STEPS.indexOf(s)));
}
