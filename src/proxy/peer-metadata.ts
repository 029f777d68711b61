/**
 * Istio's HTTP metadata exchange between proxies: `x-envoy-peer-metadata-id` carries the node id and
 * `x-envoy-peer-metadata` the base64 of a serialized `google.protobuf.Struct` of the node metadata (NAME,
 * NAMESPACE, LABELS, WORKLOAD_NAME, CLUSTER_ID, ...). The Struct is encoded in protobuf wire format, so
 * real Istio proxies can read what skiff sends. As a fallback, a header whose base64 decodes to a JSON
 * object (`{"NAME": ...}`) is accepted too; skiff itself never sends that form.
 */

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

/** What one proxy knows about its own workload (and what it learns about its peer). */
export interface PeerInfo {
  /** Pod name (`NAME`). */
  name?: string;
  namespace?: string;
  workloadName?: string;
  labels?: Record<string, string>;
  clusterId?: string;
  meshId?: string;
  serviceAccount?: string;
  /** The workload's SPIFFE identity when known (mTLS); `unknown` in metrics otherwise. */
  principal?: string;
  /** Node id (`sidecar~ip~pod.ns~ns.svc.cluster.local`), sent as x-envoy-peer-metadata-id. */
  nodeId?: string;
}

type StructValue = null | number | string | boolean | StructValue[] | { [k: string]: StructValue };

// ---- protobuf wire format for google.protobuf.Struct / Value / ListValue ----

function varint(n: number, out: number[]): void {
  let v = n >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}

function lengthDelimited(field: number, bytes: Uint8Array | number[], out: number[]): void {
  varint((field << 3) | 2, out);
  varint(bytes.length, out);
  for (const b of bytes) out.push(b);
}

function encodeValue(v: StructValue): number[] {
  const out: number[] = [];
  if (v === null) {
    varint((1 << 3) | 0, out);
    varint(0, out);
  } else if (typeof v === 'number') {
    varint((2 << 3) | 1, out);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    for (const x of b) out.push(x);
  } else if (typeof v === 'string') {
    lengthDelimited(3, Buffer.from(v, 'utf8'), out);
  } else if (typeof v === 'boolean') {
    varint((4 << 3) | 0, out);
    varint(v ? 1 : 0, out);
  } else if (Array.isArray(v)) {
    const list: number[] = [];
    for (const item of v) lengthDelimited(1, encodeValue(item), list);
    lengthDelimited(6, list, out);
  } else {
    lengthDelimited(5, encodeStructFields(v), out);
  }
  return out;
}

function encodeStructFields(obj: { [k: string]: StructValue }): number[] {
  const out: number[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const entry: number[] = [];
    lengthDelimited(1, Buffer.from(k, 'utf8'), entry);
    lengthDelimited(2, encodeValue(v), entry);
    lengthDelimited(1, entry, out);
  }
  return out;
}

/** Serializes a JSON object as a google.protobuf.Struct. */
export function encodeStruct(obj: { [k: string]: StructValue }): Buffer {
  return Buffer.from(encodeStructFields(obj));
}

class Reader {
  pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly end = buf.length,
  ) {}
  done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const b = this.buf[this.pos++] ?? 0;
      if (shift < 32) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('varint too long');
    }
  }
  bytes(): Reader {
    const len = this.varint();
    const start = this.pos;
    if (start + len > this.end) throw new Error('truncated field');
    this.pos += len;
    const r = new Reader(this.buf, start + len);
    r.pos = start;
    return r;
  }
  text(): string {
    const sub = this.bytes();
    return this.buf.toString('utf8', sub.pos, sub.end);
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  double(): number {
    if (this.pos + 8 > this.end) throw new Error('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
}

function decodeValue(r: Reader): StructValue {
  let out: StructValue = null;
  while (!r.done()) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 0) {
      r.varint();
      out = null;
    } else if (field === 2 && wire === 1) out = r.double();
    else if (field === 3 && wire === 2) out = r.text();
    else if (field === 4 && wire === 0) out = r.varint() !== 0;
    else if (field === 5 && wire === 2) out = decodeStructFields(r.bytes());
    else if (field === 6 && wire === 2) {
      const list: StructValue[] = [];
      const lr = r.bytes();
      while (!lr.done()) {
        const t = lr.varint();
        if (Math.floor(t / 8) === 1 && (t & 7) === 2) list.push(decodeValue(lr.bytes()));
        else lr.skip(t & 7);
      }
      out = list;
    } else r.skip(wire);
  }
  return out;
}

function decodeStructFields(r: Reader): { [k: string]: StructValue } {
  const out: { [k: string]: StructValue } = {};
  while (!r.done()) {
    const tag = r.varint();
    if (Math.floor(tag / 8) !== 1 || (tag & 7) !== 2) {
      r.skip(tag & 7);
      continue;
    }
    const entry = r.bytes();
    let key = '';
    let value: StructValue = null;
    while (!entry.done()) {
      const t = entry.varint();
      const f = Math.floor(t / 8);
      if (f === 1 && (t & 7) === 2) key = entry.text();
      else if (f === 2 && (t & 7) === 2) value = decodeValue(entry.bytes());
      else entry.skip(t & 7);
    }
    out[key] = value;
  }
  return out;
}

/** Parses a serialized google.protobuf.Struct; throws on malformed input. */
export function decodeStruct(buf: Buffer): { [k: string]: StructValue } {
  return decodeStructFields(new Reader(buf));
}

// ---- PeerInfo <-> node metadata ----

/** Istio's node metadata keys for a workload, as the metadata exchange sends them. */
export function peerMetadata(info: PeerInfo): { [k: string]: StructValue } {
  const out: { [k: string]: StructValue } = {};
  if (info.clusterId) out['CLUSTER_ID'] = info.clusterId;
  if (info.labels && Object.keys(info.labels).length > 0) out['LABELS'] = { ...info.labels };
  if (info.meshId) out['MESH_ID'] = info.meshId;
  if (info.name) out['NAME'] = info.name;
  if (info.namespace) out['NAMESPACE'] = info.namespace;
  if (info.serviceAccount) out['SERVICE_ACCOUNT'] = info.serviceAccount;
  if (info.workloadName) out['WORKLOAD_NAME'] = info.workloadName;
  return out;
}

/** The two exchange headers' values for a proxy's own PeerInfo (computed once per proxy). */
export function peerHeaders(info: PeerInfo): { metadata: string; id: string } {
  return {
    metadata: encodeStruct(peerMetadata(info)).toString('base64'),
    id: info.nodeId ?? (info.name && info.namespace ? `${info.name}.${info.namespace}` : 'unknown'),
  };
}

const str = (v: StructValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * Parsed header values by their text: a peer sends the same value on every request, so decoding it once
 * saves a base64 + protobuf decode per request. Bounded, so hostile values cannot grow it without limit.
 */
const peerCache = new Map<string, PeerInfo | undefined>();
const PEER_CACHE_SIZE = 256;

/**
 * Reads a peer's x-envoy-peer-metadata value; undefined when absent or unreadable (never throws). The
 * result is shared between requests carrying the same value: callers must not modify it.
 */
export function parsePeerHeader(value: string | string[] | undefined): PeerInfo | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (peerCache.has(raw)) return peerCache.get(raw);
  const info = decodePeerHeader(raw);
  if (peerCache.size >= PEER_CACHE_SIZE) peerCache.clear();
  peerCache.set(raw, info);
  return info;
}

function decodePeerHeader(raw: string): PeerInfo | undefined {
  let fields: { [k: string]: StructValue };
  try {
    const buf = Buffer.from(raw, 'base64');
    if (buf[0] === 0x7b /* '{' */) {
      const parsed: unknown = JSON.parse(buf.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
      fields = parsed as { [k: string]: StructValue };
    } else fields = decodeStruct(buf);
  } catch {
    return undefined;
  }
  const info: PeerInfo = {};
  const set = <K extends keyof PeerInfo>(key: K, v: PeerInfo[K] | undefined): void => {
    if (v !== undefined) info[key] = v;
  };
  set('name', str(fields['NAME']));
  set('namespace', str(fields['NAMESPACE']));
  set('workloadName', str(fields['WORKLOAD_NAME']));
  set('clusterId', str(fields['CLUSTER_ID']));
  set('meshId', str(fields['MESH_ID']));
  set('serviceAccount', str(fields['SERVICE_ACCOUNT']));
  const labels = fields['LABELS'];
  if (labels && typeof labels === 'object' && !Array.isArray(labels)) {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
    info.labels = out;
  }
  return info;
}
