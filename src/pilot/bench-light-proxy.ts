/**
 * A lightweight simulated sidecar for `skiff bench xds`: it speaks SotW ADS as Envoy does (CDS wildcard →
 * EDS for the EDS clusters → LDS wildcard once CDS is warm → RDS for the names the listeners' HCMs fetch;
 * every response ACKed with its version and nonce), receives and holds every response in full, but does
 * the work of one proxy only once per distinct response for the whole process: a response's resources
 * field is looked up by its bytes (a fingerprint and one memcmp) in a cache shared by every simulated
 * proxy, and only a response never seen before is taken apart (clusters and listeners decoded with the
 * shared `DecodeCache` for the names they reference; route configurations and endpoints only named and
 * hashed). A thousand proxies sent the same 541 KiB route configuration then cost about one memcmp each,
 * so the benchmark measures the control plane, not the decoding of 1,000 identical copies. Responses arrive
 * over `GrpcBidiStream` (HTTP/2 framed for the load generator, received into reused slabs) and are read in
 * the pieces they arrived in; nothing of a message is kept past `onResponse` except a miss's private copy.
 *
 * The real data plane (`src/proxy`) uses `AdsClient`, which decodes and validates every response; the
 * benchmark can use it too (`SKIFF_BENCH_PROXY_CLIENT=full`).
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  ADS_STREAM_METHOD,
  DecodeCache,
  XDS_TYPE,
  adsCodecs,
  decodeResources,
  edsServiceName,
  listenerRouteNames,
  structFromPlain,
} from '../xds/index.js';
import type { AppliedEvent, NodeMessage, ResourceChanges, XdsNode } from '../xds/index.js';
import { ChunkedMessage } from './bench-chunked-message.js';
import { GrpcBidiStream } from './bench-grpc-stream.js';
import { SlabPool } from './bench-slab-pool.js';

/** What the benchmark reads of a simulated proxy (also implemented by `AdsClient`). */
export interface SimulatedProxy {
  start(): void;
  close(): void;
  version(typeUrl: string): string;
  on(event: 'applied', listener: (e: AppliedEvent) => void): unknown;
  off(event: 'applied', listener: (e: AppliedEvent) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
}

// ---- the DiscoveryResponse envelope ----

interface RawResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** The resources field's bytes, where they lie: the message and a range of it. */
  resources: { message: ChunkedMessage; start: number; end: number };
}

function readVarint(msg: ChunkedMessage, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const b = msg.byteAt(i++);
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, i];
    shift += 7;
    if (shift > 63) throw new Error('varint too long');
  }
}

/** Calls `visit(field, start, end)` for each length-delimited field; other wire types are skipped. */
function eachField(
  msg: ChunkedMessage,
  visit: (field: number, start: number, end: number, tagAt: number) => void,
): void {
  let at = 0;
  while (at < msg.length) {
    const tagAt = at;
    const [tag, afterTag] = readVarint(msg, at);
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) [, at] = readVarint(msg, afterTag);
    else if (wire === 1) at = afterTag + 8;
    else if (wire === 5) at = afterTag + 4;
    else if (wire === 2) {
      const [len, start] = readVarint(msg, afterTag);
      at = start + len;
      if (at > msg.length) throw new Error('truncated field');
      visit(field, start, at, tagAt);
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

/**
 * DiscoveryResponse{version_info=1, resources=2, type_url=4, nonce=5} without decoding, or copying, the
 * resources: they are found as a range of the message (copied only if another field interrupts them).
 */
export function parseResponseEnvelope(received: Buffer | ChunkedMessage): RawResponse {
  const msg = Buffer.isBuffer(received) ? ChunkedMessage.of(received) : received;
  let versionInfo = '';
  let typeUrl = '';
  let nonce = '';
  const fields: [number, number][] = [];
  let interleaved = false;
  eachField(msg, (field, start, end, tagAt) => {
    if (field === 2) {
      if (fields.length > 0 && fields[fields.length - 1]?.[1] !== tagAt) interleaved = true;
      fields.push([tagAt, end]);
    } else if (field === 1) versionInfo = msg.toString(start, end);
    else if (field === 4) typeUrl = msg.toString(start, end);
    else if (field === 5) nonce = msg.toString(start, end);
  });
  let resources: RawResponse['resources'];
  if (fields.length === 0) resources = { message: ChunkedMessage.of(Buffer.alloc(0)), start: 0, end: 0 };
  else if (!interleaved)
    resources = { message: msg, start: fields[0]?.[0] ?? 0, end: fields.at(-1)?.[1] ?? 0 };
  else {
    const joined = Buffer.concat(fields.map(([s, e]) => msg.slice(s, e)));
    resources = { message: ChunkedMessage.of(joined), start: 0, end: joined.length };
  }
  return { versionInfo, typeUrl, nonce, resources };
}

/** The encoded Any of every resource in a resources field's bytes. */
function resourceAnys(bytes: Buffer): Buffer[] {
  const anys: Buffer[] = [];
  const msg = ChunkedMessage.of(bytes);
  eachField(msg, (field, start, end) => {
    if (field !== 2) throw new Error(`unexpected field ${field} among the resources`);
    anys.push(bytes.subarray(start, end));
  });
  return anys;
}

/** google.protobuf.Any{type_url=1, value=2}. */
function parseAny(buf: Buffer): { typeUrl: string; value: Buffer } {
  let typeUrl = '';
  let value: Buffer = Buffer.alloc(0);
  eachField(ChunkedMessage.of(buf), (field, start, end) => {
    if (field === 1) typeUrl = buf.toString('utf8', start, end);
    else if (field === 2) value = buf.subarray(start, end);
  });
  return { typeUrl, value };
}

/** Field 1 of a message as a string: RouteConfiguration.name, ClusterLoadAssignment.cluster_name. */
function firstStringField(buf: Buffer): string {
  let name = '';
  eachField(ChunkedMessage.of(buf), (field, start, end) => {
    if (field === 1 && name === '') name = buf.toString('utf8', start, end);
  });
  return name;
}

// ---- responses shared by every simulated proxy of the process ----

/** One distinct set of resources as received, taken apart once. */
interface ResponseInfo {
  /** A private copy of the resources' bytes (the received ones belong to one message). */
  bytes: Buffer;
  names: string[];
  /** name → digest of the resource's bytes. */
  byName: Map<string, string>;
  /** CDS: EDS names of the EDS clusters, sorted; LDS: RDS names of the listeners, sorted. */
  dependencies: string[];
  /** Why a proxy would NACK it (undecodable, wrong type, missing or repeated name). */
  error?: string;
}

export class SharedResponses {
  private readonly buckets = new Map<string, ResponseInfo[]>();
  /** Changes between two complete (CDS/LDS) sets, computed once for every proxy that moves between them. */
  private readonly diffs = new WeakMap<ResponseInfo, WeakMap<ResponseInfo, ResourceChanges>>();
  private readonly coverage = new WeakMap<ResponseInfo, WeakMap<readonly string[], boolean>>();
  readonly decodeCache = new DecodeCache();
  /** Buffers the proxies' streams receive into, reused message after message. */
  readonly slabs = new SlabPool();
  hits = 0;
  misses = 0;

  constructor(private readonly maxEntries = 2000) {}

  lookup(typeUrl: string, raw: RawResponse): ResponseInfo {
    const { message, start, end } = raw.resources;
    const key = `${typeUrl}\u0000${end - start}\u0000${message.fingerprint(start, end)}`;
    const bucket = this.buckets.get(key);
    if (bucket) {
      for (const info of bucket) {
        if (message.equals(start, end, info.bytes)) {
          this.hits++;
          return info;
        }
      }
    }
    this.misses++;
    const info = takeApart(typeUrl, Buffer.from(message.slice(start, end)), this.decodeCache);
    if (this.buckets.size >= this.maxEntries) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    this.buckets.set(key, [...(bucket ?? []), info]);
    return info;
  }

  /** Whether `info` carries every one of `names` (names lists are shared, so this is memoized). */
  covers(info: ResponseInfo, names: readonly string[]): boolean {
    let byNames = this.coverage.get(info);
    if (!byNames) this.coverage.set(info, (byNames = new WeakMap()));
    let v = byNames.get(names);
    if (v === undefined) {
      v = names.every((n) => info.byName.has(n));
      byNames.set(names, v);
    }
    return v;
  }

  /** What changed from `before` to `after` (complete sets). */
  diff(before: ResponseInfo | undefined, after: ResponseInfo): ResourceChanges {
    if (before === after) return { added: [], updated: [], removed: [] };
    if (!before) return { added: [...after.names], updated: [], removed: [] };
    let byAfter = this.diffs.get(before);
    if (!byAfter) this.diffs.set(before, (byAfter = new WeakMap()));
    let changes = byAfter.get(after);
    if (!changes) {
      changes = { added: [], updated: [], removed: [] };
      for (const [name, digest] of after.byName) {
        const old = before.byName.get(name);
        if (old === undefined) changes.added.push(name);
        else if (old !== digest) changes.updated.push(name);
      }
      for (const name of before.names) if (!after.byName.has(name)) changes.removed.push(name);
      byAfter.set(after, changes);
    }
    return changes;
  }
}

/** `bytes`: a private copy of the resources field (the received ones belong to one message). */
function takeApart(typeUrl: string, bytes: Buffer, cache: DecodeCache): ResponseInfo {
  const info: ResponseInfo = { bytes, names: [], byName: new Map(), dependencies: [] };
  try {
    const anys = resourceAnys(bytes).map(parseAny);
    for (const [i, any] of anys.entries()) {
      if (any.typeUrl !== typeUrl) throw new Error(`resource index ${i}: type URL "${any.typeUrl}" differs`);
    }
    const digest = (b: Buffer): string => createHash('sha1').update(b).digest('base64');
    if (typeUrl === XDS_TYPE.cluster || typeUrl === XDS_TYPE.listener) {
      const decoded = decodeResources(
        typeUrl,
        anys.map((a) => ({ type_url: a.typeUrl, value: a.value })),
        cache,
      );
      const deps = new Set<string>();
      for (const d of decoded) {
        info.names.push(d.name);
        info.byName.set(d.name, d.digest);
        if (typeUrl === XDS_TYPE.cluster) {
          const eds = edsServiceName(d.resource);
          if (eds !== undefined) deps.add(eds);
        } else {
          for (const r of listenerRouteNames(d.resource)) deps.add(r);
        }
      }
      info.dependencies = [...deps].sort();
    } else {
      for (const [i, any] of anys.entries()) {
        const name = firstStringField(any.value);
        if (name === '') throw new Error(`resource index ${i}: resource has no name`);
        if (info.byName.has(name)) throw new Error(`duplicate resource name "${name}"`);
        info.names.push(name);
        info.byName.set(name, digest(any.value));
      }
    }
  } catch (err) {
    info.error = err instanceof Error ? err.message : String(err);
  }
  return info;
}

// ---- DiscoveryRequest, written by hand ----

const namesSegments = new WeakMap<readonly string[], Buffer>();

function stringField(field: number, text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  return Buffer.concat([varintBytes(field * 8 + 2), varintBytes(body.length), body]);
}

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** resource_names (field 3) of a names list, encoded once per list object. */
function namesSegment(names: readonly string[]): Buffer {
  let seg = namesSegments.get(names);
  if (!seg) {
    seg = Buffer.concat(names.map((n) => stringField(3, n)));
    namesSegments.set(names, seg);
  }
  return seg;
}

// ---- one simulated proxy ----

interface Watch {
  typeUrl: string;
  wildcard: boolean;
  active: boolean;
  names: readonly string[];
  version: string;
  nonce: string;
  /** Complete types: the set held; named types: the last response that carried every subscribed name. */
  base?: ResponseInfo;
  /** Named types: resources received after `base` (name → digest). */
  overrides?: Map<string, string>;
}

const ORDER = [XDS_TYPE.cluster, XDS_TYPE.endpoint, XDS_TYPE.listener, XDS_TYPE.route];

export interface LightProxyOptions {
  target: string;
  node: XdsNode;
  shared: SharedResponses;
  /** HTTP/2 window for the stream and the connection (bytes; 0: the protocol's 64 KiB default). */
  windowBytes?: number;
}

export class LightProxy extends EventEmitter implements SimulatedProxy {
  private readonly watches = new Map<string, Watch>();
  private readonly nodeBytes: Buffer;
  private stream: GrpcBidiStream | undefined;
  private nodeSent = false;
  private closed = false;
  private cdsWarm = false;
  private isReady = false;
  private retries = 0;

  constructor(private readonly options: LightProxyOptions) {
    super();
    for (const typeUrl of ORDER) {
      const wildcard = typeUrl === XDS_TYPE.cluster || typeUrl === XDS_TYPE.listener;
      this.watches.set(typeUrl, { typeUrl, wildcard, active: false, names: [], version: '', nonce: '' });
    }
    const n = options.node;
    const node: NodeMessage = {
      id: n.id,
      cluster: n.cluster ?? '',
      metadata: structFromPlain(n.metadata ?? {}),
      user_agent_name: n.userAgentName ?? 'skiff',
    };
    // A DiscoveryRequest holding only the node: prepended to the first request of each stream.
    this.nodeBytes = adsCodecs().request.serialize({ node });
  }

  start(): void {
    this.connect();
    this.subscribe(XDS_TYPE.cluster, []);
  }

  close(): void {
    this.closed = true;
    this.stream?.close();
  }

  version(typeUrl: string): string {
    return this.watches.get(typeUrl)?.version ?? '';
  }

  get ready(): boolean {
    return this.isReady;
  }

  private connect(): void {
    if (this.closed) return;
    const stream: GrpcBidiStream = new GrpcBidiStream({
      target: this.options.target,
      method: ADS_STREAM_METHOD,
      windowBytes: this.options.windowBytes ?? 0,
      slabs: this.options.shared.slabs,
      onMessage: (message) => {
        let raw: RawResponse;
        try {
          raw = parseResponseEnvelope(message);
        } catch {
          // A message that is not a DiscoveryResponse ends the stream, as a failed deserialization does.
          stream.close();
          this.reconnect(stream);
          return;
        }
        this.retries = 0;
        this.onResponse(raw);
      },
      onClose: () => this.reconnect(stream),
    });
    this.stream = stream;
    this.nodeSent = false;
  }

  private reconnect(ended: GrpcBidiStream): void {
    if (this.stream !== ended) return;
    this.stream = undefined;
    if (this.closed) return;
    const delay = Math.min(30_000, 500 * 2 ** this.retries++);
    setTimeout(() => {
      this.connect();
      for (const w of this.watches.values()) {
        w.nonce = '';
        if (w.active) this.send(w);
      }
    }, delay).unref();
  }

  private send(w: Watch, error?: string): void {
    const stream = this.stream;
    if (!stream) return;
    const parts: Buffer[] = [];
    if (!this.nodeSent) {
      parts.push(this.nodeBytes);
      this.nodeSent = true;
    }
    if (w.version) parts.push(stringField(1, w.version));
    if (!w.wildcard) parts.push(namesSegment(w.names));
    parts.push(stringField(4, w.typeUrl));
    if (w.nonce) parts.push(stringField(5, w.nonce));
    if (error !== undefined) {
      // error_detail: google.rpc.Status{code=1 (INVALID_ARGUMENT), message=2}.
      const status = Buffer.concat([Buffer.from([8, 3]), stringField(2, error)]);
      parts.push(Buffer.concat([varintBytes(6 * 8 + 2), varintBytes(status.length), status]));
    }
    stream.write(Buffer.concat(parts));
  }

  private subscribe(typeUrl: string, names: readonly string[]): void {
    const w = this.watches.get(typeUrl);
    if (!w) return;
    if (w.active && !w.wildcard && sameNames(w.names, names)) return;
    if (w.active && w.wildcard) return;
    const wasActive = w.active;
    w.names = names;
    w.active = w.wildcard || names.length > 0;
    if (wasActive || w.active) this.send(w);
  }

  private onResponse(raw: RawResponse): void {
    const receivedAt = performance.timeOrigin + performance.now();
    const w = this.watches.get(raw.typeUrl);
    if (!w?.active) return;
    w.nonce = raw.nonce;
    const info = this.options.shared.lookup(raw.typeUrl, raw);
    if (info.error !== undefined) {
      this.send(w, info.error);
      return;
    }
    const changes = w.wildcard ? this.applyComplete(w, info) : this.applyNamed(w, info);
    w.version = raw.versionInfo;
    this.send(w);
    if (raw.typeUrl === XDS_TYPE.cluster) this.subscribe(XDS_TYPE.endpoint, info.dependencies);
    if (raw.typeUrl === XDS_TYPE.listener) this.subscribe(XDS_TYPE.route, info.dependencies);
    this.checkWarm();
    if (this.listenerCount('applied') > 0) {
      const event: AppliedEvent = {
        typeUrl: raw.typeUrl,
        version: raw.versionInfo,
        nonce: raw.nonce,
        names: info.names,
        changes,
        receivedAt,
        appliedAt: performance.timeOrigin + performance.now(),
      };
      this.emit('applied', event);
    }
  }

  private applyComplete(w: Watch, info: ResponseInfo): ResourceChanges {
    const changes = this.options.shared.diff(w.base, info);
    w.base = info;
    return changes;
  }

  private applyNamed(w: Watch, info: ResponseInfo): ResourceChanges {
    const changes: ResourceChanges = { added: [], updated: [], removed: [] };
    const held = (name: string): string | undefined => w.overrides?.get(name) ?? w.base?.byName.get(name);
    if (w.base === info && !w.overrides) return changes;
    for (const [name, digest] of info.byName) {
      const old = held(name);
      if (old === undefined) changes.added.push(name);
      else if (old !== digest) changes.updated.push(name);
    }
    if (this.options.shared.covers(info, w.names)) {
      // The response carries the whole subscription: it becomes what the proxy holds.
      w.base = info;
      w.overrides = undefined;
    } else {
      w.overrides ??= new Map();
      for (const [name, digest] of info.byName) w.overrides.set(name, digest);
    }
    return changes;
  }

  /** Whether every subscribed name of a named type has been received. */
  private holdsAll(w: Watch): boolean {
    if (w.base && !w.overrides) return this.options.shared.covers(w.base, w.names);
    return w.names.every((n) => w.overrides?.has(n) || w.base?.byName.has(n));
  }

  private checkWarm(): void {
    const cds = this.watches.get(XDS_TYPE.cluster);
    const eds = this.watches.get(XDS_TYPE.endpoint);
    const lds = this.watches.get(XDS_TYPE.listener);
    const rds = this.watches.get(XDS_TYPE.route);
    if (!cds || !eds || !lds || !rds) return;
    if (!this.cdsWarm && cds.base && this.holdsAll(eds)) {
      this.cdsWarm = true;
      this.subscribe(XDS_TYPE.listener, []);
    }
    if (this.cdsWarm && !this.isReady && lds.base && this.holdsAll(rds)) {
      this.isReady = true;
      this.emit('ready');
    }
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((v, i) => v === b[i]));
}
