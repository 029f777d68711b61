/**
 * The ADS server: StreamAggregatedResources (state of the world) and DeltaAggregatedResources over one
 * generator callback, with istiod's request rules (pkg/xds/server.go ShouldRespond: NACKs recorded and never
 * answered, stale nonces ignored, ACKs answered only when the subscription grew), its push pipeline
 * (debounce → new push context → per-connection merging queue under a concurrency throttle → types in
 * CDS, EDS, LDS, RDS order) and its pilot_* metrics and log lines.
 *
 * Pushes send a type only when what the proxy would hold changed (compared by content hash with what it
 * was last sent), except that EDS follows every CDS response and RDS every LDS response so that Envoy can
 * finish warming, and a forced (debug) push sends everything.
 */
import { randomUUID } from 'node:crypto';
import { Server, ServerCredentials, status as grpcStatus } from '@grpc/grpc-js';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { ConfigSnapshot } from '../../model/index.js';
import { ProxyNodeError, buildPushContext, generateProxyResources, proxyFromNode } from '../index.js';
import type { Json, Proxy, ProxyResources, PushContext } from '../index.js';
import {
  adsServerDefinition,
  encodeDeltaResponse,
  encodeResourcesField,
  encodeSotwResponse,
  grpcMessagePrefix,
  sotwResponseHead,
} from './codec.js';
import type { DeltaRequest, EncodedResource, SotwRequest, RequestNode } from './codec.js';
import { Connection, newWatch, watchStatus } from './connection.js';
import type { ConfigStatus, StreamKind, WatchState } from './connection.js';
import { Debouncer } from './debounce.js';
import { StreamClosedError } from './grpc-frames.js';
import { answerDebugType, controlPlaneIdentifier, isDebugType } from './debug-types.js';
import { silentLogger } from './log.js';
import type { Logger } from './log.js';
import { XdsMetrics } from './metrics.js';
import { PushQueue } from './push-queue.js';
import { parseConfigKey, proxyNeedsPush, triggerReason } from './push-scope.js';
import { ResourceCache, resourceName } from './resource-cache.js';
import { ResponseBodies } from './response-body.js';
import { SendBudget } from './send-budget.js';
import { listSignature, namesSignature } from './shared-parts.js';
import type { Desired, EncodedPart } from './shared-parts.js';
import {
  XDS_TYPE,
  byteCount,
  grpcCodeName,
  isWildcardType,
  metricType,
  pushOrderIndex,
  shortType,
} from './types.js';

export type ProxyGenerator = (push: PushContext, proxy: Proxy) => ProxyResources;

/** The encoded forms of one shared part: all of it, and per SotW subscription (named types). */
interface SharedPartEncodings {
  /** null: some resource did not encode, so connections take the per-resource path (and log it). */
  all?: EncodedPart | null;
  byName?: Map<string, EncodedResource>;
  bySubscription: Map<string, EncodedPart>;
}

/** One push on its way to connections (istiod's PushRequest, 1.17 shape). */
export interface PushRequest {
  /** False for endpoint-only changes: only EDS is pushed. */
  full: boolean;
  /** Send every watched type even when nothing changed (debug push). */
  forced: boolean;
  /** Trigger reasons (`config`, `endpoint`, `debug`, ...), counted in pilot_push_triggers. */
  reasons: string[];
  /** `Kind/namespace/name` of the changed objects; empty means everything. */
  configsUpdated: Set<string>;
  push: PushContext;
  /** The push context before this change: scopes are checked in both, as istiod's PrevSidecarScope. */
  previous?: PushContext;
  /** performance.now() when the push was queued (StartPush); queue and convergence times start here. */
  start: number;
}

/** A config change for the debounced pipeline. */
export interface ConfigUpdate {
  snapshot: ConfigSnapshot;
  /** Only Pods, WorkloadEntries or Endpoints changed. */
  endpointsOnly: boolean;
  /** `Kind/namespace/name` of what changed. */
  configs: string[];
  /** Trigger reasons (pilot_push_triggers); by default one per changed object, from its kind. */
  reasons?: string[];
}

export interface AdsServerOptions {
  /** The config the server starts with. */
  snapshot: ConfigSnapshot;
  generator?: ProxyGenerator;
  buildPush?: (snapshot: ConfigSnapshot, version: string) => PushContext;
  debounceAfterMs?: number;
  debounceMaxMs?: number;
  pushThrottle?: number;
  /** A send not completed in this time closes the stream (PILOT_XDS_SEND_TIMEOUT, 5 s in Istio 1.17). */
  sendTimeoutMs?: number;
  /** Bytes of encoded responses waiting to be written, across connections, before encoding waits (64 MiB). */
  sendBudgetBytes?: number;
  logger?: Logger;
  metrics?: XdsMetrics;
  /** The control plane's pod name, reported in responses' control_plane identifier. */
  podName?: string;
}

export interface SyncStatus {
  cluster_id?: string;
  proxy?: string;
  proxy_version?: string;
  istio_version?: string;
  cluster_sent?: string;
  cluster_acked?: string;
  listener_sent?: string;
  listener_acked?: string;
  route_sent?: string;
  route_acked?: string;
  endpoint_sent?: string;
  endpoint_acked?: string;
  extensionconfig_sent?: string;
  extensionconfig_acked?: string;
  /**
   * Only while a NACK is held: the NACKed types with their last error, in the shape later istiod
   * releases give every type (`resources: {<typeUrl>: {sent, acked, sentTime, lastError}}`). 1.17 has no
   * such field and shows a NACKed type as STALE; skiff's proxy-status shows ERROR from it.
   */
  resources?: Record<string, { sent?: string; acked?: string; sentTime?: string; lastError: string }>;
}

function nackedResources(con: Connection): SyncStatus['resources'] {
  let out: SyncStatus['resources'];
  for (const [typeUrl, w] of con.watches) {
    if (w.lastError === '') continue;
    out ??= {};
    out[typeUrl] = {
      sent: w.nonceSent || undefined,
      acked: w.nonceAcked || undefined,
      sentTime: w.lastSendTime?.toISOString(),
      lastError: w.lastError,
    };
  }
  return out;
}

class WriteTimeoutError extends Error {}
class ConnectionClosedError extends Error {}

const RESOURCE_KEY: Record<string, keyof ProxyResources> = {
  [XDS_TYPE.cluster]: 'clusters',
  [XDS_TYPE.endpoint]: 'endpoints',
  [XDS_TYPE.listener]: 'listeners',
  [XDS_TYPE.route]: 'routes',
  [XDS_TYPE.secret]: 'secrets',
};

/** Go's time.Duration.String() for log lines. */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 0.001) return `${Math.round(ms * 1e6)}ns`;
  if (ms < 1) return `${trim((ms * 1000).toFixed(3))}µs`;
  if (ms < 1000) return `${trim(ms.toFixed(6))}ms`;
  const totalSeconds = ms / 1000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = trim((totalSeconds % 60).toFixed(9));
  return `${h > 0 ? `${h}h` : ''}${h > 0 || m > 0 ? `${m}m` : ''}${s}s`;
}

function trim(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}

function mergePush(a: PushRequest, b: PushRequest): PushRequest {
  return {
    full: a.full || b.full,
    forced: a.forced || b.forced,
    reasons: [...a.reasons, ...b.reasons],
    // An empty set means "everything", and stays so when merged.
    configsUpdated:
      a.configsUpdated.size === 0 || b.configsUpdated.size === 0
        ? new Set()
        : new Set([...a.configsUpdated, ...b.configsUpdated]),
    push: b.push,
    // The older baseline, so objects changed by either request are found in one of the two scopes.
    previous: a.previous ?? b.previous,
    start: Math.min(a.start, b.start),
  };
}

interface DebouncedUpdate {
  snapshot: ConfigSnapshot;
  full: boolean;
  reasons: string[];
  configs: Set<string>;
}

export class AdsServer {
  readonly metrics: XdsMetrics;
  readonly cache = new ResourceCache();
  /** SotW `resources` fields shared by the proxies that are sent the same list. */
  readonly bodies = new ResponseBodies();
  readonly startedAt = new Date();
  private readonly log: Logger;
  private readonly generator: ProxyGenerator;
  private readonly buildPush: (snapshot: ConfigSnapshot, version: string) => PushContext;
  private readonly sendTimeoutMs: number;
  private readonly sendBudget: SendBudget;
  private readonly grpcServer = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  private readonly conns = new Map<string, Connection>();
  private readonly clientsByVersion = new Map<string, number>();
  private readonly queue: PushQueue<Connection, PushRequest>;
  private readonly debouncer: Debouncer<DebouncedUpdate>;
  private readonly synthesized = new Map<string, object>();
  /** Encoded shared parts (`ProxyResources.shared`), per part object and type; parts live for one push. */
  private readonly sharedParts = new WeakMap<readonly object[], Map<string, SharedPartEncodings>>();
  /** Wildcard desired lists of generated lists that start with a shared part, per list object and type. */
  private readonly wildcardDesired = new WeakMap<readonly unknown[], Map<string, Desired>>();
  private readonly controlPlane: string;
  private readonly podId: string;
  private currentPush: PushContext;
  private versionCounter = 0;
  private connectionCounter = 0;
  private debounceCounter = 0;
  private lastPushAt = 0;
  /** Connections a push left out because the change was outside their scope (tests and /debug). */
  skippedPushes = 0;
  private closed = false;

  constructor(options: AdsServerOptions) {
    this.log = options.logger ?? silentLogger;
    this.metrics = options.metrics ?? new XdsMetrics();
    this.generator = options.generator ?? generateProxyResources;
    this.buildPush = options.buildPush ?? ((snapshot, version) => buildPushContext(snapshot, { version }));
    this.sendTimeoutMs = options.sendTimeoutMs ?? 5000;
    this.sendBudget = new SendBudget(options.sendBudgetBytes ?? 64 * 1024 * 1024);
    this.podId = options.podName || 'skiff-pilot';
    this.controlPlane = controlPlaneIdentifier(this.podId);
    this.queue = new PushQueue(options.pushThrottle ?? 100, mergePush, (con, req) => this.dequeued(con, req));
    this.debouncer = new Debouncer<DebouncedUpdate>(
      { afterMs: options.debounceAfterMs ?? 100, maxMs: options.debounceMaxMs ?? 10_000 },
      (a, b) => ({
        snapshot: b.snapshot,
        full: a.full || b.full,
        reasons: [...a.reasons, ...b.reasons],
        configs: new Set([...a.configs, ...b.configs]),
      }),
      (update, info) => this.debouncedPush(update, info),
    );
    const t0 = performance.now();
    this.currentPush = this.buildPush(options.snapshot, this.nextVersion());
    this.metrics.pushContextInitTime.observe((performance.now() - t0) / 1000);
    this.metrics.services.set(this.currentPush.registry.services().length);
    this.grpcServer.addService(adsServerDefinition(), {
      StreamAggregatedResources: (call: ServerDuplexStream<unknown, unknown>) => this.stream(call, 'sotw'),
      DeltaAggregatedResources: (call: ServerDuplexStream<unknown, unknown>) => this.stream(call, 'delta'),
    });
  }

  /**
   * Binds `host:port` (port 0 picks a free one); resolves to the bound port. One server binds istiod's
   * plaintext 15010 and its TLS 15012 (with the CA service added through `grpc`).
   */
  listen(
    address: string,
    credentials: ServerCredentials = ServerCredentials.createInsecure(),
  ): Promise<number> {
    return new Promise((resolve, reject) =>
      this.grpcServer.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** The gRPC server, for services that share its ports (the CA on 15012). */
  get grpc(): Server {
    return this.grpcServer;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.debouncer.close();
    this.queue.close();
    this.sendBudget.drain();
    for (const con of [...this.conns.values()]) {
      this.closeConnection(con, { code: grpcStatus.UNAVAILABLE, details: 'server shutting down' });
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, 1000);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The push context generation currently reads. */
  get push(): PushContext {
    return this.currentPush;
  }

  /** Connections, sorted by connection id. */
  connections(): Connection[] {
    return [...this.conns.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The connection whose id contains `proxyId` (istiod matches debug proxyIDs as substrings). */
  findConnection(proxyId: string): Connection | undefined {
    return this.connections().find((c) => c.id.includes(proxyId));
  }

  /** What the proxy of a connection would be sent now. */
  generate(con: Connection): ProxyResources {
    return this.generatedFor(con, this.currentPush);
  }

  /** The control plane's id (POD_NAME), the ISTIOD column of proxy-status. */
  get podName(): string {
    return this.podId;
  }

  /** Status per watched type, as proxy-status shows it. */
  statusOf(con: Connection, typeUrl: string): ConfigStatus | undefined {
    const w = con.watches.get(typeUrl);
    return w ? watchStatus(w) : undefined;
  }

  /** /debug/syncz rows (istiod 1.17 SyncStatus; empty fields omitted as Go's omitempty does). */
  syncz(): SyncStatus[] {
    return this.connections().map((con) => {
      const nonce = (t: string, f: 'nonceSent' | 'nonceAcked'): string | undefined =>
        con.watches.get(t)?.[f] || undefined;
      const row: SyncStatus = {
        cluster_id: con.proxy.clusterId || undefined,
        proxy: con.proxy.name,
        istio_version: con.proxy.istioVersion || undefined,
        cluster_sent: nonce(XDS_TYPE.cluster, 'nonceSent'),
        cluster_acked: nonce(XDS_TYPE.cluster, 'nonceAcked'),
        listener_sent: nonce(XDS_TYPE.listener, 'nonceSent'),
        listener_acked: nonce(XDS_TYPE.listener, 'nonceAcked'),
        route_sent: nonce(XDS_TYPE.route, 'nonceSent'),
        route_acked: nonce(XDS_TYPE.route, 'nonceAcked'),
        endpoint_sent: nonce(XDS_TYPE.endpoint, 'nonceSent'),
        endpoint_acked: nonce(XDS_TYPE.endpoint, 'nonceAcked'),
        extensionconfig_sent: nonce(XDS_TYPE.extensionConfig, 'nonceSent'),
        extensionconfig_acked: nonce(XDS_TYPE.extensionConfig, 'nonceAcked'),
        resources: nackedResources(con),
      };
      return JSON.parse(JSON.stringify(row)) as SyncStatus;
    });
  }

  /** Feeds a config change into the debounce; the push follows the quiet period. */
  configUpdate(update: ConfigUpdate): void {
    if (this.closed) return;
    const fallback = update.endpointsOnly ? 'endpoint' : 'config';
    // istiod sends one ConfigUpdate per changed object, so merged requests carry one reason per object.
    const reasons =
      update.reasons ??
      (update.configs.length > 0
        ? update.configs.map((k) => triggerReason(parseConfigKey(k).kind))
        : [fallback]);
    this.metrics.inboundUpdates.inc({ type: update.endpointsOnly ? 'eds' : 'config' });
    this.debouncer.add({
      snapshot: update.snapshot,
      full: !update.endpointsOnly,
      reasons,
      configs: new Set(update.configs),
    });
  }

  /** Pushes the current config to every connection now, everything resent (`/debug/adsz?push=true`). */
  pushAll(reason = 'debug'): number {
    const count = this.conns.size;
    this.log.info(
      'ads',
      `XDS: Pushing:${this.currentPush.version} Services:${this.currentPush.registry.services().length} ConnectedEndpoints:${count} Version:${this.currentPush.version}`,
    );
    this.startPush({
      full: true,
      forced: true,
      reasons: [reason],
      configsUpdated: new Set(),
      push: this.currentPush,
    });
    return count;
  }

  /** Queued and in-flight pushes (for tests and /debug). */
  get pendingPushes(): number {
    return this.queue.pendingCount + this.queue.activeCount + this.debouncer.pending;
  }

  // ---- push pipeline ----

  private nextVersion(): string {
    // istiod: time.Now().Format(time.RFC3339) + "/" + counter.
    return `${new Date().toISOString().slice(0, 19)}Z/${++this.versionCounter}`;
  }

  private debouncedPush(
    update: DebouncedUpdate,
    info: { events: number; quietMs: number; sinceFirstMs: number },
  ): void {
    const t0 = performance.now();
    const configs = [...update.configs];
    const what =
      configs.length === 0
        ? `reason ${update.reasons[0] ?? 'unknown'}`
        : `config ${configs[0]}${configs.length > 1 ? ` and ${configs.length - 1} more configs` : ''}`;
    const sinceLastPush = this.lastPushAt === 0 ? info.sinceFirstMs : t0 - this.lastPushAt;
    this.log.info(
      'ads',
      `Push debounce stable[${++this.debounceCounter}] ${info.events} for ${what}: ${goDuration(info.quietMs)} since last change, ${goDuration(sinceLastPush)} since last push, full=${update.full}`,
    );
    let push: PushContext;
    const version = this.nextVersion();
    try {
      push = this.buildPush(update.snapshot, version);
    } catch (err) {
      this.metrics.pushContextErrors.inc();
      this.log.error('ads', `XDS: failed to init push context: ${errorText(err)}`);
      return;
    }
    this.metrics.pushContextInitTime.observe((performance.now() - t0) / 1000);
    const previous = this.currentPush;
    this.currentPush = push;
    // Generated config of the previous push is never read again; dropping it now lets that push (and
    // the resources its generation shared between proxies) be collected once its queue drains.
    for (const con of this.conns.values()) con.generated = undefined;
    this.cache.nextGeneration();
    this.bodies.nextGeneration();
    this.synthesized.clear();
    const services = push.registry.services().length;
    this.metrics.services.set(services);
    if (update.full) {
      this.log.info(
        'ads',
        `XDS: Pushing:${version} Services:${services} ConnectedEndpoints:${this.conns.size} Version:${version}`,
      );
    } else {
      this.log.info(
        'ads',
        `XDS: Incremental Pushing:${version} ConnectedEndpoints:${this.conns.size} Version:${version}`,
      );
    }
    this.startPush({
      full: update.full,
      forced: false,
      reasons: update.reasons,
      configsUpdated: update.configs,
      push,
      previous,
    });
    this.lastPushAt = performance.now();
    this.metrics.debounceTime.observe((info.sinceFirstMs + (performance.now() - t0)) / 1000);
  }

  private startPush(req: Omit<PushRequest, 'start'>): void {
    const full: PushRequest = { ...req, start: performance.now() };
    for (const con of this.conns.values()) this.queue.enqueue(con, full);
  }

  private dequeued(con: Connection, req: PushRequest): Promise<void> {
    this.metrics.proxyQueueTime.observe((performance.now() - req.start) / 1000);
    for (const reason of req.reasons) this.metrics.pushTriggers.inc({ type: reason });
    return con.serialize(
      () => this.pushConnection(con, req),
      (err) => this.connectionFailed(con, err),
    );
  }

  private async pushConnection(con: Connection, req: PushRequest): Promise<void> {
    const t0 = performance.now();
    let needed: boolean;
    try {
      needed = con.debug ? false : proxyNeedsPush(con.proxy, req);
    } catch (err) {
      // A scope that cannot be computed must not cost the proxy its update.
      this.log.warn('ads', `XDS: push scope for ${con.id} failed, pushing: ${errorText(err)}`);
      needed = true;
    }
    if (!needed) {
      this.skippedPushes++;
      this.log.debug('ads', `Skipping push to ${con.id}, no updates required`);
      return;
    }
    let sentAny = false;
    let cdsSent = false;
    let ldsSent = false;
    for (const typeUrl of con.watchedTypes(pushOrderIndex)) {
      if (!req.full && typeUrl !== XDS_TYPE.endpoint) continue;
      const w = con.watches.get(typeUrl);
      if (!w || con.closed) continue;
      const wanted = this.desiredResources(con, w, req.push);
      if (!wanted) continue;
      const desired = wanted.resources;
      const force =
        req.forced ||
        (typeUrl === XDS_TYPE.endpoint && cdsSent) ||
        (typeUrl === XDS_TYPE.route && ldsSent && con.kind === 'sotw');
      let sent = false;
      if (con.kind === 'sotw') {
        let toSend: EncodedResource[];
        if (isWildcardType(typeUrl)) {
          // LDS/CDS responses carry the whole set, so any difference resends all of it.
          const unchanged = !force && w.nonceSent !== '' && sameAsSent(w, wanted);
          toSend = desired;
          sent = force || !unchanged;
          if (sent) await this.sendSotw(con, w, toSend, req.push.version, false, t0, wanted.prefix);
        } else {
          // A list whose signature matches what the proxy holds is passed over without a walk.
          const held = wanted.prefix !== undefined && w.sentListSignature === wanted.prefix.signature;
          toSend = force ? desired : held ? [] : desired.filter((r) => w.sent.get(r.name) !== r.hash);
          sent = toSend.length > 0;
          if (sent) {
            const part = toSend === desired ? wanted.prefix : undefined;
            await this.sendSotw(con, w, toSend, req.push.version, false, t0, undefined, part);
          }
          // Whatever was not sent was already held: the proxy now holds every resource of the list.
          w.sentListSignature = wanted.prefix?.signature;
        }
      } else {
        const toSend = force ? desired : desired.filter((r) => w.sent.get(r.name) !== r.hash);
        const names = new Set(desired.map((r) => r.name));
        const removed = [...w.sent.keys()].filter((n) => !names.has(n));
        sent = toSend.length > 0 || removed.length > 0;
        if (sent) await this.sendDelta(con, w, toSend, removed, req.push.version, false, t0);
      }
      if (sent) {
        sentAny = true;
        if (typeUrl === XDS_TYPE.cluster) cdsSent = true;
        if (typeUrl === XDS_TYPE.listener) ldsSent = true;
      }
    }
    if (sentAny) this.metrics.convergenceTime.observe((performance.now() - req.start) / 1000);
  }

  // ---- streams ----

  private stream(call: ServerDuplexStream<unknown, unknown>, kind: StreamKind): void {
    const peer = call.getPeer();
    let con: Connection | undefined;
    let rejected = false;
    call.on('data', (req: SotwRequest | DeltaRequest) => {
      if (rejected || this.closed) return;
      if (!con) {
        const started = this.connect(call, kind, peer, req.node);
        if (typeof started === 'string') {
          rejected = true;
          this.log.warn('ads', `ADS: "${peer}" rejected: ${started}`);
          call.emit('error', { code: grpcStatus.INVALID_ARGUMENT, details: started });
          return;
        }
        con = started;
      }
      const c = con;
      if (c.closed) return;
      void c.serialize(
        () =>
          kind === 'sotw'
            ? this.processSotwRequest(c, req as SotwRequest)
            : this.processDeltaRequest(c, req as DeltaRequest),
        (err) => this.connectionFailed(c, err),
      );
    });
    const gone = (why: string) => {
      if (con && !con.closed) {
        this.log.info('ads', `ADS: "${peer}" ${con.id} ${why}`);
        this.closeConnection(con);
      }
    };
    call.on('end', () => {
      gone('terminated');
      call.end();
    });
    call.on('cancelled', () => gone('terminated'));
    call.on('error', () => gone('terminated with stream closed'));
    call.on('close', () => gone('terminated'));
  }

  /** A new connection from the first request's node, or the reason it is refused. */
  private connect(
    call: ServerDuplexStream<unknown, unknown>,
    kind: StreamKind,
    peer: string,
    node: RequestNode | undefined,
  ): Connection | string {
    if (!node || node.id === '') return 'missing node information';
    let proxy: Proxy;
    const debug = node.id.startsWith('debug~');
    try {
      proxy = debug ? debugProxy(node) : proxyFromNode(node.id, node.metadata);
    } catch (err) {
      if (err instanceof ProxyNodeError) return err.message;
      return `invalid node: ${errorText(err)}`;
    }
    const id = `${proxy.name}-${++this.connectionCounter}`;
    const locality: Record<string, string> = {};
    for (const [k, v] of Object.entries(node.locality)) if (typeof v === 'string') locality[k] = v;
    const con = new Connection(id, proxy, kind, peer, new Date(), call, locality);
    con.debug = debug;
    this.conns.set(id, con);
    this.recordClients(proxy.istioVersion, +1);
    this.log.info('ads', `ADS: new connection for node:${id}`);
    return con;
  }

  private closeConnection(con: Connection, status?: { code: number; details: string }): void {
    if (con.closed) return;
    con.closed = true;
    con.generated = undefined;
    if (this.conns.delete(con.id)) this.recordClients(con.proxy.istioVersion, -1);
    this.queue.remove(con);
    con.abortWrites(new ConnectionClosedError(`connection ${con.id} closed`));
    if (status) {
      try {
        con.stream.emit('error', status);
      } catch {
        // The stream is already gone.
      }
    }
  }

  private connectionFailed(con: Connection, err: unknown): void {
    if (err instanceof ConnectionClosedError || con.closed) return;
    if (err instanceof WriteTimeoutError) {
      this.closeConnection(con, { code: grpcStatus.DEADLINE_EXCEEDED, details: 'timeout sending' });
      return;
    }
    this.metrics.internalErrors.inc();
    this.log.error('ads', `ADS: "${con.peerAddress}" ${con.id} terminated with error: ${errorText(err)}`);
    this.closeConnection(con, { code: grpcStatus.INTERNAL, details: errorText(err) });
  }

  private recordClients(version: string, delta: number): void {
    const n = (this.clientsByVersion.get(version) ?? 0) + delta;
    this.clientsByVersion.set(version, n);
    this.metrics.xdsClients.set({ version }, n);
  }

  // ---- SotW ----

  private async processSotwRequest(con: Connection, req: SotwRequest): Promise<void> {
    const typeUrl = req.typeUrl;
    const stype = shortType(typeUrl);
    this.log.debug(
      'ads',
      `ADS:${stype}: REQ ${con.id} resources:${req.resourceNames.length} nonce:${req.responseNonce} version:${req.versionInfo}`,
    );
    let w = con.watches.get(typeUrl);
    if (isDebugType(typeUrl)) {
      // As istiod: debug requests are answered each time and start no watch.
      if (!req.errorDetail && req.responseNonce === '')
        await this.answerDebug(con, typeUrl, req.resourceNames);
      return;
    }
    if (req.errorDetail) {
      this.recordNack(con, w, typeUrl, req.responseNonce, req.errorDetail);
      return;
    }
    if (!isWildcardType(typeUrl) && req.resourceNames.length === 0) {
      if (w) {
        this.log.debug('ads', `ADS:${stype}: UNSUBSCRIBE ${con.id} ${req.versionInfo} ${req.responseNonce}`);
        con.watches.delete(typeUrl);
      }
      return;
    }
    if (req.responseNonce === '' || !w) {
      this.log.debug('ads', `ADS:${stype}: INIT/RECONNECT ${con.id} ${req.versionInfo} ${req.responseNonce}`);
      w = newWatch(typeUrl);
      setSotwNames(w, req.resourceNames);
      con.watches.set(typeUrl, w);
      if (typeUrl === XDS_TYPE.cluster) {
        const eds = con.watches.get(XDS_TYPE.endpoint);
        if (eds) eds.alwaysRespond = true;
      }
      await this.answerSotw(con, w, undefined);
      return;
    }
    if (req.responseNonce !== w.nonceSent) {
      this.metrics.expiredNonce.inc({ type: metricType(typeUrl) });
      this.log.debug(
        'ads',
        `ADS:${stype}: REQ ${con.id} Expired nonce received ${req.responseNonce}, sent ${w.nonceSent}`,
      );
      return;
    }
    w.nonceAcked = req.responseNonce;
    w.versionAcked = req.versionInfo;
    w.lastError = '';
    let added: string[] = [];
    let changed = false;
    const wasWildcard = w.wildcard;
    if (isWildcardType(typeUrl) || !sameNamesInOrder(w.names, req.resourceNames)) {
      const before = w.names;
      setSotwNames(w, req.resourceNames);
      added = [...w.names].filter((n) => !before.has(n));
      changed = added.length > 0 || before.size !== w.names.size || wasWildcard !== w.wildcard;
    }
    // else: an ACK repeating the subscription keeps its Set, so the names' signature stays valid.
    if (w.alwaysRespond) {
      w.alwaysRespond = false;
      this.log.info('ads', `ADS:${stype}: FORCE RESPONSE ${con.id} for warming.`);
      await this.answerSotw(con, w, undefined);
      return;
    }
    if (!changed) {
      this.log.debug('ads', `ADS:${stype}: ACK ${con.id} ${req.versionInfo} ${req.responseNonce}`);
      return;
    }
    this.log.debug('ads', `ADS:${stype}: RESOURCE CHANGE added ${added.join(',')} ${con.id}`);
    // Forget what the client dropped, so a later re-subscription is answered.
    for (const name of [...w.sent.keys()]) if (!w.wildcard && !w.names.has(name)) w.sent.delete(name);
    w.sentPrefixSignature = undefined;
    w.sentListSignature = undefined;
    if (isWildcardType(typeUrl) || (w.wildcard && !wasWildcard)) {
      await this.answerSotw(con, w, undefined);
    } else if (added.length > 0) {
      await this.answerSotw(con, w, new Set(added));
    }
  }

  /** istiod's answer to a debug request (debug-types.ts): a response, nothing, or an error ending the stream. */
  private async answerDebug(con: Connection, typeUrl: string, resourceNames: string[]): Promise<void> {
    const answer = await answerDebugType(this, con, typeUrl, resourceNames);
    if (answer.kind === 'error') {
      // istiod's processRequest returns the generator's error, which ends the stream (gRPC Unknown).
      this.log.warn('ads', `ADS: debug request ${typeUrl} from ${con.id} failed: ${answer.message}`);
      this.closeConnection(con, { code: grpcStatus.UNKNOWN, details: answer.message });
      return;
    }
    if (answer.kind === 'none') {
      this.log.debug('ads', `ADS: ${typeUrl}: SKIP for node:${con.proxy.id}: ${answer.reason}`);
      return;
    }
    const bytes = encodeSotwResponse({
      versionInfo: this.currentPush.version,
      typeUrl,
      nonce: randomUUID(),
      resources: answer.resources,
      controlPlane: this.controlPlane,
    });
    await this.write(con, [grpcMessagePrefix(bytes.length), bytes]);
  }

  /** Answers a request with the watched resources (or only `only`), or nothing for an unknown type. */
  private async answerSotw(con: Connection, w: WatchState, only: Set<string> | undefined): Promise<void> {
    const push = this.currentPush;
    const desired = this.desiredResources(con, w, push);
    if (!desired) {
      this.log.debug(
        'ads',
        `ADS:${shortType(w.typeUrl)}: no generator for ${w.typeUrl}, nothing sent to ${con.id}`,
      );
      return;
    }
    const resources = only ? desired.resources.filter((r) => only.has(r.name)) : desired.resources;
    await this.sendSotw(
      con,
      w,
      resources,
      push.version,
      true,
      performance.now(),
      only ? undefined : desired.prefix,
    );
  }

  private async sendSotw(
    con: Connection,
    w: WatchState,
    resources: EncodedResource[],
    version: string,
    isRequest: boolean,
    t0: number,
    /** The shared part `resources` start with, when they are a watch's whole desired list. */
    prefix?: EncodedPart,
    /** A shared part `resources` start with, used only to find their encoded body. */
    shared?: EncodedPart,
  ): Promise<void> {
    const budget = encodedBytes(resources);
    await this.sendBudget.acquire(budget);
    try {
      const nonce = randomUUID();
      // The resources field is shared with every proxy sent the same list; only the head is per response.
      const body = this.bodyChunks(resources, prefix ?? shared);
      let bodyLength = 0;
      for (const chunk of body) bodyLength += chunk.length;
      const head = sotwResponseHead(
        { versionInfo: version, typeUrl: w.typeUrl, nonce, controlPlane: this.controlPlane },
        bodyLength,
      );
      await this.send(con, w, [head, ...body], nonce, version, resources, [], isRequest, t0);
    } finally {
      this.sendBudget.release(budget);
    }
    if (isWildcardType(w.typeUrl)) w.sent.clear();
    for (const r of resources) w.sent.set(r.name, r.hash);
    if (isWildcardType(w.typeUrl)) {
      // Valid only while `sent` is exactly this response (a repeated name would make it smaller).
      w.sentPrefixSignature = prefix && w.sent.size === resources.length ? prefix.signature : undefined;
    } else {
      w.sentListSignature = prefix?.signature;
    }
  }

  // ---- Delta ----

  private async processDeltaRequest(con: Connection, req: DeltaRequest): Promise<void> {
    const typeUrl = req.typeUrl;
    const stype = shortType(typeUrl);
    this.log.debug(
      'ads',
      `ADS:${stype}: REQ ${con.id} subscribe:${req.subscribe.length} unsubscribe:${req.unsubscribe.length} nonce:${req.responseNonce}`,
    );
    let w = con.watches.get(typeUrl);
    if (req.errorDetail) {
      this.recordNack(con, w, typeUrl, req.responseNonce, req.errorDetail);
      return;
    }
    let isNew = false;
    if (!w) {
      isNew = true;
      w = newWatch(typeUrl);
      // Legacy rule: a first request without names is a wildcard subscription (CDS/LDS only).
      w.wildcard = isWildcardType(typeUrl) && (req.subscribe.length === 0 || req.subscribe.includes('*'));
      for (const [name, version] of Object.entries(req.initialResourceVersions)) w.sent.set(name, version);
      con.watches.set(typeUrl, w);
    } else if (req.responseNonce !== '') {
      if (req.responseNonce === w.nonceSent) {
        w.nonceAcked = req.responseNonce;
        w.lastError = '';
      } else {
        // Stale nonce: not an ACK, but subscription changes still apply (xds-protocol.md §2.9).
        this.metrics.expiredNonce.inc({ type: metricType(typeUrl) });
      }
    }
    const added: string[] = [];
    for (const name of req.subscribe) {
      if (name === '*') {
        if (!w.wildcard && isWildcardType(typeUrl)) {
          w.wildcard = true;
          added.push(name);
        }
        continue;
      }
      added.push(name);
      w.names.add(name);
    }
    const dropped: string[] = [];
    for (const name of req.unsubscribe) {
      if (name === '*') {
        w.wildcard = false;
        continue;
      }
      w.names.delete(name);
      dropped.push(name);
    }
    if (w.wildcard === false) for (const name of dropped) w.sent.delete(name);
    if (!isNew && added.length === 0 && !(w.wildcard && dropped.length > 0)) return;
    const push = this.currentPush;
    const desired = this.desiredResources(con, w, push)?.resources;
    if (!desired) return;
    const byName = new Map(desired.map((r) => [r.name, r]));
    let toSend: EncodedResource[];
    const removed: string[] = [];
    if (isNew || added.includes('*')) {
      // Skip what the client already holds at the same version (initial_resource_versions).
      toSend = desired.filter((r) => w.sent.get(r.name) !== r.hash);
      for (const name of w.names) if (!byName.has(name)) removed.push(name);
      for (const name of w.sent.keys()) if (!byName.has(name) && !removed.includes(name)) removed.push(name);
    } else {
      // Newly subscribed names are sent even if the client had them; unknown ones are declared absent.
      const wanted = new Set([...added, ...(w.wildcard ? dropped : [])]);
      toSend = desired.filter((r) => wanted.has(r.name));
      for (const name of wanted) if (!byName.has(name)) removed.push(name);
    }
    await this.sendDelta(con, w, toSend, removed, push.version, true, performance.now());
  }

  private async sendDelta(
    con: Connection,
    w: WatchState,
    resources: EncodedResource[],
    removed: string[],
    version: string,
    isRequest: boolean,
    t0: number,
  ): Promise<void> {
    const budget = encodedBytes(resources);
    await this.sendBudget.acquire(budget);
    try {
      const nonce = randomUUID();
      const bytes = encodeDeltaResponse({
        systemVersionInfo: version,
        typeUrl: w.typeUrl,
        nonce,
        resources,
        removed,
        controlPlane: this.controlPlane,
      });
      const chunks = [grpcMessagePrefix(bytes.length), bytes];
      await this.send(con, w, chunks, nonce, version, resources, removed, isRequest, t0);
    } finally {
      this.sendBudget.release(budget);
    }
    for (const r of resources) w.sent.set(r.name, r.hash);
    for (const name of removed) w.sent.delete(name);
  }

  // ---- shared ----

  private recordNack(
    con: Connection,
    w: WatchState | undefined,
    typeUrl: string,
    nonce: string,
    detail: { code: number; message: string },
  ): void {
    const code = grpcCodeName(detail.code);
    this.log.warn('ads', `ADS:${shortType(typeUrl)}: ACK ERROR ${con.id} ${code}:${detail.message}`);
    const type = metricType(typeUrl);
    this.metrics.totalXdsRejects.inc({ type });
    this.metrics.rejectGauge(type)?.set({ node: con.proxy.name, err: code }, 1);
    if (!w) return;
    w.nonceNacked = nonce;
    w.lastError = detail.message || code;
    w.lastErrorCode = detail.code;
  }

  private async send(
    con: Connection,
    w: WatchState,
    chunks: Buffer[],
    nonce: string,
    version: string,
    resources: EncodedResource[],
    removed: string[],
    isRequest: boolean,
    t0: number,
  ): Promise<void> {
    const type = metricType(w.typeUrl);
    const size = resources.reduce((n, r) => n + r.size, 0);
    this.metrics.configSize.observe({ type: w.typeUrl }, size);
    // Recorded before the write completes: the ACK cannot overtake it on this connection's chain.
    w.nonceSent = nonce;
    w.versionSent = version;
    const sendStart = performance.now();
    try {
      await this.write(con, chunks);
    } catch (err) {
      if (!(err instanceof ConnectionClosedError)) {
        this.metrics.pushes.inc({ type: `${type}_senderr` });
        this.log.warn(
          'ads',
          `${shortType(w.typeUrl)}: Send failure for node:${con.proxy.name} resources:${resources.length} size:${byteCount(size)}: ${errorText(err)}`,
        );
      }
      throw err;
    }
    const now = performance.now();
    this.metrics.sendTime.observe((now - sendStart) / 1000);
    w.lastSendTime = new Date();
    this.metrics.pushes.inc({ type });
    this.metrics.pushTime.observe({ type }, (now - t0) / 1000);
    const what = isRequest ? 'PUSH request' : 'PUSH';
    const removedText = con.kind === 'delta' ? ` removed:${removed.length}` : '';
    this.log.info(
      'ads',
      `${shortType(w.typeUrl)}: ${what} for node:${con.proxy.name} resources:${resources.length}${removedText} size:${byteCount(size)}`,
    );
  }

  /** Writes one gRPC message given as its length prefix and the message's bytes, in pieces. */
  private write(con: Connection, chunks: Buffer[]): Promise<void> {
    if (con.closed) return Promise.reject(new ConnectionClosedError(`connection ${con.id} closed`));
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        con.pendingWrites.delete(settle);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        this.metrics.writeTimeouts.inc();
        this.log.info('ads', `Timeout writing ${con.id}`);
        settle(new WriteTimeoutError(`timeout sending to ${con.id}`));
      }, this.sendTimeoutMs);
      con.pendingWrites.add(settle);
      try {
        con.writer.write(chunks, (err) =>
          settle(err instanceof StreamClosedError ? new ConnectionClosedError(err.message) : err),
        );
      } catch (err) {
        settle(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /**
   * The `resources` field of a SotW response, in pieces: the encoded body of `part` when the resources
   * are that shared part (or start with it, followed by the proxy's own resources, encoded here), else
   * the body shared by content with other proxies sent the same list.
   */
  private bodyChunks(resources: readonly EncodedResource[], part?: EncodedPart): Buffer[] {
    const n = part?.resources.length ?? 0;
    if (part && n > 0 && resources.length >= n) {
      if (resources === part.resources) return [this.bodies.forPart(part)];
      // Lists that start with a shared part are built as [...part.resources, ...own] (desiredFromShared).
      if (resources[0] === part.resources[0] && resources[n - 1] === part.resources[n - 1]) {
        return [this.bodies.forPart(part), encodeResourcesField(resources.slice(n))];
      }
    }
    return [this.bodies.forList(resources)];
  }

  private generatedFor(con: Connection, push: PushContext): ProxyResources {
    if (con.generated?.push === push) return con.generated.resources;
    let resources: ProxyResources;
    try {
      resources = this.generator(push, con.proxy);
    } catch (err) {
      this.metrics.internalErrors.inc();
      this.log.error('ads', `XDS: generation failed for node:${con.proxy.name}: ${errorText(err)}`);
      throw new GenerationError(errorText(err));
    }
    // Kept only for the current push, for the other types of this push and the requests that follow it.
    if (push === this.currentPush) con.generated = { push, resources };
    return resources;
  }

  /**
   * The encoded resources a watch should hold now, in generator order (wildcard) or subscription order
   * (named); undefined for types without a generator. Requested EDS/RDS names the config does not have get
   * an empty ClusterLoadAssignment / RouteConfiguration, as istiod sends, so Envoy never waits on them.
   */
  private desiredResources(con: Connection, w: WatchState, push: PushContext): Desired | undefined {
    const key = RESOURCE_KEY[w.typeUrl];
    if (!key) return undefined;
    let generated: ProxyResources;
    try {
      generated = this.generatedFor(con, push);
    } catch (err) {
      if (err instanceof GenerationError) return undefined;
      throw err;
    }
    const list = Array.isArray(generated[key]) ? generated[key] : [];
    const fast = this.desiredFromShared(con, w, generated, key, list);
    if (fast) return fast;
    const out: EncodedResource[] = [];
    const encode = (json: object): EncodedResource | undefined => {
      try {
        return this.cache.encode(w.typeUrl, json);
      } catch (err) {
        this.metrics.internalErrors.inc();
        this.log.error(
          'ads',
          `${shortType(w.typeUrl)}: cannot encode resource for node:${con.proxy.name}: ${errorText(err)}`,
        );
        return undefined;
      }
    };
    if (w.wildcard) {
      for (const json of list) {
        const r = typeof json === 'object' && json !== null ? encode(json) : undefined;
        if (r) out.push(r);
      }
      return { resources: out };
    }
    const byName = new Map<string, EncodedResource>();
    for (const json of list) {
      if (typeof json !== 'object' || json === null) continue;
      if (!w.names.has(resourceName(w.typeUrl, json))) continue;
      const r = encode(json);
      if (r) byName.set(r.name, r);
    }
    for (const name of w.names) {
      const found = byName.get(name) ?? this.emptyResource(w.typeUrl, name, encode);
      if (found) out.push(found);
    }
    return { resources: out };
  }

  /**
   * The desired list built from the generator's shared part (`ProxyResources.shared`), encoded once per
   * push for every proxy that shares it: wildcard types get the shared part followed by the proxy's own
   * resources, SotW named types (EDS, RDS) their subscription when the proxy has nothing of its own.
   * Undefined when the slow path must run (no shared part, or one of its resources does not encode).
   * Yields exactly what the per-resource path below yields.
   */
  private desiredFromShared(
    con: Connection,
    w: WatchState,
    generated: ProxyResources,
    key: keyof ProxyResources,
    list: readonly unknown[],
  ): Desired | undefined {
    const shared = key === 'secrets' || key === 'shared' ? undefined : generated.shared?.[key];
    const n = shared?.length ?? 0;
    if (!shared || n === 0 || list.length < n || list[0] !== shared[0] || list[n - 1] !== shared[n - 1]) {
      return undefined;
    }
    let byType = this.sharedParts.get(shared);
    if (!byType) this.sharedParts.set(shared, (byType = new Map()));
    let enc = byType.get(w.typeUrl);
    if (!enc) byType.set(w.typeUrl, (enc = { bySubscription: new Map() }));
    if (enc.all === undefined) enc.all = this.encodePart(w.typeUrl, shared);
    const all = enc.all;
    if (!all) return undefined;
    if (w.wildcard) {
      this.cache.hits += all.resources.length;
      if (list.length === n) return { resources: all.resources, prefix: all };
      // Proxies given the same list (the generator shares it) get the same desired list too.
      let byList = this.wildcardDesired.get(list);
      if (!byList) this.wildcardDesired.set(list, (byList = new Map()));
      const known = byList.get(w.typeUrl);
      if (known?.prefix === all) return known;
      const own = this.encodeOwn(w.typeUrl, list.slice(n));
      if (!own) return undefined;
      const desired: Desired = { resources: [...all.resources, ...own], prefix: all };
      byList.set(w.typeUrl, desired);
      return desired;
    }
    if (con.kind !== 'sotw' || list.length !== n) return undefined;
    if (w.namesKey?.names !== w.names) {
      w.namesKey = { names: w.names, signature: namesSignature(w.names) };
    }
    let part = enc.bySubscription.get(w.namesKey.signature);
    if (!part) {
      if (!enc.byName) {
        enc.byName = new Map();
        for (const r of all.resources) enc.byName.set(r.name, r);
      }
      const resources: EncodedResource[] = [];
      try {
        for (const name of w.names) {
          const found =
            enc.byName.get(name) ??
            this.emptyResource(w.typeUrl, name, (json) => this.cache.encode(w.typeUrl, json));
          if (found) resources.push(found);
        }
      } catch {
        return undefined;
      }
      part = { resources, signature: listSignature(resources) };
      enc.bySubscription.set(w.namesKey.signature, part);
    }
    this.cache.hits += part.resources.length;
    return { resources: part.resources, prefix: part };
  }

  /** Every resource of a shared part encoded, or null when one does not encode. */
  private encodePart(typeUrl: string, shared: readonly Json[]): EncodedPart | null {
    const resources: EncodedResource[] = [];
    try {
      for (const json of shared) {
        if (typeof json !== 'object' || json === null) return null;
        resources.push(this.cache.encode(typeUrl, json));
      }
    } catch {
      return null;
    }
    return { resources, signature: listSignature(resources) };
  }

  /** The proxy's own resources of a wildcard type, or undefined when one does not encode (slow path). */
  private encodeOwn(typeUrl: string, own: readonly unknown[]): EncodedResource[] | undefined {
    const out: EncodedResource[] = [];
    try {
      for (const json of own)
        if (typeof json === 'object' && json !== null) out.push(this.cache.encode(typeUrl, json));
    } catch {
      return undefined;
    }
    return out;
  }

  private emptyResource(
    typeUrl: string,
    name: string,
    encode: (json: object) => EncodedResource | undefined,
  ): EncodedResource | undefined {
    let json: object | undefined;
    if (typeUrl === XDS_TYPE.endpoint) json = { clusterName: name };
    else if (typeUrl === XDS_TYPE.route) json = { name };
    if (!json) return undefined;
    const key = `${typeUrl}\u0000${name}`;
    let shared = this.synthesized.get(key);
    if (!shared) this.synthesized.set(key, (shared = json));
    return encode(shared);
  }
}

class GenerationError extends Error {}

/** A debug client's stand-in proxy (`debug~<ip>~<id>~<domain>`, as istioctl connects). */
function debugProxy(node: RequestNode): Proxy {
  const [, ip = '', id = '', domain = ''] = node.id.split('~');
  const metadata = node.metadata;
  const text = (k: string) => (typeof metadata[k] === 'string' ? (metadata[k] as string) : '');
  return {
    id: node.id,
    type: 'sidecar',
    ipAddresses: ip ? [ip] : [],
    name: id || 'debug',
    podName: id || 'debug',
    namespace: text('NAMESPACE'),
    dnsDomain: domain,
    labels: {},
    clusterId: text('CLUSTER_ID') || 'Kubernetes',
    istioVersion: text('ISTIO_VERSION'),
    workloadName: '',
    metadata,
  };
}

/** Whether a named type's request lists exactly the subscribed names, in the same order. */
function sameNamesInOrder(current: Set<string>, names: readonly string[]): boolean {
  if (current.size !== names.length) return false;
  let i = 0;
  for (const name of current) if (names[i++] !== name) return false;
  return true;
}

function setSotwNames(w: WatchState, names: readonly string[]): void {
  w.wildcard = isWildcardType(w.typeUrl) && (names.length === 0 || names.includes('*'));
  w.names = new Set(names.filter((n) => n !== '*'));
}

/** About what a response of these resources takes once encoded. */
function encodedBytes(resources: readonly EncodedResource[]): number {
  let n = 256;
  for (const r of resources) n += r.anyBytes.length + r.name.length + 32;
  return n;
}

/**
 * Whether a CDS/LDS watch holds exactly `d`: with the same shared part as the last response, only the
 * proxy's own resources are compared.
 */
function sameAsSent(w: WatchState, d: Desired): boolean {
  const p = d.prefix;
  if (!p || w.sentPrefixSignature !== p.signature) return sameContent(w.sent, d.resources);
  if (w.sent.size !== d.resources.length) return false;
  for (let i = p.resources.length; i < d.resources.length; i++) {
    const r = d.resources[i] as EncodedResource;
    if (w.sent.get(r.name) !== r.hash) return false;
  }
  return true;
}

function sameContent(sent: Map<string, string>, resources: readonly EncodedResource[]): boolean {
  if (sent.size !== resources.length) return false;
  return resources.every((r) => sent.get(r.name) === r.hash);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
