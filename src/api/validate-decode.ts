// Istio decodes every spec into its proto (golang/protobuf jsonpb, unknown fields allowed) before any validation
// rule runs, and never validates an object it cannot decode. This walks a spec as that decoder does and lists
// what it would reject: one problem per offending field, with the field's path.
import { durationDecodeError, goQuote, mapKeyPath } from './fields.js';
import type { ProtoEnumName, ProtoFieldType } from './validate-decode-schema.js';
import { PROTO_ENUMS, PROTO_MESSAGES, PROTO_ROOTS } from './validate-decode-schema.js';

export interface DecodeProblem {
  /** Where the field is, for its line (`spec.http[0].timeout`; odd map keys stay on the map's path). */
  path: string;
  message: string;
}

/**
 * What Istio's decoder rejects in a kind's spec, or nothing for kinds Istio does not decode from a proto.
 * Messages read `cannot decode <field>: <jsonpb's error>`; Duration fields keep the bare `bad Duration: ...` /
 * `json: ...` text skiff has always given for them.
 */
export function specDecodeProblems(kindKey: string, spec: unknown): DecodeProblem[] {
  const root = PROTO_ROOTS[kindKey];
  if (root === undefined || !isObject(spec)) return [];
  const problems: DecodeProblem[] = [];
  decodeMessage(problems, { path: 'spec', shown: 'spec' }, spec, root);
  return problems;
}

/** A field's place: `path` finds its line, `shown` names it in the message. */
interface At {
  path: string;
  shown: string;
}

type JsonKind = 'string' | 'number' | 'bool' | 'array' | 'object' | 'null';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function jsonKind(value: unknown): JsonKind {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'number' ? 'number' : 'string';
}

/** encoding/json's UnmarshalTypeError text. */
function typeError(kind: string, goType: string): string {
  return `json: cannot unmarshal ${kind} into Go value of type ${goType}`;
}

const GO_OBJECT = 'map[string]json.RawMessage';
const GO_LIST = '[]json.RawMessage';

function report(problems: DecodeProblem[], at: At, goError: string): void {
  problems.push({ path: at.path, message: `cannot decode ${at.shown}: ${goError}` });
}

/** protoc's JSON name: underscores dropped, the letter after each one upper-cased. */
function jsonName(protoName: string): string {
  return protoName.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
}

function decodeMessage(problems: DecodeProblem[], at: At, value: unknown, message: string): void {
  const fields = PROTO_MESSAGES[message];
  if (fields === undefined) throw new Error(`no decode schema for ${message}`);
  if (!isObject(value)) {
    report(problems, at, typeError(jsonKind(value), GO_OBJECT));
    return;
  }
  for (const [protoName, type] of Object.entries(fields)) {
    // jsonpb takes the proto name and the JSON name; when both are given the JSON name wins.
    const json = jsonName(protoName);
    const key = Object.hasOwn(value, json) ? json : Object.hasOwn(value, protoName) ? protoName : undefined;
    if (key === undefined) continue;
    decodeField(problems, { path: `${at.path}.${key}`, shown: `${at.shown}.${key}` }, value[key], type);
  }
}

function decodeField(problems: DecodeProblem[], at: At, value: unknown, type: ProtoFieldType): void {
  // null leaves any field unset.
  if (value === null || value === undefined) return;
  if (type.startsWith('[] ')) {
    if (!Array.isArray(value)) {
      report(problems, at, typeError(jsonKind(value), GO_LIST));
      return;
    }
    const itemType = type.slice(3);
    for (const [i, item] of value.entries()) {
      if (item === null) continue;
      decodeSingular(problems, { path: `${at.path}[${i}]`, shown: `${at.shown}[${i}]` }, item, itemType);
    }
    return;
  }
  const map = /^map(?:<(\w+)>)? (.+)$/.exec(type);
  if (map) {
    if (!isObject(value)) {
      report(problems, at, typeError(jsonKind(value), GO_OBJECT));
      return;
    }
    const [, keyType, valueType = ''] = map;
    for (const [key, item] of Object.entries(value)) {
      const entry = {
        path: mapKeyPath(at.path, key),
        shown: /^[A-Za-z0-9_-]+$/.test(key) ? `${at.shown}.${key}` : `${at.shown}[${goQuote(key)}]`,
      };
      // Non-string keys are read from the key's text, as a number field's value would be.
      const keyError = keyType === undefined ? undefined : numberFromText(key, keyType);
      if (keyError !== undefined) report(problems, entry, keyError);
      else if (item !== null) decodeSingular(problems, entry, item, valueType);
    }
    return;
  }
  decodeSingular(problems, at, value, type);
}

const WRAPPERS: Readonly<Record<string, string>> = {
  BoolValue: 'bool',
  StringValue: 'string',
  BytesValue: 'bytes',
  Int32Value: 'int32',
  Int64Value: 'int64',
  UInt32Value: 'uint32',
  UInt64Value: 'uint64',
  FloatValue: 'float',
  DoubleValue: 'double',
};

function decodeSingular(problems: DecodeProblem[], at: At, value: unknown, type: ProtoFieldType): void {
  if (type === 'Duration') {
    const err = durationDecodeError(value);
    if (err !== undefined) problems.push({ path: at.path, message: err });
    return;
  }
  if (type === 'Struct') {
    // Any JSON value fits inside a Struct; only the Struct itself must be an object.
    if (!isObject(value)) report(problems, at, `bad StructValue: ${typeError(jsonKind(value), GO_OBJECT)}`);
    return;
  }
  if (type.startsWith('enum ')) {
    const err = enumError(value, type.slice(5) as ProtoEnumName);
    if (err !== undefined) report(problems, at, err);
    return;
  }
  // A wrapper (UInt32Value, BoolValue ...) is written as its bare value.
  const scalar = WRAPPERS[type] ?? type;
  if (SCALAR_GO_TYPES[scalar] !== undefined) {
    const err = scalarError(value, scalar);
    if (err !== undefined) report(problems, at, err);
    return;
  }
  decodeMessage(problems, at, value, type);
}

/** An enum is given by value name or by number; proto3 enums are open, so any int32 number decodes. */
function enumError(value: unknown, enumType: ProtoEnumName): string | undefined {
  if (typeof value === 'string') {
    const names: readonly string[] = PROTO_ENUMS[enumType];
    // jsonpb quotes the raw JSON token (`"\"STRICT\""`); the value is shown once-quoted here.
    return names.includes(value) ? undefined : `unknown value ${goQuote(value)} for enum ${enumType}`;
  }
  // Numbers go to encoding/json as they are (no unquoting: a string was looked up as a name above).
  return numberError(value, 'int32', 'protoreflect.EnumNumber');
}

const SCALAR_GO_TYPES: Readonly<Record<string, string>> = {
  string: 'string',
  bool: 'bool',
  bytes: '[]uint8',
  int32: 'int32',
  sint32: 'int32',
  sfixed32: 'int32',
  int64: 'int64',
  sint64: 'int64',
  sfixed64: 'int64',
  uint32: 'uint32',
  fixed32: 'uint32',
  uint64: 'uint64',
  fixed64: 'uint64',
  float: 'float32',
  double: 'float64',
};

function scalarError(value: unknown, scalar: string): string | undefined {
  const goType = SCALAR_GO_TYPES[scalar] ?? scalar;
  switch (scalar) {
    case 'string':
      return typeof value === 'string' ? undefined : typeError(jsonKind(value), goType);
    case 'bool':
      // A quoted "true" is a string to encoding/json.
      return typeof value === 'boolean' ? undefined : typeError(jsonKind(value), goType);
    case 'bytes':
      return typeof value === 'string' ? base64Error(value) : typeError(jsonKind(value), goType);
    default:
      return numberError(value, scalar, goType);
  }
}

/**
 * A number field. jsonpb strips one pair of quotes from the JSON token and hands the rest to encoding/json,
 * so `"80"` reads as 80 while `"eighty"` is a JSON syntax error.
 */
function numberError(value: unknown, scalar: string, goType: string): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `json: unsupported value: ${goJsonNumber(value)}`;
    return numberLiteralError(goJsonNumber(value), scalar, goType);
  }
  if (typeof value === 'boolean') return typeError('bool', goType);
  if (typeof value !== 'string') return typeError(jsonKind(value), goType);
  const isFloat = scalar === 'float' || scalar === 'double';
  if (isFloat && (value === 'NaN' || value === 'Infinity' || value === '-Infinity')) return undefined;
  return numberFromText(goJsonStringContent(value), scalar, goType);
}

/** The number in JSON text (a quoted field value without its quotes, or a map key) for a number type. */
function numberFromText(
  text: string,
  scalar: string,
  goType = SCALAR_GO_TYPES[scalar] ?? scalar,
): string | undefined {
  const token = scanJsonValue(text);
  if ('error' in token) return token.error;
  if (token.kind === 'null') return undefined;
  if (token.kind !== 'number') return typeError(token.kind, goType);
  return numberLiteralError(token.text, scalar, goType);
}

const INT_RANGES: Readonly<Record<string, readonly [bigint, bigint]>> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** encoding/json's check of a number literal against an integer (strconv.ParseInt/ParseUint) or float type. */
function numberLiteralError(literal: string, scalar: string, goType: string): string | undefined {
  const range = INT_RANGES[scalar];
  let fits: boolean;
  if (range) {
    const unsigned = range[0] === 0n;
    fits = (unsigned ? /^\d+$/ : /^-?\d+$/).test(literal) && inRange(BigInt(literal), range);
  } else {
    const n = Number(literal);
    fits = Number.isFinite(n) && (scalar !== 'float' || Math.abs(n) <= 3.4028234663852886e38);
  }
  return fits ? undefined : `json: cannot unmarshal number ${literal} into Go value of type ${goType}`;
}

function inRange(n: bigint, [min, max]: readonly [bigint, bigint]): boolean {
  return n >= min && n <= max;
}

/** encoding/json's []byte: standard base64 with padding (line breaks are skipped). */
function base64Error(text: string): string | undefined {
  const s = text.replace(/[\r\n]/g, '');
  if (/^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0) return undefined;
  const bad = /[^A-Za-z0-9+/]/.exec(s);
  return `illegal base64 data at input byte ${bad ? bad.index : s.length}`;
}

// ---- Go's encoding/json: how a value is written and what its scanner says about bad input ----

/** Go's json.Marshal text for a float64 (as YAML numbers reach Istio): shortest digits, exponent from 1e21. */
function goJsonNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  return String(n);
}

/** The inside of the JSON string Go writes for `s` (HTML-safe escaping, as sigs.k8s.io/yaml produces it). */
function goJsonStringContent(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return out;
}

type JsonToken = { kind: JsonKind; text: string } | { error: string };

const END = 'unexpected end of JSON input';

/** Go's quoteChar for the byte its scanner stopped at. */
function quoteChar(byte: number): string {
  if (byte === 0x27) return `'\\''`;
  if (byte === 0x22) return `'"'`;
  // Go quotes the byte as the rune of the same number (U+0000..U+00FF).
  const quoted =
    byte === 0xa0 || byte === 0xad ? `"\\u00${byte.toString(16)}"` : goQuote(String.fromCharCode(byte));
  return `'${quoted.slice(1, -1)}'`;
}

class ScanError extends Error {}

/**
 * Scans one JSON value as encoding/json's scanner does (whole input, then only whitespace) and returns its kind,
 * or the error text Go gives for the first bad byte.
 */
function scanJsonValue(text: string): JsonToken {
  const bytes = Buffer.from(text, 'utf8');
  let i = 0;
  const fail = (context: string): never => {
    throw new ScanError(i >= bytes.length ? END : `invalid character ${quoteChar(bytes[i] ?? 0)} ${context}`);
  };
  const isSpace = (b: number | undefined) => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
  const skipSpace = () => {
    while (isSpace(bytes[i])) i++;
  };
  const isDigit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
  const digits = (context: string) => {
    if (!isDigit(bytes[i])) fail(context);
    while (isDigit(bytes[i])) i++;
  };
  const literal = (word: string): void => {
    i++;
    for (const ch of word.slice(1)) {
      if (bytes[i] !== ch.charCodeAt(0))
        fail(`in literal ${word} (expecting ${quoteChar(ch.charCodeAt(0))})`);
      i++;
    }
  };
  const string = () => {
    i++;
    for (;;) {
      const b = bytes[i];
      if (b === undefined || b < 0x20) fail('in string literal');
      if (b === 0x22) {
        i++;
        return;
      }
      if (b === 0x5c) {
        i++;
        const e = bytes[i];
        if (e === 0x75) {
          i++;
          for (let k = 0; k < 4; k++) {
            if (!/^[0-9a-fA-F]$/.test(String.fromCharCode(bytes[i] ?? 0x20))) {
              fail('in \\u hexadecimal character escape');
            }
            i++;
          }
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(String.fromCharCode(e))) fail('in string escape code');
      }
      i++;
    }
  };
  const value = (): JsonKind => {
    skipSpace();
    const b = bytes[i];
    if (b === 0x7b) {
      i++;
      skipSpace();
      if (bytes[i] === 0x7d) {
        i++;
        return 'object';
      }
      for (;;) {
        skipSpace();
        if (bytes[i] !== 0x22) fail('looking for beginning of object key string');
        string();
        skipSpace();
        if (bytes[i] !== 0x3a) fail('after object key');
        i++;
        value();
        skipSpace();
        if (bytes[i] === 0x2c) {
          i++;
          continue;
        }
        if (bytes[i] === 0x7d) {
          i++;
          return 'object';
        }
        fail('after object key:value pair');
      }
    }
    if (b === 0x5b) {
      i++;
      skipSpace();
      if (bytes[i] === 0x5d) {
        i++;
        return 'array';
      }
      for (;;) {
        value();
        skipSpace();
        if (bytes[i] === 0x2c) {
          i++;
          continue;
        }
        if (bytes[i] === 0x5d) {
          i++;
          return 'array';
        }
        fail('after array element');
      }
    }
    if (b === 0x22) {
      string();
      return 'string';
    }
    const word = b === 0x74 ? 'true' : b === 0x66 ? 'false' : b === 0x6e ? 'null' : undefined;
    if (word !== undefined) {
      literal(word);
      return word === 'null' ? 'null' : 'bool';
    }
    if (b === 0x2d || isDigit(b)) {
      if (b === 0x2d) {
        i++;
        if (!isDigit(bytes[i])) fail('in numeric literal');
      }
      if (bytes[i] === 0x30) i++;
      else digits('in numeric literal');
      if (bytes[i] === 0x2e) {
        i++;
        digits('after decimal point in numeric literal');
      }
      if (bytes[i] === 0x65 || bytes[i] === 0x45) {
        i++;
        if (bytes[i] === 0x2b || bytes[i] === 0x2d) i++;
        digits('in exponent of numeric literal');
      }
      return 'number';
    }
    return fail('looking for beginning of value');
  };
  try {
    skipSpace();
    const start = i;
    const kind = value();
    const end = i;
    skipSpace();
    if (i < bytes.length) fail('after top-level value');
    return { kind, text: bytes.subarray(start, end).toString('utf8') };
  } catch (err) {
    if (err instanceof ScanError) return { error: err.message };
    throw err;
  }
}
