/** The lab's Kubernetes-style service-account tokens (HS256): claims, expiry, signature, audience. */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  TokenError,
  issueServiceAccountToken,
  loadOrCreateTokenKey,
  verifyServiceAccountToken,
} from '../src/security/index.js';
import { tempDir } from './helpers.js';

test('a token carries Kubernetes service-account claims and verifies to its namespace and account', () => {
  const key = loadOrCreateTokenKey();
  const token = issueServiceAccountToken(key, 'default', 'sleep', 600);
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(claims.sub, 'system:serviceaccount:default:sleep');
  assert.deepEqual(claims.aud, ['istio-ca']);
  assert.deepEqual(claims['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'sleep' } });
  assert.equal((claims.exp as number) - (claims.iat as number), 600);
  assert.deepEqual(verifyServiceAccountToken(key, token), { namespace: 'default', serviceAccount: 'sleep' });
});

test('expired, wrongly signed, wrong-audience and malformed tokens are refused with the reason', () => {
  const key = loadOrCreateTokenKey();
  const past = new Date(Date.now() - 7200_000);
  assert.throws(
    () =>
      verifyServiceAccountToken(key, issueServiceAccountToken(key, 'default', 'sleep', 60, { now: past })),
    {
      name: 'TokenError',
      message: /^token expired at /,
    },
  );
  const otherKey = loadOrCreateTokenKey();
  assert.throws(
    () => verifyServiceAccountToken(key, issueServiceAccountToken(otherKey, 'default', 'sleep')),
    {
      message: 'invalid token signature',
    },
  );
  const good = issueServiceAccountToken(key, 'default', 'sleep');
  const [h, , s] = good.split('.');
  const evil = Buffer.from(
    JSON.stringify({ sub: 'system:serviceaccount:istio-system:istiod', aud: ['istio-ca'], exp: 9e9 }),
  ).toString('base64url');
  assert.throws(() => verifyServiceAccountToken(key, `${h}.${evil}.${s}`), {
    message: 'invalid token signature',
  });
  assert.throws(
    () =>
      verifyServiceAccountToken(
        key,
        issueServiceAccountToken(key, 'default', 'sleep', 60, { audiences: ['api'] }),
      ),
    { message: 'token audience ["api"] does not include istio-ca' },
  );
  for (const bad of ['', 'abc', 'a.b.c', `${h}.e30.${s}x`]) {
    assert.throws(() => verifyServiceAccountToken(key, bad), TokenError, bad);
  }
  assert.throws(() => verifyServiceAccountToken(key, undefined as unknown as string), TokenError);
});

test('the token key is created once in the state dir (0600) and reused', () => {
  const stateDir = tempDir('skiff-token-');
  const a = loadOrCreateTokenKey(stateDir);
  const b = loadOrCreateTokenKey(stateDir);
  assert.ok(a.equals(b));
  const file = join(stateDir, 'ca', 'sa-token.key');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
  const token = issueServiceAccountToken(a, 'prod', 'api');
  assert.deepEqual(verifyServiceAccountToken(b, token), { namespace: 'prod', serviceAccount: 'api' });
});
