import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { ApplyOutcome, LabState } from '../lab/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { tabulate } from './tabwriter.js';
import { untilSignal } from './signals.js';

/**
 * The lab module (store, control plane, proxies: ~1 s of CPU to load), imported when a command needs it.
 * The detached `skiff up` on a state dir without a running lab does not: it only starts the supervisor
 * and watches lab.json, and every CPU second it spared goes to the pods starting on the same cores.
 */
type Lab = typeof import('../lab/index.js');
const loadLab = (): Promise<Lab> => import('../lab/index.js');

/** This CLI's entry point, which the detached supervisor runs (`skiff up --foreground`). */
const CLI_ENTRY = fileURLToPath(new URL('./main.js', import.meta.url));

/**
 * Where the detached `skiff up` finds the state dir's `lab.json` and `logs/` before, or without, loading the
 * lab module: the layout of lab/state.ts (`stateDirPath`, `labFile`, `logDir`), which a test keeps equal.
 */
export function launcherPaths(stateDirFlag: string | undefined): {
  stateDir: string;
  labFile: string;
  logDir: string;
  supervisorLog: string;
} {
  const stateDir = resolve(stateDirFlag ?? '.skiff');
  const logs = join(stateDir, 'logs');
  return {
    stateDir,
    labFile: join(stateDir, 'lab.json'),
    logDir: logs,
    supervisorLog: join(logs, 'supervisor.log'),
  };
}

/** lab/state.ts's `readLabState` for the launcher, which a test keeps equal to it. */
export function readLaunchState(labFile: string): LabState | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(labFile, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const s = value as Partial<LabState>;
    return typeof s.pid === 'number' && typeof s.status === 'string' ? (s as LabState) : undefined;
  } catch {
    return undefined;
  }
}

export interface UpFlags {
  example?: string;
  foreground?: boolean;
  stateDir?: string;
  timeout?: string;
}

const DEFAULT_TIMEOUT = '60s';
const DEFAULT_TIMEOUT_MS = 60_000;

async function timeoutMs(text: string | undefined): Promise<number> {
  // The default needs no parser (the control plane's module, which the launcher does not load otherwise).
  if (text === undefined || text === DEFAULT_TIMEOUT) return DEFAULT_TIMEOUT_MS;
  const { parseGoDuration } = await import('../pilot/index.js');
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0)
    throw new CliError(`invalid --timeout "${text}": want a duration such as 60s`, EXIT.usage);
  return ms;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The supervisor recorded in the state dir, when it is still running. */
function runningLab(lab: Lab, stateDir: string): LabState | undefined {
  const state = lab.readLabState(stateDir);
  return state && lab.processAlive(state.pid) && state.status !== 'failed' ? state : undefined;
}

interface PodRow {
  namespace: string;
  name: string;
  ready: string;
  status: string;
  restarts: number;
  ip: string;
}

/** GET a JSON document with node:http (global fetch would load undici: ~0.3 s of CPU for one request). */
function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(err as Error);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function podRows(apiUrl: string): Promise<PodRow[]> {
  const list = ((await getJson(`${apiUrl}/api/v1/pods`)) ?? {}) as { items?: Record<string, unknown>[] };
  return (list.items ?? []).map((p) => {
    const meta = (p['metadata'] ?? {}) as Record<string, unknown>;
    const status = (p['status'] ?? {}) as Record<string, unknown>;
    const cs = Array.isArray(status['containerStatuses'])
      ? (status['containerStatuses'] as Record<string, unknown>[])
      : [];
    const waiting = cs
      .map(
        (c) =>
          ((c['state'] ?? {}) as Record<string, Record<string, unknown> | undefined>)['waiting']?.['reason'],
      )
      .find((r): r is string => typeof r === 'string');
    return {
      namespace: String(meta['namespace'] ?? ''),
      name: String(meta['name'] ?? ''),
      ready: `${cs.filter((c) => c['ready'] === true).length}/${cs.length}`,
      status: waiting ?? String(status['phase'] ?? 'Pending'),
      restarts: cs.reduce((n, c) => n + (typeof c['restartCount'] === 'number' ? c['restartCount'] : 0), 0),
      ip: String(status['podIP'] ?? '<none>'),
    };
  });
}

/** Where things are, and the pods (kubectl get pods -A -o wide's first columns). */
async function summary(state: LabState): Promise<string> {
  const e = state.endpoints;
  const lines = [`skiff is up (pid ${state.pid}, state in ${state.stateDir})`];
  for (const p of state.published ?? []) {
    const what = p.service === 'istio-system/istio-ingressgateway' ? 'ingress gateway' : p.service;
    const port = p.portName ? ` ${p.portName}` : '';
    lines.push(`  ${what}${port}: ${p.address}:${p.port}${p.error ? ` (not published: ${p.error})` : ''}`);
  }
  if (e) {
    lines.push(`  store API (kubectl-style REST): ${e.api}`);
    lines.push(`  control plane: xDS ${e.xds}, debug ${e.debug}/debug/, metrics ${e.monitoring}/metrics`);
  }
  lines.push(`  logs: ${launcherPaths(state.stateDir).logDir}`);
  if (e) {
    try {
      const rows = await podRows(e.api);
      const table = ['NAMESPACE\tNAME\tREADY\tSTATUS\tRESTARTS\tIP']
        .concat(rows.map((r) => `${r.namespace}\t${r.name}\t${r.ready}\t${r.status}\t${r.restarts}\t${r.ip}`))
        .join('\n');
      lines.push(
        '',
        tabulate(`${table}\n`, { minwidth: 0, tabwidth: 8, padding: 3, padchar: ' ' }).trimEnd(),
      );
    } catch {
      // the API is not answering: the summary stays without pods
    }
  }
  if ((state.published ?? []).some((p) => p.port === 30000 && !p.error))
    lines.push('', 'Try: curl -H "Host: catalog.istioinaction.io" http://127.0.0.1:30000/items');
  return lines.join('\n') + '\n';
}

async function upForeground(lab: Lab, stateDir: string, flags: UpFlags, io: CommandIO): Promise<number> {
  // A bad --timeout is refused before anything starts.
  const readyTimeoutMs = await timeoutMs(flags.timeout);
  const stopped = untilSignal();
  const started = await lab
    .startLab({ stateDir, example: flags.example ?? 'lab', log: io.stdout })
    .catch((err: unknown) => {
      throw new CliError((err as Error).message ?? String(err), EXIT.unknown);
    });
  let code: number = EXIT.ok;
  const ready = started.waitReady(readyTimeoutMs).then(
    async () => io.stdout(`${await summary(started.state())}Press Ctrl-C to stop.\n`),
    (err: unknown) => {
      io.stderr(`Error: ${(err as Error).message}\n`);
      code = EXIT.unknown;
    },
  );
  await Promise.race([stopped, ready.then(() => (code === EXIT.ok ? stopped : undefined))]);
  await started.close();
  return code;
}

/** How often the detached `skiff up` looks at `lab.json` for the supervisor's progress. */
const LAUNCHER_POLL_MS = 50;

async function upDetached(flags: UpFlags, io: CommandIO): Promise<number> {
  const paths = launcherPaths(flags.stateDir);
  // A bad --timeout is refused before a supervisor starts.
  const readyTimeoutMs = await timeoutMs(flags.timeout);
  // Without lab.json no supervisor runs here (a cold or cleanly stopped state dir): start one without
  // loading the lab module, which the supervisor loads anyway. Otherwise check first, as before.
  if (existsSync(paths.labFile)) {
    const lab = await loadLab();
    const running = runningLab(lab, paths.stateDir);
    if (running) {
      io.stdout(`skiff is already running.\n${await summary(running)}`);
      return EXIT.ok;
    }
  }
  const logPath = paths.supervisorLog;
  mkdirSync(dirname(logPath), { recursive: true });
  const fd = openSync(logPath, 'a');
  const args = [
    CLI_ENTRY,
    'up',
    '--foreground',
    '--state-dir',
    paths.stateDir,
    '--example',
    flags.example ?? 'lab',
  ];
  if (flags.timeout) args.push('--timeout', flags.timeout);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: io.env });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.unref();
  const deadline = Date.now() + readyTimeoutMs + 5000;
  while (Date.now() < deadline) {
    await sleep(LAUNCHER_POLL_MS);
    const state = readLaunchState(paths.labFile);
    if (state && state.pid === child.pid && state.status === 'ready') {
      io.stdout(await summary(state));
      return EXIT.ok;
    }
    if (exited || state?.status === 'failed') {
      const tail = readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
      throw new CliError(`skiff up failed${state?.error ? `: ${state.error}` : ''}\n${tail}`, EXIT.unknown);
    }
  }
  throw new CliError(`skiff up: the mesh was not ready in time; see ${logPath}`, EXIT.unknown);
}

export async function upCommand(flags: UpFlags, io: CommandIO): Promise<number> {
  if (!flags.foreground) return upDetached(flags, io);
  const lab = await loadLab();
  const stateDir = lab.stateDirPath(flags.stateDir);
  const running = runningLab(lab, stateDir);
  if (running && running.pid !== process.pid) {
    io.stdout(`skiff is already running.\n${await summary(running)}`);
    return EXIT.ok;
  }
  return upForeground(lab, stateDir, flags, io);
}

export async function downCommand(flags: { stateDir?: string }, io: CommandIO): Promise<number> {
  const lab = await loadLab();
  const stateDir = lab.stateDirPath(flags.stateDir);
  const state = lab.readLabState(stateDir);
  if (state && lab.processAlive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (lab.processAlive(state.pid) && Date.now() < deadline) await sleep(50);
    if (lab.processAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
    await lab.killLeftovers(stateDir);
    lab.clearLabState(stateDir);
    io.stdout(`skiff stopped (pid ${state.pid}); state kept in ${stateDir}\n`);
    return EXIT.ok;
  }
  const leftovers = await lab.killLeftovers(stateDir);
  lab.clearLabState(stateDir);
  io.stdout(`skiff is not running${leftovers ? ` (ended ${leftovers} leftover pod processes)` : ''}\n`);
  return EXIT.ok;
}

export async function statusCommand(flags: { stateDir?: string }, io: CommandIO): Promise<number> {
  const lab = await loadLab();
  const stateDir = lab.stateDirPath(flags.stateDir);
  const state = runningLab(lab, stateDir);
  if (!state) {
    io.stdout(`skiff is not running (state dir ${stateDir})\n`);
    return EXIT.unknown;
  }
  if (state.status !== 'ready') {
    io.stdout(`skiff is ${state.status} (pid ${state.pid})\n`);
    return EXIT.ok;
  }
  io.stdout(await summary(state));
  return EXIT.ok;
}

export interface ApplyFlags {
  filename?: string[];
  namespace?: string;
  stateDir?: string;
  server?: string;
}

export async function applyCommand(flags: ApplyFlags, io: CommandIO): Promise<number> {
  const files = flags.filename ?? [];
  if (files.length === 0) throw new CliError('must specify one of -f and -k', EXIT.usage);
  const [lab, { loadPaths }] = await Promise.all([loadLab(), import('../api/index.js')]);
  const stateDir = lab.stateDirPath(flags.stateDir);
  const api = flags.server ?? runningLab(lab, stateDir)?.endpoints?.api;
  if (!api)
    throw new CliError(
      `skiff is not running in ${stateDir}: start it with \`skiff up\` (or pass --server)`,
      EXIT.unknown,
    );
  const loaded = await loadPaths(files, {
    defaultNamespace: flags.namespace ?? 'default',
    readStdin: () => io.readStdin(),
  });
  let failed = false;
  for (const e of loaded.errors) {
    if (e.kind === 'unknown-kind') continue;
    io.stderr(`error: error parsing ${e.file}${e.line !== undefined ? `:${e.line}` : ''}: ${e.message}\n`);
    failed = true;
  }
  for (const r of loaded.resources) {
    const body = lab.objectFromResource(r);
    if (flags.namespace && r.info.namespaced) {
      const meta = body['metadata'] as Record<string, unknown>;
      const declared = (r.object['metadata'] as Record<string, unknown> | undefined)?.['namespace'];
      if (typeof declared === 'string' && declared !== flags.namespace) {
        io.stderr(
          `error: the namespace from the provided object "${declared}" does not match the namespace "${flags.namespace}". You must pass '--namespace=${declared}' to perform this operation.\n`,
        );
        failed = true;
        continue;
      }
      meta['namespace'] = flags.namespace;
    }
    const outcome: ApplyOutcome = await lab
      .applyObject(api, r, body, r.origin.file ?? '-')
      .catch((err: unknown) => ({ error: `error: ${(err as Error).message}` }));
    if (outcome.line) io.stdout(`${outcome.line}\n`);
    if (outcome.error) {
      io.stderr(`${outcome.error}\n`);
      failed = true;
    }
  }
  return failed ? EXIT.unknown : EXIT.ok;
}

const STATE_DIR_HELP = 'state directory (default .skiff in the working directory)';

export function registerUp(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('up')
    .description(
      'Start the embedded mesh (store, control plane, ingress gateway, sample apps) and wait until it is ready',
    )
    .option('--example <name>', 'example under examples/ applied on a fresh state dir', 'lab')
    .option('--foreground', 'stay in the foreground and stop on Ctrl-C')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .option('--timeout <duration>', 'how long to wait for every pod to be ready', DEFAULT_TIMEOUT)
    .action(async (opts: UpFlags) => setExit(await upCommand(opts, io)));
}

export function registerDown(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('down')
    .description('Stop the embedded mesh (its state is kept for the next `skiff up`)')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(async (opts: { stateDir?: string }) => setExit(await downCommand(opts, io)));
}

export function registerStatus(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('status')
    .description('Show whether the embedded mesh runs, where, and its pods')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .action(async (opts: { stateDir?: string }) => setExit(await statusCommand(opts, io)));
}

export function registerApply(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('apply')
    .description('Create or update objects in the running mesh from files, directories or stdin')
    .option(
      '-f, --filename <path>',
      'file, directory (recursive) or - for stdin; repeatable',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('-n, --namespace <ns>', 'namespace for objects that name none')
    .option('--state-dir <dir>', STATE_DIR_HELP)
    .option('--server <url>', 'the store API URL (default: the running mesh of the state dir)')
    .action(async (opts: ApplyFlags) => setExit(await applyCommand(opts, io)));
}
