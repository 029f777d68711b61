/**
 * The request-path normalization Envoy's HTTP connection manager applies before any filter sees the
 * request (ConnectionManagerUtility::maybeNormalizePath, PathUtil), so authorization and the upstream see
 * the same path:
 *
 * 1. the fragment (`#...`) is dropped (Istio sets `http_reject_path_with_fragment: false`);
 * 2. escaped slashes: with any action but KEEP_UNCHANGED, `%2F`/`%2f` become `/` and `%5C`/`%5c` become
 *    `\`; if any were found, REJECT_REQUEST answers 400 and UNESCAPE_AND_REDIRECT redirects (307) to the
 *    final path;
 * 3. `normalizePath`: RFC 3986 canonicalization as Chromium's URL library does it — `\` becomes `/`,
 *    percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes kept as
 *    written, `.`/`..` segments (also spelled `%2e`) resolved, characters not allowed in a path escaped;
 * 4. `mergeSlashes`: runs of `/` collapse to one.
 *
 * Only the path is touched, never the query. Paths are case-sensitive: `/ADMIN` stays `/ADMIN`.
 */

export type EscapedSlashesAction =
  'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';

export interface PathNormalizeOptions {
  normalizePath?: boolean;
  mergeSlashes?: boolean;
  escapedSlashes?: EscapedSlashesAction | 'IMPLEMENTATION_SPECIFIC_DEFAULT';
}

export type PathNormalizeResult =
  /** Forward the request with this `:path` (query kept). */
  | { action: 'continue'; path: string }
  /** Answer 307 with `Location: <path>` (a gRPC request gets the 400 instead, as Envoy does). */
  | { action: 'redirect'; path: string; status: 307; details: string }
  /** Answer 400 with these response code details. */
  | { action: 'reject'; status: 400; details: string };

/** Envoy's StreamInfo::ResponseCodeDetails::PathNormalizationFailed. */
export const PATH_NORMALIZATION_FAILED = 'path_normalization_failed';

/** The HCM fields as path options (`normalizePath` may be a BoolValue wrapper). */
export function pathOptionsFromHcm(hcm: Record<string, unknown>): PathNormalizeOptions {
  const wrapped = hcm['normalizePath'];
  const normalize =
    typeof wrapped === 'boolean'
      ? wrapped
      : typeof wrapped === 'object' && wrapped !== null && (wrapped as { value?: unknown }).value === true;
  const action = hcm['pathWithEscapedSlashesAction'];
  const escapedSlashes: EscapedSlashesAction =
    action === 'REJECT_REQUEST' || action === 'UNESCAPE_AND_REDIRECT' || action === 'UNESCAPE_AND_FORWARD'
      ? action
      : 'KEEP_UNCHANGED';
  return { normalizePath: normalize, mergeSlashes: hcm['mergeSlashes'] === true, escapedSlashes };
}

function splitQuery(path: string): [string, string] {
  const q = path.indexOf('?');
  return q < 0 ? [path, ''] : [path.slice(0, q), path.slice(q)];
}

/** PathUtil::unescapeSlashes over the path part; `found` when anything was replaced. */
export function unescapeSlashes(path: string): { path: string; found: boolean } {
  const [p, query] = splitQuery(path);
  let found = false;
  const out = p.replace(/%(2[fF]|5[cC])/g, (m) => {
    found = true;
    return m[1] === '2' ? '/' : '\\';
  });
  return { path: out + query, found };
}

/** PathUtil::mergeSlashes over the path part, keeping a leading and a trailing slash. */
export function mergeSlashes(path: string): string {
  const [p, query] = splitQuery(path);
  if (!p.startsWith('/')) return path;
  const segments = p.split('/').filter((s) => s !== '');
  const trailing = p.length > 1 && p.endsWith('/') && segments.length > 0 ? '/' : '';
  return `/${segments.join('/')}${trailing}${query}`;
}

const HEX = /^[0-9a-fA-F]{2}$/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

/** Characters Chromium's path canonicalizer escapes: controls, space, `"`, `<`, `>`, `` ` ``, non-ASCII. */
function needsEscape(code: number): boolean {
  return code <= 0x20 || code >= 0x7f || code === 0x22 || code === 0x3c || code === 0x3e || code === 0x60;
}

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  // Node hands request targets over as latin1 (one char per byte); others are UTF-8 encoded.
  const bytes = code <= 0xff ? [code] : [...Buffer.from(ch, 'utf8')];
  return bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

/** Decodes unreserved escapes and escapes what may not appear raw; one segment at a time. */
function canonicalSegment(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i] ?? '';
    if (ch === '%') {
      const hex = segment.slice(i + 1, i + 3);
      if (HEX.test(hex)) {
        const code = parseInt(hex, 16);
        out += isUnreserved(code) ? String.fromCharCode(code) : `%${hex}`;
        i += 2;
        continue;
      }
      out += '%'; // an invalid escape passes through, as Chromium's permissive mode does
      continue;
    }
    out += needsEscape(ch.charCodeAt(0)) ? escapeChar(ch) : ch;
  }
  return out;
}

/**
 * PathUtil::canonicalPath over the path part: undefined when the path cannot be canonicalized (Envoy then
 * answers 400). A path not starting with `/` (`*`, absolute-form) is left alone.
 */
export function canonicalPath(path: string): string | undefined {
  const [p, query] = splitQuery(path);
  if (!p.startsWith('/') && !p.startsWith('\\')) return path;
  const segments = p.replaceAll('\\', '/').split('/').slice(1);
  const out: string[] = [];
  segments.forEach((raw, i) => {
    const last = i === segments.length - 1;
    const seg = canonicalSegment(raw);
    if (seg === '.') {
      if (last) out.push('');
      return;
    }
    if (seg === '..') {
      out.pop();
      if (last) out.push('');
      return;
    }
    out.push(seg);
  });
  return `/${out.join('/')}${query}`;
}

/** The whole of maybeNormalizePath for one request `:path`. */
export function normalizePath(path: string, opts: PathNormalizeOptions = {}): PathNormalizeResult {
  let current = path;
  const hash = current.indexOf('#');
  if (hash >= 0) current = current.slice(0, hash);
  let redirect = false;
  const action = opts.escapedSlashes ?? 'KEEP_UNCHANGED';
  if (action !== 'KEEP_UNCHANGED' && action !== 'IMPLEMENTATION_SPECIFIC_DEFAULT') {
    const unescaped = unescapeSlashes(current);
    if (unescaped.found) {
      if (action === 'REJECT_REQUEST') {
        return { action: 'reject', status: 400, details: PATH_NORMALIZATION_FAILED };
      }
      if (action === 'UNESCAPE_AND_REDIRECT') redirect = true;
      current = unescaped.path;
    }
  }
  if (opts.normalizePath) {
    const canonical = canonicalPath(current);
    if (canonical === undefined) return { action: 'reject', status: 400, details: PATH_NORMALIZATION_FAILED };
    current = canonical;
  }
  if (opts.mergeSlashes) current = mergeSlashes(current);
  if (redirect) return { action: 'redirect', path: current, status: 307, details: PATH_NORMALIZATION_FAILED };
  return { action: 'continue', path: current };
}
