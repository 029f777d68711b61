/**
 * A Kubernetes API server as the control plane's config source, as istiod's kube controllers and CRD client
 * read it: every watched kind (kube-kinds.ts) is listed, then watched from the list's resourceVersion with
 * `@kubernetes/client-node`'s ListWatch. A watch that drops resumes from the last resourceVersion it saw;
 * one whose resourceVersion expired (410 Gone) lists again, and the objects that vanished meanwhile are
 * deleted. A CRD the server does not serve is empty, with one warning (istiod's "Skipping CRD ... as it is
 * not present"), and is looked for again now and then. While the server is away, the last good snapshot
 * stays in force. Changes arriving in one turn of the event loop are announced as one ConfigChange,
 * `endpointsOnly` when only endpoint-carrying kinds moved.
 */
import type { KubeConfig, KubernetesListObject, KubernetesObject, ListWatch } from '@kubernetes/client-node';
import type { Resource } from '../api/index.js';
import { groupKindKey } from '../api/index.js';
import type { MeshConfig } from '../model/index.js';
import { ConfigSnapshot, defaultMeshConfig, parseMeshConfig } from '../model/index.js';
import { isPlainObject, resourceFromObject } from '../store/index.js';
import type { Logger } from '../xds/index.js';
import { silentLogger } from '../xds/index.js';
import { ENDPOINT_KINDS } from './config-source.js';
import type { ConfigChange, ConfigKey, ConfigSource } from './config-source.js';
import type { KubeClientModule, KubeConfigOptions } from './kube-config.js';
import { KubeRequestError, kubeClientModule, kubeGetJson, loadKubeConfig } from './kube-config.js';
import type { KubeKind } from './kube-kinds.js';
import { MESH_CONFIGMAP, collectionPath, kindLabel, watchedKinds } from './kube-kinds.js';

export interface KubeConfigSourceOptions extends KubeConfigOptions {
  logger?: Logger;
  /** How long start() keeps trying to list every kind once before it gives up (default 30 s). */
  syncTimeoutMs?: number;
  /** Backoff between attempts after a failed list or watch: first and longest delay (default 500 ms, 10 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** How often a CRD that is not served is looked for again (default 60 s). */
  missingRetryMs?: number;
  /** The namespace of the mesh config ConfigMap `istio` (default istio-system). */
  meshNamespace?: string;
  /** Objects per list page (default 500, as client-go's reflector). */
  pageSize?: number;
}

export type KindState = 'pending' | 'synced' | 'failing' | 'missing';

export interface KubeSourceStatus {
  server: string;
  /** False from the first failed request until every served kind is watched again. */
  connected: boolean;
  kinds: { kind: string; version?: string; state: KindState; lists: number; lastError?: string }[];
}

const LIST_PAGE_SIZE = 500;

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (isPlainObject(err) && typeof err['message'] === 'string') return err['message'];
  return String(err);
}

function statusCode(err: unknown): number {
  if (isPlainObject(err) || err instanceof Error) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return 0;
}

/** The object with the served apiVersion and kind filled in (list items of built-in kinds carry neither). */
function normalize(k: KubeKind, version: string, raw: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(raw) || !isPlainObject(raw['metadata'])) return undefined;
  // managedFields change on every write and nothing in the mesh reads them.
  const { managedFields: _ignored, ...metadata } = raw['metadata'];
  const apiVersion = k.info.group === '' ? version : `${k.info.group}/${version}`;
  return { ...raw, apiVersion, kind: k.info.kind, metadata };
}

/**
 * What of an object the proxies can see. For Istio's kinds istiod pushes only when the spec (or the labels
 * and annotations) changed, not on status writes; for the rest every field but the bookkeeping counts.
 */
function contentOf(r: Resource): string {
  const { resourceVersion: _rv, generation: _gen, ...meta } = r.metadata as Record<string, unknown>;
  if (r.info.istio) return JSON.stringify([meta['labels'], meta['annotations'], r.object['spec']]);
  return JSON.stringify({ ...r.object, metadata: meta });
}

function byCreation(a: Resource, b: Resource): number {
  const ta = String(a.metadata.creationTimestamp ?? '');
  const tb = String(b.metadata.creationTimestamp ?? '');
  if (ta !== tb) return ta < tb ? -1 : 1;
  const ka = `${groupKindKey(a.info)}|${a.metadata.namespace ?? ''}|${a.metadata.name}`;
  const kb = `${groupKindKey(b.info)}|${b.metadata.namespace ?? ''}|${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** What a kind's watcher needs from its source. */
interface WatcherHost {
  readonly closed: boolean;
  readonly log: Logger;
  readonly config: KubeConfig;
  readonly mod: KubeClientModule;
  readonly options: Required<
    Pick<KubeConfigSourceOptions, 'retryInitialMs' | 'retryMaxMs' | 'missingRetryMs' | 'pageSize'>
  >;
  event(w: KindWatcher, type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void;
  lost(w: KindWatcher, err: unknown): void;
  recovered(w: KindWatcher): void;
  sleep(ms: number): Promise<void>;
}

/** One kind: find the served version, list, watch, and recover from failures. */
class KindWatcher {
  state: KindState = 'pending';
  version: string | undefined;
  lists = 0;
  lastError: string | undefined;
  private lw: ListWatch<KubernetesObject> | undefined;
  private failures = 0;
  private failedDuringRun = false;
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private warnedMissing = false;

  constructor(
    readonly kind: KubeKind,
    private readonly host: WatcherHost,
  ) {}

  get label(): string {
    return kindLabel(this.kind);
  }

  /** Resolves once the kind is listed (or known not to be served); retries until the source closes. */
  async sync(): Promise<void> {
    while (!this.host.closed) {
      try {
        const found = await this.probe();
        if (this.host.closed) return;
        if (!found) {
          this.markMissing();
          return;
        }
        this.version = found.version;
        this.watch(found.version, found.list);
        // The probe's list is in; from here on the ListWatch's error handler does the retrying.
        await this.run();
        return;
      } catch (err) {
        this.fail(err);
        await this.host.sleep(this.backoff());
      }
    }
  }

  /** Lists at each candidate version until one is served; undefined when none is. */
  private async probe(): Promise<
    { version: string; list: KubernetesListObject<KubernetesObject> } | undefined
  > {
    for (const version of this.kind.versions) {
      try {
        return { version, list: await this.listAll(collectionPath(this.kind, version)) };
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    }
    if (!this.kind.optional) {
      throw new KubeRequestError(
        `the server does not serve ${this.label} (${collectionPath(this.kind, this.kind.versions[0] ?? 'v1')}): is it a Kubernetes API server?`,
        404,
      );
    }
    return undefined;
  }

  /** Lists every page; a continue token that expires mid-way (410) starts the list over, once. */
  private async listAll(path: string, retried = false): Promise<KubernetesListObject<KubernetesObject>> {
    const items: KubernetesObject[] = [];
    let resourceVersion = '';
    let token: string | undefined;
    do {
      let body: unknown;
      try {
        body = await kubeGetJson(this.host.config, path, {
          fieldSelector: this.kind.fieldSelector,
          limit: String(this.host.options.pageSize),
          continue: token,
        });
      } catch (err) {
        if (token !== undefined && statusCode(err) === 410 && !retried) return this.listAll(path, true);
        throw err;
      }
      if (!isPlainObject(body)) throw new KubeRequestError(`${path}: the answer is not a list`, 500);
      const list = body['items'];
      if (list !== undefined && list !== null && !Array.isArray(list))
        throw new KubeRequestError(`${path}: the answer's items are not a list`, 500);
      for (const item of list ?? []) if (isPlainObject(item)) items.push(item as KubernetesObject);
      const meta = isPlainObject(body['metadata']) ? body['metadata'] : {};
      if (token === undefined && typeof meta['resourceVersion'] === 'string')
        resourceVersion = meta['resourceVersion'];
      token = typeof meta['continue'] === 'string' && meta['continue'] !== '' ? meta['continue'] : undefined;
    } while (token !== undefined);
    return { metadata: { resourceVersion }, items };
  }

  private watch(version: string, primed: KubernetesListObject<KubernetesObject>): void {
    const path = collectionPath(this.kind, version);
    let first: KubernetesListObject<KubernetesObject> | undefined = primed;
    const listFn = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      // The probe's list is the first one, so the kind is not listed twice at startup.
      const list = first ?? (await this.listAll(path));
      first = undefined;
      this.lists++;
      return list;
    };
    const { mod } = this.host;
    const lw = new mod.ListWatch<KubernetesObject>(
      path,
      new mod.Watch(this.host.config),
      listFn,
      false,
      undefined,
      this.kind.fieldSelector,
    );
    lw.on(mod.ADD, (o) => this.host.event(this, 'ADDED', o));
    lw.on(mod.UPDATE, (o) => this.host.event(this, 'MODIFIED', o));
    lw.on(mod.DELETE, (o) => this.host.event(this, 'DELETED', o));
    lw.on(mod.ERROR, (err) => this.onWatchError(err));
    this.lw = lw;
  }

  /** (Re)starts the ListWatch: it resumes from its resourceVersion, or lists when it has none. */
  private async run(): Promise<void> {
    const lw = this.lw;
    if (!lw || this.host.closed) return;
    this.failedDuringRun = false;
    const running = lw.start().catch((err: unknown) => this.onWatchError(err));
    this.running = running;
    await running;
    if (this.running === running) this.running = undefined;
    if (this.host.closed) {
      await lw.stop();
      return;
    }
    if (!this.failedDuringRun) {
      const was = this.state;
      this.state = 'synced';
      this.failures = 0;
      this.lastError = undefined;
      if (was !== 'synced') this.host.recovered(this);
    }
  }

  private onWatchError(err: unknown): void {
    if (this.host.closed) return;
    this.failedDuringRun = true;
    if (statusCode(err) === 404 && this.kind.optional) {
      // The CRD went away: its objects went with it.
      void this.lw?.stop();
      for (const o of this.lw?.list() ?? []) this.host.event(this, 'DELETED', o);
      this.lw = undefined;
      this.markMissing();
      return;
    }
    this.fail(err);
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.run();
    }, this.backoff());
  }

  private fail(err: unknown): void {
    this.state = 'failing';
    this.lastError = errorText(err);
    this.failures++;
    this.host.lost(this, err);
  }

  private backoff(): number {
    const { retryInitialMs, retryMaxMs } = this.host.options;
    return Math.min(retryMaxMs, retryInitialMs * 2 ** Math.max(0, Math.min(this.failures - 1, 20)));
  }

  private markMissing(): void {
    const wasMissing = this.state === 'missing';
    this.state = 'missing';
    this.version = undefined;
    if (!this.warnedMissing && !wasMissing) {
      this.warnedMissing = true;
      this.host.log.warn(
        'kube',
        `Skipping CRD ${this.kind.info.group}/${this.kind.versions[0] ?? ''}/${this.kind.info.kind} as it is not present`,
      );
    }
    this.scheduleMissingRetry();
  }

  private scheduleMissingRetry(): void {
    if (this.host.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.lookAgain();
    }, this.host.options.missingRetryMs);
    this.retryTimer.unref();
  }

  /** A missing CRD: is it served now? */
  private async lookAgain(): Promise<void> {
    if (this.host.closed) return;
    let found;
    try {
      found = await this.probe();
    } catch {
      found = undefined;
    }
    if (this.host.closed) return;
    if (!found) {
      this.scheduleMissingRetry();
      return;
    }
    this.host.log.info('kube', `CRD ${this.label} is now served at ${found.version}; watching it`);
    this.version = found.version;
    this.state = 'pending';
    this.watch(found.version, found.list);
    await this.run();
  }

  async close(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const lw = this.lw;
    if (!lw) return;
    await lw.stop();
    // A start in flight opens its watch after the stop above; stop that one too.
    await this.running;
    await lw.stop();
  }
}

export class KubeConfigSource implements ConfigSource {
  private current = new ConfigSnapshot([]);
  private mesh: MeshConfig = defaultMeshConfig();
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private readonly resources = new Map<string, Resource>();
  private pending = new Map<string, ConfigKey>();
  private scheduled = false;
  private started = false;
  private watchers: KindWatcher[] = [];
  private readonly sleepers = new Set<() => void>();
  private connected = true;
  private waitingWarned = false;
  closed = false;
  readonly log: Logger;
  readonly options: WatcherHost['options'];
  config!: KubeConfig;
  mod!: KubeClientModule;
  /** The API server's URL, once started. */
  server = '';
  /** Change events sent (tests wait on it). */
  changes = 0;

  constructor(private readonly sourceOptions: KubeConfigSourceOptions = {}) {
    this.log = sourceOptions.logger ?? silentLogger;
    this.options = {
      retryInitialMs: sourceOptions.retryInitialMs ?? 500,
      retryMaxMs: sourceOptions.retryMaxMs ?? 10_000,
      missingRetryMs: sourceOptions.missingRetryMs ?? 60_000,
      pageSize: sourceOptions.pageSize ?? LIST_PAGE_SIZE,
    };
  }

  snapshot(): ConfigSnapshot {
    return this.current;
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Where each kind stands (debugging and tests). */
  status(): KubeSourceStatus {
    return {
      server: this.server,
      connected: this.connected,
      kinds: this.watchers.map((w) => ({
        kind: w.label,
        ...(w.version ? { version: w.version } : {}),
        state: w.state,
        lists: w.lists,
        ...(w.lastError ? { lastError: w.lastError } : {}),
      })),
    };
  }

  /** Loads the kubeconfig, then lists every kind once (retrying within `syncTimeoutMs`) and starts watching. */
  async start(): Promise<void> {
    const loaded = await loadKubeConfig(this.sourceOptions);
    this.mod = await kubeClientModule();
    this.config = loaded.config;
    this.server = loaded.server;
    this.watchers = watchedKinds(this.sourceOptions.meshNamespace).map((k) => new KindWatcher(k, this));
    const timeoutMs = this.sourceOptions.syncTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([Promise.all(this.watchers.map((w) => w.sync())), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout' || this.closed) {
      const failing = this.watchers.find((w) => w.state !== 'synced' && w.state !== 'missing');
      await this.close();
      throw new Error(
        `cannot sync with the Kubernetes API server ${this.server} (kubeconfig ${loaded.origin}, context ${loaded.context}) within ${timeoutMs / 1000}s${failing ? `: ${failing.label}: ${failing.lastError ?? 'no answer'}` : ''}`,
      );
    }
    this.pending.clear();
    this.started = true;
    this.connected = true;
    this.current = this.build();
    const missing = this.watchers.filter((w) => w.state === 'missing').length;
    this.log.info(
      'kube',
      `Loaded ${this.current.resources.length} objects from the Kubernetes API server ${this.server} (context ${loaded.context}); watching ${this.watchers.length - missing} kinds`,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
    await Promise.all(this.watchers.map((w) => w.close()));
    this.listeners.clear();
  }

  // ---- WatcherHost ----

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  lost(w: KindWatcher, err: unknown): void {
    if (!this.started) {
      // Every kind fails alike while the server is unreachable: say so once.
      if (this.waitingWarned) this.log.debug('kube', `${w.label}: ${errorText(err)}; retrying`);
      else
        this.log.warn(
          'kube',
          `Waiting for the Kubernetes API server ${this.server}: ${w.label}: ${errorText(err)}; retrying`,
        );
      this.waitingWarned = true;
      return;
    }
    if (!this.connected) {
      this.log.debug('kube', `${w.label}: ${errorText(err)}; retrying`);
      return;
    }
    this.connected = false;
    this.log.warn(
      'kube',
      `Lost the watch of ${w.label} on the Kubernetes API server ${this.server}: ${errorText(err)}; serving the last good config (${this.current.resources.length} objects) and retrying`,
    );
  }

  recovered(w: KindWatcher): void {
    if (this.connected || !this.started) return;
    this.log.debug('kube', `${w.label}: watching again`);
    if (this.watchers.every((x) => x.state === 'synced' || x.state === 'missing')) {
      this.connected = true;
      this.log.info('kube', `Watching the Kubernetes API server ${this.server} again`);
    }
  }

  event(w: KindWatcher, type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: unknown): void {
    if (this.closed) return;
    try {
      this.record(w, type, raw);
    } catch (err) {
      // One odd object must not stop the watch that delivered it.
      this.log.warn('kube', `${w.label}: ignoring an event: ${errorText(err)}`);
    }
  }

  // ---- changes ----

  private record(w: KindWatcher, type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: unknown): void {
    const object = normalize(w.kind, w.version ?? w.kind.versions[0] ?? 'v1', raw);
    if (!object) return;
    const meta = object['metadata'] as Record<string, unknown>;
    const name = typeof meta['name'] === 'string' ? meta['name'] : '';
    const namespace =
      w.kind.info.namespaced && typeof meta['namespace'] === 'string' ? meta['namespace'] : '';
    const key = `${groupKindKey(w.kind.info)}|${namespace}|${name}`;
    const before = this.resources.get(key);
    let after: Resource | undefined;
    if (type !== 'DELETED') {
      const decoded = resourceFromObject(object);
      if (decoded.ok) after = decoded.resource;
      else this.log.warn('kube', `${w.label} ${namespace ? `${namespace}/` : ''}${name}: ${decoded.message}`);
    }
    if (before === undefined && after === undefined) return;
    if (before && after && contentOf(before) === contentOf(after)) {
      // Keep the newer object (its resourceVersion), but nothing the proxies see changed.
      this.resources.set(key, after);
      return;
    }
    if (after) this.resources.set(key, after);
    else this.resources.delete(key);
    if (w.kind.info.kind === 'ConfigMap' && name === MESH_CONFIGMAP.name) this.updateMesh(after);
    this.pending.set(key, { kind: w.kind.info.kind, namespace, name });
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** istiod reads `data.mesh`; text that does not parse keeps the last good mesh config. */
  private updateMesh(cm: Resource | undefined): void {
    const data = cm?.object['data'];
    const text = isPlainObject(data) ? data[MESH_CONFIGMAP.key] : undefined;
    if (typeof text !== 'string') {
      this.mesh = defaultMeshConfig();
      return;
    }
    try {
      this.mesh = parseMeshConfig(text);
    } catch (err) {
      this.log.warn(
        'kube',
        `${MESH_CONFIGMAP.name} ConfigMap: data.${MESH_CONFIGMAP.key} does not parse (${errorText(err)}); keeping the last good mesh config`,
      );
    }
  }

  private build(): ConfigSnapshot {
    return new ConfigSnapshot([...this.resources.values()].sort(byCreation), this.mesh);
  }

  private flush(): void {
    this.scheduled = false;
    if (!this.started || this.closed) return;
    const changed = [...this.pending.values()];
    this.pending = new Map();
    if (changed.length === 0) return;
    this.current = this.build();
    const change: ConfigChange = {
      snapshot: this.current,
      changed,
      endpointsOnly: changed.every((k) => ENDPOINT_KINDS.has(k.kind)),
    };
    this.changes++;
    this.log.debug('kube', `${changed.length} object${changed.length === 1 ? '' : 's'} changed`);
    for (const l of this.listeners) l(change);
  }
}
