/**
 * The Envoy v3 protos, loaded with protobufjs from the copies @grpc/grpc-js-xds bundles (the recipe in
 * xds-protocol.md §9.1), plus conversion between proto3 JSON (the camelCase shape `istioctl proxy-config
 * -o json` prints and the generators produce) and `google.protobuf.Any` bytes.
 *
 * protobufjs' `fromObject` drops unknown keys silently, so generators are checked with `roundTrip`:
 * whatever did not survive encode → decode is reported instead of vanishing.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Root, Type } from 'protobufjs';

const require = createRequire(import.meta.url);

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export const TYPE = {
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  UpstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  RawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  HttpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  MetadataExchange: 'type.googleapis.com/envoy.tcp.metadataexchange.config.MetadataExchange',
} as const;

const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  // Types the generators write inside typedConfig Anys (listener/HTTP filters, tracing, access logs,
  // the Bootstrap itself); without them encodeAny would pack those Anys empty.
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/trace/v3/zipkin.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/grpc_stats/v3/config.proto',
  'envoy/extensions/filters/http/grpc_web/v3/grpc_web.proto',
  'envoy/extensions/filters/http/wasm/v3/wasm.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/original_src/v3/original_src.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/network/sni_cluster/v3/sni_cluster.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/request_id/uuid/v3/uuid.proto',
  'udpa/type/v1/typed_struct.proto',
];

let cachedRoot: Root | undefined;

/**
 * The shared protobufjs Root (loaded once). Field names are snake_case (`keepCase`).
 *
 * Parsing the .proto files costs ~0.4 s of CPU, which every proxy of a cold `skiff up` would pay at once;
 * the resolved Root is therefore kept as a JSON descriptor in the cache dir (`cachedDescriptorPath`), and
 * rebuilt with `Root.fromJSON` (about half the cost) by every later process. The cache key covers the
 * proto set, this module's code and the versions of the packages the protos and the parser come from.
 */
export function envoyRoot(): Root {
  if (cachedRoot) return cachedRoot;
  const cacheFile = cachedDescriptorPath();
  let root = cacheFile ? readCachedRoot(cacheFile) : undefined;
  if (!root) {
    root = parseEnvoyProtos();
    if (cacheFile) writeCachedRoot(cacheFile, root);
  }
  cachedRoot = root;
  return root;
}

function parseEnvoyProtos(): Root {
  // Side effect: registers descriptor.proto, which the annotation protos import. Loaded only here, as
  // processes that find the descriptor cached never parse a .proto file.
  require('@grpc/proto-loader');
  // The loader grpc-js-xds itself uses; not part of proto-loader's public entry point, hence the deep path.
  const { loadProtosWithOptionsSync } = require('@grpc/proto-loader/build/src/util') as {
    loadProtosWithOptionsSync(files: string[], options: { keepCase: boolean; includeDirs: string[] }): Root;
  };
  const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
    path.join(xdsProtoDir(), d),
  );
  const root = loadProtosWithOptionsSync(PROTO_FILES, { keepCase: true, includeDirs });
  // Istio's metadata exchange network filter config lives in istio/proxy, not in Envoy's API tree:
  // `message MetadataExchange { string protocol = 1; }` in package envoy.tcp.metadataexchange.config.
  root
    .define('envoy.tcp.metadataexchange.config')
    .add(new protobuf.Type('MetadataExchange').add(new protobuf.Field('protocol', 1, 'string')));
  defineIstioAlpnFilter(root);
  root.resolveAll();
  return root;
}

function xdsProtoDir(): string {
  return path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
      version?: unknown;
    };
    return String(pkg.version);
  } catch {
    return '?';
  }
}

/**
 * Where the descriptor JSON is cached: `$SKIFF_CACHE_DIR` (empty: no cache), else `$XDG_CACHE_HOME/skiff`
 * or `~/.cache/skiff`. The name carries a hash of everything the Root is built from, so a changed proto
 * set, parser or package version never reads an old file.
 */
export function cachedDescriptorPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  let dir = env['SKIFF_CACHE_DIR'];
  if (dir === '') return undefined;
  if (dir === undefined) {
    const home = safeHomedir();
    const base = env['XDG_CACHE_HOME'] || (home ? path.join(home, '.cache') : tmpdir());
    dir = path.join(base, 'skiff');
  }
  let self = '';
  try {
    self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
  const key = createHash('sha256')
    .update(self)
    .update(`\0${packageVersion('@grpc/grpc-js-xds')}\0${packageVersion('protobufjs')}\0${xdsProtoDir()}`)
    .digest('hex')
    .slice(0, 16);
  return path.join(dir, `envoy-protos-${key}.json`);
}

function safeHomedir(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

function readCachedRoot(file: string): Root | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const root = protobuf.Root.fromJSON(JSON.parse(text) as protobuf.INamespace);
    root.resolveAll();
    // A cut-off or foreign file must not stand in for the protos: check what every user looks up first.
    root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    root.lookupType('envoy.config.bootstrap.v3.Bootstrap');
    return root;
  } catch {
    return undefined;
  }
}

function writeCachedRoot(file: string, root: Root): void {
  // Best effort: a read-only home just means every process parses the protos.
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(root.toJSON()));
    renameSync(tmp, file);
  } catch {
    // ignore
  }
}

/** The message type behind a type URL, or undefined when the Root does not know it. */
export function lookupMessageType(typeUrl: string): Type | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  try {
    return envoyRoot().lookupType(name);
  } catch {
    return undefined;
  }
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

/** Packs a proto3-JSON resource into an Any. Throws when the type is unknown or a value does not fit. */
export function encodeAny(typeUrl: string, json: unknown): AnyMessage {
  const type = lookupMessageType(typeUrl);
  if (!type) throw new Error(`unknown type ${typeUrl}`);
  const message = type.fromObject(jsonToObject(type, json) as Plain);
  return { type_url: typeUrl, value: type.encode(message).finish() };
}

/** Unpacks an Any back into proto3 JSON. */
export function decodeAny(any: AnyMessage): Record<string, unknown> {
  const type = lookupMessageType(any.type_url);
  if (!type) throw new Error(`unknown type ${any.type_url}`);
  return messageToJson(type, type.decode(any.value)) as Record<string, unknown>;
}

export interface RoundTripResult {
  json: Record<string, unknown>;
  /** Paths (`a.b[0].c`) of input values that are missing or different after encode → decode. */
  lost: string[];
}

/** Encodes a resource into an Any and back, reporting every input field that did not survive. */
export function roundTrip(typeUrl: string, json: unknown): RoundTripResult {
  const decoded = decodeAny(encodeAny(typeUrl, json));
  const lost: string[] = [];
  collectLost(json, decoded, '', lost);
  return { json: decoded, lost };
}

// ---- proto3 JSON → protobufjs plain object (snake_case keys, well-known types expanded) ----

type Plain = Record<string, unknown>;

function isRecord(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function camel(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

function fullName(type: Type): string {
  return type.fullName.replace(/^\./, '');
}

function jsonToObject(type: Type, json: unknown): unknown {
  const name = fullName(type);
  if (name === 'google.protobuf.Duration') return parseDuration(json);
  if (WRAPPERS.has(name)) return { value: json };
  if (name === 'google.protobuf.Struct') return structToObject(json);
  if (name === 'google.protobuf.Value') return valueToObject(json);
  if (name === 'google.protobuf.ListValue') return { values: asList(json).map(valueToObject) };
  if (name === 'google.protobuf.Any') return anyToObject(json);
  if (!isRecord(json)) return {};
  const byJsonName = new Map<string, protobuf.Field>();
  for (const f of type.fieldsArray) {
    byJsonName.set(camel(f.name), f);
    byJsonName.set(f.name, f);
  }
  const out: Plain = {};
  for (const [key, value] of Object.entries(json)) {
    const field = byJsonName.get(key);
    // Unknown keys are kept as written: fromObject drops them, and roundTrip then reports them lost.
    if (!field) continue;
    out[field.name] = fieldToObject(field, value);
  }
  return out;
}

function fieldToObject(field: protobuf.Field, value: unknown): unknown {
  field.resolve();
  const element = (v: unknown): unknown =>
    field.resolvedType instanceof protobuf.Type ? jsonToObject(field.resolvedType, v) : v;
  if (field instanceof protobuf.MapField || field.map) {
    const out: Plain = {};
    if (isRecord(value)) for (const [k, v] of Object.entries(value)) out[k] = element(v);
    return out;
  }
  if (field.repeated) return asList(value).map(element);
  return element(value);
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function anyToObject(json: unknown): unknown {
  if (!isRecord(json) || typeof json['@type'] !== 'string') return {};
  const typeUrl = json['@type'];
  const type = lookupMessageType(typeUrl);
  if (!type) return { type_url: typeUrl, value: new Uint8Array() };
  const inner = fullName(type).startsWith('google.protobuf.') && 'value' in json ? json['value'] : json;
  const rest = isRecord(inner)
    ? Object.fromEntries(Object.entries(inner).filter(([k]) => k !== '@type'))
    : inner;
  const message = type.fromObject(jsonToObject(type, rest) as Plain);
  return { type_url: typeUrl, value: type.encode(message).finish() };
}

function structToObject(json: unknown): unknown {
  const fields: Plain = {};
  if (isRecord(json)) for (const [k, v] of Object.entries(json)) fields[k] = valueToObject(v);
  return { fields };
}

// google.protobuf.Value keeps camelCase member names even under keepCase (xds-protocol.md §9.1 trap 2).
function valueToObject(v: unknown): unknown {
  if (v === null) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(valueToObject) } };
  if (isRecord(v)) return { structValue: structToObject(v) };
  return {};
}

/** Proto3 JSON durations: `"10s"`, `"0.500s"`, `"-1.5s"`. */
function parseDuration(json: unknown): unknown {
  if (typeof json !== 'string') return {};
  const m = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(json);
  if (!m) return {};
  const sign = m[1] === '-' ? -1 : 1;
  const seconds = Number(m[2]) * sign;
  const nanos = Number((m[3] ?? '').padEnd(9, '0') || '0') * sign;
  return nanos === 0 ? { seconds } : { seconds, nanos };
}

// ---- protobufjs message → proto3 JSON ----

function messageToJson(type: Type, message: unknown): unknown {
  const name = fullName(type);
  const m = (message ?? {}) as Plain;
  if (name === 'google.protobuf.Duration') return formatDuration(m);
  if (WRAPPERS.has(name)) return scalarToJson(m['value'] ?? defaultWrapperValue(name));
  if (name === 'google.protobuf.Struct') return structToJson(m);
  if (name === 'google.protobuf.Value') return valueToJson(m);
  if (name === 'google.protobuf.ListValue') return asList(m['values']).map((v) => valueToJson(v as Plain));
  if (name === 'google.protobuf.Any') return anyToJson(m);
  const out: Plain = {};
  for (const field of type.fieldsArray) {
    if (!Object.prototype.hasOwnProperty.call(m, field.name)) continue;
    const value = m[field.name];
    if (value === undefined || value === null) continue;
    field.resolve();
    const element = (v: unknown): unknown =>
      field.resolvedType instanceof protobuf.Type
        ? messageToJson(field.resolvedType, v)
        : field.resolvedType instanceof protobuf.Enum
          ? enumName(field.resolvedType, v)
          : scalarToJson(v);
    if (field.map) {
      if (!isRecord(value) || Object.keys(value).length === 0) continue;
      out[camel(field.name)] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, element(v)]));
    } else if (field.repeated) {
      if (!Array.isArray(value) || value.length === 0) continue;
      out[camel(field.name)] = value.map(element);
    } else {
      out[camel(field.name)] = element(value);
    }
  }
  return out;
}

function defaultWrapperValue(name: string): unknown {
  if (name === 'google.protobuf.BoolValue') return false;
  if (name === 'google.protobuf.StringValue') return '';
  return 0;
}

function scalarToJson(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  // 64-bit integers decode as Long objects.
  if (isRecord(v) && typeof v['low'] === 'number' && typeof v['high'] === 'number') {
    return protobuf.util.LongBits.from(v as unknown as protobuf.Long).toNumber(v['unsigned'] === true);
  }
  return v;
}

function enumName(e: protobuf.Enum, v: unknown): unknown {
  return typeof v === 'number' ? (e.valuesById[v] ?? v) : v;
}

function anyToJson(m: Plain): unknown {
  const typeUrl = typeof m['type_url'] === 'string' ? m['type_url'] : '';
  const type = lookupMessageType(typeUrl);
  const bytes = m['value'] instanceof Uint8Array ? m['value'] : new Uint8Array();
  if (!type) return { '@type': typeUrl };
  const inner = messageToJson(type, type.decode(bytes));
  if (fullName(type).startsWith('google.protobuf.')) return { '@type': typeUrl, value: inner };
  return { '@type': typeUrl, ...(inner as Plain) };
}

function structToJson(m: Plain): unknown {
  const out: Plain = {};
  const fields = isRecord(m['fields']) ? m['fields'] : {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueToJson(v as Plain);
  return out;
}

function valueToJson(m: Plain): unknown {
  // Decoded messages inherit every member's default from the prototype; only own properties were sent.
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(m, k);
  if (has('structValue') && isRecord(m['structValue'])) return structToJson(m['structValue']);
  if (has('listValue') && isRecord(m['listValue']))
    return asList(m['listValue']['values']).map((v) => valueToJson(v as Plain));
  if (has('stringValue') && typeof m['stringValue'] === 'string') return m['stringValue'];
  if (has('numberValue') && typeof m['numberValue'] === 'number') return m['numberValue'];
  if (has('boolValue') && typeof m['boolValue'] === 'boolean') return m['boolValue'];
  return null;
}

function formatDuration(m: Plain): string {
  const seconds = Number(scalarToJson(m['seconds'] ?? 0));
  const nanos = Number(m['nanos'] ?? 0);
  if (nanos === 0) return `${seconds}s`;
  const negative = seconds < 0 || nanos < 0;
  let frac = String(Math.abs(nanos)).padStart(9, '0');
  frac = frac.endsWith('000000') ? frac.slice(0, 3) : frac.endsWith('000') ? frac.slice(0, 6) : frac;
  return `${negative ? '-' : ''}${Math.abs(seconds)}.${frac}s`;
}

// ---- comparison ----

function isDefaultScalar(v: unknown): boolean {
  return v === '' || v === 0 || v === false;
}

function collectLost(input: unknown, output: unknown, at: string, lost: string[]): void {
  if (Array.isArray(input)) {
    const out = Array.isArray(output) ? output : [];
    input.forEach((v, i) => collectLost(v, out[i], `${at}[${i}]`, lost));
    if (input.length === 0) return;
    return;
  }
  if (isRecord(input)) {
    if (!isRecord(output)) {
      lost.push(at || '(root)');
      return;
    }
    for (const [k, v] of Object.entries(input)) collectLost(v, output[k], at ? `${at}.${k}` : k, lost);
    return;
  }
  if (output === undefined && isDefaultScalar(input)) return;
  if (output === undefined || String(output) !== String(input)) lost.push(at || '(root)');
}

/**
 * Istio's `istio.alpn` HTTP filter config is not in Envoy's API tree (istio/api 1.17
 * envoy/config/filter/http/alpn/v2alpha1/config.proto):
 * `message FilterConfig { enum Protocol { HTTP10 = 0; HTTP11 = 1; HTTP2 = 2; }
 *   message AlpnOverride { Protocol upstream_protocol = 1; repeated string alpn_override = 2; }
 *   repeated AlpnOverride alpn_override = 1; }`.
 */
function defineIstioAlpnFilter(root: protobuf.Root): void {
  const ns = root.define('istio.envoy.config.filter.http.alpn.v2alpha1');
  if (ns.get('FilterConfig')) return;
  const protocol = new protobuf.Enum('Protocol', { HTTP10: 0, HTTP11: 1, HTTP2: 2 });
  const override = new protobuf.Type('AlpnOverride')
    .add(new protobuf.Field('upstream_protocol', 1, 'Protocol'))
    .add(new protobuf.Field('alpn_override', 2, 'string', 'repeated'));
  const config = new protobuf.Type('FilterConfig')
    .add(protocol)
    .add(override)
    .add(new protobuf.Field('alpn_override', 1, 'AlpnOverride', 'repeated'));
  ns.add(config);
}
