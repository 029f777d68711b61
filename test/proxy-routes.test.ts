/** Pure route matching: virtual host selection, match conditions, rewrites and redirects. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CompiledRouteConfig } from '../src/proxy/index.js';
import {
  compileRouteConfig,
  ConfigError,
  matchRoute,
  pickWeighted,
  redirectLocation,
  rewritePath,
  selectVirtualHost,
} from '../src/proxy/index.js';

function rc(virtualHosts: unknown[], extra: Record<string, unknown> = {}): CompiledRouteConfig {
  return compileRouteConfig({ name: 'r', virtualHosts, ...extra });
}

const vh = (
  name: string,
  domains: string[],
  routes: unknown[] = [{ match: { prefix: '/' }, route: { cluster: name } }],
) => ({
  name,
  domains,
  routes,
});

function input(path: string, headers: Record<string, string> = {}, method = 'GET') {
  return { headers, method, path, authority: 'h', scheme: 'http' };
}

describe('virtual host selection', () => {
  const config = rc(
    [
      vh('exact', ['api.example.com', 'api.example.com:8080']),
      vh('suffix', ['*.example.com']),
      vh('longsuffix', ['*.eu.example.com']),
      vh('prefix', ['api.*']),
      vh('any', ['*']),
    ],
    {},
  );

  it('prefers exact, then the longest suffix, then prefix, then *', () => {
    assert.equal(selectVirtualHost(config, 'API.example.com')?.name, 'exact');
    assert.equal(selectVirtualHost(config, 'x.eu.example.com')?.name, 'longsuffix');
    assert.equal(selectVirtualHost(config, 'x.example.com')?.name, 'suffix');
    assert.equal(selectVirtualHost(config, 'api.other.org')?.name, 'prefix');
    assert.equal(selectVirtualHost(config, 'other.org')?.name, 'any');
  });

  it('needs a non-empty wildcard match', () => {
    const c = rc([vh('suffix', ['*.example.com'])]);
    assert.equal(selectVirtualHost(c, '.example.com'), undefined);
    assert.equal(selectVirtualHost(c, 'a.example.com')?.name, 'suffix');
  });

  it('strips the port only with ignorePortInHostMatching', () => {
    assert.equal(selectVirtualHost(config, 'api.example.com:8080')?.name, 'exact');
    const strict = rc([vh('exact', ['catalog.io'])]);
    assert.equal(selectVirtualHost(strict, 'catalog.io:30000'), undefined);
    const loose = rc([vh('exact', ['catalog.io'])], { ignorePortInHostMatching: true });
    assert.equal(selectVirtualHost(loose, 'catalog.io:30000')?.name, 'exact');
    assert.equal(selectVirtualHost(loose, '[::1]:80'), undefined);
  });

  it('rejects duplicate domains', () => {
    assert.throws(() => rc([vh('a', ['x']), vh('b', ['X'])]), ConfigError);
  });
});

describe('route match', () => {
  const routes = [
    { name: 'exact', match: { path: '/items' }, route: { cluster: 'c' } },
    { name: 'sep', match: { pathSeparatedPrefix: '/api' }, route: { cluster: 'c' } },
    { name: 'regex', match: { safeRegex: { regex: '/users/[0-9]+' } }, route: { cluster: 'c' } },
    { name: 'nocase', match: { prefix: '/CaSe', caseSensitive: false }, route: { cluster: 'c' } },
    {
      name: 'hdr',
      match: {
        prefix: '/h',
        headers: [
          { name: 'x-user', stringMatch: { exact: 'jason' } },
          { name: 'x-debug', presentMatch: true, invertMatch: true },
          { name: ':method', stringMatch: { exact: 'POST' } },
        ],
      },
      route: { cluster: 'c' },
    },
    {
      name: 'hdrs2',
      match: {
        prefix: '/h',
        headers: [
          { name: 'x-ver', stringMatch: { safeRegex: { regex: 'v[12]' } } },
          { name: 'x-tag', stringMatch: { suffix: '-canary' } },
          { name: 'x-env', stringMatch: { contains: 'prod' }, invertMatch: true },
        ],
      },
      route: { cluster: 'c' },
    },
    {
      name: 'query',
      match: { prefix: '/q', queryParameters: [{ name: 'v', stringMatch: { prefix: 'b' } }] },
      route: { cluster: 'c' },
    },
    {
      name: 'qpresent',
      match: { prefix: '/q', queryParameters: [{ name: 'flag', presentMatch: true }] },
      route: { cluster: 'c' },
    },
  ];
  const host = selectVirtualHost(rc([vh('h', ['*'], routes)]), 'x');
  assert.ok(host);
  const name = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
    matchRoute(host, input(path, headers, method))?.name;

  it('matches exact paths ignoring the query, and path-separated prefixes', () => {
    assert.equal(name('/items?x=1'), 'exact');
    assert.equal(name('/items/1'), undefined);
    assert.equal(name('/api'), 'sep');
    assert.equal(name('/api/v1'), 'sep');
    assert.equal(name('/apix'), undefined);
  });

  it('matches regexes against the whole path', () => {
    assert.equal(name('/users/42'), 'regex');
    assert.equal(name('/users/42/x'), undefined);
  });

  it('honours caseSensitive: false', () => {
    assert.equal(name('/case/x'), 'nocase');
  });

  it('matches headers: exact, inverted presence, pseudo-headers, regex, suffix, inverted contains', () => {
    assert.equal(name('/h', { 'x-user': 'jason' }, 'POST'), 'hdr');
    assert.equal(name('/h', { 'x-user': 'jason', 'x-debug': '1' }, 'POST'), undefined);
    assert.equal(name('/h', { 'x-user': 'jason' }, 'GET'), undefined);
    assert.equal(name('/h', { 'x-ver': 'v2', 'x-tag': 'a-canary', 'x-env': 'staging' }), 'hdrs2');
    assert.equal(name('/h', { 'x-ver': 'v3', 'x-tag': 'a-canary' }), undefined);
    assert.equal(name('/h', { 'x-ver': 'v1', 'x-tag': 'a-canary', 'x-env': 'production' }), undefined);
    // A missing header fails an inverted value match (Envoy 1.25).
    assert.equal(name('/h', { 'x-ver': 'v1', 'x-tag': 'a-canary' }), undefined);
  });

  it('matches query parameters', () => {
    assert.equal(name('/q?v=beta'), 'query');
    assert.equal(name('/q?v=alpha&flag'), 'qpresent');
    assert.equal(name('/q?v=alpha'), undefined);
  });
});

describe('rewrites, redirects and weights', () => {
  const host = selectVirtualHost(
    rc([
      vh(
        'h',
        ['*'],
        [
          { match: { prefix: '/api/' }, route: { cluster: 'c', prefixRewrite: '/' } },
          {
            match: { safeRegex: { regex: '/svc/([^/]+)/(.*)' } },
            route: {
              cluster: 'c',
              regexRewrite: { pattern: { regex: '^/svc/([^/]+)/(.*)$' }, substitution: '/\\2/by/\\1' },
            },
          },
          { match: { prefix: '/secure' }, redirect: { httpsRedirect: true } },
          {
            match: { prefix: '/moved' },
            redirect: { hostRedirect: 'new.example.com', prefixRewrite: '/new', stripQuery: true },
          },
        ],
      ),
    ]),
    'x',
  );
  assert.ok(host);

  it('rewrites prefixes and regexes, keeping the query', () => {
    const r1 = matchRoute(host, input('/api/items?a=1'));
    assert.ok(r1);
    assert.equal(rewritePath(r1, '/api/items?a=1'), '/items?a=1');
    const r2 = matchRoute(host, input('/svc/catalog/items'));
    assert.ok(r2);
    assert.equal(rewritePath(r2, '/svc/catalog/items?z'), '/items/by/catalog?z');
  });

  it('builds redirect locations', () => {
    const r = matchRoute(host, input('/secure/x'));
    assert.ok(r && r.action.kind === 'redirect');
    assert.equal(
      redirectLocation(r, r.action, 'http', 'example.com:80', '/secure/x?q'),
      'https://example.com/secure/x?q',
    );
    const m = matchRoute(host, input('/moved/a'));
    assert.ok(m && m.action.kind === 'redirect');
    assert.equal(
      redirectLocation(m, m.action, 'http', 'old.example.com', '/moved/a?q=1'),
      'http://new.example.com/new/a',
    );
  });

  it('picks weighted clusters by their share of the total', () => {
    const w = {
      clusters: [
        { name: 'a', weight: 20 },
        { name: 'b', weight: 80 },
      ].map((c) => ({
        ...c,
        requestHeaders: { add: [], remove: [] },
        responseHeaders: { add: [], remove: [] },
      })),
      total: 100,
    };
    assert.equal(pickWeighted(w, 0)?.name, 'a');
    assert.equal(pickWeighted(w, 0.199)?.name, 'a');
    assert.equal(pickWeighted(w, 0.2)?.name, 'b');
    assert.equal(pickWeighted(w, 0.999)?.name, 'b');
  });

  it('survives config of the wrong shape and rejects unusable routes', () => {
    assert.doesNotThrow(() => compileRouteConfig({ name: 'x', virtualHosts: 'nope' }));
    assert.throws(() => rc([vh('a', ['a'], [{ match: {}, route: { cluster: 'c' } }])]), ConfigError);
    assert.throws(() => rc([vh('a', ['a'], [{ match: { prefix: '/' } }])]), ConfigError);
    assert.throws(
      () =>
        rc([
          vh(
            'a',
            ['a'],
            [
              {
                match: {
                  prefix: '/',
                  headers: [{ name: 'x', stringMatch: { safeRegex: { regex: '(?<!x)' } } }],
                },
                route: { cluster: 'c' },
              },
            ],
          ),
        ]),
      ConfigError,
    );
  });
});
