/**
 * Shared pieces for reading Envoy admin captures (`/config_dump`, `/clusters?format=json`) the way
 * istioctl 1.17's `proxy-config` does: tolerant field access (snake_case as Envoy writes it,
 * camelCase as istioctl prints it), section lookup by `@type`, protojson-style key naming for
 * `-o json|yaml`, Go's `sort.Slice` order and the Istio metadata helpers the tables share.
 */
import { Document, isScalar, parse as parseYaml, visit } from 'yaml';
import { CliError, EXIT } from './errors.js';

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** snake_case → lowerCamelCase, as protobuf derives JSON names. */
export function camelName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** A field of a decoded proto in either spelling; undefined when absent. */
export function field(o: unknown, snakeName: string): unknown {
  if (!isObject(o)) return undefined;
  if (snakeName in o) return o[snakeName];
  const camel = camelName(snakeName);
  return camel in o ? o[camel] : undefined;
}

/** A copy of `o` with a field replaced, keeping whichever spelling the input used. */
export function withField(o: JsonObject, snakeName: string, value: unknown): JsonObject {
  const camel = camelName(snakeName);
  const key = !(snakeName in o) && camel in o ? camel : snakeName;
  return { ...o, [key]: value };
}

export function withoutField(o: JsonObject, snakeName: string): JsonObject {
  const camel = camelName(snakeName);
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== snakeName && k !== camel));
}

export function objField(o: unknown, name: string): JsonObject | undefined {
  const v = field(o, name);
  return isObject(v) ? v : undefined;
}

export function arrField(o: unknown, name: string): unknown[] {
  const v = field(o, name);
  return Array.isArray(v) ? v : [];
}

export function strField(o: unknown, name: string): string {
  const v = field(o, name);
  return typeof v === 'string' ? v : '';
}

/** Numeric fields may be JSON numbers or (for 64-bit types) strings; anything else is 0. */
export function numField(o: unknown, name: string): number {
  const v = field(o, name);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  return 0;
}

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** An error that ends `proxy-config` with `Error: <message>` and exit 1, as cobra does. */
export function dumpError(message: string): CliError {
  return new CliError(message, EXIT.unknown);
}

/** Parses a capture; bad JSON becomes istioctl's unmarshalling error, never a stack trace. */
export function parseCapture(text: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw dumpError(`error unmarshalling config dump response from Envoy: ${(err as Error).message}`);
  }
  if (!isObject(value)) {
    throw dumpError('error unmarshalling config dump response from Envoy: not a JSON object');
  }
  return value;
}

export const SECTION = {
  bootstrap: 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
  listeners: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  endpoints: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
  clusters: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  routes: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  secrets: 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
} as const;

/** The `configs[]` entry of a config_dump with this `@type` (the last one wins, as in istioctl). */
export function findSection(dump: JsonObject, typeUrl: string): JsonObject | undefined {
  let found: JsonObject | undefined;
  for (const c of arrField(dump, 'configs')) {
    if (isObject(c) && c['@type'] === typeUrl) found = c;
  }
  return found;
}

export function requireSection(dump: JsonObject, typeUrl: string): JsonObject {
  const s = findSection(dump, typeUrl);
  if (!s) throw dumpError(`config dump has no configuration type ${typeUrl}`);
  return s;
}

/**
 * Values of these fields are `google.protobuf.Struct`s (or maps of them): their keys are data, not field
 * names. The same tables as the config-dump writer's (src/xds/generate/config-dump.ts), in both spellings.
 */
const VERBATIM_FIELDS = new Set(
  [
    'filter_metadata',
    'static_layer',
    'json_format',
    'transport_socket_match_criteria',
    'default_subset',
    'args',
  ].flatMap((n) => [n, camelName(n)]),
);
/** Struct-valued fields with common names: verbatim only under these parents. */
const VERBATIM_UNDER: Record<string, string[]> = {
  metadata: ['node', 'user_agent_build_version', 'version'], // Node, BuildVersion
  match: ['transport_socket_matches'], // Cluster.TransportSocketMatch
  config: ['google_grpc'],
};
/** map<string, Message> fields: keys are kept, the values are messages. */
const MAP_OF_MESSAGES = new Set(
  [
    'typed_filter_metadata',
    'typed_per_filter_config',
    'typed_extension_protocol_options',
    'named_endpoints',
    'dynamic_parameters',
    'certificate_provider_instances',
    'policies',
    'providers',
    'requirement_map',
    'source_codes',
    'filter_state_objects',
  ].flatMap((n) => [n, camelName(n)]),
);

function isVerbatim(key: string, parentKey: string): boolean {
  if (VERBATIM_FIELDS.has(key)) return true;
  const snakeParent = parentKey.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return VERBATIM_UNDER[key]?.includes(snakeParent) ?? false;
}

/**
 * Renames proto field names to their JSON (camelCase) names, as protojson prints them, leaving
 * map keys and Struct contents untouched.
 */
export function toProtoJson(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => toProtoJson(v, parentKey));
  if (!isObject(value)) return value;
  const typeUrl = typeof value['@type'] === 'string' ? value['@type'] : '';
  const structPayload = /\.(Struct|Value|ListValue|TypedStruct)$/.test(typeUrl);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    const name = /^[a-z][a-z0-9_]*$/.test(k) ? camelName(k) : k;
    if (isVerbatim(k, parentKey) || (structPayload && k === 'value')) {
      out[name] = v;
    } else if (MAP_OF_MESSAGES.has(k) && isObject(v)) {
      out[name] = Object.fromEntries(Object.entries(v).map(([mk, mv]) => [mk, toProtoJson(mv, k)]));
    } else {
      out[name] = toProtoJson(v, k);
    }
  }
  return out;
}

/** Go's encoding/json escapes these inside strings (HTML safety); they only occur inside strings. */
function goHtmlEscape(json: string): string {
  return json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export type DumpFormat = 'json' | 'yaml';

/**
 * `json.MarshalIndent(protos, "", "    ")` (optionally through `yaml.JSONToYAML`) followed by
 * `fmt.Fprintln`: the text istioctl prints for `-o json|yaml`.
 */
export function renderProtoList(items: unknown[], format: DumpFormat, order?: readonly string[]): string {
  const converted = items.map((i) => {
    // The protos were unpacked from their Any, so the top level carries no `@type`.
    const bare = isObject(i) ? Object.fromEntries(Object.entries(i).filter(([k]) => k !== '@type')) : i;
    const json = toProtoJson(bare);
    return order && isObject(json) ? declarationOrder(json, order) : json;
  });
  return renderValue(converted, format, true);
}

/**
 * Go's protojson writes fields in .proto declaration order while Envoy writes them by field
 * number; the two differ for some messages (a Cluster's `transport_socket_matches` is declared
 * first). Known fields are reordered; unknown ones follow in input order.
 */
export function declarationOrder(o: JsonObject, order: readonly string[]): JsonObject {
  const rank = new Map(order.map((k, i) => [k, i]));
  const keys = Object.keys(o);
  const known = keys.filter((k) => rank.has(k)).sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
  const unknown = keys.filter((k) => !rank.has(k));
  return Object.fromEntries([...known, ...unknown].map((k) => [k, o[k]]));
}

/** A single message printed with protojson indentation (bootstrap, secrets): no HTML escaping. */
export function renderProto(item: unknown, format: DumpFormat): string {
  return renderValue(toProtoJson(item), format, false);
}

/**
 * `sigs.k8s.io/yaml.JSONToYAML`, which goes through go-yaml v2 (YAML 1.1): keys sorted, block
 * sequences not indented, strings that would read back as another type double-quoted, other
 * strings that cannot be plain single-quoted.
 */
function goYaml(value: unknown): string {
  const doc = new Document(value, { version: '1.1', sortMapEntries: true });
  visit(doc, {
    Scalar(_key, node) {
      if (isScalar(node) && typeof node.value === 'string' && readsAsNonString(node.value)) {
        node.type = 'QUOTE_DOUBLE';
      }
    },
  });
  return doc.toString({ indentSeq: false, lineWidth: 0, singleQuote: true });
}

function readsAsNonString(s: string): boolean {
  if (s === '' || s.includes('\n')) return s === '';
  if (/^(~|null|Null|NULL)$/.test(s)) return true;
  try {
    // Only scalar resolution matters (go-yaml's resolve): numbers, booleans, timestamps.
    const v: unknown = parseYaml(s, { version: '1.1' });
    return typeof v === 'number' || typeof v === 'boolean' || v instanceof Date;
  } catch {
    return false;
  }
}

export function renderValue(value: unknown, format: DumpFormat, htmlEscape: boolean): string {
  if (format === 'yaml') return `${goYaml(value)}\n`;
  const text = JSON.stringify(value, null, 4);
  return `${htmlEscape ? goHtmlEscape(text) : text}\n`;
}

export { goSortSlice } from './configdump-gosort.js';

/** `model.ParseSubsetKey`: `dir|port|subset|host` or the DNS SRV form `dir_.port_.subset_.host`. */
export function parseSubsetKey(key: string): {
  direction: string;
  subset: string;
  fqdn: string;
  port: number;
} {
  const srv = key.startsWith('outbound_') || key.startsWith('inbound_');
  const parts = srv ? splitN(key, '.', 4) : key.split('|');
  if (parts.length < 4) return { direction: '', subset: '', fqdn: '', port: 0 };
  const trim = (s: string) => (s.endsWith('_') ? s.slice(0, -1) : s);
  const portText = trim(parts[1] ?? '');
  const port = /^[+-]?\d+$/.test(portText) ? Number(portText) : 0;
  return {
    direction: trim(parts[0] ?? ''),
    subset: srv ? trim(parts[2] ?? '') : (parts[2] ?? ''),
    fqdn: parts[3] ?? '',
    port,
  };
}

function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  if (parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/** Cluster-name order of `pc cluster` and the EDS table: fqdn, subset, port, direction. */
export function subsetKeyLess(a: string, b: string): boolean {
  const pa = safeSubsetKey(a);
  const pb = safeSubsetKey(b);
  if (pa.fqdn === pb.fqdn) {
    if (pa.subset === pb.subset) {
      if (pa.port === pb.port) return pa.direction < pb.direction;
      return pa.port < pb.port;
    }
    return pa.subset < pb.subset;
  }
  return pa.fqdn < pb.fqdn;
}

function safeSubsetKey(key: string) {
  if (key.split('|').length > 3) return parseSubsetKey(key);
  return { direction: '', subset: '', fqdn: key, port: 0 };
}

/** The owning Istio config of a cluster or route, from `metadata.filter_metadata.istio.config`. */
export function describeManagement(metadata: unknown): string {
  if (!isObject(metadata)) return '';
  const istio = objField(metadata, 'filter_metadata')?.['istio'];
  if (!isObject(istio) || !('config' in istio)) return '';
  const config = istio['config'];
  return renderConfigPath(typeof config === 'string' ? config : '');
}

/** istioctl 1.17 only understands v1alpha3 config paths; anything else is `<unknown>`. */
function renderConfigPath(path: string): string {
  if (path.startsWith('/apis/networking.istio.io/v1alpha3/namespaces/')) {
    const pieces = path.split('/');
    if (pieces.length !== 8) return '';
    return `${pieces[7]}.${pieces[5]}`;
  }
  return '<unknown>';
}

/** The proto3 default for a missing enum is its zero value. */
export function enumField(o: unknown, name: string, zero: string): string {
  const v = field(o, name);
  return typeof v === 'string' && v !== '' ? v : zero;
}

/** Go's `strings.EqualFold` for the ASCII/Unicode simple cases we meet in names. */
export function equalFold(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
