/**
 * The ADS gRPC service as grpc-js sees it, built on the protobufjs Root `protos.ts` already loads (its file
 * list includes ads.proto), so no second proto parse is needed. Messages cross this boundary as protobufjs
 * plain objects: snake_case Envoy fields, `google.protobuf.Any` as `{ type_url, value }`, Struct as
 * `{ fields: { k: { stringValue } } }` (Value members stay camelCase, xds-protocol.md §9.1 trap 2).
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import type { Type } from 'protobufjs';
import { envoyRoot } from '../protos.js';
import type { AnyMessage } from '../protos.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const ADS_STREAM_METHOD = `/${ADS_SERVICE}/StreamAggregatedResources`;
export const ADS_DELTA_METHOD = `/${ADS_SERVICE}/DeltaAggregatedResources`;

/** google.rpc.Status as carried in `error_detail`. */
export interface RpcStatus {
  code: number;
  message: string;
}

/** envoy.config.core.v3.Node in protobufjs plain form. */
export interface NodeMessage {
  id?: string;
  cluster?: string;
  metadata?: StructMessage;
  locality?: { region?: string; zone?: string; sub_zone?: string };
  user_agent_name?: string;
  user_agent_version?: string;
  client_features?: string[];
}

export interface DiscoveryRequestMessage {
  version_info?: string;
  node?: NodeMessage;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: RpcStatus;
}

export interface DiscoveryResponseMessage {
  version_info?: string;
  resources?: AnyMessage[];
  type_url?: string;
  nonce?: string;
  control_plane?: { identifier?: string };
}

export interface StructMessage {
  fields: Record<string, ValueMessage>;
}

export type ValueMessage =
  | { nullValue: 'NULL_VALUE' }
  | { numberValue: number }
  | { stringValue: string }
  | { boolValue: boolean }
  | { structValue: StructMessage }
  | { listValue: { values: ValueMessage[] } };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A plain JSON object as a protobufjs Struct. Values JSON cannot hold (undefined, functions) are left out. */
export function structFromPlain(plain: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(plain)) {
    const value = valueFromPlain(v);
    if (value) fields[k] = value;
  }
  return { fields };
}

function valueFromPlain(v: unknown): ValueMessage | undefined {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.flatMap((e) => valueFromPlain(e) ?? []) } };
  if (isPlainObject(v)) return { structValue: structFromPlain(v) };
  return undefined;
}

/** A decoded Struct (protobufjs form, possibly partial or malformed) back as a plain JSON object. */
export function plainFromStruct(struct: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = isPlainObject(struct) && isPlainObject(struct['fields']) ? struct['fields'] : {};
  for (const [k, v] of Object.entries(fields)) out[k] = plainFromValue(v);
  return out;
}

function plainFromValue(v: unknown): unknown {
  if (!isPlainObject(v)) return null;
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(v, k);
  if (has('structValue')) return plainFromStruct(v['structValue']);
  if (has('listValue')) {
    const list = v['listValue'];
    const values = isPlainObject(list) && Array.isArray(list['values']) ? list['values'] : [];
    return values.map(plainFromValue);
  }
  if (has('stringValue')) return v['stringValue'];
  if (has('numberValue')) return v['numberValue'];
  if (has('boolValue')) return v['boolValue'];
  return null;
}

const CONVERSION = { longs: String, enums: String, defaults: false, arrays: true } as const;

function codec<T>(type: Type): { serialize: (value: T) => Buffer; deserialize: (bytes: Buffer) => T } {
  return {
    serialize: (value: T): Buffer =>
      Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish()),
    deserialize: (bytes: Buffer): T => type.toObject(type.decode(bytes), CONVERSION) as T,
  };
}

interface AdsCodecs {
  request: ReturnType<typeof codec<DiscoveryRequestMessage>>;
  response: ReturnType<typeof codec<DiscoveryResponseMessage>>;
}

let cachedCodecs: AdsCodecs | undefined;

/** Encoders and decoders for DiscoveryRequest / DiscoveryResponse (throwing on bytes that do not parse). */
export function adsCodecs(): AdsCodecs {
  if (cachedCodecs) return cachedCodecs;
  const root = envoyRoot();
  cachedCodecs = {
    request: codec<DiscoveryRequestMessage>(root.lookupType('envoy.service.discovery.v3.DiscoveryRequest')),
    response: codec<DiscoveryResponseMessage>(
      root.lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    ),
  };
  return cachedCodecs;
}

/**
 * The SotW half of AggregatedDiscoveryService for `grpc.Server.addService` (tests, simple servers). Only
 * StreamAggregatedResources is described; delta is not implemented by this client.
 */
export function adsServiceDefinition(): ServiceDefinition {
  const { request, response } = adsCodecs();
  return {
    StreamAggregatedResources: {
      path: ADS_STREAM_METHOD,
      requestStream: true,
      responseStream: true,
      requestSerialize: request.serialize,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize,
      responseDeserialize: response.deserialize,
      originalName: 'streamAggregatedResources',
    },
  };
}
