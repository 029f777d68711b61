// PeerAuthentication and RequestAuthentication (security.istio.io) validation, as Istio 1.17's
// ValidatePeerAuthentication, ValidateRequestAuthentication and validateJwtRule do it.
import { checkWorkloadSelector, goAtoi, goAtoiError, goQuote, mapKeyPath } from './fields.js';
import { goParseUrl, goUrlPort } from './goparse.js';
import { jwksError } from './validate-security-jwks.js';
import { headerValueError } from './validate-networking-http.js';
import type { Obj, Sink } from './validate-networking-common.js';
import { asObj, entries, field, list, msg, str, strList } from './validate-networking-common.js';

/** Istio 1.17 ValidatePeerAuthentication. */
export function validatePeerAuthentication(spec: Obj, v: Sink): void {
  const selector = msg(spec, 'selector');
  const emptySelector = !selector || entries(selector, 'matchLabels').length === 0;
  // jsonpb decodes `portLevelMtls: {}` to an empty but present map, unlike an empty list.
  const portLevel = asObj(field(spec, 'portLevelMtls'));
  const ports = portLevel ? Object.keys(portLevel) : [];
  const path = 'spec.portLevelMtls';
  if (emptySelector && ports.length > 0) {
    v.error(path, 'mesh/namespace peer authentication cannot have port level mTLS');
  }
  if (portLevel && ports.length === 0) {
    v.error(path, 'port level mTLS, if defined, must have at least one element');
  }
  for (const port of ports) {
    if (port.trim() === '0') v.error(mapKeyPath(path, port), 'port cannot be 0');
  }
  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));
}

/** security.ParseJwksURI: an http(s) URL with an optional numeric port. */
export function jwksUriError(uri: string): string | undefined {
  const parsed = goParseUrl(uri);
  if (parsed.error !== undefined) return parsed.error;
  if (parsed.scheme !== 'http' && parsed.scheme !== 'https') {
    return `URI scheme ${goQuote(parsed.scheme)} is not supported`;
  }
  const port = goUrlPort(parsed.host);
  if (port !== '' && goAtoi(port) === undefined) return goAtoiError(port);
  return undefined;
}

/** Istio 1.17 validateJwtRule. */
function validateJwtRule(v: Sink, path: string, rule: Obj): void {
  if (str(rule, 'issuer') === '') v.error(`${path}.issuer`, 'issuer must be set');
  for (const [i, audience] of strList(rule, 'audiences').entries()) {
    if (audience === '') v.error(`${path}.audiences[${i}]`, 'audience must be non-empty string');
  }
  const jwksUri = str(rule, 'jwksUri');
  if (jwksUri !== '') {
    const err = jwksUriError(jwksUri);
    if (err) v.error(`${path}.jwksUri`, err);
  }
  const jwks = str(rule, 'jwks');
  if (jwks !== '') {
    const err = jwksError(jwks);
    if (err) v.error(`${path}.jwks`, err);
  }
  for (const [i, raw] of list(rule, 'fromHeaders').entries()) {
    if (str(asObj(raw) ?? {}, 'name') === '') {
      v.error(`${path}.fromHeaders[${i}]`, 'location header name must be non-empty string');
    }
  }
  for (const [i, param] of strList(rule, 'fromParams').entries()) {
    if (param === '') v.error(`${path}.fromParams[${i}]`, 'location query must be non-empty string');
  }
  for (const [i, raw] of list(rule, 'outputClaimToHeaders').entries()) {
    const entry = asObj(raw) ?? {};
    const at = `${path}.outputClaimToHeaders[${i}]`;
    const header = str(entry, 'header');
    if (str(entry, 'claim') === '' || header === '') {
      v.error(at, 'outputClaimToHeaders header and claim value must be non-empty string');
      continue;
    }
    // Istio checks the header *name* with its header *value* validator.
    const err = headerValueError(header);
    if (err) v.error(`${at}.header`, err);
  }
}

/** Istio 1.17 ValidateRequestAuthentication. */
export function validateRequestAuthentication(spec: Obj, v: Sink): void {
  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));
  for (const [i, raw] of list(spec, 'jwtRules').entries()) {
    validateJwtRule(v, `spec.jwtRules[${i}]`, asObj(raw) ?? {});
  }
}
