/**
 * The HTTP filters Istio's generators configure per route: fault injection
 * (envoy.filters.http.fault, typedPerFilterConfig HTTPFault), CORS (RouteAction.cors in Istio 1.17, or the
 * cors filter's per-route CorsPolicy) and request mirroring (RouteAction.requestMirrorPolicies), compiled
 * once per config.
 */
import type { JsonObject } from './json.js';
import { bool, durationMs, num, record, records, str, strings, unwrap } from './json.js';
import type { StringPredicate } from './matchers.js';
import { compileStringMatcher } from './matchers.js';

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';

/** A FractionalPercent as a probability in [0, 1]. */
export function fraction(v: unknown): number {
  const f = record(v);
  if (!f) return 0;
  const numerator = num(f['numerator']) ?? 0;
  const denominator =
    str(f['denominator']) === 'MILLION' ? 1_000_000 : str(f['denominator']) === 'TEN_THOUSAND' ? 10_000 : 100;
  return Math.min(1, Math.max(0, numerator / denominator));
}

export interface FaultConfig {
  delay?: { ms: number; probability: number };
  abort?: { httpStatus?: number; grpcStatus?: number; probability: number };
}

/** An HTTPFault; undefined when it injects nothing. */
export function compileFault(v: unknown): FaultConfig | undefined {
  const f = record(v);
  if (!f) return undefined;
  const out: FaultConfig = {};
  const delay = record(f['delay']);
  const ms = durationMs(delay?.['fixedDelay']);
  if (delay && ms !== undefined) out.delay = { ms, probability: fraction(delay['percentage']) };
  const abort = record(f['abort']);
  if (abort) {
    const http = num(abort['httpStatus']);
    const grpc = num(abort['grpcStatus']);
    const probability = fraction(abort['percentage']);
    if (http !== undefined && http >= 200 && http < 600) out.abort = { httpStatus: http, probability };
    else if (grpc !== undefined) out.abort = { grpcStatus: grpc, probability };
  }
  return out.delay || out.abort ? out : undefined;
}

export interface CorsPolicy {
  origins: StringPredicate[];
  allowMethods?: string;
  allowHeaders?: string;
  exposeHeaders?: string;
  maxAge?: string;
  allowCredentials: boolean;
  enabled: number;
}

/** A CorsPolicy (route.v3.CorsPolicy or the cors filter's per-route one). */
export function compileCors(v: unknown, where: string): CorsPolicy | undefined {
  const c = record(v);
  if (!c) return undefined;
  const origins: StringPredicate[] = [];
  for (const m of records(c['allowOriginStringMatch'])) {
    const p = compileStringMatcher(m, where);
    if (p) origins.push(p);
  }
  for (const exact of strings(c['allowOrigin'])) origins.push((o) => o === exact);
  const out: CorsPolicy = {
    origins,
    allowCredentials: bool(c['allowCredentials']) === true,
    // filter_enabled defaults to 100% when unset.
    enabled: record(c['filterEnabled']) ? fraction(record(c['filterEnabled'])?.['defaultValue']) : 1,
  };
  const set = (key: 'allowMethods' | 'allowHeaders' | 'exposeHeaders' | 'maxAge'): void => {
    const value = str(c[key]);
    if (value !== undefined && value !== '') out[key] = value;
  };
  set('allowMethods');
  set('allowHeaders');
  set('exposeHeaders');
  set('maxAge');
  return out;
}

/** Envoy's origin check: a matcher that accepts `*` allows every origin. */
export function originAllowed(policy: CorsPolicy, origin: string): boolean {
  return policy.origins.some((m) => m('*') || m(origin));
}

/** Headers of a preflight answer for an allowed origin. */
export function preflightHeaders(policy: CorsPolicy, origin: string): Record<string, string> {
  const h: Record<string, string> = { 'access-control-allow-origin': origin };
  if (policy.allowCredentials) h['access-control-allow-credentials'] = 'true';
  if (policy.allowMethods) h['access-control-allow-methods'] = policy.allowMethods;
  if (policy.allowHeaders) h['access-control-allow-headers'] = policy.allowHeaders;
  if (policy.maxAge) h['access-control-max-age'] = policy.maxAge;
  return h;
}

/** Headers added to an actual response for an allowed origin. */
export function responseCorsHeaders(policy: CorsPolicy, origin: string): Record<string, string> {
  const h: Record<string, string> = { 'access-control-allow-origin': origin };
  if (policy.allowCredentials) h['access-control-allow-credentials'] = 'true';
  if (policy.exposeHeaders) h['access-control-expose-headers'] = policy.exposeHeaders;
  return h;
}

export interface MirrorPolicy {
  cluster: string;
  probability: number;
}

export function compileMirrors(action: JsonObject): MirrorPolicy[] {
  const out: MirrorPolicy[] = [];
  for (const m of records(action['requestMirrorPolicies'])) {
    const cluster = str(m['cluster']);
    if (!cluster) continue;
    const runtime = record(m['runtimeFraction']);
    out.push({ cluster, probability: runtime ? fraction(unwrap(runtime['defaultValue'])) : 1 });
  }
  return out;
}

/** Envoy's shadow authority: `-shadow` appended to the host, before any port. */
export function shadowAuthority(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon > 0 && !authority.endsWith(']') && /^\d+$/.test(authority.slice(colon + 1)))
    return `${authority.slice(0, colon)}-shadow${authority.slice(colon)}`;
  return `${authority}-shadow`;
}

/** A per-filter config from `typedPerFilterConfig` (unwrapping a FilterConfig wrapper). */
export function perFilterConfig(obj: JsonObject, filter: string): JsonObject | undefined {
  const cfg = record(record(obj['typedPerFilterConfig'])?.[filter]);
  if (!cfg) return undefined;
  const inner = record(cfg['config']);
  return str(cfg['@type'])?.endsWith('config.route.v3.FilterConfig') && inner ? inner : cfg;
}
