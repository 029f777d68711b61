/**
 * The Go standard-library parsers Istio's annotation checks call (strconv, net/netip, net.SplitHostPort),
 * returning Go's error text so IST0125 messages read as istioctl prints them.
 */
import { goQuote } from '../goformat.js';

export type GoResult<T> = { ok: true; value: T } | { ok: false; error: string };

function fail<T>(error: string): GoResult<T> {
  return { ok: false, error };
}

const BOOL_VALUES: ReadonlyMap<string, boolean> = new Map([
  ['1', true],
  ['t', true],
  ['T', true],
  ['TRUE', true],
  ['true', true],
  ['True', true],
  ['0', false],
  ['f', false],
  ['F', false],
  ['FALSE', false],
  ['false', false],
  ['False', false],
]);

/** strconv.ParseBool. */
export function parseBool(s: string): GoResult<boolean> {
  const value = BOOL_VALUES.get(s);
  if (value === undefined) return fail(`strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`);
  return { ok: true, value };
}

/** strconv.ParseUint(s, 10, bits): decimal digits only; the first problem in scan order wins. */
export function parseUint(s: string, bits: number): GoResult<bigint> {
  const syntax = `strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax`;
  if (s === '') return fail(syntax);
  const max = (1n << BigInt(bits)) - 1n;
  let n = 0n;
  for (const c of s) {
    if (c < '0' || c > '9') return fail(syntax);
    n = n * 10n + BigInt(c.charCodeAt(0) - 48);
    if (n > max) return fail(`strconv.ParseUint: parsing ${goQuote(s)}: value out of range`);
  }
  return { ok: true, value: n };
}

/** strconv.Atoi: optional sign and decimal digits, within int64. */
export function atoi(s: string): GoResult<number> {
  if (!/^[+-]?[0-9]+$/.test(s)) return fail(`strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`);
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) {
    return fail(`strconv.Atoi: parsing ${goQuote(s)}: value out of range`);
  }
  return { ok: true, value: Number(n) };
}

export interface IpAddr {
  is6: boolean;
  zone: string;
}

function addrError(input: string, msg: string, at = ''): GoResult<IpAddr> {
  const where = at === '' ? '' : ` (at ${goQuote(at)})`;
  return fail(`ParseAddr(${goQuote(input)}): ${msg}${where}`);
}

/** netip.ParseAddr: the first `.`, `:` or `%` decides how the text is read. */
export function parseAddr(s: string): GoResult<IpAddr> {
  for (const c of s) {
    if (c === '.') return parseIPv4(s);
    if (c === ':') return parseIPv6(s);
    if (c === '%') return addrError(s, 'missing IPv6 address');
  }
  return addrError(s, 'unable to parse IP');
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function parseIPv4(s: string): GoResult<IpAddr> {
  let value = 0;
  let fields = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (isDigit(c)) {
      if (digits === 1 && value === 0) return addrError(s, 'IPv4 field has octet with leading zero');
      value = value * 10 + (c ?? '0').charCodeAt(0) - 48;
      digits++;
      if (value > 255) return addrError(s, 'IPv4 field has value >255');
    } else if (c === '.') {
      if (i === 0 || i === s.length - 1 || s[i - 1] === '.') {
        return addrError(s, 'IPv4 field must have at least one digit', s.slice(i));
      }
      if (fields === 3) return addrError(s, 'IPv4 address too long');
      fields++;
      value = 0;
      digits = 0;
    } else {
      return addrError(s, 'unexpected character', s.slice(i));
    }
  }
  if (fields < 3) return addrError(s, 'IPv4 address too short');
  return { ok: true, value: { is6: false, zone: '' } };
}

function hexValue(c: string | undefined): number {
  if (c === undefined) return -1;
  const n = '0123456789abcdef'.indexOf(c.toLowerCase());
  return c.length === 1 ? n : -1;
}

function parseIPv6(input: string): GoResult<IpAddr> {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return addrError(input, 'zone must be a non-empty string');
  }
  const ok: GoResult<IpAddr> = { ok: true, value: { is6: true, zone } };
  let ellipsis = -1;
  if (s.startsWith('::')) {
    ellipsis = 0;
    s = s.slice(2);
    if (s === '') return ok;
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const h = hexValue(s[off]);
      if (h < 0) break;
      acc = acc * 16 + h;
      if (acc > 0xffff) return addrError(input, 'IPv6 field has value >=2^16', s);
    }
    if (off === 0) return addrError(input, 'each colon-separated field must have at least one digit', s);
    if (off < s.length && s[off] === '.') {
      if (ellipsis < 0 && i !== 12) {
        return addrError(input, 'embedded IPv4 address must replace the final 2 fields of the address', s);
      }
      if (i + 4 > 16) {
        return addrError(input, 'too many hex fields to fit an embedded IPv4 at the end of the address', s);
      }
      const v4 = parseIPv4(s);
      if (!v4.ok) return addrError(input, v4.error, s);
      s = '';
      i += 4;
      break;
    }
    i += 2;
    s = s.slice(off);
    if (s === '') break;
    if (s[0] !== ':') return addrError(input, 'unexpected character, want colon', s);
    if (s.length === 1) return addrError(input, 'colon must be followed by more characters', s);
    s = s.slice(1);
    if (s[0] === ':') {
      if (ellipsis >= 0) return addrError(input, 'multiple :: in address', s);
      ellipsis = i;
      s = s.slice(1);
      if (s === '') break;
    }
  }
  if (s !== '') return addrError(input, 'trailing garbage after address', s);
  if (i < 16 && ellipsis < 0) return addrError(input, 'address string too short');
  if (i >= 16 && ellipsis >= 0) return addrError(input, 'the :: must expand to at least one field of zeros');
  return ok;
}

/** netip.ParsePrefix (`addr/bits`, no IPv6 zone). */
export function parsePrefix(s: string): GoResult<IpAddr> {
  const prefix = `netip.ParsePrefix(${goQuote(s)}): `;
  const slash = s.lastIndexOf('/');
  if (slash < 0) return fail(`${prefix}no '/'`);
  const addr = parseAddr(s.slice(0, slash));
  if (!addr.ok) return fail(prefix + addr.error);
  if (addr.value.is6 && addr.value.zone !== '')
    return fail(`${prefix}IPv6 zones cannot be present in a prefix`);
  const bitsText = s.slice(slash + 1);
  const bits = atoi(bitsText);
  if (!bits.ok) return fail(`${prefix}bad bits after slash: ${goQuote(bitsText)}`);
  const maxBits = addr.value.is6 ? 128 : 32;
  if (bits.value < 0 || bits.value > maxBits) return fail(`${prefix}prefix length out of range`);
  return addr;
}

/** net.SplitHostPort, with net.AddrError's text. */
export function splitHostPort(hostport: string): GoResult<{ host: string; port: string }> {
  const addrErr = (why: string): GoResult<{ host: string; port: string }> =>
    fail(`address ${hostport}: ${why}`);
  const i = hostport.lastIndexOf(':');
  if (i < 0) return addrErr('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0) return addrErr("missing ']' in address");
    if (end + 1 === hostport.length) return addrErr('missing port in address');
    if (end + 1 !== i) {
      return addrErr(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    }
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return addrErr('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) return addrErr("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return addrErr("unexpected ']' in address");
  return { ok: true, value: { host, port: hostport.slice(i + 1) } };
}
