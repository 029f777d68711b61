/**
 * AdsClient: a state-of-the-world ADS client over one gRPC stream, shared by skiff's proxy and the xDS
 * load generator. It follows Envoy's behaviour (xds-protocol.md §2):
 * - subscribes CDS (wildcard) first; every CDS apply re-subscribes EDS for the EDS clusters' service
 *   names; once the first CDS set is warm (or its initial fetch timed out, or it was rejected) it
 *   subscribes LDS (wildcard); every LDS apply re-subscribes RDS for the routes the listeners' HCMs name,
 *   and SDS for the secrets TLS contexts name;
 * - ACKs a response it applied (its version, its nonce) and NACKs one it cannot decode or that the
 *   `validate` hook rejects (the last accepted version, the new nonce, `error_detail` INVALID_ARGUMENT),
 *   keeping the previous config;
 * - keeps every accepted resource when the stream breaks, reconnects with jittered exponential backoff
 *   (500 ms → 30 s) and re-sends its subscriptions with the last accepted versions.
 * Each connection attempt uses a fresh channel with its own subchannel, so grpc-js's channel backoff
 * never stacks on top of ours and simulated proxies in one process hold one connection each, as real
 * proxies do.
 */
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { TYPE } from '../protos.js';
import { Backoff } from './backoff.js';
import type { BackoffOptions } from './backoff.js';
import type { ClientTypeUrl, DecodeCache, Json, SecretSource } from './resources.js';
import {
  CLIENT_TYPES,
  ResourceError,
  decodeResources,
  edsInitialFetchTimeoutMs,
  isClientType,
  isStateOfTheWorldComplete,
  rdsInitialFetchTimeoutMs,
} from './resources.js';
import { isDebugTypeUrl } from './debug.js';
import { ADS_STREAM_METHOD, adsCodecs, structFromPlain } from './service.js';
import type { DiscoveryRequestMessage, DiscoveryResponseMessage, NodeMessage, RpcStatus } from './service.js';
import { ResourceState } from './state.js';
import type { ApplyOutcome, ResourceChanges, ResourceEntry, WarmingEntry } from './state.js';

/** google.rpc.Code INVALID_ARGUMENT, as Envoy puts it in a NACK's error_detail. */
export const NACK_CODE = 3;

/** The xDS node the client identifies as (sent in the first request of every stream). */
export interface XdsNode {
  id: string;
  cluster?: string;
  /** Plain JSON, sent as a google.protobuf.Struct. */
  metadata?: Record<string, unknown>;
  locality?: { region?: string; zone?: string; subZone?: string };
  userAgentName?: string;
  userAgentVersion?: string;
  clientFeatures?: string[];
}

export interface ValidatedResource {
  name: string;
  resource: Json;
}

export interface AppliedEvent {
  typeUrl: string;
  version: string;
  nonce: string;
  /** Names of every resource the response carried (that the client asked for). */
  names: string[];
  /** What changed in the active resources of this type (warming resources show up once active). */
  changes: ResourceChanges;
  /** Wall-clock ms (sub-ms precision) when the response arrived and when it was applied and ACKed. */
  receivedAt: number;
  appliedAt: number;
}

export interface RejectedEvent {
  typeUrl: string;
  /** version_info of the rejected response. */
  version: string;
  nonce: string;
  message: string;
  at: Date;
}

export interface AdsClientOptions {
  /** `host:port` of the ADS server (grpc-js target syntax). */
  target: string;
  node: XdsNode;
  /** Type URLs to subscribe to; default CDS, EDS, LDS, RDS and SDS. Others are refused. */
  types?: readonly string[];
  /** Called whenever the active resources of a type change. */
  onUpdate?: (typeUrl: string, resources: ReadonlyMap<string, Json>) => void;
  /** Called after each response was applied and ACKed (timing hook for load generators). */
  onApplied?: (typeUrl: string, version: string, names: string[], event: AppliedEvent) => void;
  /** Called when a response is NACKed. */
  onRejected?: (event: RejectedEvent) => void;
  /**
   * Extra checks before a response is applied: return (or throw) an error message to NACK it. Receives
   * the decoded resources of one response.
   */
  validate?: (typeUrl: string, resources: readonly ValidatedResource[]) => string | undefined | void;
  /** Reconnect backoff; default 500 ms → 30 s as Envoy. */
  backoff?: BackoffOptions;
  /**
   * Envoy's `initial_fetch_timeout` in ms for the first CDS and LDS responses and for warming resources
   * whose config source does not set one; default 15000 as Envoy, 0 waits forever (Istio's bootstrap).
   */
  initialFetchTimeoutMs?: number;
  /**
   * Which SDS secrets to request over ADS: `ads` (default, as Envoy) only references whose `sdsConfig`
   * is ADS; `all` every referenced secret (a proxy without a separate SDS agent).
   */
  secretSource?: SecretSource;
  /**
   * Decoded resources shared between clients of one process (simulated proxies); without it every
   * response is decoded anew. Resources then are shared objects: read-only.
   */
  decodeCache?: DecodeCache;
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
}

export interface AdsClientEvents {
  update: [typeUrl: string, resources: ReadonlyMap<string, Json>];
  applied: [event: AppliedEvent];
  rejected: [event: RejectedEvent];
  connected: [];
  disconnected: [status: { code: number; details: string }];
  /** The initial CDS and LDS sets are applied and warm (or timed out, or were rejected). */
  ready: [];
}

export interface AdsSnapshot {
  clusters: Record<string, Json>;
  endpoints: Record<string, Json>;
  listeners: Record<string, Json>;
  routes: Record<string, Json>;
  secrets: Record<string, Json>;
  /** Names still warming (their previous version, if any, is in `clusters` / `listeners`). */
  warming: { clusters: string[]; listeners: string[] };
  /** Last accepted version_info per type URL ('' before the first). */
  versions: Record<string, string>;
  /** The last NACK per type URL, cleared by the next accepted response of that type. */
  rejected: Record<string, RejectedEvent>;
  connected: boolean;
  ready: boolean;
}

interface Subscription {
  typeUrl: ClientTypeUrl;
  wildcard: boolean;
  /** Requested (re-sent on every reconnect). */
  active: boolean;
  names: string[];
  ackedVersion: string;
  /** Latest nonce received on the current stream. */
  nonce: string;
  rejected?: RejectedEvent;
}

interface Stream {
  client: grpc.Client;
  call: grpc.ClientDuplexStream<DiscoveryRequestMessage, DiscoveryResponseMessage>;
  nodeSent: boolean;
  gotResponse: boolean;
}

const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
/** How long pilot-agent waits for istiod to answer a debug request. */
const DEBUG_TIMEOUT_MS = 5_000;

export interface DebugRequestOptions {
  /** `resource_names` of the request (pilot-agent sends its `resourceName` query parameter). */
  resourceNames?: string[];
  /** How long to wait for the answer; default 5 s. */
  timeoutMs?: number;
}

interface PendingDebug {
  typeUrl: string;
  settle: (response: DiscoveryResponseMessage | undefined) => void;
}

function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function nodeMessage(node: XdsNode): NodeMessage {
  const out: NodeMessage = {
    id: node.id,
    cluster: node.cluster ?? '',
    metadata: structFromPlain(node.metadata ?? {}),
    user_agent_name: node.userAgentName ?? 'skiff',
  };
  if (node.userAgentVersion) out.user_agent_version = node.userAgentVersion;
  if (node.locality) {
    out.locality = {
      region: node.locality.region ?? '',
      zone: node.locality.zone ?? '',
      sub_zone: node.locality.subZone ?? '',
    };
  }
  if (node.clientFeatures) out.client_features = [...node.clientFeatures];
  return out;
}

export class AdsClient extends EventEmitter<AdsClientEvents> {
  private readonly options: AdsClientOptions;
  private readonly subs = new Map<string, Subscription>();
  private readonly state: ResourceState;
  private readonly backoff: Backoff;
  private readonly fetchTimeoutMs: number;
  private readonly node: NodeMessage;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stream: Stream | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;
  private isConnected = false;
  private cdsInitialized = false;
  private cdsAnswered = false;
  private ldsAnswered = false;
  private isReady = false;
  /** The debug request waiting for its answer (one at a time), and the queue of those after it. */
  private pendingDebug: PendingDebug | undefined;
  private debugQueue: Promise<unknown> = Promise.resolve();

  constructor(options: AdsClientOptions) {
    super();
    this.options = options;
    const types = options.types ?? CLIENT_TYPES;
    for (const t of types) {
      if (!isClientType(t)) throw new Error(`AdsClient: unsupported type URL ${t}`);
      this.subs.set(t, {
        typeUrl: t,
        wildcard: isStateOfTheWorldComplete(t),
        active: false,
        names: [],
        ackedVersion: '',
        nonce: '',
      });
    }
    this.state = new ResourceState({
      warmClusters: this.subs.has(TYPE.ClusterLoadAssignment),
      warmListeners: this.subs.has(TYPE.RouteConfiguration),
    });
    this.backoff = new Backoff(options.backoff);
    this.fetchTimeoutMs = Math.max(0, options.initialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS);
    this.node = nodeMessage(options.node);
  }

  // ---- public API ----

  /** Opens the stream and subscribes. Calling it again does nothing. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    adsCodecs(); // load the protos before the first response is timed
    this.connect();
    if (this.subs.has(TYPE.Cluster)) {
      this.subscribeWildcard(TYPE.Cluster);
      // Bounds only the wait for the first CDS response; warming clusters have their own timers.
      this.armInitTimer(() => {
        this.cdsAnswered = true;
        this.checkInit();
      });
    } else {
      this.finishCdsInit();
    }
  }

  /** Ends the stream for good; the last config stays readable. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const stream = this.stream;
    this.stream = undefined;
    if (stream) {
      stream.call.cancel();
      stream.client.close();
    }
    this.isConnected = false;
    this.pendingDebug?.settle(undefined);
  }

  /**
   * Asks the control plane for one of Istio's debug types (`istio.io/debug/syncz`) on this client's ADS
   * stream, as pilot-agent's tap does for its 15004 port: requests go one at a time and each is answered
   * by the next response of its type, which is neither applied nor ACKed. Resolves undefined when no
   * answer comes in time; rejects when the stream is not connected.
   */
  debugRequest(
    typeUrl: string,
    opts: DebugRequestOptions = {},
  ): Promise<DiscoveryResponseMessage | undefined> {
    const timeoutMs = opts.timeoutMs ?? DEBUG_TIMEOUT_MS;
    const run = (): Promise<DiscoveryResponseMessage | undefined> => {
      const stream = this.stream;
      if (!stream || !this.isConnected || this.closed) {
        return Promise.reject(new Error('proxy not connected to Istiod'));
      }
      return new Promise((resolve) => {
        const timer = setTimeout(() => pending.settle(undefined), timeoutMs);
        const pending: PendingDebug = {
          typeUrl,
          settle: (response) => {
            clearTimeout(timer);
            if (this.pendingDebug === pending) this.pendingDebug = undefined;
            resolve(response);
          },
        };
        this.pendingDebug = pending;
        const message: DiscoveryRequestMessage = {
          type_url: typeUrl,
          resource_names: [...(opts.resourceNames ?? [])],
        };
        if (!stream.nodeSent) {
          message.node = this.node;
          stream.nodeSent = true;
        }
        try {
          stream.call.write(message);
        } catch {
          pending.settle(undefined);
        }
      });
    };
    const result = this.debugQueue.then(run, run);
    this.debugQueue = result.catch(() => undefined);
    return result;
  }

  get connected(): boolean {
    return this.isConnected;
  }

  get ready(): boolean {
    return this.isReady;
  }

  /** The active resources of a type by name. */
  resources(typeUrl: string): ReadonlyMap<string, Json> {
    return new Map([...this.state.active(typeUrl)].map(([name, e]) => [name, e.resource]));
  }

  /** Active resources with the version and time they were last updated (for config dumps). */
  entries(typeUrl: string): ReadonlyMap<string, ResourceEntry> {
    return this.state.active(typeUrl);
  }

  /** Resources waiting for their dependencies (clusters for EDS, listeners for RDS). */
  warmingEntries(typeUrl: string): ReadonlyMap<string, WarmingEntry> {
    return this.state.warming(typeUrl);
  }

  /** Last accepted version of a type ('' before the first). */
  version(typeUrl: string): string {
    return this.subs.get(typeUrl)?.ackedVersion ?? '';
  }

  /** The names currently requested for a type (empty for wildcard types). */
  subscribedNames(typeUrl: string): string[] {
    return [...(this.subs.get(typeUrl)?.names ?? [])];
  }

  snapshot(): AdsSnapshot {
    const byName = (typeUrl: string): Record<string, Json> =>
      Object.fromEntries([...this.state.active(typeUrl)].map(([n, e]) => [n, e.resource]));
    const versions: Record<string, string> = {};
    const rejected: Record<string, RejectedEvent> = {};
    for (const sub of this.subs.values()) {
      versions[sub.typeUrl] = sub.ackedVersion;
      if (sub.rejected) rejected[sub.typeUrl] = sub.rejected;
    }
    return {
      clusters: byName(TYPE.Cluster),
      endpoints: byName(TYPE.ClusterLoadAssignment),
      listeners: byName(TYPE.Listener),
      routes: byName(TYPE.RouteConfiguration),
      secrets: byName(TYPE.Secret),
      warming: {
        clusters: [...this.state.warming(TYPE.Cluster).keys()].sort(),
        listeners: [...this.state.warming(TYPE.Listener).keys()].sort(),
      },
      versions,
      rejected,
      connected: this.isConnected,
      ready: this.isReady,
    };
  }

  // ---- stream lifecycle ----

  private connect(): void {
    if (this.closed) return;
    const client = new grpc.Client(
      this.options.target,
      this.options.credentials ?? grpc.credentials.createInsecure(),
      {
        // One connection per client, and no channel-level backoff hidden under ours.
        'grpc.use_local_subchannel_pool': 1,
        'grpc.initial_reconnect_backoff_ms': 500,
        'grpc.max_reconnect_backoff_ms': 30_000,
        'grpc.max_receive_message_length': -1,
        ...this.options.channelOptions,
      },
    );
    const { request, response } = adsCodecs();
    const call = client.makeBidiStreamRequest<DiscoveryRequestMessage, DiscoveryResponseMessage>(
      ADS_STREAM_METHOD,
      request.serialize,
      response.deserialize,
    );
    const stream: Stream = { client, call, nodeSent: false, gotResponse: false };
    this.stream = stream;
    for (const sub of this.subs.values()) sub.nonce = '';
    call.on('metadata', () => {
      if (this.stream === stream) this.markConnected();
    });
    call.on('data', (message: DiscoveryResponseMessage) => {
      if (this.stream !== stream) return;
      if (!stream.gotResponse) {
        stream.gotResponse = true;
        this.backoff.reset();
      }
      this.markConnected();
      this.onResponse(message);
    });
    // 'status' follows every end of the call; 'error' must still be handled or it would throw.
    call.on('error', () => {});
    call.on('status', (status: grpc.StatusObject) => {
      if (this.stream === stream) this.onStreamEnd(stream, status);
    });
    this.watchReady(stream);
    // Re-send what was subscribed before (nothing on the very first stream), in push order.
    for (const typeUrl of CLIENT_TYPES) {
      const sub = this.subs.get(typeUrl);
      if (sub?.active) this.send(sub);
    }
  }

  /** The channel reaching READY means the control plane is reachable, before any response. */
  private watchReady(stream: Stream): void {
    const channel = stream.client.getChannel();
    const watch = (current: grpc.connectivityState): void => {
      if (current === grpc.connectivityState.SHUTDOWN) return;
      try {
        channel.watchConnectivityState(current, Infinity, () => {
          if (this.stream !== stream) return;
          const next = channel.getConnectivityState(false);
          if (next === grpc.connectivityState.READY) this.markConnected();
          watch(next);
        });
      } catch {
        // The channel was closed meanwhile.
      }
    };
    watch(channel.getConnectivityState(true));
  }

  private markConnected(): void {
    if (this.isConnected) return;
    this.isConnected = true;
    this.safeEmit('connected');
  }

  private onStreamEnd(stream: Stream, status: grpc.StatusObject): void {
    this.stream = undefined;
    stream.client.close();
    if (this.isConnected) {
      this.isConnected = false;
      this.safeEmit('disconnected', { code: status.code, details: status.details });
    }
    if (this.closed) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  // ---- requests ----

  private send(sub: Subscription, errorDetail?: RpcStatus): void {
    const stream = this.stream;
    if (!stream) return; // re-sent on reconnect
    const message: DiscoveryRequestMessage = {
      type_url: sub.typeUrl,
      version_info: sub.ackedVersion,
      resource_names: sub.wildcard ? [] : [...sub.names],
      response_nonce: sub.nonce,
    };
    if (!stream.nodeSent) {
      message.node = this.node;
      stream.nodeSent = true;
    }
    if (errorDetail) message.error_detail = errorDetail;
    stream.call.write(message);
  }

  private subscribeWildcard(typeUrl: string): void {
    const sub = this.subs.get(typeUrl);
    if (!sub || sub.active) return;
    sub.active = true;
    this.send(sub);
  }

  /** Changes the names of a named subscription; an empty list after names unsubscribes everything. */
  private subscribeNames(typeUrl: string, names: string[]): void {
    const sub = this.subs.get(typeUrl);
    if (!sub || sameList(sub.names, names)) return;
    const wasActive = sub.active;
    sub.names = names;
    sub.active = names.length > 0;
    if (wasActive || sub.active) this.send(sub);
  }

  // ---- responses ----

  private onResponse(message: DiscoveryResponseMessage): void {
    const receivedAt = wallClockMs();
    const typeUrl = message.type_url ?? '';
    if (isDebugTypeUrl(typeUrl)) {
      // The answer to a debug request (pilot-agent's tap): handed over, never applied or ACKed.
      const pending = this.pendingDebug;
      if (pending?.typeUrl === typeUrl) pending.settle(message);
      return;
    }
    const sub = this.subs.get(typeUrl);
    // Envoy ignores responses of types it does not watch.
    if (!sub?.active) return;
    sub.nonce = message.nonce ?? '';
    const version = message.version_info ?? '';
    let decoded;
    try {
      decoded = decodeResources(typeUrl, message.resources ?? [], this.options.decodeCache);
      const verdict = this.options.validate?.(
        typeUrl,
        decoded.map((d) => ({ name: d.name, resource: d.resource })),
      );
      if (typeof verdict === 'string' && verdict !== '') throw new ResourceError(verdict);
    } catch (err) {
      this.reject(sub, version, err instanceof Error ? err.message : String(err));
      return;
    }
    const subscribed = sub.wildcard ? undefined : new Set(sub.names);
    const outcome = this.state.apply(typeUrl, decoded, version, new Date(), subscribed);
    sub.ackedVersion = version;
    sub.rejected = undefined;
    this.send(sub);
    if (typeUrl === TYPE.Cluster) this.cdsAnswered = true;
    if (typeUrl === TYPE.Listener) this.ldsAnswered = true;
    this.followDependencies(typeUrl, outcome);
    const names = decoded.map((d) => d.name).filter((n) => !subscribed || subscribed.has(n));
    const changes = outcome.changes.get(typeUrl) ?? { added: [], updated: [], removed: [] };
    const event: AppliedEvent = {
      typeUrl,
      version,
      nonce: sub.nonce,
      names,
      changes,
      receivedAt,
      appliedAt: wallClockMs(),
    };
    this.safeCall(() => this.options.onApplied?.(typeUrl, version, names, event));
    this.safeEmit('applied', event);
    this.publish(outcome);
    this.checkInit();
  }

  private reject(sub: Subscription, version: string, message: string): void {
    const event: RejectedEvent = { typeUrl: sub.typeUrl, version, nonce: sub.nonce, message, at: new Date() };
    sub.rejected = event;
    this.send(sub, { code: NACK_CODE, message });
    this.safeCall(() => this.options.onRejected?.(event));
    this.safeEmit('rejected', event);
    // A rejected first response still ends that type's initial fetch, as in Envoy.
    if (sub.typeUrl === TYPE.Cluster) this.cdsAnswered = true;
    if (sub.typeUrl === TYPE.Listener) this.ldsAnswered = true;
    this.checkInit();
  }

  /** After CDS: EDS and SDS names; after LDS: RDS and SDS names; children nobody needs are dropped. */
  private followDependencies(typeUrl: string, outcome: ApplyOutcome): void {
    for (const w of outcome.warmingStarted) this.armWarmingTimer(typeUrl, w);
    if (typeUrl === TYPE.Cluster) {
      const names = this.state.endpointNames();
      this.subscribeNames(TYPE.ClusterLoadAssignment, names);
      this.pruneInto(outcome, TYPE.ClusterLoadAssignment, names);
    }
    if (typeUrl === TYPE.Listener) {
      const names = this.state.routeNames();
      this.subscribeNames(TYPE.RouteConfiguration, names);
      this.pruneInto(outcome, TYPE.RouteConfiguration, names);
    }
    if (typeUrl === TYPE.Cluster || typeUrl === TYPE.Listener) {
      const names = this.state.secretNames(this.options.secretSource ?? 'ads');
      this.subscribeNames(TYPE.Secret, names);
      this.pruneInto(outcome, TYPE.Secret, names);
    }
  }

  private pruneInto(outcome: ApplyOutcome, typeUrl: string, keep: string[]): void {
    const removed = this.state.prune(typeUrl, new Set(keep));
    if (!removed) return;
    const changes = outcome.changes.get(typeUrl);
    if (changes) changes.removed.push(...removed.removed);
    else outcome.changes.set(typeUrl, removed);
  }

  /** Tells listeners about every type whose active set changed. */
  private publish(outcome: ApplyOutcome): void {
    for (const typeUrl of CLIENT_TYPES) {
      const c = outcome.changes.get(typeUrl);
      if (!c || c.added.length + c.updated.length + c.removed.length === 0) continue;
      if (!this.options.onUpdate && this.listenerCount('update') === 0) continue;
      const resources = this.resources(typeUrl);
      this.safeCall(() => this.options.onUpdate?.(typeUrl, resources));
      this.safeEmit('update', typeUrl, resources);
    }
  }

  // ---- warming and initialization ----

  private armWarmingTimer(typeUrl: string, w: WarmingEntry): void {
    const configured =
      typeUrl === TYPE.Cluster ? edsInitialFetchTimeoutMs(w.resource) : rdsInitialFetchTimeoutMs(w.resource);
    const ms = configured ?? this.fetchTimeoutMs;
    if (ms <= 0) return;
    this.armTimer(ms, () => {
      const outcome = this.state.expireWarming(typeUrl, w.name, w.token);
      this.publish(outcome);
      this.checkInit();
    });
  }

  private armInitTimer(onTimeout: () => void): void {
    if (this.fetchTimeoutMs > 0) this.armTimer(this.fetchTimeoutMs, onTimeout);
  }

  private armTimer(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private checkInit(): void {
    if (!this.cdsInitialized && this.cdsAnswered && this.state.warming(TYPE.Cluster).size === 0) {
      this.finishCdsInit();
    }
    if (
      this.cdsInitialized &&
      !this.isReady &&
      (this.ldsAnswered || !this.subs.has(TYPE.Listener)) &&
      this.state.warming(TYPE.Listener).size === 0
    ) {
      this.isReady = true;
      this.safeEmit('ready');
    }
  }

  /** CDS is initialized: listeners come next (Envoy's init order). */
  private finishCdsInit(): void {
    if (this.cdsInitialized) return;
    this.cdsInitialized = true;
    if (this.subs.has(TYPE.Listener)) {
      this.subscribeWildcard(TYPE.Listener);
      this.armInitTimer(() => {
        this.ldsAnswered = true;
        this.checkInit();
      });
    }
    this.checkInit();
  }

  // ---- callbacks that must not break the stream ----

  private safeCall(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), 'AdsClientCallbackError');
    }
  }

  private safeEmit<K extends keyof AdsClientEvents>(event: K, ...args: AdsClientEvents[K]): void {
    this.safeCall(() => {
      (this.emit as (e: K, ...a: AdsClientEvents[K]) => boolean)(event, ...args);
    });
  }
}
