/**
 * The listener filters Istio puts in front of filter-chain matching, over the first bytes a client sends:
 * tls_inspector (is it a TLS ClientHello? which SNI and ALPN does it offer?) and http_inspector (for
 * plaintext: `http/1.0`, `http/1.1` or `h2c` from the request line or the HTTP/2 preface).
 */

export interface Inspection {
  /** `tls` for a ClientHello, else `raw_buffer`. */
  transportProtocol: 'tls' | 'raw_buffer';
  serverName?: string;
  /** ALPN offered in the ClientHello, or the HTTP version the http inspector saw. */
  applicationProtocols: string[];
}

/** Beyond this many bytes the inspectors give up and decide with what they have. */
export const INSPECT_LIMIT = 64 * 1024;

const H2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** Reads the ClientHello's SNI and ALPN; undefined when more bytes are needed. */
function clientHello(buf: Buffer): Inspection | undefined {
  // Gather the handshake message across records.
  const parts: Buffer[] = [];
  let offset = 0;
  let have = 0;
  let need = -1;
  while (offset + 5 <= buf.length) {
    if (buf[offset] !== 0x16) break;
    const len = buf.readUInt16BE(offset + 3);
    if (offset + 5 + len > buf.length) return buf.length >= INSPECT_LIMIT ? tlsOnly() : undefined;
    parts.push(buf.subarray(offset + 5, offset + 5 + len));
    have += len;
    offset += 5 + len;
    const hs = Buffer.concat(parts);
    if (need < 0 && hs.length >= 4) need = 4 + hs.readUIntBE(1, 3);
    if (need >= 0 && have >= need) return parseHello(hs.subarray(0, need));
  }
  return buf.length >= INSPECT_LIMIT ? tlsOnly() : undefined;
}

function tlsOnly(): Inspection {
  return { transportProtocol: 'tls', applicationProtocols: [] };
}

function parseHello(hs: Buffer): Inspection {
  const out = tlsOnly();
  try {
    if (hs[0] !== 0x01) return out;
    let p = 4 + 2 + 32;
    p += 1 + (hs[p] ?? 0); // session id
    p += 2 + hs.readUInt16BE(p); // cipher suites
    p += 1 + (hs[p] ?? 0); // compression methods
    if (p + 2 > hs.length) return out;
    const end = Math.min(hs.length, p + 2 + hs.readUInt16BE(p));
    p += 2;
    while (p + 4 <= end) {
      const type = hs.readUInt16BE(p);
      const len = hs.readUInt16BE(p + 2);
      const body = hs.subarray(p + 4, p + 4 + len);
      p += 4 + len;
      if (type === 0 && body.length >= 5 && body[2] === 0) {
        const n = body.readUInt16BE(3);
        out.serverName = body
          .subarray(5, 5 + n)
          .toString('latin1')
          .toLowerCase();
      } else if (type === 16 && body.length >= 2) {
        let q = 2;
        const listEnd = Math.min(body.length, 2 + body.readUInt16BE(0));
        while (q < listEnd) {
          const n = body[q] ?? 0;
          out.applicationProtocols.push(body.subarray(q + 1, q + 1 + n).toString('latin1'));
          q += 1 + n;
        }
      }
    }
  } catch {
    // a truncated or odd ClientHello: TLS without SNI/ALPN
  }
  return out;
}

/** http_inspector on plaintext bytes; undefined when more bytes are needed. */
function httpVersion(buf: Buffer): string[] | undefined {
  const head = buf.subarray(0, Math.min(buf.length, 8192)).toString('latin1');
  if (head.startsWith(H2_PREFACE)) return ['h2c'];
  if (H2_PREFACE.startsWith(head)) return undefined;
  const eol = head.indexOf('\r\n');
  if (eol < 0) {
    // Still a plausible request line: wait for the rest of it.
    return /^[A-Za-z]*( [^\s]*( H?T?T?P?\/?1?\.?)?)?$/.test(head) && buf.length < 8192 ? undefined : [];
  }
  const m = /^[A-Za-z]+ \S+ HTTP\/1\.([01])$/.exec(head.slice(0, eol));
  return m ? [m[1] === '0' ? 'http/1.0' : 'http/1.1'] : [];
}

/** Inspects the first bytes of a connection; undefined while it needs more. */
export function inspect(buf: Buffer, ended = false): Inspection | undefined {
  if (buf.length === 0)
    return ended ? { transportProtocol: 'raw_buffer', applicationProtocols: [] } : undefined;
  if (buf[0] === 0x16) {
    if (buf.length < 3) return ended ? tlsOnly() : undefined;
    if (buf[1] === 0x03) return clientHello(buf) ?? (ended ? tlsOnly() : undefined);
  }
  const alpn = httpVersion(buf);
  if (alpn === undefined && !ended) return undefined;
  return { transportProtocol: 'raw_buffer', applicationProtocols: alpn ?? [] };
}
