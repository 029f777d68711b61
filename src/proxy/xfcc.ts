/**
 * The `x-forwarded-client-cert` request header as Envoy's HTTP connection manager sets it
 * (ConnectionManagerUtility::mutateXfccRequestHeader): Istio asks sidecars' inbound HCMs for
 * APPEND_FORWARD with subject, URI and DNS details, gateways for SANITIZE_SET with the certificate too.
 * Envoy's default when the field is absent is SANITIZE.
 */
import type { X509Certificate } from 'node:crypto';

export type ForwardClientCertMode =
  'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';

/** Which details go in, in the order Envoy's HCM config lists them (Cert, Chain, Subject, URI, DNS). */
export type ClientCertDetail = 'Cert' | 'Chain' | 'Subject' | 'URI' | 'DNS';

export interface XfccOptions {
  mode: ForwardClientCertMode;
  details: ClientCertDetail[];
}

/** What the TLS connection knows about both ends, as Envoy's ConnectionInfo offers it. */
export interface XfccPeer {
  localUriSans: readonly string[];
  /** Lower-case hex SHA-256 of the peer certificate's DER. */
  sha256: string;
  /** RFC 2253 subject, "" when empty (Istio workload certificates have none). */
  subject: string;
  uriSans: readonly string[];
  dnsSans: readonly string[];
  /** PEM, URL-encoded as Envoy does for `Cert=`. */
  urlEncodedPem: string;
  urlEncodedChain: string;
}

export const XFCC_HEADER = 'x-forwarded-client-cert';

const MODES = new Set<string>([
  'SANITIZE',
  'FORWARD_ONLY',
  'APPEND_FORWARD',
  'SANITIZE_SET',
  'ALWAYS_FORWARD_ONLY',
]);

function flag(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  return typeof v === 'object' && v !== null && (v as { value?: unknown }).value === true;
}

/** The HCM's `forward_client_cert_details` and `set_current_client_cert_details` (proto3 JSON names). */
export function xfccOptionsFromHcm(hcm: Record<string, unknown>): XfccOptions {
  const raw = hcm['forwardClientCertDetails'];
  const mode = typeof raw === 'string' && MODES.has(raw) ? (raw as ForwardClientCertMode) : 'SANITIZE';
  const set = hcm['setCurrentClientCertDetails'];
  const s = typeof set === 'object' && set !== null ? (set as Record<string, unknown>) : {};
  const details: ClientCertDetail[] = [];
  if (flag(s['cert'])) details.push('Cert');
  if (flag(s['chain'])) details.push('Chain');
  if (flag(s['subject'])) details.push('Subject');
  if (flag(s['uri'])) details.push('URI');
  if (flag(s['dns'])) details.push('DNS');
  return { mode, details };
}

/** Envoy's URL encoding of a PEM block (the characters PEM can hold that are not unreserved). */
function urlEncodePem(pem: string): string {
  return pem.replace(/[\n +/=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/** RFC 2253 escaping of one attribute value. */
function escapeRdnValue(v: string): string {
  let out = v.replace(/([,+"\\<>;])/g, '\\$1');
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && out.length > 1) out = `${out.slice(0, -1)}\\ `;
  return out;
}

/** Node prints a subject one `KEY=value` per line in certificate order; RFC 2253 reverses it. */
export function rfc2253Subject(nodeSubject: string | undefined): string {
  if (!nodeSubject) return '';
  return nodeSubject
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => {
      const eq = l.indexOf('=');
      return `${l.slice(0, eq)}=${escapeRdnValue(l.slice(eq + 1))}`;
    })
    .reverse()
    .join(',');
}

function sans(cert: X509Certificate, kind: 'URI' | 'DNS'): string[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  const out: string[] = [];
  for (const part of text.split(/, (?=[A-Za-z ]+:)/)) {
    if (!part.startsWith(`${kind}:`)) continue;
    let value = part.slice(kind.length + 1);
    if (value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // Keep the quoted text as it is.
      }
    }
    out.push(value);
  }
  return out;
}

/** The connection facts for a verified peer chain (leaf first) and our own certificate's URI SANs. */
export function xfccPeer(
  chain: readonly X509Certificate[],
  localUriSans: readonly string[],
): XfccPeer | undefined {
  const leaf = chain[0];
  if (!leaf) return undefined;
  return {
    localUriSans,
    sha256: leaf.fingerprint256.replace(/:/g, '').toLowerCase(),
    subject: rfc2253Subject(leaf.subject),
    uriSans: sans(leaf, 'URI'),
    dnsSans: sans(leaf, 'DNS'),
    urlEncodedPem: urlEncodePem(leaf.toString()),
    urlEncodedChain: chain.map((c) => urlEncodePem(c.toString())).join(''),
  };
}

/** The element this hop adds: `By=…;Hash=…;Subject="…";URI=…`. */
export function xfccElement(peer: XfccPeer, details: readonly ClientCertDetail[]): string {
  const parts: string[] = [];
  for (const uri of peer.localUriSans) parts.push(`By=${uri}`);
  if (peer.sha256 !== '') parts.push(`Hash=${peer.sha256}`);
  for (const d of details) {
    if (d === 'Cert' && peer.urlEncodedPem !== '') parts.push(`Cert="${peer.urlEncodedPem}"`);
    else if (d === 'Chain' && peer.urlEncodedChain !== '') parts.push(`Chain="${peer.urlEncodedChain}"`);
    else if (d === 'Subject') parts.push(`Subject="${peer.subject}"`);
    else if (d === 'URI') {
      if (peer.uriSans.length === 0) parts.push('URI=');
      for (const uri of peer.uriSans) parts.push(`URI=${uri}`);
    } else if (d === 'DNS') for (const dns of peer.dnsSans) parts.push(`DNS=${dns}`);
  }
  return parts.join(';');
}

/**
 * The header value to send upstream given what arrived (`undefined`: remove it). `peer` is undefined
 * unless the downstream connection is mutual TLS with a presented certificate.
 */
export function forwardedClientCert(
  incoming: string | undefined,
  options: XfccOptions,
  peer: XfccPeer | undefined,
): string | undefined {
  if (options.mode === 'ALWAYS_FORWARD_ONLY') return incoming;
  if (options.mode === 'SANITIZE' || peer === undefined) return undefined;
  if (options.mode === 'FORWARD_ONLY') return incoming;
  const element = xfccElement(peer, options.details);
  if (options.mode === 'SANITIZE_SET') return element;
  return incoming !== undefined && incoming !== '' ? `${incoming},${element}` : element;
}
