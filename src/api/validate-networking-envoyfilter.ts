// EnvoyFilter and ProxyConfig (networking.istio.io): Istio 1.17's ValidateEnvoyFilter and ValidateProxyConfig.
import { checkWorkloadSelector, goQuote, re2Error } from './fields.js';
import { KIND } from './kinds.js';
import { PROTO_ENUMS } from './validate-decode-schema.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  alphaSelectorCheck,
  asObj,
  enumName,
  field,
  has,
  list,
  msg,
  selectorWithoutLabelsWarning,
  str,
  wrapperNumber,
} from './validate-networking-common.js';

const APPLY_TO = 'istio.networking.v1alpha3.EnvoyFilter.ApplyTo';
const PATCH_OPERATION = 'istio.networking.v1alpha3.EnvoyFilter.Patch.Operation';
/** EnvoyFilter.ApplyTo enum names by number (also read by the EnvoyFilter analyzer). */
export const ENVOY_FILTER_APPLY_TO = PROTO_ENUMS[APPLY_TO];
/** EnvoyFilter.Patch.Operation enum names by number (also read by the EnvoyFilter analyzer). */
export const ENVOY_FILTER_PATCH_OPERATIONS = PROTO_ENUMS[PATCH_OPERATION];

const HTTP_CONNECTION_MANAGER = 'envoy.filters.network.http_connection_manager';

/** Deprecated Envoy filter names and their canonical replacements (pkg/config/xds/deprecated.go). */
const DEPRECATED_FILTER_NAMES: Readonly<Record<string, string>> = {
  'envoy.buffer': 'envoy.filters.http.buffer',
  'envoy.cors': 'envoy.filters.http.cors',
  'envoy.csrf': 'envoy.filters.http.csrf',
  'envoy.http_dynamo_filter': 'envoy.filters.http.dynamo',
  // Both the HTTP and the network ext_authz filter used this name; Istio's reverse map keeps one of them.
  'envoy.ext_authz': 'envoy.filters.network.ext_authz',
  'envoy.fault': 'envoy.filters.http.fault',
  'envoy.grpc_http1_bridge': 'envoy.filters.http.grpc_http1_bridge',
  'envoy.grpc_json_transcoder': 'envoy.filters.http.grpc_json_transcoder',
  'envoy.grpc_web': 'envoy.filters.http.grpc_web',
  'envoy.gzip': 'envoy.filters.http.gzip',
  'envoy.health_check': 'envoy.filters.http.health_check',
  'envoy.ip_tagging': 'envoy.filters.http.ip_tagging',
  'envoy.lua': 'envoy.filters.http.lua',
  'envoy.rate_limit': 'envoy.filters.http.ratelimit',
  'envoy.router': 'envoy.filters.http.router',
  'envoy.squash': 'envoy.filters.http.squash',
  'envoy.listener.http_inspector': 'envoy.filters.listener.http_inspector',
  'envoy.listener.original_dst': 'envoy.filters.listener.original_dst',
  'envoy.listener.original_src': 'envoy.filters.listener.original_src',
  'envoy.listener.proxy_protocol': 'envoy.filters.listener.proxy_protocol',
  'envoy.listener.tls_inspector': 'envoy.filters.listener.tls_inspector',
  'envoy.client_ssl_auth': 'envoy.filters.network.client_ssl_auth',
  'envoy.http_connection_manager': HTTP_CONNECTION_MANAGER,
  'envoy.mongo_proxy': 'envoy.filters.network.mongo_proxy',
  'envoy.ratelimit': 'envoy.filters.network.ratelimit',
  'envoy.redis_proxy': 'envoy.filters.network.redis_proxy',
  'envoy.tcp_proxy': 'envoy.filters.network.tcp_proxy',
};

function warnDeprecatedName(v: Sink, path: string, name: string): void {
  const replacement = Object.hasOwn(DEPRECATED_FILTER_NAMES, name)
    ? DEPRECATED_FILTER_NAMES[name]
    : undefined;
  if (replacement)
    v.warn(path, `using deprecated filter name ${goQuote(name)}; use ${goQuote(replacement)} instead`);
}

/** Which object type the match selects (a oneof): listener, routeConfiguration or cluster. */
function objectType(match: Obj | undefined): string | undefined {
  if (!match) return undefined;
  return Object.keys(match).find(
    (k) => ['listener', 'routeConfiguration', 'cluster'].includes(k) && match[k] !== null,
  );
}

/** The applyTo / match consistency checks; returns false when Istio stops checking this patch. */
function validateListenerMatch(v: Sink, path: string, applyTo: string, match: Obj): boolean {
  const filter = msg(msg(msg(match, 'listener'), 'filterChain'), 'filter');
  if (!filter) return true;
  const fp = `${path}.match.listener.filterChain.filter`;
  if (applyTo === 'LISTENER' || applyTo === 'FILTER_CHAIN') {
    // An error in principle, but Istio keeps it a warning for compatibility.
    v.warn(fp, `Envoy filter: filter match has no effect when used with ${applyTo}`);
  }
  const name = str(filter, 'name');
  if (name === '') {
    v.error(`${fp}.name`, 'Envoy filter: filter match has no name to match on');
    return false;
  }
  const subFilter = msg(filter, 'subFilter');
  if (subFilter) {
    if (applyTo !== 'HTTP_FILTER') {
      v.error(`${fp}.subFilter`, 'Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only');
      return false;
    }
    if (name !== HTTP_CONNECTION_MANAGER && name !== 'envoy.http_connection_manager') {
      v.error(
        `${fp}.subFilter`,
        `Envoy filter: subfilter match requires filter match with ${HTTP_CONNECTION_MANAGER}`,
      );
      return false;
    }
    if (str(subFilter, 'name') === '') {
      v.error(`${fp}.subFilter.name`, 'Envoy filter: subfilter match has no name to match on');
      return false;
    }
  }
  warnDeprecatedName(v, `${fp}.name`, name);
  warnDeprecatedName(v, `${fp}.subFilter.name`, str(subFilter, 'name'));
  return true;
}

function validateConfigPatch(v: Sink, path: string, raw: unknown): void {
  const cp = asObj(raw);
  if (!cp) {
    v.error(path, 'Envoy filter: null config patch');
    return;
  }
  const applyTo = enumName(cp, 'applyTo', APPLY_TO);
  if (applyTo === 'INVALID') {
    v.error(`${path}.applyTo`, 'Envoy filter: missing applyTo');
    return;
  }
  const patch = msg(cp, 'patch');
  if (!patch) {
    v.error(`${path}.patch`, 'Envoy filter: missing patch');
    return;
  }
  const operation = enumName(patch, 'operation', PATCH_OPERATION);
  if (operation === 'INVALID') {
    v.error(`${path}.patch.operation`, 'Envoy filter: missing patch operation');
    return;
  }
  if (operation !== 'REMOVE' && !has(patch, 'value')) {
    v.error(`${path}.patch.value`, 'Envoy filter: missing patch value for non-remove operation');
    return;
  }
  const match = msg(cp, 'match');
  const proxyVersion = str(msg(match, 'proxy'), 'proxyVersion');
  if (proxyVersion !== '') {
    const err = re2Error(proxyVersion);
    if (err) {
      v.error(`${path}.match.proxy.proxyVersion`, `Envoy filter: invalid regex for proxy version, [${err}]`);
      return;
    }
  }
  const type = objectType(match);
  if (!match || type === undefined) return;
  switch (applyTo) {
    case 'LISTENER':
    case 'FILTER_CHAIN':
    case 'NETWORK_FILTER':
    case 'HTTP_FILTER':
      if (type !== 'listener') {
        v.error(
          `${path}.match`,
          'Envoy filter: applyTo for listener class objects cannot have non listener match',
        );
        return;
      }
      if (!validateListenerMatch(v, path, applyTo, match)) return;
      break;
    case 'ROUTE_CONFIGURATION':
    case 'VIRTUAL_HOST':
    case 'HTTP_ROUTE':
      if (type !== 'routeConfiguration') {
        v.error(
          `${path}.match`,
          'Envoy filter: applyTo for http route class objects cannot have non route configuration match',
        );
      }
      break;
    case 'CLUSTER':
      if (type !== 'cluster') {
        v.error(
          `${path}.match`,
          'Envoy filter: applyTo for cluster class objects cannot have non cluster match',
        );
      }
      break;
  }
  // Istio also decodes patch.value into the Envoy type for applyTo (errors for type mismatches, warnings for
  // unknown fields and deprecated types); skiff does not carry Envoy's protos, so that part is not checked.
}

registerValidator(KIND.EnvoyFilter, (spec, v) => {
  const selectorState = alphaSelectorCheck(v, 'spec.workloadSelector', msg(spec, 'workloadSelector'));
  if (selectorState === 'invalid') return;
  if (selectorState === 'no-labels')
    v.warn('spec.workloadSelector', selectorWithoutLabelsWarning('Envoy filter'));
  for (const [i, raw] of list(spec, 'configPatches').entries())
    validateConfigPatch(v, `spec.configPatches[${i}]`, raw);
});

registerValidator(KIND.ProxyConfig, (spec, v) => {
  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));
  if ((wrapperNumber(spec, 'concurrency') ?? 0) < 0) {
    v.error('spec.concurrency', 'concurrency must be greater than or equal to 0');
  }
});
