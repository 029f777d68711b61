// The versioned object store: Kubernetes-style objects keyed by (group/kind, namespace, name), with a
// store-wide resourceVersion, per-object uid/generation/creationTimestamp, admission on create and update,
// watch streams that can resume from a resourceVersion, and (optionally) durable state in a directory.
//
// Every operation is synchronous: a write is appended to the log and fsync'd, applied, and announced to
// watchers before the call returns, so callers and watchers never see an order the log does not have.
// Stored objects are deep-frozen and shared with readers; clone one (structuredClone) to change it.
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { JsonObject, KindInfo, ObjectMeta, Resource } from '../api/index.js';
import { kindInfo } from '../api/index.js';
import type { MeshConfig } from '../model/index.js';
import { ConfigSnapshot } from '../model/index.js';
import { admit, groupResourceOf } from './admission.js';
import type { PatchType } from './patch.js';
import { applyPatch, deepEqual } from './patch.js';
import type { WalRecord } from './persist.js';
import { StateLog } from './persist.js';
import { isPlainObject, objectKey, resourceFromObject } from './resource.js';
import type { FieldSelector, LabelSelector } from './selectors.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { GroupResource } from './status.js';
import {
  STALE_OBJECT,
  StoreError,
  alreadyExists,
  badRequest,
  conflict,
  gone,
  invalid,
  notFound,
} from './status.js';

/** An object as the store holds it: always with apiVersion, kind and full metadata. Deep-frozen. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/** A change as the config consumers (the control plane) see it. */
export interface StoreChange {
  type: WatchEventType;
  /** Group/kind key, as `KIND` in src/api (`networking.istio.io/VirtualService`). */
  kindKey: string;
  info: KindInfo;
  /** The object after the change (for DELETED: the object removed, with the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  previous?: KubeObject;
  resourceVersion: string;
}

export interface StoreOptions {
  /**
   * Where state lives: `.skiff` in the working directory by default; the store keeps its files in
   * `<stateDir>/store/`. `null` keeps everything in memory.
   */
  stateDir?: string | null;
  /** Compact the write-ahead log into the snapshot after this many records (default 1000). */
  compactAfter?: number;
  /** fsync every write before acknowledging it (default true). */
  fsync?: boolean;
  /** Run admission (the API server's checks and Istio's validating webhook) on writes (default true). */
  admission?: boolean;
  /** Events kept for watches that resume from a resourceVersion (default 10000). */
  historyLimit?: number;
  /** Receives recovery warnings (a torn log line) and listener failures; default stderr. */
  warn?: (message: string) => void;
  now?: () => Date;
}

export interface WriteOptions {
  /** Namespace from the request path, for objects that name none. */
  namespace?: string;
  /** Check everything, change nothing (the API's `dryRun=All`). */
  dryRun?: boolean;
  /** Admission warnings are pushed here. */
  warnings?: string[];
}

export interface UpdateOptions extends WriteOptions {
  /** `status` updates only the status (the `/status` subresource); otherwise status is kept as stored. */
  subresource?: 'status';
}

export interface DeleteOptions {
  dryRun?: boolean;
  preconditions?: { resourceVersion?: string; uid?: string };
}

export interface ListOptions {
  /** Only this namespace (namespaced kinds); all namespaces when absent. */
  namespace?: string;
  labelSelector?: string | LabelSelector;
  fieldSelector?: string | FieldSelector;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface WatchOptions extends ListOptions {
  /** A group/kind key; every kind when absent. */
  kindKey?: string;
  /**
   * Resume after this resourceVersion. Absent or `0`: first an ADDED event for every current object.
   * Older than the kept history: throws a 410 Gone StoreError, and the watcher should list again.
   */
  resourceVersion?: string;
}

export interface Watch {
  close(): void;
}

/** The config source the control plane reads: a snapshot now, and word of every change after. */
export interface ConfigSource {
  snapshot(mesh?: MeshConfig): ConfigSnapshot;
  onChange(listener: (change: StoreChange) => void): () => void;
}

/** Kinds without a status subresource: an update replaces everything, status included. */
const NO_STATUS_SUBRESOURCE = new Set([
  '/ConfigMap',
  '/Secret',
  '/ServiceAccount',
  '/Endpoints',
  'discovery.k8s.io/EndpointSlice',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
]);

export function hasStatusSubresource(kindKey: string): boolean {
  return !NO_STATUS_SUBRESOURCE.has(kindKey);
}

/** Metadata fields only the server sets. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp'] as const;

interface Entry {
  info: KindInfo;
  object: KubeObject;
  resource?: Resource;
}

interface HistoryEvent {
  rv: number;
  type: WatchEventType;
  info: KindInfo;
  object: KubeObject;
  previous?: KubeObject;
}

interface Watcher {
  kindKey?: string;
  namespace?: string;
  labels: LabelSelector;
  fields: FieldSelector;
  listener: (event: WatchEvent) => void;
}

function keyOfInfo(info: Pick<KindInfo, 'group' | 'kind'>): string {
  return `${info.group}/${info.kind}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
function rfc3339(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const GENERATE_NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++)
    s += GENERATE_NAME_CHARS[Math.floor(Math.random() * GENERATE_NAME_CHARS.length)];
  return s;
}

/** Everything but metadata and status: what a generation counts changes of. */
function specPart(o: JsonObject): JsonObject {
  const { metadata: _m, status: _s, ...rest } = o;
  return rest;
}

export class ObjectStore implements ConfigSource {
  private readonly entries = new Map<string, Entry>();
  private rv: number;
  private readonly history: HistoryEvent[] = [];
  /** Every event after this resourceVersion is in `history`. */
  private historyStart: number;
  private readonly watchers = new Set<Watcher>();
  private readonly changeListeners = new Set<(change: StoreChange) => void>();
  private cachedSnapshot: { rv: number; mesh: MeshConfig | undefined; snapshot: ConfigSnapshot } | undefined;
  private closed = false;
  private batchDepth = 0;
  private unsynced = false;
  private readonly admission: boolean;
  private readonly historyLimit: number;
  private readonly warn: (message: string) => void;
  private readonly now: () => Date;

  /** Opens a store: in memory with `stateDir: null`, else recovered from (and persisted to) the state dir. */
  static open(opts: StoreOptions = {}): ObjectStore {
    return new ObjectStore(opts);
  }

  private readonly log: StateLog | undefined;

  constructor(opts: StoreOptions = {}) {
    this.admission = opts.admission ?? true;
    this.historyLimit = Math.max(1, opts.historyLimit ?? 10000);
    this.warn = opts.warn ?? ((m) => process.stderr.write(`skiff store: ${m}\n`));
    this.now = opts.now ?? (() => new Date());
    this.rv = 0;
    const stateDir = opts.stateDir === undefined ? '.skiff' : opts.stateDir;
    if (stateDir !== null) {
      const { log, state } = StateLog.open(join(resolve(stateDir), 'store'), {
        compactAfter: opts.compactAfter,
        fsync: opts.fsync,
        keyOf: (o) => this.recoveredKey(o),
        deleteKey: (k) => objectKey(k, k.namespace, k.name),
      });
      this.log = log;
      for (const w of state.warnings) this.warn(w);
      for (const [key, object] of state.objects) {
        const info = this.infoOf(object);
        if (info) this.entries.set(key, { info, object: deepFreeze(object as KubeObject) });
      }
      this.rv = state.resourceVersion;
    }
    this.historyStart = this.rv;
  }

  private infoOf(object: JsonObject): KindInfo | undefined {
    const decoded = resourceFromObject(object);
    return decoded.ok ? decoded.resource.info : undefined;
  }

  private recoveredKey(object: JsonObject): string | undefined {
    const decoded = resourceFromObject(object);
    if (!decoded.ok) return undefined;
    const r = decoded.resource;
    return objectKey(r.info, r.metadata.namespace, r.metadata.name);
  }

  /** The store-wide resourceVersion of the last write. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Flushes nothing (every write is already durable), releases the state dir and ends watches. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log?.close();
    this.watchers.clear();
    this.changeListeners.clear();
  }

  // ---- reads ----

  get(kindKey: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const info = this.kind(kindKey);
    return this.entries.get(objectKey(info, info.namespaced ? (namespace ?? 'default') : undefined, name))
      ?.object;
  }

  list(kindKey: string, opts: ListOptions = {}): ListResult {
    const info = this.kind(kindKey);
    const labels = asLabelSelector(opts.labelSelector);
    const fields = asFieldSelector(opts.fieldSelector, kindKey);
    const items: KubeObject[] = [];
    const key = keyOfInfo(info);
    for (const e of this.entries.values()) {
      if (keyOfInfo(e.info) !== key) continue;
      if (opts.namespace !== undefined && info.namespaced && e.object.metadata.namespace !== opts.namespace)
        continue;
      if (!labels.matches(e.object.metadata.labels) || !fields.matches(e.object)) continue;
      items.push(e.object);
    }
    items.sort(compareObjects);
    return { items, resourceVersion: this.resourceVersion };
  }

  /** Every object of every kind, in the order they were first written. */
  all(): KubeObject[] {
    return [...this.entries.values()].map((e) => e.object);
  }

  /** The config as the model reads it: one Resource per object. Cached until the next write. */
  snapshot(mesh?: MeshConfig): ConfigSnapshot {
    const cached = this.cachedSnapshot;
    if (cached && cached.rv === this.rv && cached.mesh === mesh) return cached.snapshot;
    const resources: Resource[] = [];
    for (const e of this.entries.values()) {
      if (!e.resource) {
        const decoded = resourceFromObject(e.object);
        if (!decoded.ok) continue;
        e.resource = decoded.resource;
      }
      resources.push(e.resource);
    }
    const snapshot = new ConfigSnapshot(resources, mesh);
    this.cachedSnapshot = { rv: this.rv, mesh, snapshot };
    return snapshot;
  }

  // ---- writes ----

  create(input: unknown, opts: WriteOptions = {}): KubeObject {
    this.checkOpen();
    const object = this.incoming(input, opts.namespace);
    const meta = object.metadata;
    const generateName = meta['generateName'];
    if ((meta.name === undefined || meta.name === '') && typeof generateName === 'string' && generateName) {
      // GenerateName: the API server appends five random characters and retries on a clash.
      meta.name = `${generateName}${randomSuffix()}`;
      const { info } = this.decode(object);
      while (this.entries.has(objectKey(info, meta.namespace, meta.name)))
        meta.name = `${generateName}${randomSuffix()}`;
    }
    const { info, resource } = this.decode(object);
    const key = objectKey(info, resource.metadata.namespace, resource.metadata.name);
    if (this.entries.has(key)) throw alreadyExists(groupResourceOf(resource), resource.metadata.name);
    for (const f of SERVER_FIELDS) delete meta[f];
    if (keyOfInfo(info) === '/Namespace' && !isPlainObject(object['status']))
      object['status'] = { phase: 'Active' };
    const stored = this.withMetadata(object, {
      uid: randomUUID(),
      generation: 1,
      creationTimestamp: rfc3339(this.now()),
    });
    this.runAdmission(stored, opts);
    if (opts.dryRun) return deepFreeze(stored);
    this.commit([{ type: 'ADDED', key, info, object: stored }]);
    return this.entries.get(key)?.object as KubeObject;
  }

  update(input: unknown, opts: UpdateOptions = {}): KubeObject {
    this.checkOpen();
    const object = this.incoming(input, opts.namespace);
    const { info, resource } = this.decode(object);
    const gr = groupResourceOf(resource);
    const name = resource.metadata.name;
    const key = objectKey(info, resource.metadata.namespace, name);
    const existing = this.entries.get(key)?.object;
    if (!existing) throw notFound(gr, name);
    this.checkPreconditions(gr, existing, object.metadata.resourceVersion, object.metadata.uid);
    let next: JsonObject;
    if (opts.subresource === 'status') {
      next = cloneJson(existing) as JsonObject;
      if (object['status'] === undefined) delete next['status'];
      else next['status'] = object['status'];
    } else {
      next = object;
      if (hasStatusSubresource(keyOfInfo(info))) {
        if (existing['status'] === undefined) delete next['status'];
        else next['status'] = cloneJson(existing['status']);
      }
    }
    const specChanged = !deepEqual(specPart(next), specPart(existing));
    const stored = this.withMetadata(next as KubeObject, {
      uid: existing.metadata.uid as string,
      generation: (Number(existing.metadata.generation) || 1) + (specChanged ? 1 : 0),
      creationTimestamp: existing.metadata.creationTimestamp as string,
    });
    // An update that changes nothing is not a write: no new resourceVersion, no event (as the API server).
    if (deepEqual(withoutVersion(stored), withoutVersion(existing))) return existing;
    if (opts.subresource !== 'status') this.runAdmission(stored, opts);
    if (opts.dryRun) return deepFreeze(stored);
    this.commit([{ type: 'MODIFIED', key, info, object: stored, previous: existing }]);
    return this.entries.get(key)?.object as KubeObject;
  }

  /** Replaces only the status (the `/status` subresource). */
  updateStatus(input: unknown, opts: WriteOptions = {}): KubeObject {
    return this.update(input, { ...opts, subresource: 'status' });
  }

  /** Applies a JSON patch or merge patch to the stored object, then updates it as `update` does. */
  patch(
    kindKey: string,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: UpdateOptions = {},
  ): KubeObject {
    this.checkOpen();
    const info = this.kind(kindKey);
    const ns = info.namespaced ? (namespace ?? 'default') : undefined;
    const existing = this.entries.get(objectKey(info, ns, name))?.object;
    const gr: GroupResource = { group: info.group, plural: info.plural, kind: info.kind };
    if (!existing) throw notFound(gr, name);
    const patched = applyPatch(type, cloneJson(existing), patch);
    if (!isPlainObject(patched)) throw badRequest('the patched object is not a JSON object');
    const meta = patched['metadata'];
    if (!isPlainObject(meta)) throw badRequest('the patched object has no metadata');
    if (meta['name'] !== name) {
      throw badRequest(
        `the name of the object (${String(meta['name'])}) does not match the name on the URL (${name})`,
      );
    }
    if (info.namespaced && meta['namespace'] !== ns) {
      throw badRequest(
        'the namespace of the provided object does not match the namespace sent on the request',
      );
    }
    if (patched['kind'] !== existing.kind || typeof patched['apiVersion'] !== 'string') {
      throw badRequest(`the kind of the patched object does not match the stored object (${existing.kind})`);
    }
    // A patch that sets metadata.resourceVersion asks for optimistic locking; one that leaves it is unconditional.
    if (meta['resourceVersion'] === existing.metadata.resourceVersion) delete meta['resourceVersion'];
    return this.update(patched, { ...opts, namespace: ns });
  }

  delete(kindKey: string, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    this.checkOpen();
    const info = this.kind(kindKey);
    const ns = info.namespaced ? (namespace ?? 'default') : undefined;
    const key = objectKey(info, ns, name);
    const existing = this.entries.get(key)?.object;
    const gr: GroupResource = { group: info.group, plural: info.plural, kind: info.kind };
    if (!existing) throw notFound(gr, name);
    const pre = opts.preconditions ?? {};
    if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(
        gr,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`,
      );
    }
    if (pre.uid && pre.uid !== existing.metadata.uid) {
      throw conflict(
        gr,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    }
    if (opts.dryRun) return existing;
    const changes: PendingChange[] = [];
    if (keyOfInfo(info) === '/Namespace') {
      // Deleting a namespace deletes what is in it (at once: skiff has no finalizers).
      for (const [k, e] of this.entries) {
        if (e.info.namespaced && e.object.metadata.namespace === name) {
          changes.push({ type: 'DELETED', key: k, info: e.info, object: e.object, previous: e.object });
        }
      }
    }
    changes.push({ type: 'DELETED', key, info, object: existing, previous: existing });
    const committed = this.commit(changes);
    return committed[committed.length - 1] as KubeObject;
  }

  /** Deletes every object of a kind that matches; returns what was deleted. */
  deleteCollection(kindKey: string, opts: ListOptions & { dryRun?: boolean } = {}): KubeObject[] {
    const { items } = this.list(kindKey, opts);
    return items.map((o) =>
      this.delete(kindKey, o.metadata.namespace, o.metadata.name, { dryRun: opts.dryRun }),
    );
  }

  /**
   * Runs many writes with one fsync at the end (an `apply` of a directory, a controller's burst of status
   * updates). Not a transaction: writes made before a failure stay, and are durable when batch() returns
   * or throws. Watchers hear of each write as it is made.
   */
  batch<T>(fn: () => T): T {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      this.batchDepth--;
      if (this.batchDepth === 0 && this.unsynced) {
        this.unsynced = false;
        this.log?.sync();
      }
    }
  }

  // ---- watches ----

  /**
   * Streams changes to `listener`, synchronously as they commit. Events from before the call (the initial
   * ADDED list, or the replay after `resourceVersion`) are delivered before watch() returns.
   */
  watch(opts: WatchOptions, listener: (event: WatchEvent) => void): Watch {
    this.checkOpen();
    if (opts.kindKey !== undefined) this.kind(opts.kindKey);
    const watcher: Watcher = {
      kindKey: opts.kindKey,
      namespace: opts.namespace,
      labels: asLabelSelector(opts.labelSelector),
      fields: asFieldSelector(opts.fieldSelector, opts.kindKey),
      listener,
    };
    const from = opts.resourceVersion;
    if (from === undefined || from === '' || from === '0') {
      const current = [...this.entries.values()].sort((a, b) => compareObjects(a.object, b.object));
      for (const e of current) {
        const event = translate(watcher, { rv: this.rv, type: 'ADDED', info: e.info, object: e.object });
        if (event) safeCall(listener, event, this.warn);
      }
    } else {
      if (!/^\d+$/.test(from)) throw badRequest(`invalid resource version "${from}"`);
      const since = Number(from);
      if (since < this.historyStart) throw gone(`too old resource version: ${since} (${this.historyStart})`);
      for (const h of this.history) {
        if (h.rv <= since) continue;
        const event = translate(watcher, h);
        if (event) safeCall(listener, event, this.warn);
      }
    }
    this.watchers.add(watcher);
    return { close: () => this.watchers.delete(watcher) };
  }

  /** Every committed change, for consumers that rebuild from snapshot(). Returns an unsubscribe function. */
  onChange(listener: (change: StoreChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  // ---- internals ----

  private checkOpen(): void {
    if (this.closed) throw new StoreError(503, 'ServiceUnavailable', 'the store is closed');
  }

  /** A group/kind key's catalogue entry; an unknown key is a 404. */
  kind(kindKey: string): KindInfo {
    const slash = kindKey.lastIndexOf('/');
    const info = slash < 0 ? undefined : kindInfo(kindKey.slice(0, slash), kindKey.slice(slash + 1));
    if (!info) throw new StoreError(404, 'NotFound', `the server doesn't have a resource type "${kindKey}"`);
    return info;
  }

  /** A private, mutable copy of a client's object, with metadata and the request's namespace filled in. */
  private incoming(input: unknown, namespace: string | undefined): KubeObject {
    if (!isPlainObject(input)) throw badRequest('the object is not a JSON object');
    let object: KubeObject;
    try {
      object = cloneJson(input) as KubeObject;
    } catch (err) {
      throw badRequest(`the object cannot be encoded as JSON: ${(err as Error).message}`);
    }
    if (object.metadata === undefined || object.metadata === null) object.metadata = { name: '' };
    if (!isPlainObject(object.metadata)) throw badRequest('metadata must be an object');
    const own = object.metadata.namespace;
    if (namespace !== undefined) {
      if (typeof own === 'string' && own !== '' && own !== namespace) {
        throw badRequest(
          'the namespace of the provided object does not match the namespace sent on the request',
        );
      }
      object.metadata.namespace = namespace;
    }
    return object;
  }

  private decode(object: JsonObject): { info: KindInfo; resource: Resource } {
    const decoded = resourceFromObject(object);
    if (decoded.ok) {
      // Keep the object's own namespace in step with what decoding settled on (default or none).
      const meta = object['metadata'] as ObjectMeta;
      if (decoded.resource.metadata.namespace === undefined) delete meta.namespace;
      else meta.namespace = decoded.resource.metadata.namespace;
      return { info: decoded.resource.info, resource: decoded.resource };
    }
    if (decoded.reason === 'unknown-kind') throw new StoreError(404, 'NotFound', decoded.message);
    const kind = typeof object['kind'] === 'string' ? object['kind'] : 'Object';
    const meta = object['metadata'];
    const name = isPlainObject(meta) && typeof meta['name'] === 'string' ? meta['name'] : '';
    throw invalid({ group: '', plural: '', kind }, name, [
      { field: decoded.field ?? '', message: decoded.message },
    ]);
  }

  private checkPreconditions(gr: GroupResource, existing: KubeObject, rv: unknown, uid: unknown): void {
    if (rv !== undefined && rv !== null && rv !== '' && String(rv) !== existing.metadata.resourceVersion) {
      throw conflict(gr, existing.metadata.name, STALE_OBJECT);
    }
    if (typeof uid === 'string' && uid !== '' && uid !== existing.metadata.uid) {
      throw conflict(
        gr,
        existing.metadata.name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    }
  }

  private withMetadata(
    object: KubeObject,
    server: { uid: string; generation: number; creationTimestamp: string },
  ): KubeObject {
    const { name, namespace, ...rest } = object.metadata;
    for (const f of SERVER_FIELDS) delete rest[f];
    // Spread, not Object.assign: a `__proto__` key from JSON must stay a plain (dropped-on-write) field.
    const metadata: ObjectMeta = {
      name,
      ...(namespace !== undefined ? { namespace } : {}),
      uid: server.uid,
      generation: server.generation,
      creationTimestamp: server.creationTimestamp,
      ...rest,
    };
    const { apiVersion, kind, metadata: _old, ...body } = object;
    return { apiVersion, kind, metadata, ...body };
  }

  private runAdmission(object: KubeObject, opts: WriteOptions): void {
    if (!this.admission) return;
    const decoded = resourceFromObject(object);
    if (!decoded.ok) return;
    const warnings = admit(decoded.resource);
    opts.warnings?.push(...warnings);
  }

  /**
   * Assigns resourceVersions, makes the changes durable, applies them and tells watchers. Nothing is
   * applied if the log cannot be written.
   */
  private commit(changes: PendingChange[]): KubeObject[] {
    let rv = this.rv;
    const events: HistoryEvent[] = changes.map((c) => {
      rv += 1;
      const object = deepFreeze({ ...c.object, metadata: withResourceVersion(c.object.metadata, rv) });
      return { rv, type: c.type, info: c.info, object, ...(c.previous ? { previous: c.previous } : {}) };
    });
    if (this.log) {
      const records: WalRecord[] = events.map((e) =>
        e.type === 'DELETED'
          ? {
              rv: e.rv,
              op: 'delete',
              key: {
                group: e.info.group,
                kind: e.info.kind,
                ...(e.object.metadata.namespace ? { namespace: e.object.metadata.namespace } : {}),
                name: e.object.metadata.name,
              },
            }
          : { rv: e.rv, op: 'put', object: e.object },
      );
      const sync = this.batchDepth === 0;
      const compact = this.log.append(records, sync);
      if (!sync) this.unsynced = true;
      this.apply(changes, events);
      if (compact) {
        try {
          this.log.compact(this.all(), this.rv);
        } catch (err) {
          // The write is durable in the log already; compaction is retried after the next write.
          this.warn(`compacting the store log failed: ${(err as Error).message}`);
        }
      }
    } else {
      this.apply(changes, events);
    }
    return events.map((e) => e.object);
  }

  private apply(changes: PendingChange[], events: HistoryEvent[]): void {
    events.forEach((e, i) => {
      const key = (changes[i] as PendingChange).key;
      if (e.type === 'DELETED') this.entries.delete(key);
      else this.entries.set(key, { info: e.info, object: e.object });
      this.rv = e.rv;
      this.history.push(e);
    });
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.historyStart = (dropped[dropped.length - 1] as HistoryEvent).rv;
    }
    for (const e of events) {
      for (const w of [...this.watchers]) {
        const event = translate(w, e);
        if (event) safeCall(w.listener, event, this.warn);
      }
      const change: StoreChange = {
        type: e.type,
        kindKey: keyOfInfo(e.info),
        info: e.info,
        object: e.object,
        resourceVersion: String(e.rv),
        ...(e.previous ? { previous: e.previous } : {}),
      };
      for (const l of [...this.changeListeners]) safeCall(l, change, this.warn);
    }
  }
}

interface PendingChange {
  type: WatchEventType;
  key: string;
  info: KindInfo;
  object: KubeObject;
  previous?: KubeObject;
}

/** Metadata with a new resourceVersion, placed after the uid as the API server writes it. */
function withResourceVersion(metadata: ObjectMeta, rv: number): ObjectMeta {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(metadata)) {
    if (k === 'resourceVersion') continue;
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    if (k === 'uid') out['resourceVersion'] = String(rv);
  }
  if (!('resourceVersion' in out)) out['resourceVersion'] = String(rv);
  return out as ObjectMeta;
}

function withoutVersion(o: KubeObject): JsonObject {
  const { resourceVersion: _rv, ...metadata } = o.metadata;
  return { ...o, metadata };
}

function compareObjects(a: KubeObject, b: KubeObject): number {
  const an = a.metadata.namespace ?? '';
  const bn = b.metadata.namespace ?? '';
  if (an !== bn) return an < bn ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function asLabelSelector(s: string | LabelSelector | undefined): LabelSelector {
  return typeof s === 'string' || s === undefined ? parseLabelSelector(s) : s;
}

function asFieldSelector(s: string | FieldSelector | undefined, kindKey: string | undefined): FieldSelector {
  return typeof s === 'string' || s === undefined ? parseFieldSelector(s, kindKey) : s;
}

function matches(w: Watcher, info: KindInfo, o: KubeObject): boolean {
  if (w.kindKey !== undefined && keyOfInfo(info) !== w.kindKey) return false;
  if (w.namespace !== undefined && info.namespaced && o.metadata.namespace !== w.namespace) return false;
  return w.labels.matches(o.metadata.labels) && w.fields.matches(o);
}

/**
 * The event a watcher sees: with selectors, an object moving into the selection is ADDED and one moving out
 * is DELETED (carrying its previous state at the new resourceVersion), as the API server's watch cache does.
 */
function translate(w: Watcher, e: HistoryEvent): WatchEvent | undefined {
  if (e.type === 'ADDED')
    return matches(w, e.info, e.object) ? { type: 'ADDED', object: e.object } : undefined;
  if (e.type === 'DELETED') {
    return matches(w, e.info, e.previous ?? e.object) ? { type: 'DELETED', object: e.object } : undefined;
  }
  const now = matches(w, e.info, e.object);
  const before = e.previous ? matches(w, e.info, e.previous) : false;
  if (now) return { type: before ? 'MODIFIED' : 'ADDED', object: e.object };
  if (before && e.previous) {
    const object = deepFreeze({ ...e.previous, metadata: withResourceVersion(e.previous.metadata, e.rv) });
    return { type: 'DELETED', object };
  }
  return undefined;
}

function safeCall<T>(fn: (value: T) => void, value: T, warn: (m: string) => void): void {
  try {
    fn(value);
  } catch (err) {
    warn(`a watch listener failed: ${(err as Error)?.message ?? String(err)}`);
  }
}
