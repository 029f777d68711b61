// Inline JWKS checking as RequestAuthentication's webhook does it: lestrrat-go/jwx v1.2.25 `jwk.Parse`,
// which first runs Go's encoding/json syntax check and then decodes the key set key by key.
import { goQuote } from './fields.js';

// ---- encoding/json syntax check (scanner.go), with Go's SyntaxError texts ----

type Step = (c: number) => void;

const enum Frame {
  ObjectKey,
  ObjectValue,
  ArrayValue,
}

const MAX_NESTING = 10000;

/** Go's quoteChar: how a byte appears in a json SyntaxError. */
function quoteByte(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  const q = goQuote(String.fromCodePoint(c));
  return `'${q.slice(1, -1)}'`;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexByte(c: number): boolean {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** A port of encoding/json's validating scanner: undefined for valid JSON, else Go's error text. */
export function goJsonSyntaxError(text: string): string | undefined {
  const bytes = Buffer.from(text, 'utf8');
  const stack: Frame[] = [];
  let error: string | undefined;
  let endTop = false;
  let step: Step;

  const fail = (c: number, context: string): void => {
    error = `invalid character ${quoteByte(c)} ${context}`;
    step = () => undefined;
  };
  const push = (frame: Frame): void => {
    stack.push(frame);
    if (stack.length > MAX_NESTING) {
      error = 'exceeded max depth';
      step = () => undefined;
    }
  };
  const literal =
    (rest: string, name: string): Step =>
    (c) => {
      const want = rest.charCodeAt(0);
      if (c !== want) return fail(c, `in literal ${name} (expecting ${quoteByte(want)})`);
      step = rest.length === 1 ? endValue : literal(rest.slice(1), name);
    };

  const beginValue: Step = (c) => {
    if (isSpace(c)) return;
    switch (c) {
      case 0x7b: // {
        step = beginStringOrEmpty;
        return push(Frame.ObjectKey);
      case 0x5b: // [
        step = beginValueOrEmpty;
        return push(Frame.ArrayValue);
      case 0x22:
        step = inString;
        return;
      case 0x2d: // -
        step = neg;
        return;
      case 0x30:
        step = zero;
        return;
      case 0x74:
        step = literal('rue', 'true');
        return;
      case 0x66:
        step = literal('alse', 'false');
        return;
      case 0x6e:
        step = literal('ull', 'null');
        return;
    }
    if (c >= 0x31 && c <= 0x39) {
      step = one;
      return;
    }
    fail(c, 'looking for beginning of value');
  };
  const beginValueOrEmpty: Step = (c) => {
    if (isSpace(c)) return;
    if (c === 0x5d) return endValue(c);
    beginValue(c);
  };
  const beginString: Step = (c) => {
    if (isSpace(c)) return;
    if (c === 0x22) {
      step = inString;
      return;
    }
    fail(c, 'looking for beginning of object key string');
  };
  const beginStringOrEmpty: Step = (c) => {
    if (isSpace(c)) return;
    if (c === 0x7d) {
      stack[stack.length - 1] = Frame.ObjectValue;
      return endValue(c);
    }
    beginString(c);
  };
  const endTopStep: Step = (c) => {
    if (!isSpace(c)) fail(c, 'after top-level value');
  };
  const endValue: Step = (c) => {
    const top = stack[stack.length - 1];
    if (top === undefined) {
      step = endTopStep;
      endTop = true;
      return endTopStep(c);
    }
    if (isSpace(c)) {
      step = endValue;
      return;
    }
    if (top === Frame.ObjectKey) {
      if (c === 0x3a) {
        stack[stack.length - 1] = Frame.ObjectValue;
        step = beginValue;
        return;
      }
      return fail(c, 'after object key');
    }
    if (top === Frame.ObjectValue) {
      if (c === 0x2c) {
        stack[stack.length - 1] = Frame.ObjectKey;
        step = beginString;
        return;
      }
      if (c === 0x7d) return popFrame();
      return fail(c, 'after object key:value pair');
    }
    if (c === 0x2c) {
      step = beginValue;
      return;
    }
    if (c === 0x5d) return popFrame();
    fail(c, 'after array element');
  };
  const popFrame = (): void => {
    stack.pop();
    if (stack.length === 0) {
      step = endTopStep;
      endTop = true;
    } else step = endValue;
  };
  const inString: Step = (c) => {
    if (c === 0x22) {
      step = endValue;
      return;
    }
    if (c === 0x5c) {
      step = inStringEsc;
      return;
    }
    if (c < 0x20) fail(c, 'in string literal');
  };
  const inStringEsc: Step = (c) => {
    if ('bfnrt\\/"'.includes(String.fromCharCode(c))) {
      step = inString;
      return;
    }
    if (c === 0x75) {
      step = hexEscape(4);
      return;
    }
    fail(c, 'in string escape code');
  };
  const hexEscape =
    (left: number): Step =>
    (c) => {
      if (!isHexByte(c)) return fail(c, 'in \\u hexadecimal character escape');
      step = left === 1 ? inString : hexEscape(left - 1);
    };
  const neg: Step = (c) => {
    if (c === 0x30) step = zero;
    else if (c >= 0x31 && c <= 0x39) step = one;
    else fail(c, 'in numeric literal');
  };
  const one: Step = (c) => {
    if (isDigit(c)) return;
    zero(c);
  };
  const zero: Step = (c) => {
    if (c === 0x2e) step = dot;
    else if (c === 0x65 || c === 0x45) step = exponent;
    else endValue(c);
  };
  const dot: Step = (c) => {
    if (isDigit(c)) step = dotDigits;
    else fail(c, 'after decimal point in numeric literal');
  };
  const dotDigits: Step = (c) => {
    if (isDigit(c)) return;
    if (c === 0x65 || c === 0x45) step = exponent;
    else endValue(c);
  };
  const exponent: Step = (c) => {
    if (c === 0x2b || c === 0x2d) {
      step = exponentSign;
      return;
    }
    exponentSign(c);
  };
  const exponentSign: Step = (c) => {
    if (isDigit(c)) step = exponentDigits;
    else fail(c, 'in exponent of numeric literal');
  };
  const exponentDigits: Step = (c) => {
    if (!isDigit(c)) endValue(c);
  };

  step = beginValue;
  for (const c of bytes) {
    step(c);
    if (error !== undefined) return error;
  }
  if (endTop) return undefined;
  // Go's scanner.eof feeds one space to finish a trailing number before declaring the input short.
  step(0x20);
  if (error !== undefined) return error;
  return endTop ? undefined : 'unexpected end of JSON input';
}

// ---- jwk.Parse ----

/** The JSON kind Go names in an UnmarshalTypeError. */
function goJsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'object';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'number' ? 'number' : 'string';
}

/** encoding/json matches struct fields by exact name first, then case-insensitively. */
function goJsonField(obj: Record<string, unknown>, name: string): { found: boolean; value?: unknown } {
  if (name in obj) return { found: true, value: obj[name] };
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name);
  return key === undefined ? { found: false } : { found: true, value: obj[key] };
}

const HINT_TYPE = 'struct { Kty string "json:\\"kty\\""; D json.RawMessage "json:\\"d\\"" }';

interface KeyKind {
  type: string;
  required: readonly string[];
}

function keyKind(kty: string, isPrivate: boolean): KeyKind | undefined {
  switch (kty) {
    case 'RSA':
      return isPrivate
        ? { type: '*jwk.rsaPrivateKey', required: ['d', 'e', 'n'] }
        : { type: '*jwk.rsaPublicKey', required: ['e', 'n'] };
    case 'EC':
      return isPrivate
        ? { type: '*jwk.ecdsaPrivateKey', required: ['crv', 'd', 'x', 'y'] }
        : { type: '*jwk.ecdsaPublicKey', required: ['crv', 'x', 'y'] };
    case 'oct':
      return { type: '*jwk.symmetricKey', required: ['k'] };
    case 'OKP':
      return isPrivate
        ? { type: '*jwk.okpPrivateKey', required: ['crv', 'd', 'x'] }
        : { type: '*jwk.okpPublicKey', required: ['crv', 'x'] };
  }
  return undefined;
}

/** jwk.ParseKey for one decoded key: undefined when it would succeed, else jwx's error text. */
function parseKeyError(value: unknown): string | undefined {
  let kty = '';
  let isPrivate = false;
  if (value !== null) {
    if (typeof value !== 'object' || Array.isArray(value)) {
      return `failed to unmarshal JSON into key hint: json: cannot unmarshal ${goJsonKind(value)} into Go value of type ${HINT_TYPE}`;
    }
    const obj = value as Record<string, unknown>;
    const ktyField = goJsonField(obj, 'kty');
    if (ktyField.found && ktyField.value !== null && typeof ktyField.value !== 'string') {
      return `failed to unmarshal JSON into key hint: json: cannot unmarshal ${goJsonKind(ktyField.value)} into Go struct field .kty of type string`;
    }
    kty = typeof ktyField.value === 'string' ? ktyField.value : '';
    isPrivate = goJsonField(obj, 'd').found;
  }
  const kind = keyKind(kty, isPrivate);
  if (!kind) return `invalid key type from JSON (${kty})`;
  const obj = (value ?? {}) as Record<string, unknown>;
  for (const field of kind.required) {
    if (obj[field] === undefined || obj[field] === null) {
      return `failed to unmarshal JSON into key (${kind.type}): required field ${field} is missing`;
    }
  }
  return undefined;
}

/** The error jwx's set decoder gives for a syntactically valid document, or undefined. */
function keySetError(doc: unknown): string | undefined {
  if (Array.isArray(doc)) return `expected '{', but got '['`;
  if (typeof doc === 'string') {
    return doc === 'keys'
      ? `failed to decode "keys": EOF`
      : `failed to decode value for key ${goQuote(doc)}: EOF`;
  }
  if (doc === null || typeof doc !== 'object') return 'error reading token: EOF';
  const set = doc as Record<string, unknown>;
  if (!('keys' in set)) {
    const err = parseKeyError(set);
    return err === undefined ? undefined : `failed to parse sole key in key set: ${err}`;
  }
  const keys = set['keys'];
  if (keys === null) return undefined;
  if (!Array.isArray(keys)) {
    return `failed to decode "keys": json: cannot unmarshal ${goJsonKind(keys)} into Go value of type []json.RawMessage`;
  }
  for (const [i, key] of keys.entries()) {
    const err = parseKeyError(key);
    if (err !== undefined) return `failed to decode key #${i} in "keys": ${err}`;
  }
  return undefined;
}

/**
 * RequestAuthentication's inline `jwks` check: undefined when jwx would parse the key set, else the
 * webhook's `jwks parse error: ...` text. Key material (base64 values, curves) is not decoded.
 */
export function jwksError(jwks: string): string | undefined {
  const syntax = goJsonSyntaxError(jwks);
  let err = syntax;
  if (err === undefined) {
    try {
      err = keySetError(JSON.parse(jwks));
    } catch (e) {
      err = (e as Error).message;
    }
  }
  return err === undefined ? undefined : `jwks parse error: failed to unmarshal JWK set: ${err}`;
}
