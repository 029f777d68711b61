import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PathNormalizeOptions } from '../src/proxy/index.js';
import { normalizePath, pathOptionsFromHcm } from '../src/proxy/index.js';

const NONE: PathNormalizeOptions = { normalizePath: false };
const BASE: PathNormalizeOptions = { normalizePath: true };
const MERGE: PathNormalizeOptions = { normalizePath: true, mergeSlashes: true };
const DECODE: PathNormalizeOptions = {
  normalizePath: true,
  mergeSlashes: true,
  escapedSlashes: 'UNESCAPE_AND_FORWARD',
};

function path(p: string, opts: PathNormalizeOptions): string {
  const r = normalizePath(p, opts);
  assert.equal(r.action, 'continue', `${p} should be forwarded`);
  return r.action === 'continue' ? r.path : '';
}

test('dot segments and ./ resolve; // kept unless mergeSlashes', () => {
  assert.equal(path('/admin/../admin', BASE), '/admin');
  assert.equal(path('/./admin', BASE), '/admin');
  assert.equal(path('/app/../../admin', BASE), '/admin');
  assert.equal(path('/a/b/..', BASE), '/a/');
  assert.equal(path('//admin', BASE), '//admin');
  assert.equal(path('//admin', MERGE), '/admin');
  assert.equal(path('/app//', MERGE), '/app/');
  assert.equal(path('/admin/../admin', NONE), '/admin/../admin');
});

test("Istio's normalization_test vectors", () => {
  const rows: [string, string, string, string, string][] = [
    // input, NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES
    ['/app#foo', '/app', '/app', '/app', '/app'],
    ['/app/../admin', '/app/../admin', '/admin', '/admin', '/admin'],
    ['/app//', '/app//', '/app//', '/app/', '/app/'],
    ['/app/%2f', '/app/%2f', '/app/%2f', '/app/%2f', '/app/'],
    ['/xyz%30..//abc', '/xyz%30..//abc', '/xyz0..//abc', '/xyz0../abc', '/xyz0../abc'],
    ['/app/%2E./admin', '/app/%2E./admin', '/admin', '/admin', '/admin'],
    ['/app\\admin', '/app\\admin', '/app/admin', '/app/admin', '/app/admin'],
    ['/app/\\/\\/\\admin', '/app/\\/\\/\\admin', '/app//////admin', '/app/admin', '/app/admin'],
    [
      '/%2Fapp%5cadmin%5Cabc',
      '/%2Fapp%5cadmin%5Cabc',
      '/%2Fapp%5cadmin%5Cabc',
      '/%2Fapp%5cadmin%5Cabc',
      '/app/admin/abc',
    ],
    ['/app//../admin', '/app//../admin', '/app/admin', '/app/admin', '/app/admin'],
    ['/app//../../admin', '/app//../../admin', '/admin', '/admin', '/admin'],
  ];
  for (const [input, none, base, merge, decode] of rows) {
    assert.equal(path(input, NONE), none, `NONE ${input}`);
    assert.equal(path(input, BASE), base, `BASE ${input}`);
    assert.equal(path(input, MERGE), merge, `MERGE_SLASHES ${input}`);
    assert.equal(path(input, DECODE), decode, `DECODE_AND_MERGE_SLASHES ${input}`);
  }
  assert.equal(path('/%c0%2e%c0%2e/admin', DECODE), '/%c0.%c0./admin');
});

test('unreserved escapes decode (%61dmin → admin), case is kept, the query is untouched', () => {
  assert.equal(path('/%61dmin', BASE), '/admin');
  assert.equal(path('/ADMIN', MERGE), '/ADMIN');
  assert.notEqual(path('/ADMIN', BASE), '/admin');
  assert.equal(path('/a/../b?x=/../y&z=%61', BASE), '/b?x=/../y&z=%61');
  assert.equal(path('/a b', BASE), '/a%20b');
});

test('%2F / %2f under each escaped-slashes action', () => {
  for (const p of ['/%2Fadmin', '/%2fadmin']) {
    assert.equal(path(p, { normalizePath: true, escapedSlashes: 'KEEP_UNCHANGED' }), p);
    assert.deepEqual(normalizePath(p, { normalizePath: true, escapedSlashes: 'REJECT_REQUEST' }), {
      action: 'reject',
      status: 400,
      details: 'path_normalization_failed',
    });
    assert.deepEqual(
      normalizePath(p, { normalizePath: true, mergeSlashes: true, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }),
      { action: 'redirect', path: '/admin', status: 307, details: 'path_normalization_failed' },
    );
    assert.equal(path(p, { normalizePath: true, escapedSlashes: 'UNESCAPE_AND_FORWARD' }), '//admin');
  }
  // Without any escaped slash, REJECT_REQUEST and UNESCAPE_AND_REDIRECT let the request through.
  assert.equal(path('/admin', { normalizePath: true, escapedSlashes: 'REJECT_REQUEST' }), '/admin');
  assert.equal(path('/admin', { normalizePath: true, escapedSlashes: 'UNESCAPE_AND_REDIRECT' }), '/admin');
});

test('options read from an HCM as Istio generates it', () => {
  assert.deepEqual(
    pathOptionsFromHcm({
      normalizePath: true,
      mergeSlashes: true,
      pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD',
    }),
    { normalizePath: true, mergeSlashes: true, escapedSlashes: 'UNESCAPE_AND_FORWARD' },
  );
  assert.deepEqual(pathOptionsFromHcm({ normalizePath: { value: false } }), {
    normalizePath: false,
    mergeSlashes: false,
    escapedSlashes: 'KEEP_UNCHANGED',
  });
});
