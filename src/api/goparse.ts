// The Go standard-library parsers whose errors Istio 1.17 puts into its messages verbatim: strconv.ParseBool
// and ParseUint, net/netip.ParseAddr and ParsePrefix, net.SplitHostPort, net/url.Parse and go-multierror's
// list format. The validators (webhook checks) and the analyzers (IST0125 annotation checks) share them, so
// both print the same text for the same input. Texts and edge cases follow Go 1.19/1.20, the toolchain
// Istio 1.17 was built with (later Go versions reject more IPv6 forms and word some errors differently).
// strconv.Atoi is goAtoi/goAtoiError in fields.ts.
import { goAtoi, goQuote } from './fields.js';

// ---- strconv ----

const GO_BOOLS: ReadonlyMap<string, boolean> = new Map([
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

/** strconv.ParseBool: undefined for a value Go accepts, else its error text. */
export function goParseBoolError(s: string): string | undefined {
  return GO_BOOLS.has(s) ? undefined : `strconv.ParseBool: parsing ${goQuote(s)}: invalid syntax`;
}

/** strconv.ParseUint(s, 10, bits): decimal digits only; the value, or Go's error text. */
export function goParseUint(
  s: string,
  bits: number,
): { value: bigint; error?: undefined } | { error: string } {
  const syntax = { error: `strconv.ParseUint: parsing ${goQuote(s)}: invalid syntax` };
  if (s === '') return syntax;
  const max = (1n << BigInt(bits)) - 1n;
  let n = 0n;
  for (const c of s) {
    if (c < '0' || c > '9') return syntax;
    n = n * 10n + BigInt(c.charCodeAt(0) - 48);
    // Go stops at the first overflow, before looking at the rest of the text.
    if (n > max) return { error: `strconv.ParseUint: parsing ${goQuote(s)}: value out of range` };
  }
  return { value: n };
}

// ---- net/netip ----

type ParsedAddr = { is6: boolean; zone: string; error?: undefined } | { error: string };

/** netip's parseAddrError text: `ParseAddr("<in>"): <msg>`, with ` (at "<rest>")` when it has a place. */
function addrError(input: string, msg: string, at = ''): { error: string } {
  const where = at === '' ? '' : ` (at ${goQuote(at)})`;
  return { error: `ParseAddr(${goQuote(input)}): ${msg}${where}` };
}

function hexValue(c: string | undefined): number {
  if (c === undefined || c.length !== 1) return -1;
  return '0123456789abcdef'.indexOf(c.toLowerCase());
}

function parseIPv4(s: string): ParsedAddr {
  let value = 0;
  let fields = 0;
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c >= '0' && c <= '9') {
      if (digits === 1 && value === 0) return addrError(s, 'IPv4 field has octet with leading zero');
      value = value * 10 + c.charCodeAt(0) - 48;
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
  return { is6: false, zone: '' };
}

function parseIPv6(input: string): ParsedAddr {
  let s = input;
  let zone = '';
  const pct = s.indexOf('%');
  if (pct >= 0) {
    zone = s.slice(pct + 1);
    s = s.slice(0, pct);
    if (zone === '') return addrError(input, 'zone must be a non-empty string');
  }
  const ok: ParsedAddr = { is6: true, zone };
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
    // Go 1.19/1.20 take any number of digits (leading zeros included) as long as the value fits 16 bits.
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
      // The embedded address's own ParseAddr error is nested in the outer one.
      const v4 = parseIPv4(s);
      if (v4.error !== undefined) return addrError(input, v4.error, s);
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

/** netip.ParseAddr: the first `.`, `:` or `%` decides how the text is read. */
function parseAddr(s: string): ParsedAddr {
  for (const c of s) {
    if (c === '.') return parseIPv4(s);
    if (c === ':') return parseIPv6(s);
    if (c === '%') return addrError(s, 'missing IPv6 address');
  }
  return addrError(s, 'unable to parse IP');
}

/** netip.ParseAddr: undefined for a valid IPv4/IPv6 address (IPv6 may carry a zone), else Go's error text. */
export function goNetipAddrError(s: string): string | undefined {
  return parseAddr(s).error;
}

/** netip.ParsePrefix (`addr/bits`, no IPv6 zone): undefined for a valid prefix, else Go's error text. */
export function goNetipPrefixError(s: string): string | undefined {
  const where = `netip.ParsePrefix(${goQuote(s)}): `;
  const slash = s.lastIndexOf('/');
  if (slash < 0) return `${where}no '/'`;
  const addr = parseAddr(s.slice(0, slash));
  if (addr.error !== undefined) return where + addr.error;
  if (addr.is6 && addr.zone !== '') return `${where}IPv6 zones cannot be present in a prefix`;
  const bitsText = s.slice(slash + 1);
  const bits = goAtoi(bitsText);
  if (bits === undefined) return `${where}bad bits after slash: ${goQuote(bitsText)}`;
  if (bits < 0 || bits > (addr.is6 ? 128 : 32)) return `${where}prefix length out of range`;
  return undefined;
}

// ---- net ----

/** net.SplitHostPort (`host:port`, `[v6]:port`), with net.AddrError's text on failure. */
export function goSplitHostPort(hostport: string): { host: string; port: string } | { error: string } {
  const fail = (why: string) => ({ error: `address ${hostport}: ${why}` });
  const i = hostport.lastIndexOf(':');
  if (i < 0) return fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail('missing port in address');
    if (end + 1 !== i) {
      return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    }
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address");
  return { host, port: hostport.slice(i + 1) };
}

// ---- net/url ----

/** The parts of a URL the validators look at, or Go's `parse "<url>": <reason>` error. */
export type GoUrl = { scheme: string; host: string; error?: undefined } | { error: string };

const HOST_SUB_DELIMS = new Set([...`!$&'()*+,;=:[]<>"`]);

function isAlnum(c: string): boolean {
  return /^[A-Za-z0-9]$/.test(c);
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9A-Fa-f]$/.test(c);
}

/** url.shouldEscape for the host mode, which decides which ASCII bytes a host may hold. */
function hostCharNeedsEscape(c: string): boolean {
  if (isAlnum(c)) return false;
  if (HOST_SUB_DELIMS.has(c)) return false;
  return !'-_.~'.includes(c);
}

/** url.unescape's validation pass: returns Go's EscapeError/InvalidHostError text, or undefined. */
function unescapeError(s: string, mode: 'path' | 'host' | 'zone' | 'user' | 'fragment'): string | undefined {
  for (let i = 0; i < s.length;) {
    const c = s[i] ?? '';
    if (c === '%') {
      if (i + 2 >= s.length || !isHex(s[i + 1]) || !isHex(s[i + 2])) {
        return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      }
      const value = parseInt(s.slice(i + 1, i + 3), 16);
      // In a host, %-encoding is only for non-ASCII bytes (and %25 for IPv6 zones).
      if (mode === 'host' && value < 0x80 && s.slice(i, i + 3) !== '%25') {
        return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
      }
      if (mode === 'zone') {
        const ch = String.fromCharCode(value);
        if (s.slice(i, i + 3) !== '%25' && ch !== ' ' && hostCharNeedsEscape(ch)) {
          return `invalid URL escape ${goQuote(s.slice(i, i + 3))}`;
        }
      }
      i += 3;
      continue;
    }
    if ((mode === 'host' || mode === 'zone') && c.charCodeAt(0) < 0x80 && hostCharNeedsEscape(c)) {
      return `invalid character ${goQuote(c)} in host name`;
    }
    i++;
  }
  return undefined;
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:\d*$/.test(port);
}

function parseHostError(host: string): string | undefined {
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return "missing ']' in host";
    const colonPort = host.slice(close + 1);
    if (!validOptionalPort(colonPort)) return `invalid port ${goQuote(colonPort)} after host`;
    const zone = host.slice(0, close).indexOf('%25');
    if (zone >= 0) {
      return (
        unescapeError(host.slice(0, zone), 'host') ??
        unescapeError(host.slice(zone, close), 'zone') ??
        unescapeError(host.slice(close), 'host')
      );
    }
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      const colonPort = host.slice(colon);
      if (!validOptionalPort(colonPort)) return `invalid port ${goQuote(colonPort)} after host`;
    }
  }
  return unescapeError(host, 'host');
}

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/** Splits a raw URL the way net/url.parse does and reports the first error Go would. */
function parseWithoutFragment(raw: string): GoUrl {
  // Control characters are refused before anything else.
  for (const ch of raw) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x20 || cp === 0x7f) return { error: 'net/url: invalid control character in URL' };
  }
  if (raw === '*') return { scheme: '', host: '' };
  let scheme = '';
  let rest = raw;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? '';
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return { error: 'missing protocol scheme' };
      scheme = raw.slice(0, i).toLowerCase();
      rest = raw.slice(i + 1);
    }
    break;
  }
  if (rest.endsWith('?') && rest.split('?').length === 2) rest = rest.slice(0, -1);
  else {
    const q = rest.indexOf('?');
    if (q >= 0) rest = rest.slice(0, q);
  }
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { scheme, host: '' }; // opaque, e.g. `mailto:x`
    const slash = rest.indexOf('/');
    const segment = slash < 0 ? rest : rest.slice(0, slash);
    if (segment.includes(':')) return { error: 'first path segment in URL cannot contain colon' };
  }
  let host = '';
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    const slash = authority.indexOf('/');
    rest = slash >= 0 ? authority.slice(slash) : '';
    if (slash >= 0) authority = authority.slice(0, slash);
    const at = authority.lastIndexOf('@');
    host = at < 0 ? authority : authority.slice(at + 1);
    const hostErr = parseHostError(host);
    if (hostErr) return { error: hostErr };
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (!USERINFO_OK.test(userinfo)) return { error: 'net/url: invalid userinfo' };
      for (const part of userinfo.split(':').slice(0, 2)) {
        const err = unescapeError(part, 'user');
        if (err) return { error: err };
      }
    }
  }
  const pathErr = unescapeError(rest, 'path');
  if (pathErr) return { error: pathErr };
  return { scheme, host };
}

/** Go's url.Parse; errors read `parse "<url>": <reason>` as `%v` prints them. */
export function goParseUrl(raw: string): GoUrl {
  const hash = raw.indexOf('#');
  const main = hash < 0 ? raw : raw.slice(0, hash);
  const parsed = parseWithoutFragment(main);
  if (parsed.error !== undefined) return { error: `parse ${goQuote(main)}: ${parsed.error}` };
  if (hash >= 0) {
    const fragErr = unescapeError(raw.slice(hash + 1), 'fragment');
    if (fragErr) return { error: `parse ${goQuote(raw)}: ${fragErr}` };
  }
  return parsed;
}

/** url.URL.Port(): the digits after the last colon of the host, when they form a valid port. */
export function goUrlPort(host: string): string {
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && validOptionalPort(host.slice(colon))) return host.slice(colon + 1);
  return '';
}

// ---- go-multierror ----

/** hashicorp/go-multierror's default ListFormatFunc, which `%v` of a *multierror.Error prints. */
export function goMultiErrorText(errors: readonly string[]): string {
  if (errors.length === 1) return `1 error occurred:\n\t* ${errors[0]}\n\n`;
  return `${errors.length} errors occurred:\n\t${errors.map((e) => `* ${e}`).join('\n\t')}\n\n`;
}
