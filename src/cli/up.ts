import { spawn } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { loadPaths } from '../api/index.js';
import {
  CLI_MAIN,
  applyObject,
  killLeftovers,
  logDir,
  objectFromResource,
  processAlive,
  readLabState,
  startLab,
  stateDirPath,
  clearLabState,
} from '../lab/index.js';
import type { ApplyOutcome, LabState } from '../lab/index.js';
import { parseGoDuration } from '../pilot/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { tabulate } from './tabwriter.js';
import { untilSignal } from './signals.js';

export interface UpFlags {
  example?: string;
  foreground?: boolean;
  stateDir?: string;
  timeout?: string;
}

const DEFAULT_TIMEOUT_MS = 60_000;

function timeoutMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_TIMEOUT_MS;
  const ms = parseGoDuration(text);
  if (ms === undefined || ms <= 0)
    throw new CliError(`invalid --timeout "${text}": want a duration such as 60s`, EXIT.usage);
  return ms;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The supervisor recorded in the state dir, when it is still running. */
function runningLab(stateDir: string): LabState | undefined {
  const state = readLabState(stateDir);
  return state && processAlive(state.pid) && state.status !== 'failed' ? state : undefined;
}

interface PodRow {
  namespace: string;
  name: string;
  ready: string;
  status: string;
  restarts: number;
  ip: string;
}

async function podRows(apiUrl: string): Promise<PodRow[]> {
  const res = await fetch(`${apiUrl}/api/v1/pods`);
  const list = (await res.json()) as { items?: Record<string, unknown>[] };
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
  lines.push(`  logs: ${logDir(state.stateDir)}`);
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

async function upForeground(stateDir: string, flags: UpFlags, io: CommandIO): Promise<number> {
  const stopped = untilSignal();
  const lab = await startLab({ stateDir, example: flags.example ?? 'lab', log: io.stdout }).catch(
    (err: unknown) => {
      throw new CliError((err as Error).message ?? String(err), EXIT.unknown);
    },
  );
  let code: number = EXIT.ok;
  const ready = lab.waitReady(timeoutMs(flags.timeout)).then(
    async () => io.stdout(`${await summary(lab.state())}Press Ctrl-C to stop.\n`),
    (err: unknown) => {
      io.stderr(`Error: ${(err as Error).message}\n`);
      code = EXIT.unknown;
    },
  );
  await Promise.race([stopped, ready.then(() => (code === EXIT.ok ? stopped : undefined))]);
  await lab.close();
  return code;
}

async function upDetached(stateDir: string, flags: UpFlags, io: CommandIO): Promise<number> {
  mkdirSync(logDir(stateDir), { recursive: true });
  const logPath = join(logDir(stateDir), 'supervisor.log');
  const fd = openSync(logPath, 'a');
  const args = [CLI_MAIN, 'up', '--foreground', '--state-dir', stateDir, '--example', flags.example ?? 'lab'];
  if (flags.timeout) args.push('--timeout', flags.timeout);
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: io.env });
  closeSync(fd);
  let exited = false;
  child.on('exit', () => (exited = true));
  child.unref();
  const deadline = Date.now() + timeoutMs(flags.timeout) + 5000;
  while (Date.now() < deadline) {
    await sleep(100);
    const state = readLabState(stateDir);
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
  const stateDir = stateDirPath(flags.stateDir);
  const running = runningLab(stateDir);
  if (running && running.pid !== process.pid) {
    io.stdout(`skiff is already running.\n${await summary(running)}`);
    return EXIT.ok;
  }
  return flags.foreground ? upForeground(stateDir, flags, io) : upDetached(stateDir, flags, io);
}

export async function downCommand(flags: { stateDir?: string }, io: CommandIO): Promise<number> {
  const stateDir = stateDirPath(flags.stateDir);
  const state = readLabState(stateDir);
  if (state && processAlive(state.pid)) {
    process.kill(state.pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (processAlive(state.pid) && Date.now() < deadline) await sleep(50);
    if (processAlive(state.pid)) process.kill(state.pid, 'SIGKILL');
    await killLeftovers(stateDir);
    clearLabState(stateDir);
    io.stdout(`skiff stopped (pid ${state.pid}); state kept in ${stateDir}\n`);
    return EXIT.ok;
  }
  const leftovers = await killLeftovers(stateDir);
  clearLabState(stateDir);
  io.stdout(`skiff is not running${leftovers ? ` (ended ${leftovers} leftover pod processes)` : ''}\n`);
  return EXIT.ok;
}

export async function statusCommand(flags: { stateDir?: string }, io: CommandIO): Promise<number> {
  const stateDir = stateDirPath(flags.stateDir);
  const state = runningLab(stateDir);
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
  const stateDir = stateDirPath(flags.stateDir);
  const api = flags.server ?? runningLab(stateDir)?.endpoints?.api;
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
    const body = objectFromResource(r);
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
    const outcome: ApplyOutcome = await applyObject(api, r, body, r.origin.file ?? '-').catch(
      (err: unknown) => ({ error: `error: ${(err as Error).message}` }),
    );
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
    .option('--timeout <duration>', 'how long to wait for every pod to be ready', '60s')
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
