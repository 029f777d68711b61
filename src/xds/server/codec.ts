/**
 * The ADS wire format: the gRPC service definition of `envoy.service.discovery.v3.AggregatedDiscoveryService`
 * built on the Envoy protobufjs Root protos.ts already loaded (no second proto parse), decoding of
 * Discovery/DeltaDiscovery requests into plain typed objects, and response encoding that splices
 * pre-encoded `Any` bytes, so a resource shared by many proxies is encoded once.
 */
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';
import { envoyRoot } from '../protos.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export interface RequestNode {
  id: string;
  cluster: string;
  /** google.protobuf.Struct as plain JSON. */
  metadata: Record<string, unknown>;
  locality: { region?: string; zone?: string; subZone?: string };
  userAgentName: string;
}

export interface XdsErrorDetail {
  code: number;
  message: string;
}

export interface SotwRequest {
  versionInfo: string;
  node?: RequestNode;
  resourceNames: string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: XdsErrorDetail;
}

export interface DeltaRequest {
  node?: RequestNode;
  typeUrl: string;
  subscribe: string[];
  unsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  responseNonce: string;
  errorDetail?: XdsErrorDetail;
}

/** One resource ready to go on the wire: the encoded `Any` message and its Any.value length. */
export interface EncodedResource {
  name: string;
  typeUrl: string;
  /** Content hash, used as the delta `version` and to compare what was sent. */
  hash: string;
  /** The encoded google.protobuf.Any message (type_url + value). */
  anyBytes: Uint8Array;
  /** len(Any.value): what istiod counts in pilot_xds_config_size_bytes. */
  size: number;
}

type Plain = Record<string, unknown>;

function isRecord(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function strList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

function own(m: Plain, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, key);
}

function structToJson(m: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isRecord(m) || !isRecord(m['fields'])) return out;
  for (const [k, v] of Object.entries(m['fields'])) out[k] = valueToJson(v);
  return out;
}

// google.protobuf.Value keeps camelCase member names under keepCase (xds-protocol.md §9.1 trap 2).
function valueToJson(v: unknown): unknown {
  if (!isRecord(v)) return null;
  if (own(v, 'structValue')) return structToJson(v['structValue']);
  if (own(v, 'listValue'))
    return isRecord(v['listValue']) && Array.isArray(v['listValue']['values'])
      ? v['listValue']['values'].map(valueToJson)
      : [];
  if (own(v, 'stringValue')) return str(v['stringValue']);
  if (own(v, 'numberValue')) return typeof v['numberValue'] === 'number' ? v['numberValue'] : 0;
  if (own(v, 'boolValue')) return v['boolValue'] === true;
  return null;
}

function decodeNode(m: unknown): RequestNode | undefined {
  if (!isRecord(m)) return undefined;
  const loc = isRecord(m['locality']) ? m['locality'] : {};
  return {
    id: str(m['id']),
    cluster: str(m['cluster']),
    metadata: structToJson(m['metadata']),
    locality: {
      ...(str(loc['region']) ? { region: str(loc['region']) } : {}),
      ...(str(loc['zone']) ? { zone: str(loc['zone']) } : {}),
      ...(str(loc['sub_zone']) ? { subZone: str(loc['sub_zone']) } : {}),
    },
    userAgentName: str(m['user_agent_name']),
  };
}

function decodeError(m: unknown): XdsErrorDetail | undefined {
  if (!isRecord(m)) return undefined;
  return { code: typeof m['code'] === 'number' ? m['code'] : 0, message: str(m['message']) };
}

let types: { request: Type; response: Type; deltaRequest: Type; deltaResponse: Type; any: Type } | undefined;

function messageTypes(): NonNullable<typeof types> {
  if (types) return types;
  const root = envoyRoot();
  types = {
    request: root.lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    response: root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    deltaRequest: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    deltaResponse: root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
    any: root.lookupType('google.protobuf.Any'),
  };
  return types;
}

export function decodeSotwRequest(bytes: Uint8Array): SotwRequest {
  const m = messageTypes().request.decode(bytes) as unknown as Plain;
  const node = own(m, 'node') ? decodeNode(m['node']) : undefined;
  const errorDetail = own(m, 'error_detail') ? decodeError(m['error_detail']) : undefined;
  return {
    versionInfo: str(m['version_info']),
    ...(node ? { node } : {}),
    resourceNames: strList(m['resource_names']),
    typeUrl: str(m['type_url']),
    responseNonce: str(m['response_nonce']),
    ...(errorDetail ? { errorDetail } : {}),
  };
}

export function decodeDeltaRequest(bytes: Uint8Array): DeltaRequest {
  const m = messageTypes().deltaRequest.decode(bytes) as unknown as Plain;
  const node = own(m, 'node') ? decodeNode(m['node']) : undefined;
  const errorDetail = own(m, 'error_detail') ? decodeError(m['error_detail']) : undefined;
  const initial: Record<string, string> = {};
  if (isRecord(m['initial_resource_versions']))
    for (const [k, v] of Object.entries(m['initial_resource_versions'])) initial[k] = str(v);
  return {
    ...(node ? { node } : {}),
    typeUrl: str(m['type_url']),
    subscribe: strList(m['resource_names_subscribe']),
    unsubscribe: strList(m['resource_names_unsubscribe']),
    initialResourceVersions: initial,
    responseNonce: str(m['response_nonce']),
    ...(errorDetail ? { errorDetail } : {}),
  };
}

/** Encodes the Any wrapper around already-encoded message bytes. */
export function encodeAnyMessage(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(10).string(typeUrl).uint32(18).bytes(value).finish();
}

/**
 * A protobuf message written straight into one buffer of its exact size: responses are mostly
 * pre-encoded `Any` bytes, copied once here (protobufjs' Writer would copy them twice, and the
 * `Buffer.from` of its result a third time).
 */
class MessageBuilder {
  private readonly ops: ((buf: Buffer, at: number) => number)[] = [];
  size = 0;

  varint(n: number): this {
    this.size += varintSize(n);
    this.ops.push((buf, at) => writeVarint(buf, at, n));
    return this;
  }

  /** Field `field` as a length-delimited UTF-8 string. */
  string(field: number, text: string): this {
    const len = Buffer.byteLength(text);
    this.varint((field << 3) | 2).varint(len);
    this.size += len;
    this.ops.push((buf, at) => at + buf.write(text, at, len, 'utf8'));
    return this;
  }

  /** Field `field` as length-delimited bytes. */
  bytes(field: number, value: Uint8Array): this {
    this.varint((field << 3) | 2).varint(value.length);
    this.size += value.length;
    this.ops.push((buf, at) => {
      buf.set(value, at);
      return at + value.length;
    });
    return this;
  }

  /** Field `field` as an embedded message. */
  message(field: number, inner: MessageBuilder): this {
    this.varint((field << 3) | 2).varint(inner.size);
    this.size += inner.size;
    this.ops.push((buf, at) => inner.writeTo(buf, at));
    return this;
  }

  writeTo(buf: Buffer, at: number): number {
    let offset = at;
    for (const op of this.ops) offset = op(buf, offset);
    return offset;
  }

  finish(): Buffer {
    const buf = Buffer.allocUnsafe(this.size);
    this.writeTo(buf, 0);
    return buf;
  }
}

function varintSize(n: number): number {
  let size = 1;
  for (let v = n >>> 7; v !== 0; v >>>= 7) size++;
  return size;
}

function writeVarint(buf: Buffer, at: number, n: number): number {
  let offset = at;
  let v = n >>> 0;
  while (v > 127) {
    buf[offset++] = (v & 127) | 128;
    v >>>= 7;
  }
  buf[offset++] = v;
  return offset;
}

/** DiscoveryResponse{version_info=1, resources=2, type_url=4, nonce=5, control_plane=6{identifier=1}}. */
export function encodeSotwResponse(r: {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
  controlPlane?: string;
}): Buffer {
  const m = new MessageBuilder();
  if (r.versionInfo) m.string(1, r.versionInfo);
  for (const res of r.resources) m.bytes(2, res.anyBytes);
  m.string(4, r.typeUrl);
  m.string(5, r.nonce);
  if (r.controlPlane) m.message(6, new MessageBuilder().string(1, r.controlPlane));
  return m.finish();
}

/**
 * The repeated `resources` field (2) of a DiscoveryResponse on its own: what proxies receiving the same
 * resources share. Protobuf fields may come in any order, so a response is its head (`sotwResponseHead`)
 * followed by these bytes, and one body serves every proxy that is sent the same list.
 */
export function encodeResourcesField(resources: readonly EncodedResource[]): Buffer {
  const m = new MessageBuilder();
  for (const res of resources) m.bytes(2, res.anyBytes);
  return m.finish();
}

/** gRPC's length prefix of one uncompressed message of `length` bytes. */
export function grpcMessagePrefix(length: number): Buffer {
  const out = Buffer.allocUnsafe(5);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(length, 1);
  return out;
}

/**
 * gRPC's 5-byte message prefix and every DiscoveryResponse field but `resources`, for a response whose
 * resources field (`encodeResourcesField`, possibly in several pieces) is `bodyLength` bytes and follows.
 */
export function sotwResponseHead(
  r: { versionInfo: string; typeUrl: string; nonce: string; controlPlane?: string },
  bodyLength: number,
): Buffer {
  const m = new MessageBuilder();
  if (r.versionInfo) m.string(1, r.versionInfo);
  m.string(4, r.typeUrl);
  m.string(5, r.nonce);
  if (r.controlPlane) m.message(6, new MessageBuilder().string(1, r.controlPlane));
  const buf = Buffer.allocUnsafe(5 + m.size);
  buf.writeUInt8(0, 0);
  buf.writeUInt32BE(m.size + bodyLength, 1);
  m.writeTo(buf, 5);
  return buf;
}

/**
 * DeltaDiscoveryResponse{system_version_info=1, resources=2 Resource{version=1, resource=2, name=3},
 * type_url=4, nonce=5, removed_resources=6, control_plane=7}.
 */
export function encodeDeltaResponse(r: {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
  removed: readonly string[];
  controlPlane?: string;
}): Buffer {
  const m = new MessageBuilder();
  if (r.systemVersionInfo) m.string(1, r.systemVersionInfo);
  for (const res of r.resources) {
    m.message(2, new MessageBuilder().string(1, res.hash).bytes(2, res.anyBytes).string(3, res.name));
  }
  m.string(4, r.typeUrl);
  m.string(5, r.nonce);
  for (const name of r.removed) m.string(6, name);
  if (r.controlPlane) m.message(7, new MessageBuilder().string(1, r.controlPlane));
  return m.finish();
}

function encodePlain(type: Type, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value);
  return Buffer.from(type.encode(type.fromObject(value as Plain)).finish());
}

function decodePlain(type: Type, bytes: Buffer): unknown {
  return type.toObject(type.decode(bytes), { longs: Number, enums: String, bytes: Buffer });
}

/**
 * The ADS service for grpc-js. The server side reads requests as SotwRequest / DeltaRequest and writes
 * pre-encoded Buffers; the client side (tests, tools) writes plain snake_case objects and reads plain
 * objects, so one definition serves both `server.addService` and `makeGenericClientConstructor`.
 */
export function adsServerDefinition(): ServiceDefinition {
  const t = messageTypes();
  const sotw: MethodDefinition<unknown, unknown> = {
    path: `/${ADS_SERVICE}/StreamAggregatedResources`,
    requestStream: true,
    responseStream: true,
    requestSerialize: (v) => encodePlain(t.request, v),
    requestDeserialize: (b: Buffer) => decodeSotwRequest(b),
    responseSerialize: (v) => encodePlain(t.response, v),
    responseDeserialize: (b: Buffer) => decodePlain(t.response, b),
    originalName: 'streamAggregatedResources',
  };
  const delta: MethodDefinition<unknown, unknown> = {
    path: `/${ADS_SERVICE}/DeltaAggregatedResources`,
    requestStream: true,
    responseStream: true,
    requestSerialize: (v) => encodePlain(t.deltaRequest, v),
    requestDeserialize: (b: Buffer) => decodeDeltaRequest(b),
    responseSerialize: (v) => encodePlain(t.deltaResponse, v),
    responseDeserialize: (b: Buffer) => decodePlain(t.deltaResponse, b),
    originalName: 'deltaAggregatedResources',
  };
  return { StreamAggregatedResources: sotw, DeltaAggregatedResources: delta };
}
