/**
 * TLS transport sockets (envoy.transport_sockets.tls with an Upstream/DownstreamTlsContext) compiled into
 * what Node's TLS needs, resolved against SDS secrets at handshake time, and the peer checks Envoy's
 * default certificate validator makes: chain to the trusted CA, validity dates, then
 * `matchSubjectAltNames`. Failures are reported with BoringSSL's wording, as Envoy prints them.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import tls from 'node:tls';
import { RE2JS } from 're2js';
import { anyType, bool, record, records, str, strings } from './json.js';
import type { SecretStore } from './tls-secrets.js';
import { dataSource } from './tls-secrets.js';

export const TLS_SOCKET = 'envoy.transport_sockets.tls';
const UPSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const DOWNSTREAM_TLS = 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

/** A StringMatcher over SAN values. */
export interface SanMatcher {
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  regex?: RE2JS;
  ignoreCase: boolean;
}

type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';

export interface CompiledTls {
  side: 'upstream' | 'downstream';
  /** SDS name of the key pair, or an inline one. */
  certSecret?: string;
  inlineCert?: { certChain: string; privateKey: string };
  /** SDS name of the validation context, or an inline trust bundle. */
  caSecret?: string;
  inlineCa?: string;
  sanMatchers: SanMatcher[];
  alpn: string[];
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  ciphers?: string;
  /** Upstream: the SNI to send. */
  sni?: string;
  /** Downstream: refuse clients without a certificate. */
  requireClientCertificate: boolean;
  /** A stable text of the settings (pool and cache keys). */
  key: string;
}

const VERSIONS: Record<string, TlsVersion> = {
  TLSv1_0: 'TLSv1',
  TLSv1_1: 'TLSv1.1',
  TLSv1_2: 'TLSv1.2',
  TLSv1_3: 'TLSv1.3',
};

function sanMatchers(v: unknown): SanMatcher[] {
  const out: SanMatcher[] = [];
  for (const m of records(v)) {
    // Envoy 1.25 takes both the typed SubjectAltNameMatcher ({sanType, matcher}) and a bare StringMatcher.
    const sm = record(m['matcher']) ?? m;
    const matcher: SanMatcher = { ignoreCase: bool(sm['ignoreCase']) === true };
    const exact = str(sm['exact']);
    const prefix = str(sm['prefix']);
    const suffix = str(sm['suffix']);
    const contains = str(sm['contains']);
    const regex = str(record(sm['safeRegex'])?.['regex']);
    if (exact !== undefined) matcher.exact = exact;
    else if (prefix !== undefined) matcher.prefix = prefix;
    else if (suffix !== undefined) matcher.suffix = suffix;
    else if (contains !== undefined) matcher.contains = contains;
    else if (regex !== undefined) {
      try {
        matcher.regex = RE2JS.compile(regex);
      } catch {
        continue;
      }
    } else continue;
    out.push(matcher);
  }
  return out;
}

function matchOne(m: SanMatcher, value: string): boolean {
  const v = m.ignoreCase ? value.toLowerCase() : value;
  const lc = (s: string): string => (m.ignoreCase ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === lc(m.exact);
  if (m.prefix !== undefined) return v.startsWith(lc(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(lc(m.suffix));
  if (m.contains !== undefined) return v.includes(lc(m.contains));
  return m.regex ? m.regex.matches(value) : false;
}

/**
 * Compiles a transport socket. Undefined: plaintext (no socket, raw_buffer, or one the engine does not
 * model). Never throws.
 */
export function compileTransportSocket(
  socket: unknown,
  side: 'upstream' | 'downstream',
): CompiledTls | undefined {
  const ts = record(socket);
  if (!ts) return undefined;
  const typed = record(ts['typedConfig']);
  const type = anyType(typed);
  const isTls = str(ts['name']) === TLS_SOCKET || type === UPSTREAM_TLS || type === DOWNSTREAM_TLS;
  if (!isTls || !typed) return undefined;
  const common = record(typed['commonTlsContext']) ?? {};
  const params = record(common['tlsParams']) ?? {};
  const out: CompiledTls = {
    side,
    sanMatchers: [],
    alpn: strings(common['alpnProtocols']),
    // Envoy 1.25's defaults: clients TLS 1.2 only, servers 1.0–1.3.
    minVersion:
      VERSIONS[str(params['tlsMinimumProtocolVersion']) ?? ''] ?? (side === 'upstream' ? 'TLSv1.2' : 'TLSv1'),
    maxVersion:
      VERSIONS[str(params['tlsMaximumProtocolVersion']) ?? ''] ??
      (side === 'upstream' ? 'TLSv1.2' : 'TLSv1.3'),
    requireClientCertificate: side === 'downstream' && bool(typed['requireClientCertificate']) === true,
    key: '',
  };
  const ciphers = strings(params['cipherSuites'])
    .flatMap((c) => c.replace(/^\[|\]$/g, '').split('|'))
    .filter((c) => c !== '');
  if (ciphers.length > 0) out.ciphers = ciphers.join(':');
  const sdsCert = records(common['tlsCertificateSdsSecretConfigs'])[0];
  const inline = records(common['tlsCertificates'])[0];
  if (sdsCert && str(sdsCert['name'])) out.certSecret = str(sdsCert['name']);
  else if (inline) {
    const certChain = dataSource(inline['certificateChain']);
    const privateKey = dataSource(inline['privateKey']);
    if (certChain !== undefined && privateKey !== undefined) out.inlineCert = { certChain, privateKey };
  }
  const combined = record(common['combinedValidationContext']);
  const validation = record(combined?.['defaultValidationContext']) ?? record(common['validationContext']);
  const sdsCa =
    record(combined?.['validationContextSdsSecretConfig']) ??
    record(common['validationContextSdsSecretConfig']);
  if (sdsCa && str(sdsCa['name'])) out.caSecret = str(sdsCa['name']);
  const inlineCa = dataSource(validation?.['trustedCa']);
  if (inlineCa !== undefined && out.caSecret === undefined) out.inlineCa = inlineCa;
  out.sanMatchers = sanMatchers(validation?.['matchSubjectAltNames']);
  if (side === 'upstream') {
    const sni = str(typed['sni']);
    if (sni !== undefined && sni !== '') out.sni = sni;
  }
  out.key = JSON.stringify([
    out.certSecret ?? out.inlineCert?.certChain ?? '',
    out.caSecret ?? out.inlineCa ?? '',
    validation?.['matchSubjectAltNames'] ?? null,
    out.alpn,
    out.minVersion,
    out.maxVersion,
    out.ciphers ?? '',
    out.sni ?? '',
    out.requireClientCertificate,
  ]);
  return out;
}

/** What a handshake needs, resolved from the secrets serving now. */
export interface ResolvedTls {
  context: SecureContext;
  /** Trusted roots; undefined when the context does not validate the peer. */
  roots?: X509Certificate[];
  /** This side's own certificate (for %DOWNSTREAM_LOCAL_URI_SAN% and the principals). */
  own?: X509Certificate;
}

/** Envoy's transport failure reason when a context's secret has not arrived (the socket is "not ready"). */
export const SECRET_NOT_READY = 'TLS error: Secret is not supplied by SDS';

const cache = new Map<string, ResolvedTls>();
let cacheGeneration = -1;

function parseCerts(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const block of pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []) {
    try {
      out.push(new X509Certificate(block));
    } catch {
      // an unparsable certificate in a bundle is skipped
    }
  }
  return out;
}

/**
 * The secure context for a compiled TLS config, or the failure reason when a secret is missing or
 * unusable. Contexts are cached per secret generation, so a rotation gives new connections the new
 * certificate while established ones keep theirs.
 */
export function resolveTls(c: CompiledTls, secrets: SecretStore): ResolvedTls | { error: string } {
  if (cacheGeneration !== secrets.generation || cache.size > 512) {
    cache.clear();
    cacheGeneration = secrets.generation;
  }
  let pair = c.inlineCert;
  if (c.certSecret !== undefined) {
    pair = secrets.get(c.certSecret)?.tlsCertificate;
    if (!pair) return { error: SECRET_NOT_READY };
  }
  let ca = c.inlineCa;
  if (c.caSecret !== undefined) {
    ca = secrets.get(c.caSecret)?.trustedCa;
    if (ca === undefined) return { error: SECRET_NOT_READY };
  }
  const certVersion = c.certSecret !== undefined ? (secrets.get(c.certSecret)?.version ?? 0) : 0;
  const caVersion = c.caSecret !== undefined ? (secrets.get(c.caSecret)?.version ?? 0) : 0;
  const key = `${c.key}|${certVersion}|${caVersion}`;
  const hit = cache.get(key);
  if (hit) return hit;
  try {
    const opts: tls.SecureContextOptions = { minVersion: c.minVersion, maxVersion: c.maxVersion };
    // A server that asks for client certificates must name its session context, or OpenSSL answers every
    // client offering a session ticket with a fatal internal_error alert (SESSION_ID_CONTEXT_UNINITIALIZED)
    // instead of resuming. Named after the settings, a ticket resumes only under the same validation.
    if (c.side === 'downstream') opts.sessionIdContext = sessionIdContext(c.key);
    if (pair) {
      opts.cert = pair.certChain;
      opts.key = pair.privateKey;
    }
    if (c.ciphers !== undefined) opts.ciphers = c.ciphers;
    let context: SecureContext;
    try {
      context = tls.createSecureContext(opts);
    } catch (err) {
      if (opts.ciphers === undefined) throw err;
      delete opts.ciphers; // cipher names Node does not know: its defaults rather than no TLS at all
      context = tls.createSecureContext(opts);
    }
    const resolved: ResolvedTls = { context };
    if (ca !== undefined) resolved.roots = parseCerts(ca);
    const own = pair ? parseCerts(pair.certChain)[0] : undefined;
    if (own) resolved.own = own;
    cache.set(key, resolved);
    return resolved;
  } catch (err) {
    return { error: `TLS error: ${(err as Error).message}` };
  }
}

/** OpenSSL's session id context is at most 32 bytes: 32 hex digits of the settings' hash. */
function sessionIdContext(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

/** SAN values of a certificate by kind (`URI`, `DNS`, `IP Address`, ...). */
export function subjectAltNames(cert: X509Certificate | undefined): { kind: string; value: string }[] {
  const text = cert?.subjectAltName;
  if (!text) return [];
  const out: { kind: string; value: string }[] = [];
  for (const part of text.split(/, (?=[A-Za-z ]+:)/)) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    let value = part.slice(colon + 1);
    if (value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // keep as is
      }
    }
    out.push({ kind: part.slice(0, colon), value });
  }
  return out;
}

/**
 * URI SANs by certificate object: a connection asks for its own certificate's (one object per context)
 * and the peer's (one object per chain, kept for resumed sessions) without parsing the SAN text again.
 */
const uriSansOf = new WeakMap<X509Certificate, readonly string[]>();

export function uriSans(cert: X509Certificate | undefined): string[] {
  if (!cert) return [];
  let sans = uriSansOf.get(cert);
  if (!sans) {
    sans = subjectAltNames(cert)
      .filter((s) => s.kind === 'URI')
      .map((s) => s.value);
    uriSansOf.set(cert, sans);
  }
  // A copy: callers own what they get (they keep it on connection facts).
  return [...sans];
}

/**
 * Chains seen in full handshakes, for resumed sessions (which carry no chain: the server gets the leaf
 * alone, the client nothing): by the session a client was given (the very Buffer its pool keeps and offers
 * again), and by leaf fingerprint for servers. The chain is verified again on every connection.
 */
const chainsBySession = new WeakMap<Buffer, X509Certificate[]>();
const chainsByLeaf = new Map<string, X509Certificate[]>();
const CHAINS_BY_LEAF_SIZE = 1024;

/** A TLS socket's own view of itself (Node keeps the options it was created with, session included). */
type TlsSocketInternals = tls.TLSSocket & { _tlsOptions?: { isServer?: boolean; session?: unknown } };

/** The chain the peer presented, leaf first (the issuer links Node keeps on the peer certificate). */
function presentedChain(socket: tls.TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  try {
    let cur = socket.getPeerX509Certificate();
    const seen = new Set<string>();
    while (cur && !seen.has(cur.fingerprint256) && out.length < 16) {
      seen.add(cur.fingerprint256);
      out.push(cur);
      cur = cur.issuerCertificate;
    }
  } catch {
    // a socket that cannot tell keeps what was read so far
  }
  return out;
}

/** The peer's chain, leaf first, from a connected TLS socket (resumed sessions: the chain first seen). */
export function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const s = socket as TlsSocketInternals;
  const isServer = s._tlsOptions?.isServer === true;
  const chain = presentedChain(socket);
  let reused = false;
  try {
    reused = socket.isSessionReused();
  } catch {
    // a socket without a session reports a full handshake
  }
  if (reused) {
    const offered = s._tlsOptions?.session;
    const remembered =
      !isServer && Buffer.isBuffer(offered)
        ? chainsBySession.get(offered)
        : chain[0] !== undefined
          ? chainsByLeaf.get(chain[0].fingerprint256)
          : undefined;
    const leaf = chain[0];
    // The server's own view of the leaf (from the ticket) must agree with what was remembered.
    if (remembered && (leaf === undefined || remembered[0]?.fingerprint256 === leaf.fingerprint256))
      return rememberFor(socket, isServer, remembered, false);
    return rememberFor(socket, isServer, chain, false);
  }
  return rememberFor(socket, isServer, chain, true);
}

/** Keeps a chain for the sessions this connection will resume; returns it. */
function rememberFor(
  socket: tls.TLSSocket,
  isServer: boolean,
  chain: X509Certificate[],
  full: boolean,
): X509Certificate[] {
  const leaf = chain[0];
  if (leaf === undefined) return chain;
  if (isServer) {
    if (full && chain.length > 1) {
      // The oldest goes first: a client whose chain was dropped falls back to a full check of its leaf.
      const oldest = chainsByLeaf.size >= CHAINS_BY_LEAF_SIZE ? chainsByLeaf.keys().next().value : undefined;
      if (oldest !== undefined) chainsByLeaf.delete(oldest);
      chainsByLeaf.set(leaf.fingerprint256, chain);
    }
  } else {
    // Node emits sessions (TLS 1.2, and TLS 1.3 tickets, also on resumed connections) after secureConnect,
    // where this runs: the pool offers exactly that Buffer on a later connection.
    socket.on('session', (session: Buffer) => chainsBySession.set(session, chain));
  }
  return chain;
}

/** A failed peer check: Envoy's reason (as %..._TRANSPORT_FAILURE_REASON% prints it) and the detail. */
export interface VerifyFailure {
  reason: string;
  detail: string;
}

export const VERIFY_FAILED = 'TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED';

function validAt(cert: X509Certificate, now: number): string | undefined {
  if (Date.parse(cert.validTo) < now) return 'certificate has expired';
  if (Date.parse(cert.validFrom) > now) return 'certificate is not yet valid';
  return undefined;
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Envoy's DefaultCertValidator: the chain must lead to a trusted root with every certificate in its
 * validity period, and, when SAN matchers are configured, one SAN must match one of them.
 */
export function verifyPeer(
  chain: X509Certificate[],
  resolved: ResolvedTls,
  matchers: readonly SanMatcher[],
  now = Date.now(),
): VerifyFailure | undefined {
  const leaf = chain[0];
  if (!leaf) return undefined; // no certificate: the caller decides whether one is required
  const roots = resolved.roots;
  if (roots) {
    const failure = chainTrust(chain, resolved, roots, now);
    if (failure) return failure;
  }
  if (matchers.length > 0) {
    const sans = subjectAltNames(leaf).map((s) => s.value);
    if (!sans.some((v) => matchers.some((m) => matchOne(m, v))))
      return fail('verify cert failed: SAN matcher');
  }
  return undefined;
}

/**
 * Chains found trusted, per resolved context (so new roots start afresh), with the time window in which
 * every certificate on the path was valid: inside it, a connection presenting the same chain needs no
 * signature checks. Failures are not kept; they are worked out again with their exact reason.
 */
const trustedChains = new WeakMap<ResolvedTls, Map<string, { from: number; to: number }>>();
const TRUSTED_CHAINS_SIZE = 1024;

function chainTrust(
  chain: X509Certificate[],
  resolved: ResolvedTls,
  roots: readonly X509Certificate[],
  now: number,
): VerifyFailure | undefined {
  const key = chain.map((c) => c.fingerprint256).join(',');
  let known = trustedChains.get(resolved);
  const hit = known?.get(key);
  if (hit && hit.from <= now && now <= hit.to) return undefined;
  const leaf = chain[0];
  if (!leaf) return undefined;
  let from = -Infinity;
  let to = Infinity;
  const within = (c: X509Certificate): void => {
    from = Math.max(from, Date.parse(c.validFrom));
    to = Math.min(to, Date.parse(c.validTo));
  };
  let cur = leaf;
  for (let depth = 0; depth < 10; depth++) {
    const dates = validAt(cur, now);
    if (dates) return fail(`X509_verify_cert: certificate verification error at depth ${depth}: ${dates}`);
    within(cur);
    const root = roots.find((r) => issuedBy(cur, r) || r.fingerprint256 === cur.fingerprint256);
    if (root) {
      const rootDates = validAt(root, now);
      if (rootDates)
        return fail(`X509_verify_cert: certificate verification error at depth ${depth + 1}: ${rootDates}`);
      within(root);
      if (!known) {
        known = new Map();
        trustedChains.set(resolved, known);
      }
      if (known.size >= TRUSTED_CHAINS_SIZE) known.clear();
      // Date.parse of an unreadable date is NaN: such a window never matches, so nothing is reused.
      known.set(key, { from, to });
      return undefined;
    }
    const next = chain.slice(1).find((c) => c !== cur && issuedBy(cur, c));
    if (!next) break;
    cur = next;
  }
  return fail(
    'X509_verify_cert: certificate verification error at depth 0: unable to get local issuer certificate',
  );
}

function fail(detail: string): VerifyFailure {
  return { reason: VERIFY_FAILED, detail };
}

/** BoringSSL reason codes of the handshake errors Envoy reports (ERR_PACK(ERR_LIB_SSL, reason)). */
const BORINGSSL_REASONS: Record<string, number> = {
  CERTIFICATE_VERIFY_FAILED: 125,
  WRONG_VERSION_NUMBER: 247,
  HTTP_REQUEST: 156,
  NO_SHARED_CIPHER: 184,
  UNSUPPORTED_PROTOCOL: 240,
  SSLV3_ALERT_HANDSHAKE_FAILURE: 1040,
  SSLV3_ALERT_BAD_CERTIFICATE: 1042,
  SSLV3_ALERT_CERTIFICATE_REVOKED: 1044,
  SSLV3_ALERT_CERTIFICATE_EXPIRED: 1045,
  SSLV3_ALERT_CERTIFICATE_UNKNOWN: 1046,
  TLSV1_ALERT_UNKNOWN_CA: 1048,
  TLSV1_ALERT_DECRYPT_ERROR: 1051,
  TLSV1_ALERT_PROTOCOL_VERSION: 1070,
  TLSV1_ALERT_INTERNAL_ERROR: 1080,
  TLSV1_ALERT_CERTIFICATE_REQUIRED: 1116,
  TLSV1_ALERT_NO_APPLICATION_PROTOCOL: 1120,
};

/**
 * A Node TLS error as Envoy's transport failure reason (`TLS error: <code>:SSL routines:OPENSSL_internal:<NAME>`).
 * OpenSSL's TLSV13_ALERT_* names are BoringSSL's TLSV1_ALERT_*.
 */
export function tlsFailureReason(err: NodeJS.ErrnoException): string {
  const code = err.code ?? '';
  if (code.startsWith('ERR_SSL_')) {
    const name = code.slice('ERR_SSL_'.length).replace(/^TLSV13_ALERT_/, 'TLSV1_ALERT_');
    const reason = BORINGSSL_REASONS[name];
    return reason !== undefined
      ? `TLS error: ${268435456 + reason}:SSL routines:OPENSSL_internal:${name}`
      : `TLS error: SSL routines:OPENSSL_internal:${name}`;
  }
  return `TLS error: ${err.message}`;
}
