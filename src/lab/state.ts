/**
 * The lab's files in the state dir (`.skiff/` in the working directory by default):
 *
 *   store/        the object store (write-ahead log + snapshot)
 *   logs/         one file per container (`<ns>_<pod>_<container>.log`) and `supervisor.log`
 *   lab.json      the running supervisor: pid, status, and where everything listens
 *   pids.json     the pod processes it started (so `skiff down` or the next `skiff up` can end leftovers
 *                 of a supervisor that was killed)
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_STATE_DIR = '.skiff';

export type LabStatus = 'starting' | 'ready' | 'stopping' | 'failed';

export interface LabEndpoints {
  /** The store's REST API, `http://127.0.0.1:6443`. */
  api: string;
  xds: string;
  debug: string;
  monitoring: string;
}

export interface LabState {
  pid: number;
  status: LabStatus;
  error?: string;
  startedAt: string;
  stateDir: string;
  endpoints?: LabEndpoints;
  /** Node ports published on the host, and ones that could not be bound. */
  published?: { address: string; port: number; service: string; portName?: string; error?: string }[];
  notes?: string[];
}

export function stateDirPath(dir?: string): string {
  return resolve(dir ?? DEFAULT_STATE_DIR);
}

export function labFile(stateDir: string): string {
  return join(stateDir, 'lab.json');
}

export function pidsFile(stateDir: string): string {
  return join(stateDir, 'pids.json');
}

export function logDir(stateDir: string): string {
  return join(stateDir, 'logs');
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeLabState(stateDir: string, state: LabState): void {
  mkdirSync(stateDir, { recursive: true });
  writeAtomic(labFile(stateDir), JSON.stringify(state, null, 2) + '\n');
}

export function readLabState(stateDir: string): LabState | undefined {
  const path = labFile(stateDir);
  if (!existsSync(path)) return undefined;
  try {
    const value: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const s = value as Partial<LabState>;
    if (typeof s.pid !== 'number' || typeof s.status !== 'string') return undefined;
    return s as LabState;
  } catch {
    return undefined;
  }
}

export function writePids(stateDir: string, pids: number[]): void {
  mkdirSync(stateDir, { recursive: true });
  writeAtomic(pidsFile(stateDir), JSON.stringify(pids) + '\n');
}

export function readPids(stateDir: string): number[] {
  try {
    const value: unknown = JSON.parse(readFileSync(pidsFile(stateDir), 'utf8'));
    return Array.isArray(value) ? value.filter((p): p is number => Number.isInteger(p) && p > 0) : [];
  } catch {
    return [];
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by a parent that is not waiting for it) is not running.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Whether a pid still runs one of skiff's programs (guards against a recycled pid). */
function isSkiffProcess(pid: number): boolean {
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync('/proc/self/cmdline')) return processAlive(pid);
  try {
    const text = readFileSync(cmdline, 'utf8');
    return text.includes('main.js');
  } catch {
    return false;
  }
}

/** Ends pod processes a killed supervisor left behind; returns how many there were. */
export async function killLeftovers(stateDir: string, graceMs = 3000): Promise<number> {
  const pids = readPids(stateDir).filter((p) => p !== process.pid && processAlive(p) && isSkiffProcess(p));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(processAlive)) await new Promise((r) => setTimeout(r, 50));
  for (const pid of pids.filter(processAlive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  writePids(stateDir, []);
  return pids.length;
}

/** Forgets the running supervisor (after it stopped). */
export function clearLabState(stateDir: string): void {
  rmSync(labFile(stateDir), { force: true });
}
