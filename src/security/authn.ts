/**
 * Who is calling the CA (security/pkg/server/ca/authenticate): a bearer token in the `authorization`
 * metadata (the Kubernetes JWT authenticator; identity spiffe://<td>/ns/<ns>/sa/<sa>) or a client
 * certificate verified against the mesh root on the TLS connection (identity = its URI SANs). The first
 * authenticator that succeeds decides; when none does, every reason is kept for the error.
 */
import type { Metadata } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { spiffeUri, SPIFFE_PREFIX } from './spiffe.js';
import { verifyServiceAccountToken } from './token.js';

export const BEARER_PREFIX = 'Bearer ';

export interface Caller {
  /** SPIFFE identities the caller proved. */
  identities: string[];
  authSource: 'token' | 'client-certificate';
}

/** What an authenticator can see of a call. */
export interface CallCredentials {
  metadata: Metadata;
  /** The client certificate, present only when the TLS layer verified it against the CA root. */
  peerCertificate?: PeerCertificate | undefined;
}

export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
}

/** Throws AuthenticationError (with the reasons) when the caller cannot be identified. */
export type CallerAuthenticator = (call: CallCredentials) => Caller;

export interface AuthenticatorOptions {
  /** HMAC key of the lab's service-account tokens; without it tokens are not accepted. */
  tokenKey?: Buffer;
  trustDomain?: string;
  audience?: string;
  now?: () => Date;
}

/** Istio's order: client certificate first, then the Kubernetes JWT. */
export function caAuthenticator(opts: AuthenticatorOptions): CallerAuthenticator {
  return (call) => {
    const reasons: string[] = [];
    try {
      return authenticateClientCertificate(call);
    } catch (e) {
      reasons.push((e as Error).message);
    }
    if (opts.tokenKey) {
      try {
        return authenticateToken(call, opts);
      } catch (e) {
        reasons.push((e as Error).message);
      }
    }
    throw new AuthenticationError(reasons.join('; '));
  };
}

/** The bearer token of the `authorization` metadata (security.ExtractBearerToken wording). */
export function extractBearerToken(metadata: Metadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) throw new AuthenticationError('no HTTP authorization header exists');
  for (const v of values) {
    const s = typeof v === 'string' ? v : v.toString('utf8');
    if (s.startsWith(BEARER_PREFIX)) return s.slice(BEARER_PREFIX.length);
  }
  throw new AuthenticationError('no bearer token exists in HTTP authorization header');
}

function authenticateToken(call: CallCredentials, opts: AuthenticatorOptions): Caller {
  const token = extractBearerToken(call.metadata);
  const sa = verifyServiceAccountToken(opts.tokenKey!, token, {
    ...(opts.audience ? { audience: opts.audience } : {}),
    ...(opts.now ? { now: opts.now() } : {}),
  });
  return {
    identities: [spiffeUri(opts.trustDomain ?? '', sa.namespace, sa.serviceAccount)],
    authSource: 'token',
  };
}

function authenticateClientCertificate(call: CallCredentials): Caller {
  const raw = call.peerCertificate?.raw;
  if (!raw || raw.length === 0) throw new AuthenticationError('no client certificate is presented');
  const ids = spiffeIdsOf(raw);
  if (ids.length === 0) throw new AuthenticationError('the client certificate has no SPIFFE URI SAN');
  return { identities: ids, authSource: 'client-certificate' };
}

/** SPIFFE URIs in a DER certificate's SAN extension. */
export function spiffeIdsOf(der: Uint8Array): string[] {
  let san: string | undefined;
  try {
    san = new X509Certificate(Buffer.from(der)).subjectAltName;
  } catch {
    return [];
  }
  return uriSans(san ?? '').filter((u) => u.startsWith(SPIFFE_PREFIX));
}

/**
 * The URI entries of Node's `subjectAltName` text (`DNS:a, URI:spiffe://…`); Node quotes a value as a JSON
 * string when it holds a comma, quote or other special character, so quoted values are unquoted.
 */
function uriSans(text: string): string[] {
  const out: string[] = [];
  const entry = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (const m of text.matchAll(entry)) {
    if (m[1] !== 'URI') continue;
    const raw = m[2] ?? '';
    if (!raw.startsWith('"')) {
      out.push(raw);
      continue;
    }
    try {
      out.push(JSON.parse(raw) as string);
    } catch {
      // Not a value Node would write; skip it rather than guess.
    }
  }
  return out;
}

/** Anything grpc-js hands a handler (unary call or stream): metadata plus the TLS peer. */
export interface AuthenticatableCall {
  metadata: Metadata;
  getAuthContext?: () => { sslPeerCertificate?: PeerCertificate } | null;
}

/**
 * Authenticates any gRPC call with the given authenticator, e.g. an ADS stream on 15012 for istiod's xDS
 * identity check (PILOT_ENABLE_XDS_IDENTITY_CHECK). Throws AuthenticationError.
 */
export function authenticateCall(authenticate: CallerAuthenticator, call: AuthenticatableCall): Caller {
  const peer = call.getAuthContext?.()?.sslPeerCertificate;
  return authenticate({ metadata: call.metadata, peerCertificate: peer });
}
