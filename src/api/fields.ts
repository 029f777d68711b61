import { RE2JS } from 're2js';
import type { IssueCollector } from './validation.js';

/** Shared field checks with the messages Istio's validation (pkg/config/validation) gives. */

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

/**
 * Parses a duration as Go's time.ParseDuration does (`1.5s`, `300ms`, `1h30m`, `0`) into nanoseconds.
 * Returns undefined for text Go would reject.
 */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  let sign = 1n;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1n;
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return undefined;
  let total = 0n;
  const unit = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const m = unit.exec(s);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) return undefined;
    const per = NS_PER[m[3] as keyof typeof NS_PER];
    const whole = BigInt(m[1] || '0');
    const frac = m[2] ?? '';
    let fracNs = 0n;
    if (frac !== '') fracNs = (BigInt(frac) * per) / 10n ** BigInt(frac.length);
    total += whole * per + fracNs;
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** Protobuf JSON durations are `<seconds>[.<fraction>]s`; Istio's decoder also takes Go-style units. */
export function durationValue(value: unknown): bigint | undefined {
  if (typeof value !== 'string') return undefined;
  return parseGoDuration(value.trim());
}

/** Istio's ValidateDuration: at least 1ms and whole milliseconds. */
export function checkDuration(v: IssueCollector, path: string, value: unknown): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  const ns = durationValue(value);
  if (ns === undefined) {
    v.error(path, `invalid duration ${JSON.stringify(value)}: bad Duration`);
    return undefined;
  }
  if (ns < 1_000_000n) v.error(path, 'duration must be greater than 1ms');
  else if (ns % 1_000_000n !== 0n) v.error(path, 'only durations to ms precision are supported');
  return ns;
}

export function checkPort(v: IssueCollector, path: string, port: unknown): void {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    v.error(path, `port number ${String(port)} must be in the range 1..65535`);
  }
}

const DNS1123_LABEL = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const WILDCARD_LABEL = /^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function checkPortName(v: IssueCollector, path: string, name: unknown): void {
  if (typeof name !== 'string' || !isDns1123Label(name)) v.error(path, `invalid port name: ${String(name)}`);
}

function dnsPreconditions(domain: string): string | undefined {
  if (domain.length > 255) return `domain name "${domain}" too long (max 255)`;
  if (domain.length === 0) return 'empty domain name not allowed';
  return undefined;
}

function dns1123Labels(domain: string): string | undefined {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1] ?? '';
  if (/^[+-]?\d+$/.test(tld))
    return `domain name "${domain}" invalid (top level domain "${tld}" cannot be all-numeric)`;
  for (const [i, label] of parts.entries()) {
    if (i === parts.length - 1 && label === '') return undefined;
    if (!isDns1123Label(label)) return `domain name "${domain}" invalid (label "${label}" invalid)`;
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
    return `domain name "${domain}" invalid (label "${first}" invalid)`;
  return dot < 0 ? undefined : dns1123Labels(domain.slice(dot + 1));
}

/** Istio's ValidateFQDN: like a wildcard domain but without wildcards. */
export function fqdnError(domain: string): string | undefined {
  return dnsPreconditions(domain) ?? dns1123Labels(domain);
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

/** A `regex` string match: non-empty, at most 1024 characters, valid RE2. */
export function checkRegex(v: IssueCollector, path: string, pattern: unknown): void {
  if (typeof pattern !== 'string') return;
  if (pattern.length > MAX_REGEX_LENGTH) {
    v.error(path, `regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`);
    return;
  }
  const err = re2Error(pattern);
  if (err)
    v.error(
      path,
      `"${pattern}" is not a valid regex: ${err}; Istio uses RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax)`,
    );
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Kubernetes label key/value syntax, as Istio's labels.Instance.Validate checks it. */
export function checkLabels(v: IssueCollector, path: string, labels: unknown): void {
  if (labels === undefined || labels === null) return;
  if (typeof labels !== 'object' || Array.isArray(labels)) {
    v.error(path, 'labels must be a map of strings');
    return;
  }
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    const slash = key.indexOf('/');
    const name = slash < 0 ? key : key.slice(slash + 1);
    const prefix = slash < 0 ? undefined : key.slice(0, slash);
    if (!LABEL_NAME.test(name) || (prefix !== undefined && fqdnError(prefix) !== undefined)) {
      v.error(`${path}.${key}`, `invalid tag key: ${key}`);
    }
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      v.error(`${path}.${key}`, `invalid tag value: ${String(value)}`);
    }
  }
}

/** `selector.matchLabels` / `workloadSelector.labels`: valid labels, no wildcards. */
export function checkWorkloadSelector(v: IssueCollector, path: string, selector: unknown): void {
  if (selector === undefined || selector === null) return;
  const labels =
    (selector as Record<string, unknown>)['labels'] ?? (selector as Record<string, unknown>)['matchLabels'];
  if (labels && typeof labels === 'object') {
    for (const [k, val] of Object.entries(labels as Record<string, unknown>)) {
      if (k === '') v.error(path, 'empty key is not supported in selector');
      if (k.includes('*') || String(val).includes('*'))
        v.error(path, 'wildcard is not supported in selector');
    }
  }
  checkLabels(v, `${path}.labels`, labels);
}

/** `exportTo`: `.`, `*`, `~` or namespace names; `~` and `*` cannot be combined with others. */
export function checkExportTo(v: IssueCollector, path: string, exportTo: unknown, namespace: string): void {
  if (!Array.isArray(exportTo) || exportTo.length === 0) return;
  const seen = new Set<string>();
  for (const raw of exportTo) {
    const e = String(raw);
    const key = e === '.' ? namespace : e;
    if (seen.has(key)) v.error(path, `duplicate entries in exportTo: ${e}`);
    seen.add(key);
    if (e !== '.' && e !== '*' && e !== '~' && !isDns1123Label(e))
      v.error(path, `only .,*, or a valid DNS 1123 label is allowed as exportTo entry`);
  }
  if ((seen.has('*') || seen.has('~')) && seen.size > 1) {
    v.error(path, 'cannot have both public (*) and non-public exportTo values for a resource');
  }
}

/** `percent`-style values: 0..100. */
export function checkPercentage(v: IssueCollector, path: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const n = typeof value === 'object' ? (value as { value?: unknown }).value : value;
  if (n === undefined) return;
  if (typeof n !== 'number' || n < 0 || n > 100)
    v.error(path, `percentage ${String(n)} is not in range 0..100`);
}
