/**
 * Istio's xDS debug types (`istio.io/debug/syncz`, ...): a proxy agent asks istiod for them on its own ADS
 * stream and relays the answer on its 15004 port (pilot-agent's tap, pkg/istio-agent/xds_proxy.go at 1.17).
 * This file turns such a DiscoveryResponse into the proto3 JSON pilot-agent prints (golang/protobuf's
 * jsonpb, indented by two spaces): fields in field-number order, empty ones left out, each resource an Any
 * with its `@type` first. The CSDS `ClientConfig` istiod answers syncz with is decoded here by hand, as the
 * shared proto Root does not load the CSDS protos.
 */
import protobuf from 'protobufjs';
import { TYPE_URL_PREFIX, decodeAny } from '../protos.js';
import type { AnyMessage } from '../protos.js';
import type { DiscoveryResponseMessage } from './service.js';

/** Whether a type URL is one of Istio's debug types (answered once per request, never watched). */
export function isDebugTypeUrl(typeUrl: string): boolean {
  return typeUrl.startsWith('istio.io/debug');
}

const CLIENT_CONFIG_TYPE = `${TYPE_URL_PREFIX}envoy.service.status.v3.ClientConfig`;
const NODE_TYPE = `${TYPE_URL_PREFIX}envoy.config.core.v3.Node`;
const CONFIG_STATUS = ['UNKNOWN', 'SYNCED', 'NOT_SENT', 'STALE', 'ERROR'];
const CLIENT_STATUS = ['CLIENT_UNKNOWN', 'CLIENT_REQUESTED', 'CLIENT_ACKED', 'CLIENT_NACKED'];

type Json = Record<string, unknown>;

/** An embedded message of a type the shared Root knows, as proto3 JSON; undefined when it does not parse. */
function knownMessage(typeUrl: string, bytes: Uint8Array): Json | undefined {
  try {
    return decodeAny({ type_url: typeUrl, value: bytes });
  } catch {
    return undefined;
  }
}

/** google.protobuf.Timestamp bytes as RFC 3339 (jsonpb prints 0, 3, 6 or 9 fraction digits). */
function timestampJson(bytes: Uint8Array): string {
  const r = protobuf.Reader.create(bytes);
  let seconds = 0;
  let nanos = 0;
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 0) seconds = Number(r.int64().toString());
    else if (tag >>> 3 === 2 && (tag & 7) === 0) nanos = r.int32();
    else r.skipType(tag & 7);
  }
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  let frac = String(nanos).padStart(9, '0');
  while (frac.length > 3 && frac.endsWith('000')) frac = frac.slice(0, -3);
  return `${base}.${frac}Z`;
}

/** envoy.service.status.v3.ClientConfig.GenericXdsConfig, the fields istiod sets and those Envoy does. */
function genericXdsConfigJson(bytes: Uint8Array): Json {
  const r = protobuf.Reader.create(bytes);
  const fields = new Map<number, unknown>();
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if ((field === 1 || field === 2 || field === 3) && wire === 2) fields.set(field, r.string());
    else if (field === 4 && wire === 2) {
      const any = anyFromBytes(r.bytes());
      if (any) fields.set(4, anyJson(any));
    } else if (field === 5 && wire === 2) fields.set(5, timestampJson(r.bytes()));
    else if (field === 6 && wire === 0) fields.set(6, CONFIG_STATUS[r.int32()] ?? undefined);
    else if (field === 7 && wire === 0) fields.set(7, CLIENT_STATUS[r.int32()] ?? undefined);
    else if (field === 9 && wire === 0) fields.set(9, r.bool());
    else r.skipType(wire);
  }
  const names: [number, string][] = [
    [1, 'typeUrl'],
    [2, 'name'],
    [3, 'versionInfo'],
    [4, 'xdsConfig'],
    [5, 'lastUpdated'],
    [6, 'configStatus'],
    [7, 'clientStatus'],
    [9, 'isStaticResource'],
  ];
  const out: Json = {};
  for (const [n, key] of names) {
    const v = fields.get(n);
    // jsonpb leaves out proto3 zero values: '', enum 0, false.
    if (v === undefined || v === '' || v === false || v === 'UNKNOWN' || v === 'CLIENT_UNKNOWN') continue;
    out[key] = v;
  }
  return out;
}

/** envoy.service.status.v3.ClientConfig: node (1) and generic_xds_configs (3). */
function clientConfigJson(bytes: Uint8Array): Json {
  const r = protobuf.Reader.create(bytes);
  let node: Json | undefined;
  const generic: Json[] = [];
  while (r.pos < r.len) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) node = knownMessage(NODE_TYPE, r.bytes());
    else if (field === 3 && wire === 2) generic.push(genericXdsConfigJson(r.bytes()));
    else r.skipType(wire);
  }
  const out: Json = {};
  if (node) out['node'] = node;
  if (generic.length > 0) out['genericXdsConfigs'] = generic;
  return out;
}

/** google.protobuf.Any bytes (type_url = 1, value = 2). */
function anyFromBytes(bytes: Uint8Array): AnyMessage | undefined {
  const r = protobuf.Reader.create(bytes);
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array();
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === 10) typeUrl = r.string();
    else if (tag === 18) value = r.bytes();
    else r.skipType(tag & 7);
  }
  return typeUrl === '' ? undefined : { type_url: typeUrl, value };
}

/** One resource as jsonpb prints an Any: `@type`, then the message's fields. */
function anyJson(any: AnyMessage): Json {
  const typeUrl = typeof any.type_url === 'string' ? any.type_url : '';
  const value = any.value instanceof Uint8Array ? any.value : new Uint8Array();
  try {
    if (typeUrl === CLIENT_CONFIG_TYPE) return { '@type': typeUrl, ...clientConfigJson(value) };
  } catch {
    // fall through to the raw form
  }
  const known = knownMessage(typeUrl, value);
  if (known) return { '@type': typeUrl, ...known };
  // A type nobody here knows: its bytes, as the well-known Any's JSON fallback carries them.
  return { '@type': typeUrl, value: Buffer.from(value).toString('base64') };
}

/** A DiscoveryResponse (protobufjs plain form) as proto3 JSON, in jsonpb's field order. */
export function discoveryResponseJson(res: DiscoveryResponseMessage): Json {
  const out: Json = {};
  if (res.version_info) out['versionInfo'] = res.version_info;
  const resources = Array.isArray(res.resources) ? res.resources.map(anyJson) : [];
  if (resources.length > 0) out['resources'] = resources;
  if (res.type_url) out['typeUrl'] = res.type_url;
  if (res.nonce) out['nonce'] = res.nonce;
  const identifier = res.control_plane?.identifier;
  if (typeof identifier === 'string' && identifier !== '') out['controlPlane'] = { identifier };
  return out;
}

/** The body pilot-agent's 15004 answers with: the response as indented JSON (no trailing newline). */
export function debugResponseText(res: DiscoveryResponseMessage): string {
  return JSON.stringify(discoveryResponseJson(res), null, 2);
}
