// The webapp's client for the catalog: plain HTTP, sent through the pod's sidecar when one is given.
//
// In the lab there is no iptables capture, so the sidecar's outbound port (15001) acts as the app's
// HTTP proxy: the request goes to the proxy in absolute form (`GET http://catalog.istioinaction/items`)
// with the service's Host header, and the sidecar routes it by that host and port exactly as Envoy
// routes a captured connection.
import { Agent, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';

/** The catalog base URL the book's webapp builds from CATALOG_SERVICE_HOST and CATALOG_SERVICE_PORT. */
export const DEFAULT_CATALOG_URL = 'http://catalog.istioinaction:80';

/** Beego's httplib waits 60 s by default before giving up on the catalog. */
export const DEFAULT_CATALOG_TIMEOUT_MS = 60_000;

/** Largest catalog answer the webapp reads. */
const MAX_RESPONSE_BYTES = 8 << 20;

export interface HostPort {
  host: string;
  port: number;
}

/** Where and how the webapp reaches the catalog. */
export interface CatalogTarget {
  /** `http://host[:port][/prefix]`. */
  baseUrl: URL;
  /** The sidecar's outbound address; absent means connect to the catalog directly. */
  proxy?: HostPort;
  timeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Parses `host:port` or `[v6]:port`; throws with a message naming the bad value. */
export function parseHostPort(value: string, what: string): HostPort {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value.trim()) ?? /^([^:[\]]+):(\d+)$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`invalid ${what} "${value}": want host:port`);
  }
  return { host: m[1], port };
}

/** Parses a catalog base URL; only plain http is spoken between the app and its sidecar. */
export function parseCatalogUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`invalid catalog URL "${value}"`);
  }
  if (url.protocol !== 'http:') throw new Error(`invalid catalog URL "${value}": only http:// is supported`);
  return url;
}

/** Header names that carry a trace or a request identity, beyond the `x-` family. */
const PROPAGATED = new Set(['b3', 'traceparent', 'tracestate', 'grpc-trace-bin', 'authorization']);

/**
 * The inbound headers the webapp passes on to the catalog. The book's webapp forwards every `x-`
 * header and Authorization, which carries x-request-id, the x-b3-* set and routing headers such as
 * x-istio-cohort (chapter 5 routes on it). Hop-level `x-envoy-*` and `x-forwarded-*` headers stay
 * behind: they describe the inbound hop and the outbound sidecar sets its own.
 */
export function propagatedHeaders(inbound: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(inbound)) {
    const lower = name.toLowerCase();
    const wanted =
      PROPAGATED.has(lower) ||
      (lower.startsWith('x-') && !lower.startsWith('x-envoy-') && !lower.startsWith('x-forwarded-'));
    if (!wanted || value === undefined) continue;
    // Like the book's Go client, only the first value of a repeated header is sent.
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[lower] = first;
  }
  return out;
}

/** `http://host/prefix/path` for the request line (the URL drops a default :80). */
export function catalogRequestUrl(baseUrl: URL, path: string): URL {
  const prefix = baseUrl.pathname.replace(/\/+$/, '');
  return new URL(`${baseUrl.protocol}//${baseUrl.host}${prefix}${path}`);
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** GETs `path` from the catalog (through the proxy when set) and reads the whole answer. */
export function getFromCatalog(
  target: CatalogTarget,
  path: string,
  headers: Record<string, string>,
  agent: Agent,
): Promise<UpstreamResponse> {
  const url = catalogRequestUrl(target.baseUrl, path);
  const via = target.proxy;
  return new Promise((resolve, reject) => {
    const req = request({
      host: via ? via.host : unbracket(url.hostname),
      port: via ? via.port : Number(url.port || 80),
      method: 'GET',
      // Absolute form for a proxy, origin form for a direct connection.
      path: via ? url.href : `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      agent,
    });
    req.setTimeout(target.timeoutMs, () => {
      req.destroy(new Error(`catalog did not answer within ${target.timeoutMs} ms`));
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          req.destroy(new Error(`catalog answer larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('catalog connection closed mid-response')));
    });
    req.end();
  });
}

/** A catalog item as the book's webapp decodes it (its Go `CatalogItem` struct). */
export interface WebappCatalogItem {
  id: number;
  color: string;
  department: string;
  name: string;
  price: string;
  imageUrl?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes one item the way Go's encoding/json fills the struct; undefined on a type mismatch. */
export function decodeItem(value: unknown): WebappCatalogItem | undefined {
  if (value === null) return { id: 0, color: '', department: '', name: '', price: '' };
  if (!isRecord(value)) return undefined;
  const str = (k: string): string | undefined => {
    const v = value[k];
    return v === undefined || v === null ? '' : typeof v === 'string' ? v : undefined;
  };
  const idValue = value.id;
  const id = idValue === undefined || idValue === null ? 0 : idValue;
  if (typeof id !== 'number' || !Number.isInteger(id)) return undefined;
  const color = str('color');
  const department = str('department');
  const name = str('name');
  const price = str('price');
  const imageUrl = str('imageUrl');
  if (color === undefined || department === undefined || name === undefined || price === undefined)
    return undefined;
  if (imageUrl === undefined) return undefined;
  const item: WebappCatalogItem = { id, color, department, name, price };
  if (imageUrl !== '') item.imageUrl = imageUrl; // `json:"imageUrl,omitempty"`
  return item;
}

/** Decodes the catalog's item list; undefined when it is not one. */
export function decodeItems(value: unknown): WebappCatalogItem[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const items: WebappCatalogItem[] = [];
  for (const v of value) {
    const item = decodeItem(v);
    if (!item) return undefined;
    items.push(item);
  }
  return items;
}

/**
 * JSON as Go's json.Marshal writes it (what the book's webapp returns): compact, no trailing newline,
 * and <, >, &, U+2028, U+2029 escaped.
 */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
