import { isIP } from 'node:net';
import { RE2JS } from 're2js';
import type { IssueCollector } from './validation.js';

/** Shared field checks with the messages Istio's validation (pkg/config/validation) gives. */

/** Where the checks report: an IssueCollector, or anything with the same methods. */
export type IssueSink = Pick<IssueCollector, 'error' | 'warn'>;

// ---- Go formatting, so messages read exactly as Istio's fmt.Errorf renders them ----

/** Go's `%q` (strconv.Quote) for a string: escapes quotes, backslashes and non-printable characters. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp === 0x07) out += '\\a';
    else if (cp === 0x08) out += '\\b';
    else if (cp === 0x0c) out += '\\f';
    else if (cp === 0x0a) out += '\\n';
    else if (cp === 0x0d) out += '\\r';
    else if (cp === 0x09) out += '\\t';
    else if (cp === 0x0b) out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0x80 && cp < 0xa0) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

/** Go's `%v` for a float64: the shortest digits, in exponent form when the exponent is < -4 or >= 6. */
export function goFloat(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  if (n === 0) return Object.is(n, -0) ? '-0' : '0';
  const [mantissa = '', e = '0'] = n.toExponential().split('e');
  const exponent = Number(e);
  // strconv's 'g' with the shortest precision decides on an exponent threshold of 6.
  if (exponent < -4 || exponent >= 6) {
    return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return String(n);
}

/** Go's `%v` for a []string: `[a b c]`. */
export function goList(items: readonly unknown[]): string {
  return `[${items.map((i) => String(i)).join(' ')}]`;
}

/** Go's strconv.Atoi: an optional sign and decimal digits within int64; undefined when Go would fail. */
export function goAtoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

/** The error text strconv.Atoi gives for text it rejects. */
export function goAtoiError(s: string): string {
  const reason = /^[+-]?\d+$/.test(s) ? 'value out of range' : 'invalid syntax';
  return `strconv.Atoi: parsing ${goQuote(s)}: ${reason}`;
}

const NS_PER = {
  ns: 1n,
  us: 1000n,
  µs: 1000n,
  μs: 1000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

/** The result of parsing a Go duration: nanoseconds, or the error text time.ParseDuration gives. */
export type GoDuration = { ns: bigint; error?: undefined } | { ns?: undefined; error: string };

const MAX_DURATION = 1n << 63n;

/**
 * Parses a duration as Go's time.ParseDuration does (`1.5s`, `300ms`, `1h30m`, `0`, `-1s`) into
 * nanoseconds; on failure returns Go's error text (`time: invalid duration "abc"`).
 */
export function parseGoDurationResult(text: string): GoDuration {
  const invalid = { error: `time: invalid duration ${goQuote(text)}` };
  let s = text;
  let negative = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return { ns: 0n };
  if (s === '') return invalid;
  let total = 0n;
  while (s.length > 0) {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    if (whole === '' && (frac === undefined || frac === '')) return invalid;
    s = s.slice(m?.[0].length ?? 0);
    const unitText = /^[^.0-9]*/.exec(s)?.[0] ?? '';
    if (unitText === '') return { error: `time: missing unit in duration ${goQuote(text)}` };
    s = s.slice(unitText.length);
    const per = NS_PER[unitText as keyof typeof NS_PER];
    if (per === undefined) {
      return { error: `time: unknown unit ${goQuote(unitText)} in duration ${goQuote(text)}` };
    }
    let value = BigInt(whole || '0') * per;
    if (frac) value += (BigInt(frac) * per) / 10n ** BigInt(frac.length);
    total += value;
    if (total > MAX_DURATION) return invalid;
  }
  if (!negative && total > MAX_DURATION - 1n) return invalid;
  return { ns: negative ? -total : total };
}

/** Like parseGoDurationResult, but undefined for text Go would reject. */
export function parseGoDuration(text: string): bigint | undefined {
  return parseGoDurationResult(text).ns;
}

/** Istio's decoder (golang/protobuf jsonpb) reads a Duration string with time.ParseDuration. */
export function durationValue(value: unknown): bigint | undefined {
  if (typeof value !== 'string') return undefined;
  return parseGoDuration(value);
}

/** The decode error for a Duration field that jsonpb cannot read. */
export function durationDecodeError(value: unknown): string | undefined {
  // jsonpb unquotes the JSON string first; any other JSON type fails there.
  if (typeof value !== 'string') {
    const jsonType = Array.isArray(value) ? 'array' : typeof value === 'boolean' ? 'bool' : typeof value;
    return `json: cannot unmarshal ${jsonType} into Go value of type string`;
  }
  const parsed = parseGoDurationResult(value);
  return parsed.error === undefined ? undefined : `bad Duration: ${parsed.error}`;
}

/** Istio's ValidateDuration: at least 1ms and whole milliseconds. Returns the parsed nanoseconds. */
export function checkDuration(v: IssueSink, path: string, value: unknown): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const ns = durationValue(value);
  if (ns === undefined) {
    v.error(path, durationDecodeError(value) ?? 'bad Duration');
    return undefined;
  }
  if (ns < 1_000_000n) v.error(path, 'duration must be greater than 1ms');
  else if (ns % 1_000_000n !== 0n) v.error(path, 'only durations to ms precision are supported');
  return ns;
}

/** Istio's ValidatePort message, or undefined when 1 <= port <= 65535. */
export function portError(port: number): string | undefined {
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? undefined
    : `port number ${port} must be in the range 1..65535`;
}

/** Istio's ValidatePort; a missing port is Go's zero value. */
export function checkPort(v: IssueSink, path: string, port: unknown): void {
  const n = typeof port === 'number' ? port : Number(port ?? 0);
  const err = portError(Number.isNaN(n) ? 0 : n);
  if (err) v.error(path, err);
}

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function checkPortName(v: IssueSink, path: string, name: unknown): void {
  if (typeof name !== 'string' || !isDns1123Label(name)) v.error(path, `invalid port name: ${String(name)}`);
}

/** Go's len() of a string: its UTF-8 byte length. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function dnsPreconditions(domain: string): string | undefined {
  if (byteLength(domain) > 255) return `domain name ${goQuote(domain)} too long (max 255)`;
  if (domain.length === 0) return 'empty domain name not allowed';
  return undefined;
}

function dns1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1] ?? '';
  if (goAtoi(tld) !== undefined) {
    return `domain name ${goQuote(domain)} invalid (top level domain ${goQuote(tld)} cannot be all-numeric)`;
  }
  for (const [i, label] of parts.entries()) {
    // A trailing dot (`istio.io.`) is allowed.
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDns1123Label(label))
      return `domain name ${goQuote(domain)} invalid (label ${goQuote(label)} invalid)`;
  }
  return undefined;
}

/** Istio's ValidateWildcardDomain: DNS-1123 labels, `*` only in the first label. Returns the error text. */
export function wildcardDomainError(domain: string): string | undefined {
  const pre = dnsPreconditions(domain);
  if (pre) return pre;
  const dot = domain.indexOf('.');
  const first = dot < 0 ? domain : domain.slice(0, dot);
  if (first.length > 63 || !WILDCARD_LABEL.test(first))
    return `domain name ${goQuote(domain)} invalid (label ${goQuote(first)} invalid)`;
  // Istio checks the rest on its own, so its messages quote only the part after the first dot.
  return dot < 0 ? undefined : dns1123Labels(domain.slice(dot + 1));
}

/** Istio's ValidateFQDN: like a wildcard domain but without wildcards. */
export function fqdnError(domain: string): string | undefined {
  return dnsPreconditions(domain) ?? dns1123Labels(domain);
}

/** netip.ParseAddr: an IPv4 or IPv6 address (IPv6 may carry a zone). */
export function isValidIP(addr: string): boolean {
  return isIP(addr) !== 0;
}

/** Istio's ValidateIPAddress. */
export function ipAddressError(addr: string): string | undefined {
  return isValidIP(addr) ? undefined : `${addr} is not a valid IP`;
}

/** Istio's ValidateIPSubnet: CIDR (netip.ParsePrefix) when there is exactly one `/`, else an IP. */
export function ipSubnetError(subnet: string): string | undefined {
  if (subnet.split('/').length - 1 !== 1) return ipAddressError(subnet);
  const [addr = '', bitsText = ''] = subnet.split('/');
  const version = addr.includes('%') ? 0 : isIP(addr);
  const bits = goAtoi(bitsText);
  const max = version === 4 ? 32 : 128;
  if (version === 0 || bits === undefined || bits < 0 || bits > max)
    return `${subnet} is not a valid CIDR block`;
  return undefined;
}

/** Istio's ValidateUnixAddress (the part after `unix://`): an abstract `@name` or an absolute file path. */
export function unixAddressError(addr: string): string | undefined {
  if (addr.length === 0) return 'unix address must not be empty';
  if (addr.startsWith('@')) return undefined;
  if (!addr.startsWith('/') || addr.endsWith('/')) return `${addr} is not an absolute path to a file`;
  return undefined;
}

export const MAX_REGEX_LENGTH = 1024;

/** Compiles with RE2 semantics (re2js) and returns Go regexp's error text, or undefined when valid. */
export function re2Error(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * Istio's validateStringMatchRegexp for a `regex` string match: non-empty, at most 1024 bytes, valid
 * RE2. `where` names the match field in the message (`uri`, `headers`, `corsPolicy.allowOrigins` ...).
 */
export function regexMatchError(where: string, pattern: string): string | undefined {
  if (pattern === '') return `${goQuote(where)}: regex string match should not be empty`;
  if (byteLength(pattern) > MAX_REGEX_LENGTH) {
    return `${goQuote(where)}: regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`;
  }
  const err = re2Error(pattern);
  if (err === undefined) return undefined;
  return `${goQuote(where)}: ${err}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`;
}

/** Reports regexMatchError for a `regex` string match. */
export function checkRegex(v: IssueSink, path: string, pattern: unknown, where = 'regex'): void {
  if (typeof pattern !== 'string') return;
  const err = regexMatchError(where, pattern);
  if (err) v.error(path, err);
}

const TAG_KEY =
  /^((?:[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)*\/)?((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const TAG_VALUE = /^((?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Istio's labels.Instance.Validate: one message per bad key or value (`invalid tag key: "a b"`). */
export function labelErrors(labels: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const [key, raw] of Object.entries(labels)) {
    const m = TAG_KEY.exec(key);
    if (!m) errors.push(`invalid tag key: ${goQuote(key)}`);
    else if ((m[1] ?? '').length - 1 > 253)
      errors.push(`invalid tag key: ${goQuote(key)} (DNS prefix is too long)`);
    else if ((m[2] ?? '').length > 63) errors.push(`invalid tag key: ${goQuote(key)} (name is too long)`);
    const value = typeof raw === 'string' ? raw : String(raw ?? '');
    if (!TAG_VALUE.test(value)) errors.push(`invalid tag value: ${goQuote(value)}`);
  }
  return errors;
}

/** A field path for a map entry; keys that would not parse as a path segment stay on the map's path. */
export function mapKeyPath(path: string, key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? `${path}.${key}` : path;
}

/** Kubernetes label key/value syntax, as Istio's labels.Instance.Validate checks it. */
export function checkLabels(v: IssueSink, path: string, labels: unknown): void {
  if (labels === undefined || labels === null || typeof labels !== 'object' || Array.isArray(labels)) return;
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    for (const err of labelErrors({ [key]: value })) v.error(mapKeyPath(path, key), err);
  }
}

/**
 * Istio's selector check (validateWorkloadSelector for `matchLabels`, validateAlphaWorkloadSelector for
 * networking `workloadSelector.labels`): no empty keys and no `*`. Labels are not otherwise checked.
 * Returns the number of errors reported.
 */
export function checkSelectorLabels(v: IssueSink, path: string, labels: unknown): number {
  if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return 0;
  let count = 0;
  for (const [k, raw] of Object.entries(labels as Record<string, unknown>)) {
    const val = typeof raw === 'string' ? raw : String(raw ?? '');
    const pair = goQuote(`${k}=${val}`);
    if (k === '') {
      v.error(path, `empty key is not supported in selector: ${pair}`);
      count++;
    }
    if (k.includes('*') || val.includes('*')) {
      v.error(mapKeyPath(path, k), `wildcard is not supported in selector: ${pair}`);
      count++;
    }
  }
  return count;
}

/** Istio's validateWorkloadSelector for an istio.type.v1beta1 selector (`selector.matchLabels`). */
export function checkWorkloadSelector(v: IssueSink, path: string, selector: unknown): void {
  if (!selector || typeof selector !== 'object' || Array.isArray(selector)) return;
  checkSelectorLabels(v, `${path}.matchLabels`, (selector as Record<string, unknown>)['matchLabels']);
}

/** Options of Istio's validateExportTo. */
export interface ExportToOptions {
  /** ServiceEntry allows `~` (visible to no one). */
  serviceEntry?: boolean;
  /** A DestinationRule with a workloadSelector may only be exported to its own namespace. */
  destinationRuleWithSelector?: boolean;
}

/** Istio's validateExportTo: `.`, `*`, namespace names (and `~` for ServiceEntry), no duplicates. */
export function checkExportTo(
  v: IssueSink,
  path: string,
  exportTo: unknown,
  namespace: string,
  opts: ExportToOptions = {},
): void {
  if (!Array.isArray(exportTo) || exportTo.length === 0) return;
  const seen = new Set<string>();
  for (const [i, raw] of exportTo.entries()) {
    const e = typeof raw === 'string' ? raw : String(raw ?? '');
    const at = `${path}[${i}]`;
    // `.` stands for the current namespace, so `.` and the namespace's own name are duplicates.
    const key = e === '.' ? namespace : e;
    if (seen.has(key)) {
      v.error(
        at,
        key !== e
          ? `duplicate entries in exportTo: . and current namespace ${namespace}`
          : `duplicate entries in exportTo for entry ${e}`,
      );
    } else if (opts.serviceEntry && e === '~') {
      seen.add(key);
    } else {
      const err = visibilityError(key);
      if (err) v.error(at, err);
      else seen.add(key);
    }
  }
  if (opts.destinationRuleWithSelector && seen.size > 0) {
    if (!seen.has(namespace)) {
      v.error(path, 'destination rule with workload selector cannot have exportTo beyond current namespace');
    } else if (seen.size > 1) {
      v.error(path, 'destination rule with workload selector cannot have multiple entries in exportTo');
    }
  }
  if (seen.has('*') && exportTo.length > 1) {
    v.error(path, 'cannot have both public (*) and non-public exportTo values for a resource');
  }
  if (seen.has('~') && exportTo.length > 1) {
    v.error(path, 'cannot export service entry to no one (~) and someone');
  }
}

/** Istio's visibility.Instance.Validate. */
function visibilityError(e: string): string | undefined {
  if (e === '.' || e === '*') return undefined;
  if (e === '~') return 'exportTo ~ (none) is not allowed for Istio configuration objects';
  return isDns1123Label(e) ? undefined : 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry';
}

/** Istio's ValidatePercent for integer percentages (outlier detection): 0..100. */
export function checkPercentage(v: IssueSink, path: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const n = typeof value === 'object' ? (value as { value?: unknown }).value : value;
  if (n === undefined) return;
  const num = typeof n === 'number' ? n : Number(n);
  if (Number.isNaN(num) || num < 0 || num > 100)
    v.error(path, `percentage ${String(n)} is not in range 0..100`);
}
