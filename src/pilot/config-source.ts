/**
 * Where the control plane's config comes from. One interface (`ConfigSource`): a snapshot plus change
 * events naming what changed. `DirectoryConfigSource` watches a directory of manifests; the embedded store
 * and a Kubernetes API server plug in behind the same interface later.
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { formatLoadError, groupKindKey, loadPaths } from '../api/index.js';
import type { LoadError, Resource } from '../api/index.js';
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
    const m = new Map<string, { r: Resource; text: string }>();
    for (const r of s.resources) {
      const key = `${groupKindKey(r.info)}|${r.metadata.namespace ?? ''}|${r.metadata.name}`;
      m.set(key, { r, text: JSON.stringify(r.object) });
    }
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
  for (const [k, v] of b) if (a.get(k)?.text !== v.text) out.push(key(v.r));
  for (const [k, v] of a) if (!b.has(k)) out.push(key(v.r));
  return out;
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

  private async load(): Promise<{ resources: Resource[]; errors: LoadError[] }> {
    const loaded = await loadPaths([this.dir], {
      defaultNamespace: this.options.defaultNamespace ?? 'default',
    });
    // Kinds from groups skiff does not serve are skipped, as istioctl skips them.
    return { resources: loaded.resources, errors: loaded.errors.filter((e) => e.kind !== 'unknown-kind') };
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
