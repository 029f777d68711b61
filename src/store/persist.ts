// Durable state for the store: an append-only JSON-lines write-ahead log, fsync'd before a write is
// acknowledged, and a snapshot file the log is compacted into (written to a temporary file, fsync'd, then
// renamed over the old one). A crash loses nothing acknowledged; a torn last line (a write the crash cut
// short, never acknowledged) is ignored with a warning.
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { JsonObject } from '../api/index.js';

export const SNAPSHOT_FILE = 'snapshot.json';
export const WAL_FILE = 'wal.jsonl';
export const LOCK_FILE = 'lock';

/** One log record: an object written (whole), or an object removed. */
export type WalRecord =
  | { rv: number; op: 'put'; object: JsonObject }
  | { rv: number; op: 'delete'; key: { group: string; kind: string; namespace?: string; name: string } };

export interface RecoveredState {
  /** Every object, in the order they were last written. */
  objects: Map<string, JsonObject>;
  resourceVersion: number;
  warnings: string[];
}

export interface StateLogOptions {
  /** Compact the log into the snapshot after this many records (default 1000). */
  compactAfter?: number;
  /** fsync each append (default true; tests and benchmarks on throwaway dirs may turn it off). */
  fsync?: boolean;
  /** Keys objects by identity; the store's objectKey. */
  keyOf: (object: JsonObject) => string | undefined;
  deleteKey: (key: { group: string; kind: string; namespace?: string; name: string }) => string;
}

/** Directories held by stores open in this process: a second open of one is refused, not corrupting. */
const openDirs = new Set<string>();

export class StateDirInUseError extends Error {
  constructor(dir: string, pid: number) {
    super(`state directory ${dir} is in use by process ${pid}`);
    this.name = 'StateDirInUseError';
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function syncDir(dir: string): void {
  // Makes a rename or a new file's directory entry durable; not every platform lets a directory be fsync'd.
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

export class StateLog {
  private walFd: number | undefined;
  private records = 0;
  private readonly compactAfter: number;
  private readonly fsync: boolean;

  private constructor(
    readonly dir: string,
    opts: StateLogOptions,
  ) {
    this.compactAfter = opts.compactAfter ?? 1000;
    this.fsync = opts.fsync ?? true;
  }

  /**
   * Opens (creating) the state in `dir`, recovers the objects from the snapshot and the log, and compacts
   * them into a fresh snapshot so the log starts empty (which also drops a torn last line for good).
   */
  static open(dir: string, opts: StateLogOptions): { log: StateLog; state: RecoveredState } {
    const abs = resolve(dir);
    mkdirSync(abs, { recursive: true });
    lock(abs);
    try {
      const state = recover(abs, opts);
      const log = new StateLog(abs, opts);
      log.compact(state.objects.values(), state.resourceVersion);
      return { log, state };
    } catch (err) {
      unlock(abs);
      throw err;
    }
  }

  /** fsyncs appends made with `sync: false`. */
  sync(): void {
    if (this.walFd !== undefined && this.fsync) fdatasyncSync(this.walFd);
  }

  /** Appends records and (by default) fsyncs them; returns true when the log is due for compaction. */
  append(records: readonly WalRecord[], sync = true): boolean {
    if (this.walFd === undefined) throw new Error('the store is closed');
    const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const bytes = Buffer.from(text, 'utf8');
    const start = fstatSync(this.walFd).size;
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.walFd, bytes, written, bytes.length - written);
      if (this.fsync && sync) fdatasyncSync(this.walFd);
    } catch (err) {
      // Cut off whatever part of the records made it, so the next append does not follow a broken line.
      try {
        ftruncateSync(this.walFd, start);
      } catch {
        /* recovery ignores a torn tail anyway */
      }
      throw err;
    }
    this.records += records.length;
    return this.records >= this.compactAfter;
  }

  /** Writes every object to a new snapshot and starts an empty log. */
  compact(objects: Iterable<JsonObject>, resourceVersion: number): void {
    const snapshotPath = join(this.dir, SNAPSHOT_FILE);
    const temp = `${snapshotPath}.tmp`;
    const items: string[] = [];
    for (const o of objects) items.push(JSON.stringify(o));
    const text = `{"kind":"SkiffStoreSnapshot","version":1,"resourceVersion":"${resourceVersion}","objects":[\n${items.join(',\n')}\n]}\n`;
    const fd = openSync(temp, 'w');
    try {
      writeFileSync(fd, text);
      if (this.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, snapshotPath);
    if (this.fsync) syncDir(this.dir);
    // Records up to resourceVersion are in the snapshot now; a crash before the truncate below only
    // leaves records recovery skips.
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = openSync(join(this.dir, WAL_FILE), 'w');
    if (this.fsync) {
      fsyncSync(this.walFd);
      syncDir(this.dir);
    }
    this.records = 0;
  }

  close(): void {
    if (this.walFd !== undefined) {
      closeSync(this.walFd);
      this.walFd = undefined;
      unlock(this.dir);
    }
  }
}

function lock(dir: string): void {
  if (openDirs.has(dir)) throw new StateDirInUseError(dir, process.pid);
  const path = join(dir, LOCK_FILE);
  if (existsSync(path)) {
    const pid = Number(readFileSync(path, 'utf8').trim());
    // A lock left by this process (a store never closed) or by a dead one is stale.
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
      throw new StateDirInUseError(dir, pid);
    }
  }
  writeFileSync(path, `${process.pid}\n`);
  openDirs.add(dir);
}

function unlock(dir: string): void {
  openDirs.delete(dir);
  try {
    rmSync(join(dir, LOCK_FILE), { force: true });
  } catch {
    /* the lock is advisory */
  }
}

function recover(dir: string, opts: StateLogOptions): RecoveredState {
  const state: RecoveredState = { objects: new Map(), resourceVersion: 0, warnings: [] };
  const snapshotPath = join(dir, SNAPSHOT_FILE);
  if (existsSync(snapshotPath)) readSnapshot(snapshotPath, opts, state);
  const walPath = join(dir, WAL_FILE);
  if (existsSync(walPath)) replayLog(walPath, opts, state);
  return state;
}

function readSnapshot(path: string, opts: StateLogOptions, state: RecoveredState): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    // The snapshot is only ever replaced by rename, so this is damage from outside; refuse to guess.
    throw new Error(`cannot read store snapshot ${path}: ${(err as Error).message}`);
  }
  const snap = parsed as { resourceVersion?: unknown; objects?: unknown };
  const rv = Number(snap.resourceVersion);
  if (!Number.isSafeInteger(rv) || rv < 0 || !Array.isArray(snap.objects)) {
    throw new Error(`cannot read store snapshot ${path}: not a skiff store snapshot`);
  }
  state.resourceVersion = rv;
  for (const [i, o] of snap.objects.entries()) {
    const key = typeof o === 'object' && o !== null ? opts.keyOf(o as JsonObject) : undefined;
    if (key === undefined) {
      state.warnings.push(`${path}: skipping object ${i}: not a Kubernetes object of a known kind`);
      continue;
    }
    state.objects.set(key, o as JsonObject);
  }
}

function replayLog(path: string, opts: StateLogOptions, state: RecoveredState): void {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  // The text after the last newline is a record whose write never completed (or nothing).
  const last = lines.length - 1;
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    let record: WalRecord | undefined;
    try {
      record = checkRecord(JSON.parse(line));
    } catch {
      record = undefined;
    }
    if (!record) {
      state.warnings.push(
        i === last || lines.slice(i + 1).every((l) => l.trim() === '')
          ? `${path}:${i + 1}: ignoring a torn last record (a write cut short, never acknowledged)`
          : `${path}:${i + 1}: skipping a corrupt record`,
      );
      continue;
    }
    if (record.rv <= state.resourceVersion) {
      // Already in the snapshot (a crash between writing the snapshot and truncating the log).
      continue;
    }
    if (record.op === 'put') {
      const key = opts.keyOf(record.object);
      if (key === undefined) {
        state.warnings.push(`${path}:${i + 1}: skipping a record of an unknown kind`);
      } else {
        state.objects.delete(key);
        state.objects.set(key, record.object);
      }
    } else {
      state.objects.delete(opts.deleteKey(record.key));
    }
    state.resourceVersion = record.rv;
  }
}

function checkRecord(value: unknown): WalRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r['rv'] !== 'number' || !Number.isSafeInteger(r['rv'])) return undefined;
  if (
    r['op'] === 'put' &&
    typeof r['object'] === 'object' &&
    r['object'] !== null &&
    !Array.isArray(r['object'])
  ) {
    return value as WalRecord;
  }
  const key = r['key'] as Record<string, unknown> | undefined;
  if (
    r['op'] === 'delete' &&
    typeof key === 'object' &&
    key !== null &&
    typeof key['kind'] === 'string' &&
    typeof key['group'] === 'string' &&
    typeof key['name'] === 'string'
  ) {
    return value as WalRecord;
  }
  return undefined;
}
