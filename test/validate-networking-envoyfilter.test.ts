import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one object of `kind` with the given spec (YAML under `spec:`); returns `level path: message` lines. */
function check(kind: string, spec: string, apiVersion = 'networking.istio.io/v1alpha3'): string[] {
  const yaml = `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: f\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('EnvoyFilter: a realistic Lua filter and cluster patch are valid', () => {
  assert.deepEqual(
    check(
      'EnvoyFilter',
      `
  workloadSelector: {labels: {app: reviews}}
  priority: 10
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      proxy: {proxyVersion: '^1\\.17.*'}
      listener:
        portNumber: 9080
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: {name: envoy.filters.http.router}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: "function envoy_on_request(h) end"
  - applyTo: CLUSTER
    match: {context: SIDECAR_OUTBOUND, cluster: {service: reviews.bookinfo.svc.cluster.local}}
    patch: {operation: MERGE, value: {connect_timeout: 5s}}
  - applyTo: HTTP_ROUTE
    match: {routeConfiguration: {vhost: {name: "reviews:9080"}}}
    patch: {operation: REMOVE}
`,
    ),
    [],
  );
});

test('EnvoyFilter: each config patch stops at its first problem', () => {
  assert.deepEqual(
    check(
      'EnvoyFilter',
      `
  configPatches:
  - null
  - patch: {operation: MERGE, value: {}}
  - applyTo: CLUSTER
  - applyTo: CLUSTER
    patch: {value: {}}
  - applyTo: CLUSTER
    patch: {operation: ADD}
  - applyTo: CLUSTER
    match: {proxy: {proxyVersion: "1.17("}}
    patch: {operation: MERGE, value: {}}
`,
    ),
    [
      'error spec.configPatches[0]: Envoy filter: null config patch',
      'error spec.configPatches[1].applyTo: Envoy filter: missing applyTo',
      'error spec.configPatches[2].patch: Envoy filter: missing patch',
      'error spec.configPatches[3].patch.operation: Envoy filter: missing patch operation',
      'error spec.configPatches[4].patch.value: Envoy filter: missing patch value for non-remove operation',
      'error spec.configPatches[5].match.proxy.proxyVersion: Envoy filter: invalid regex for proxy version, [error parsing regexp: missing closing ): `1.17(`]',
    ],
  );
});

test('EnvoyFilter: applyTo and match must agree', () => {
  const patch = 'patch: {operation: MERGE, value: {}}';
  const filter = (applyTo: string, f: string) =>
    `  - applyTo: ${applyTo}\n    match: {listener: {filterChain: {filter: ${f}}}}\n    ${patch}\n`;
  assert.deepEqual(
    check(
      'EnvoyFilter',
      `  configPatches:
  - applyTo: NETWORK_FILTER
    match: {cluster: {}}
    ${patch}
  - applyTo: VIRTUAL_HOST
    match: {listener: {}}
    ${patch}
  - applyTo: CLUSTER
    match: {routeConfiguration: {}}
    ${patch}
${filter('LISTENER', '{name: envoy.filters.network.tcp_proxy}')}${filter('NETWORK_FILTER', '{}')}${filter('NETWORK_FILTER', '{name: envoy.filters.network.http_connection_manager, subFilter: {name: x}}')}${filter('HTTP_FILTER', '{name: envoy.tcp_proxy, subFilter: {name: x}}')}${filter('HTTP_FILTER', '{name: envoy.http_connection_manager, subFilter: {}}')}${filter('HTTP_FILTER', '{name: envoy.http_connection_manager, subFilter: {name: envoy.router}}')}`,
    ),
    [
      'error spec.configPatches[0].match: Envoy filter: applyTo for listener class objects cannot have non listener match',
      'error spec.configPatches[1].match: Envoy filter: applyTo for http route class objects cannot have non route configuration match',
      'error spec.configPatches[2].match: Envoy filter: applyTo for cluster class objects cannot have non cluster match',
      'warning spec.configPatches[3].match.listener.filterChain.filter: Envoy filter: filter match has no effect when used with LISTENER',
      'error spec.configPatches[4].match.listener.filterChain.filter.name: Envoy filter: filter match has no name to match on',
      'error spec.configPatches[5].match.listener.filterChain.filter.subFilter: Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only',
      'error spec.configPatches[6].match.listener.filterChain.filter.subFilter: Envoy filter: subfilter match requires filter match with envoy.filters.network.http_connection_manager',
      'error spec.configPatches[7].match.listener.filterChain.filter.subFilter.name: Envoy filter: subfilter match has no name to match on',
      'warning spec.configPatches[8].match.listener.filterChain.filter.name: using deprecated filter name "envoy.http_connection_manager"; use "envoy.filters.network.http_connection_manager" instead',
      'warning spec.configPatches[8].match.listener.filterChain.filter.subFilter.name: using deprecated filter name "envoy.router"; use "envoy.filters.http.router" instead',
    ],
  );
});

test('EnvoyFilter: workload selector', () => {
  assert.deepEqual(check('EnvoyFilter', '  workloadSelector: {labels: {}}\n'), [
    'warning spec.workloadSelector: Envoy filter: workload selector specified without labels, will be applied to all services in namespace',
  ]);
  assert.deepEqual(
    check('EnvoyFilter', '  workloadSelector: {labels: {"app*": x}}\n  configPatches: [null]\n'),
    ['error spec.workloadSelector.labels: wildcard is not supported in selector: "app*=x"'],
  );
});

test('ProxyConfig: selector and concurrency', () => {
  const proxyConfig = (spec: string) => check('ProxyConfig', spec, 'networking.istio.io/v1beta1');
  assert.deepEqual(
    proxyConfig(
      '  selector: {matchLabels: {app: ratings}}\n  concurrency: 0\n  environmentVariables: {A: b}\n',
    ),
    [],
  );
  assert.deepEqual(proxyConfig('  selector: {matchLabels: {"": x, app: "*"}}\n  concurrency: -1\n'), [
    'error spec.selector.matchLabels: empty key is not supported in selector: "=x"',
    'error spec.selector.matchLabels.app: wildcard is not supported in selector: "app=*"',
    'error spec.concurrency: concurrency must be greater than or equal to 0',
  ]);
});
