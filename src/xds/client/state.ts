/**
 * The client's accepted xDS resources with Envoy's warming rules (xds-protocol.md §2.8), free of I/O:
 * - CDS and LDS responses are complete sets: what is missing is removed; EDS, RDS and SDS responses may
 *   carry any subset of the subscribed names and only replace what they carry.
 * - A new or changed EDS cluster warms until an EDS response carrying its ClusterLoadAssignment arrives
 *   (a new one after every cluster change, as Envoy requires) or its initial fetch timeout expires; the
 *   previous version of the cluster stays active meanwhile.
 * - A new or changed listener warms until every RDS route configuration it names is known; routes already
 *   known are reused at once.
 * - Unchanged resources (same bytes) keep their version and last-updated time and do not warm again.
 */
import { TYPE } from '../protos.js';
import type { DecodedResource, Json, SecretSource } from './resources.js';
import { edsServiceName, listenerRouteNames, secretNames } from './resources.js';

export interface ResourceEntry {
  name: string;
  resource: Json;
  /** SHA-1 of the resource's bytes. */
  digest: string;
  /** version_info of the response that last changed this resource. */
  version: string;
  lastUpdated: Date;
}

export interface WarmingEntry extends ResourceEntry {
  /** Names of the dependent resources still missing (EDS service name, RDS route names). */
  waitingFor: Set<string>;
  /** Distinguishes this warming attempt from a later one of the same name (for timeouts). */
  token: number;
}

export interface ResourceChanges {
  added: string[];
  updated: string[];
  removed: string[];
}

export interface ApplyOutcome {
  /** Changes to the active resources of each type touched by this apply (warm-ups included). */
  changes: Map<string, ResourceChanges>;
  /** Resources that started warming: the client arms their initial fetch timers. */
  warmingStarted: WarmingEntry[];
}

function emptyChanges(): ResourceChanges {
  return { added: [], updated: [], removed: [] };
}

class TypeStore {
  readonly active = new Map<string, ResourceEntry>();
  readonly warming = new Map<string, WarmingEntry>();
}

export interface ApplyOptions {
  /** Whether clusters wait for EDS (false when the client does not subscribe to EDS). */
  warmClusters: boolean;
  /** Whether listeners wait for RDS (false when the client does not subscribe to RDS). */
  warmListeners: boolean;
}

/** References per resource object, per kind of reference (`eds`, `rds`, `sds-ads`, `sds-all`). */
const referenceMemo = new Map<string, WeakMap<Json, readonly string[]>>();

export class ResourceState {
  private readonly stores = new Map<string, TypeStore>();
  private nextToken = 1;

  constructor(private readonly options: ApplyOptions) {}

  private store(typeUrl: string): TypeStore {
    let s = this.stores.get(typeUrl);
    if (!s) {
      s = new TypeStore();
      this.stores.set(typeUrl, s);
    }
    return s;
  }

  active(typeUrl: string): ReadonlyMap<string, ResourceEntry> {
    return this.store(typeUrl).active;
  }

  warming(typeUrl: string): ReadonlyMap<string, WarmingEntry> {
    return this.store(typeUrl).warming;
  }

  /** EDS names the clusters (active and warming) need, sorted. */
  endpointNames(): string[] {
    return this.referenced(TYPE.Cluster, 'eds', (c) => {
      const name = edsServiceName(c);
      return name === undefined ? [] : [name];
    });
  }

  /** RDS names the listeners (active and warming) need, sorted. */
  routeNames(): string[] {
    return this.referenced(TYPE.Listener, 'rds', listenerRouteNames);
  }

  /** SDS names the clusters and listeners need (those fetched over ADS), sorted. */
  secretNames(source: SecretSource): string[] {
    const refs = (r: Json): string[] => secretNames(r, source);
    const key = `sds-${source}`;
    const names = new Set([
      ...this.referenced(TYPE.Cluster, key, refs),
      ...this.referenced(TYPE.Listener, key, refs),
    ]);
    return [...names].sort();
  }

  /**
   * The names resources of a type refer to. Every response recomputes them over all resources, so each
   * resource's references are remembered per kind of reference (resources are never changed once decoded).
   */
  private referenced(typeUrl: string, kind: string, refs: (resource: Json) => string[]): string[] {
    const s = this.store(typeUrl);
    let memo = referenceMemo.get(kind);
    if (!memo) referenceMemo.set(kind, (memo = new WeakMap()));
    const names = new Set<string>();
    const add = (resource: Json): void => {
      let found = memo.get(resource);
      if (!found) memo.set(resource, (found = refs(resource)));
      for (const n of found) names.add(n);
    };
    for (const e of s.active.values()) add(e.resource);
    for (const e of s.warming.values()) add(e.resource);
    return [...names].sort();
  }

  /**
   * Applies a validated response. `subscribed` limits partial types to the names asked for (clients
   * ignore resources they did not request).
   */
  apply(
    typeUrl: string,
    resources: readonly DecodedResource[],
    version: string,
    now: Date,
    subscribed?: ReadonlySet<string>,
  ): ApplyOutcome {
    const outcome: ApplyOutcome = { changes: new Map(), warmingStarted: [] };
    if (typeUrl === TYPE.Cluster || typeUrl === TYPE.Listener) {
      this.applyComplete(typeUrl, resources, version, now, outcome);
    } else {
      const wanted = subscribed ? resources.filter((r) => subscribed.has(r.name)) : resources;
      this.applyPartial(typeUrl, wanted, version, now, outcome);
      if (typeUrl === TYPE.ClusterLoadAssignment) {
        this.satisfy(TYPE.Cluster, new Set(wanted.map((r) => r.name)), outcome);
      } else if (typeUrl === TYPE.RouteConfiguration) {
        this.satisfy(TYPE.Listener, new Set(wanted.map((r) => r.name)), outcome);
      }
    }
    return outcome;
  }

  /** What a new or changed resource must wait for before it becomes active. */
  private dependencies(typeUrl: string, resource: Json): Set<string> {
    if (typeUrl === TYPE.Cluster && this.options.warmClusters) {
      const eds = edsServiceName(resource);
      return new Set(eds === undefined ? [] : [eds]);
    }
    if (typeUrl === TYPE.Listener && this.options.warmListeners) {
      const routes = this.store(TYPE.RouteConfiguration).active;
      return new Set(listenerRouteNames(resource).filter((n) => !routes.has(n)));
    }
    return new Set();
  }

  private changesFor(outcome: ApplyOutcome, typeUrl: string): ResourceChanges {
    let c = outcome.changes.get(typeUrl);
    if (!c) {
      c = emptyChanges();
      outcome.changes.set(typeUrl, c);
    }
    return c;
  }

  private applyComplete(
    typeUrl: string,
    resources: readonly DecodedResource[],
    version: string,
    now: Date,
    outcome: ApplyOutcome,
  ): void {
    const s = this.store(typeUrl);
    const incoming = new Set(resources.map((r) => r.name));
    for (const name of [...s.warming.keys()]) if (!incoming.has(name)) s.warming.delete(name);
    for (const name of [...s.active.keys()]) {
      if (incoming.has(name)) continue;
      s.active.delete(name);
      this.changesFor(outcome, typeUrl).removed.push(name);
    }
    for (const r of resources) {
      const current = s.active.get(r.name);
      const pending = s.warming.get(r.name);
      if (current && current.digest === r.digest) {
        // The server went back to what is active: drop the pending update.
        s.warming.delete(r.name);
        continue;
      }
      if (pending && pending.digest === r.digest) continue;
      const entry: ResourceEntry = {
        name: r.name,
        resource: r.resource,
        digest: r.digest,
        version,
        lastUpdated: now,
      };
      const waitingFor = this.dependencies(typeUrl, r.resource);
      if (waitingFor.size === 0) {
        s.warming.delete(r.name);
        this.activate(typeUrl, entry, outcome);
        continue;
      }
      const warming: WarmingEntry = { ...entry, waitingFor, token: this.nextToken++ };
      s.warming.set(r.name, warming);
      outcome.warmingStarted.push(warming);
    }
  }

  private applyPartial(
    typeUrl: string,
    resources: readonly DecodedResource[],
    version: string,
    now: Date,
    outcome: ApplyOutcome,
  ): void {
    const s = this.store(typeUrl);
    for (const r of resources) {
      const current = s.active.get(r.name);
      if (current && current.digest === r.digest) continue;
      this.activate(
        typeUrl,
        { name: r.name, resource: r.resource, digest: r.digest, version, lastUpdated: now },
        outcome,
      );
    }
  }

  private activate(typeUrl: string, entry: ResourceEntry, outcome: ApplyOutcome): void {
    const s = this.store(typeUrl);
    const changes = this.changesFor(outcome, typeUrl);
    (s.active.has(entry.name) ? changes.updated : changes.added).push(entry.name);
    s.active.set(entry.name, {
      name: entry.name,
      resource: entry.resource,
      digest: entry.digest,
      version: entry.version,
      lastUpdated: entry.lastUpdated,
    });
  }

  /** Dependencies that arrived: resources no longer waiting for anything become active. */
  private satisfy(typeUrl: string, arrived: ReadonlySet<string>, outcome: ApplyOutcome): void {
    const s = this.store(typeUrl);
    for (const [name, w] of [...s.warming]) {
      for (const n of arrived) w.waitingFor.delete(n);
      if (w.waitingFor.size > 0) continue;
      s.warming.delete(name);
      this.activate(typeUrl, w, outcome);
    }
  }

  /**
   * The initial fetch timeout of a warming resource expired: it becomes active without what it waited
   * for (Envoy then serves the cluster with no endpoints, the listener with its routes missing). A stale
   * token (the resource changed or warmed since) does nothing.
   */
  expireWarming(typeUrl: string, name: string, token: number): ApplyOutcome {
    const outcome: ApplyOutcome = { changes: new Map(), warmingStarted: [] };
    const s = this.store(typeUrl);
    const w = s.warming.get(name);
    if (!w || w.token !== token) return outcome;
    s.warming.delete(name);
    this.activate(typeUrl, w, outcome);
    return outcome;
  }

  /** Drops resources of a partial type that nothing references any more (no one subscribes to them). */
  prune(typeUrl: string, keep: ReadonlySet<string>): ResourceChanges | undefined {
    const s = this.store(typeUrl);
    const removed = [...s.active.keys()].filter((n) => !keep.has(n));
    for (const n of removed) s.active.delete(n);
    return removed.length > 0 ? { added: [], updated: [], removed } : undefined;
  }
}
