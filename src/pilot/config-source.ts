/**
 * Where the control plane's config comes from. One interface (`ConfigSource`): a snapshot plus change
 * events naming what changed. `DirectoryConfigSource` watches a directory of manifests; the embedded store
 * and a Kubernetes API server plug in behind the same interface later.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import {
  DEFAULT_MAX_FILE_BYTES,
  MANIFEST_EXTENSIONS,
  formatLoadError,
  groupKindKey,
  loadPaths,
} from '../api/index.js';
import type { LoadError, LoadResult, Resource } from '../api/index.js';
import { ConfigSnapshot } from '../model/index.js';
import type { Logger } from '../xds/index.js';
import { silentLogger } from '../xds/index.js';

export interface ConfigKey {
  kind: string;
  namespace: string;
  name: string;
}

export interface ConfigChange {
  snapshot: ConfigSnapshot;
  changed: ConfigKey[];
  /** Only kinds that carry endpoints changed (Pods, WorkloadEntries, Endpoints): EDS-only pushes. */
  endpointsOnly: boolean;
}

export interface ConfigSource {
  /** The config now (the last good one). */
  snapshot(): ConfigSnapshot;
  /** Calls `listener` after every change; returns the unsubscribe function. */
  onChange(listener: (change: ConfigChange) => void): () => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Kinds whose changes only move endpoints (istiod's incremental EDS updates). */
export const ENDPOINT_KINDS: ReadonlySet<string> = new Set([
  'Pod',
  'WorkloadEntry',
  'Endpoints',
  'EndpointSlice',
]);

export function configKeyString(k: ConfigKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** The objects that differ between two snapshots (added, removed or changed in content). */
export function diffSnapshots(before: ConfigSnapshot, after: ConfigSnapshot): ConfigKey[] {
  const index = (s: ConfigSnapshot) => {
    const m = new Map<string, Resource>();
    for (const r of s.resources)
      m.set(`${groupKindKey(r.info)}|${r.metadata.namespace ?? ''}|${r.metadata.name}`, r);
    return m;
  };
  const a = index(before);
  const b = index(after);
  const out: ConfigKey[] = [];
  const key = (r: Resource): ConfigKey => ({
    kind: r.kind,
    namespace: r.metadata.namespace ?? '',
    name: r.metadata.name,
  });
  for (const [k, r] of b) {
    const old = a.get(k);
    // The directory source hands unchanged files' objects over as they were: same object, same content.
    if (old !== r && (old === undefined || contentText(old) !== contentText(r))) out.push(key(r));
  }
  for (const [k, r] of a) if (!b.has(k)) out.push(key(r));
  return out;
}

/** An object's content as JSON, computed once per object (objects are never changed once loaded). */
const contentTexts = new WeakMap<Resource, string>();
function contentText(r: Resource): string {
  let text = contentTexts.get(r);
  if (text === undefined) contentTexts.set(r, (text = JSON.stringify(r.object)));
  return text;
}

interface ParsedFile {
  bytes: Buffer;
  result: LoadResult;
}

function append(out: LoadResult, part: LoadResult): void {
  out.resources.push(...part.resources);
  out.errors.push(...part.errors);
  out.files.push(...part.files);
  out.skippedFiles.push(...part.skippedFiles);
}

export interface DirectoryConfigSourceOptions {
  logger?: Logger;
  /** Namespace for namespaced objects without one. */
  defaultNamespace?: string;
  /** Wait this long after a file event before reloading, so multi-step saves read once. */
  settleMs?: number;
}

export class DirectoryConfigSource implements ConfigSource {
  private current = new ConfigSnapshot([]);
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly log: Logger;
  /** Each manifest file's bytes and what they loaded to, from the last load. */
  private parsed = new Map<string, ParsedFile>();
  /** Reloads finished, successful or not (tests wait on it). */
  reloads = 0;

  constructor(
    readonly dir: string,
    private readonly options: DirectoryConfigSourceOptions = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  snapshot(): ConfigSnapshot {
    return this.current;
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async start(): Promise<void> {
    const info = await stat(this.dir);
    if (!info.isDirectory()) throw new Error(`${this.dir} is not a directory`);
    const { resources, errors } = await this.load();
    // Nothing good came before the first load: start with what did load, and say what did not.
    this.reportErrors(errors, false);
    this.current = new ConfigSnapshot(resources);
    this.log.info('config', `Loaded ${this.current.resources.length} objects from ${this.dir}`);
    this.watcher = watch(this.dir, { recursive: true }, () => this.schedule());
    this.watcher.on('error', (err) =>
      this.log.error('config', `Watching ${this.dir} failed: ${err.message}`),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    if (this.timer) clearTimeout(this.timer);
    await this.loading;
  }

  /** Reloads now (the watcher calls this through a short settle delay). */
  reload(): Promise<void> {
    if (this.loading) {
      this.dirty = true;
      return this.loading;
    }
    this.loading = this.reloadOnce().finally(() => {
      this.loading = undefined;
      this.reloads++;
      if (this.dirty && !this.closed) {
        this.dirty = false;
        void this.reload();
      }
    });
    return this.loading;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, this.options.settleMs ?? 20);
  }

  /**
   * Loads the directory as `loadPaths` does (recursively, in lexical order), parsing only files whose bytes
   * differ from the last load: a change to one file of thousands costs one parse, not thousands.
   */
  private async load(): Promise<{ resources: Resource[]; errors: LoadError[] }> {
    const loaded: LoadResult = { resources: [], errors: [], files: [], skippedFiles: [] };
    const seen = new Map<string, ParsedFile>();
    await this.walk(this.dir, loaded, seen, new Set());
    this.parsed = seen;
    // Kinds from groups skiff does not serve are skipped, as istioctl skips them.
    return { resources: loaded.resources, errors: loaded.errors.filter((e) => e.kind !== 'unknown-kind') };
  }

  private loadOptions() {
    return { defaultNamespace: this.options.defaultNamespace ?? 'default' };
  }

  /** Anything unusual (unreadable entries, oversized files) goes through `loadPaths` itself, uncached. */
  private async walk(
    path: string,
    out: LoadResult,
    seen: Map<string, ParsedFile>,
    visitedDirs: Set<string>,
  ): Promise<void> {
    let info;
    try {
      info = await stat(path);
    } catch {
      return append(out, await loadPaths([path], this.loadOptions()));
    }
    if (info.isDirectory()) {
      const id = `${info.dev}:${info.ino}`;
      if (visitedDirs.has(id)) return;
      visitedDirs.add(id);
      let entries: string[];
      try {
        entries = (await readdir(path)).sort();
      } catch {
        return append(out, await loadPaths([path], this.loadOptions()));
      }
      for (const entry of entries) await this.walk(join(path, entry), out, seen, visitedDirs);
      return;
    }
    if (!(MANIFEST_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase())) {
      out.skippedFiles.push(path);
      return;
    }
    if (!info.isFile()) {
      // A named pipe or device met while walking a directory would block the read or never end.
      out.errors.push({ kind: 'syntax', file: path, message: 'not a regular file' });
      return;
    }
    if (info.size > DEFAULT_MAX_FILE_BYTES) return append(out, await loadPaths([path], this.loadOptions()));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      return append(out, await loadPaths([path], this.loadOptions()));
    }
    const before = this.parsed.get(path);
    let parsed: ParsedFile;
    if (before && before.bytes.equals(bytes)) {
      parsed = before;
    } else {
      // If the file changes again between this read and loadPaths' own, the next reload sees bytes that
      // differ from the ones kept here and parses it again.
      parsed = { bytes, result: await loadPaths([path], this.loadOptions()) };
    }
    seen.set(path, parsed);
    append(out, parsed.result);
  }

  private async reloadOnce(): Promise<void> {
    if (this.closed) return;
    let result;
    try {
      result = await this.load();
    } catch (err) {
      this.log.error(
        'config',
        `Reading ${this.dir} failed: ${(err as Error).message}; keeping the last good config`,
      );
      return;
    }
    if (this.closed) return;
    if (result.errors.length > 0) {
      this.reportErrors(result.errors, true);
      return;
    }
    const next = new ConfigSnapshot(result.resources, this.current.mesh);
    const changed = diffSnapshots(this.current, next);
    if (changed.length === 0) return;
    this.current = next;
    const endpointsOnly = changed.every((k) => ENDPOINT_KINDS.has(k.kind));
    this.log.info(
      'config',
      `Config changed: ${changed.length} object${changed.length === 1 ? '' : 's'} (${changed.slice(0, 3).map(configKeyString).join(', ')}${changed.length > 3 ? ', ...' : ''})`,
    );
    for (const listener of this.listeners) listener({ snapshot: next, changed, endpointsOnly });
  }

  private reportErrors(errors: readonly LoadError[], keeping: boolean): void {
    for (const e of errors) {
      this.log.warn(
        'config',
        `Invalid config ${formatLoadError(e)}${keeping ? `; keeping the last good config (${this.current.resources.length} objects)` : ''}`,
      );
    }
  }
}
