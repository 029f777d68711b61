/**
 * Kubernetes-style service-account tokens for the lab: a JWT (HS256 over a key kept in the state dir) with
 * the claims a projected token carries (`iss`, `sub: system:serviceaccount:<ns>:<sa>`, `aud`, `exp`, `iat`,
 * `kubernetes.io: {namespace, serviceaccount: {name}}`). The CA accepts audience `istio-ca` (TOKEN_AUDIENCES).
 * Real Kubernetes signs with RS256 and the CA asks the API server (TokenReview); the lab has no API server
 * for that, so the CA checks the HMAC itself.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const TOKEN_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const ISTIO_CA_AUDIENCE = 'istio-ca';
const TOKEN_KEY_FILE = 'sa-token.key';

export interface ServiceAccountRef {
  namespace: string;
  serviceAccount: string;
}

export interface IssueTokenOptions {
  audiences?: string[];
  now?: Date;
}

/** The HMAC key under `<stateDir>/ca/sa-token.key` (0600), created on first use; in memory without a dir. */
export function loadOrCreateTokenKey(stateDir?: string): Buffer {
  if (!stateDir) return randomBytes(32);
  const dir = path.join(stateDir, 'ca');
  const file = path.join(dir, TOKEN_KEY_FILE);
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length < 16) throw new Error(`${file}: the token signing key is too short or not base64`);
    return key;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, key.toString('base64') + '\n', { mode: 0o600 });
  renameSync(tmp, file);
  return key;
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function hmac(key: Buffer, input: string): Buffer {
  return createHmac('sha256', key).update(input).digest();
}

/** A signed token for `system:serviceaccount:<ns>:<sa>` valid for `ttlSeconds`. */
export function issueServiceAccountToken(
  key: Buffer,
  namespace: string,
  serviceAccount: string,
  ttlSeconds = 3600,
  opts: IssueTokenOptions = {},
): string {
  if (!namespace || !serviceAccount) throw new Error('a token needs a namespace and a service account');
  const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64url(
    JSON.stringify({
      iss: TOKEN_ISSUER,
      sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
      aud: opts.audiences ?? [ISTIO_CA_AUDIENCE],
      iat,
      nbf: iat,
      exp: iat + Math.max(1, Math.trunc(ttlSeconds)),
      'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount } },
    }),
  );
  const signature = b64url(hmac(key, `${header}.${payload}`));
  return `${header}.${payload}.${signature}`;
}

export interface VerifyTokenOptions {
  audience?: string;
  now?: Date;
}

export class TokenError extends Error {
  override name = 'TokenError';
}

/** Checks signature, expiry and audience; the identity comes from the `kubernetes.io` claim (or `sub`). */
export function verifyServiceAccountToken(
  key: Buffer,
  token: string,
  opts: VerifyTokenOptions = {},
): ServiceAccountRef {
  if (typeof token !== 'string' || token.length === 0) throw new TokenError('no token');
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed token: not a JWT');
  const [h, p, s] = parts as [string, string, string];
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  } catch {
    throw new TokenError('malformed token: header or payload is not JSON');
  }
  if (!isRecord(header) || header.alg !== 'HS256') throw new TokenError('unsupported token algorithm');
  const expected = hmac(key, `${h}.${p}`);
  const given = Buffer.from(s, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new TokenError('invalid token signature');
  }
  if (!isRecord(claims)) throw new TokenError('malformed token: claims are not an object');
  const now = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (typeof claims.exp !== 'number') throw new TokenError('token has no expiry');
  if (now >= claims.exp)
    throw new TokenError(`token expired at ${new Date(claims.exp * 1000).toISOString()}`);
  if (typeof claims.nbf === 'number' && now < claims.nbf) throw new TokenError('token is not valid yet');
  const audience = opts.audience ?? ISTIO_CA_AUDIENCE;
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(audience)) {
    throw new TokenError(`token audience ${JSON.stringify(claims.aud ?? null)} does not include ${audience}`);
  }
  return identityFromClaims(claims);
}

function identityFromClaims(claims: Record<string, unknown>): ServiceAccountRef {
  const k8s = claims['kubernetes.io'];
  if (isRecord(k8s) && typeof k8s.namespace === 'string' && isRecord(k8s.serviceaccount)) {
    const name = k8s.serviceaccount.name;
    if (k8s.namespace && typeof name === 'string' && name)
      return { namespace: k8s.namespace, serviceAccount: name };
  }
  const sub = typeof claims.sub === 'string' ? claims.sub.split(':') : [];
  if (sub.length === 4 && sub[0] === 'system' && sub[1] === 'serviceaccount' && sub[2] && sub[3]) {
    return { namespace: sub[2], serviceAccount: sub[3] };
  }
  throw new TokenError('token does not name a service account');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
