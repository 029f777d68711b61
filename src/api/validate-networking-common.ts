// Shared pieces for the networking.istio.io validators: typed access to the decoded spec (every field may be
// missing or of the wrong type), protocol parsing, and the checks several kinds share (destinations,
// hostnames, server TLS settings, gateway names).
import type { IssueSink } from './fields.js';
import {
  checkSelectorLabels,
  fqdnError,
  goQuote,
  isDns1123Label,
  isValidIP,
  portError,
  wildcardDomainError,
} from './fields.js';
import type { ProtoEnumName } from './validate-decode-schema.js';
import { PROTO_ENUMS } from './validate-decode-schema.js';
import type { ValidationIssue } from './validation.js';

export type Obj = Record<string, unknown>;

/** Where validators report; `IssueCollector` is one. */
export type Sink = IssueSink;

/**
 * A sink that drops warnings. Istio's `appendErrors` keeps only the error part of a nested validation,
 * so warnings from DestinationRule subsets, port-level policies and route matches are lost there.
 */
export function errorsOnly(v: Sink): Sink {
  return { error: (p, m) => v.error(p, m), warn: () => undefined };
}

/** A sink that records whether anything was reported (for Istio's "return early on error" paths). */
export function counting(v: Sink): Sink & { errors: number } {
  const s = {
    errors: 0,
    error(p: string, m: string) {
      s.errors++;
      v.error(p, m);
    },
    warn: (p: string, m: string) => v.warn(p, m),
  };
  return s;
}

// ---- access to decoded JSON, with protobuf JSON rules (camelCase or proto snake_case names) ----
// Rules run only on specs that decode into their proto (validate-decode.ts), so a field present here has the
// JSON type its proto field takes; the fallbacks for other types only keep a misused reader from throwing.

export function asObj(value: unknown): Obj | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined;
}

function snakeToCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A field by its JSON name; the proto (snake_case) name is accepted too, as jsonpb does. */
export function field(o: Obj | undefined, name: string): unknown {
  if (!o) return undefined;
  if (name in o) return o[name];
  for (const key of Object.keys(o)) {
    if (key.includes('_') && snakeToCamel(key) === name) return o[key];
  }
  return undefined;
}

/** True when a message or oneof field is set (null counts as unset, as in jsonpb). */
export function has(o: Obj | undefined, name: string): boolean {
  const v = field(o, name);
  return v !== undefined && v !== null;
}

/** A nested message, or undefined when unset. A value of the wrong type counts as an empty message. */
export function msg(o: Obj | undefined, name: string): Obj | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  return asObj(v) ?? {};
}

export function str(o: Obj | undefined, name: string): string {
  const v = field(o, name);
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
}

/** A number field; protobuf JSON also accepts integers as strings. Missing or unreadable values are 0. */
export function num(o: Obj | undefined, name: string): number {
  return toNumber(field(o, name));
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : 0;
  if (typeof v === 'string' && /^\s*[-+]?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
  return 0;
}

export function bool(o: Obj | undefined, name: string): boolean {
  const v = field(o, name);
  return v === true || v === 'true';
}

/** A repeated field; an empty list decodes to nil in Go, so [] and a missing list look the same. */
export function list(o: Obj | undefined, name: string): unknown[] {
  const v = field(o, name);
  return Array.isArray(v) ? v : [];
}

export function strList(o: Obj | undefined, name: string): string[] {
  return list(o, name).map((x) =>
    typeof x === 'string' ? x : x === null || x === undefined ? '' : String(x),
  );
}

/** A map field as entries (in document order; Go iterates maps in random order). */
export function entries(o: Obj | undefined, name: string): [string, unknown][] {
  const m = asObj(field(o, name));
  return m ? Object.entries(m) : [];
}

export function stringEntries(o: Obj | undefined, name: string): [string, string][] {
  return entries(o, name).map(([k, v]) => [k, typeof v === 'string' ? v : v === null ? '' : String(v)]);
}

/**
 * An enum field (`enumType` is the proto enum's full name), given by value name or number; unset reads as the
 * zero value. Proto3 enums are open: a number with no name reads as its digits, as Go's `%v` prints it.
 */
export function enumName(o: Obj | undefined, name: string, enumType: ProtoEnumName): string {
  const names: readonly string[] = PROTO_ENUMS[enumType];
  const v = field(o, name);
  if (typeof v === 'number' && Number.isInteger(v)) return names[v] ?? String(v);
  if (typeof v === 'string' && names.includes(v)) return v;
  return names[0] ?? '';
}

/** The `value` of a wrapper message (UInt32Value, Int32Value, BoolValue) or of a Percent. */
export function wrapperNumber(o: Obj | undefined, name: string): number | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  const inner = asObj(v);
  return inner ? num(inner, 'value') : toNumber(v);
}

// ---- ports and protocols ----

export const PROTOCOLS: Readonly<Record<string, string>> = {
  tcp: 'TCP',
  udp: 'UDP',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-Web',
  http: 'HTTP',
  http_proxy: 'HTTP_PROXY',
  http2: 'HTTP2',
  https: 'HTTPS',
  tls: 'TLS',
  mongo: 'Mongo',
  redis: 'Redis',
  mysql: 'MySQL',
};

/** Istio's protocol.Parse (case-insensitive); undefined for an unsupported protocol. */
export function parseProtocol(p: string): string | undefined {
  return PROTOCOLS[p.toLowerCase()];
}

export function isHTTPProtocol(p: string | undefined): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web';
}

export function isTLSProtocol(p: string | undefined): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

export function isTCPProtocol(p: string | undefined): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'Mongo' || p === 'Redis' || p === 'MySQL';
}

/** Istio's ValidateProtocol: empty (sniffing) or a known protocol. */
export function protocolError(p: string): string | undefined {
  return p !== '' && parseProtocol(p) === undefined ? `unsupported protocol: ${p}` : undefined;
}

/** Istio's ValidatePortName. */
export function portNameError(name: string): string | undefined {
  return isDns1123Label(name) ? undefined : `invalid port name: ${name}`;
}

export function reportPort(v: Sink, path: string, port: number): void {
  const err = portError(port);
  if (err) v.error(path, err);
}

/** Go's `%v` of a networking.Port proto (its text format): `number:80 protocol:"HTTP" name:"http"`. */
export function portText(port: Obj): string {
  const parts: string[] = [];
  const number = num(port, 'number');
  if (number !== 0) parts.push(`number:${number}`);
  const protocol = str(port, 'protocol');
  if (protocol !== '') parts.push(`protocol:${goQuote(protocol)}`);
  const name = str(port, 'name');
  if (name !== '') parts.push(`name:${goQuote(name)}`);
  const target = num(port, 'targetPort');
  if (target !== 0) parts.push(`target_port:${target}`);
  return parts.join(' ');
}

// ---- destinations ----

/** Istio's validateSubsetName. */
export function subsetNameError(name: string): string | undefined {
  if (name.length === 0) return 'subset name cannot be empty';
  return isDns1123Label(name) ? undefined : `subset name is invalid: ${name}`;
}

/** Istio's validateDestination: host, subset name and port selector. */
export function validateDestination(v: Sink, path: string, dest: Obj | undefined): void {
  if (!dest) return;
  const host = str(dest, 'host');
  if (host === '*') v.error(`${path}.host`, `invalid destination host ${host}`);
  else {
    const err = wildcardDomainError(host);
    if (err) v.error(`${path}.host`, err);
  }
  const subset = str(dest, 'subset');
  if (subset !== '') {
    const err = subsetNameError(subset);
    if (err) v.error(`${path}.subset`, err);
  }
  const port = msg(dest, 'port');
  if (port) reportPort(v, `${path}.port.number`, num(port, 'number'));
}

// ---- hostnames in Gateway servers and Sidecar egress listeners ----

/** Istio's validatePartialWildCard. */
export function partialWildcardError(host: string): string | undefined {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.')
    ? `partial wildcard ${goQuote(host)} not allowed`
    : undefined;
}

/** Istio's validateSidecarOrGatewayHostnamePart. */
function validateHostnamePart(v: Sink, path: string, hostname: string, isGateway: boolean): void {
  if (hostname !== '*' && !hostname.includes('.')) v.error(path, 'short names (non FQDN) are not allowed');
  const err = wildcardDomainError(hostname);
  if (err) {
    // Istio adds the error for sidecars, and again when the host is not an IP (gateways accept IPs).
    if (!isGateway) v.error(path, err);
    if (!isValidIP(hostname)) v.error(path, err);
  }
  const partial = partialWildcardError(hostname);
  if (partial) v.error(path, partial);
}

/** Istio's validateNamespaceSlashWildcardHostname: `namespace/dnsName` hosts of gateways and sidecars. */
export function validateNamespacedHost(v: Sink, path: string, hostname: string, isGateway: boolean): void {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    // Gateways still accept the old style host without a namespace.
    if (isGateway) validateHostnamePart(v, path, hostname, true);
    else v.error(path, 'host must be of form namespace/dnsName');
    return;
  }
  const ns = hostname.slice(0, slash);
  const dnsName = hostname.slice(slash + 1);
  if (ns.length === 0 || dnsName.length === 0) {
    v.error(path, 'config namespace and dnsName in host entry cannot be empty');
  }
  if (isGateway) {
    if (ns !== '*' && ns !== '.' && !isDns1123Label(ns)) {
      v.error(path, `invalid namespace value ${goQuote(ns)} in gateway`);
    }
  } else if (ns !== '*' && ns !== '.' && ns !== '~' && !isDns1123Label(ns)) {
    v.error(path, `invalid namespace value ${goQuote(ns)} in sidecar`);
  }
  validateHostnamePart(v, path, dnsName, isGateway);
}

// ---- gateway references in VirtualServices ----

/** Istio's validateGatewayNames; like Istio it stops at the first name without a `/`. */
export function validateGatewayNames(v: Sink, path: string, names: string[]): void {
  for (const [i, name] of names.entries()) {
    const at = `${path}[${i}]`;
    const slash = name.indexOf('/');
    if (slash < 0) {
      if (name.includes('.')) {
        const parts = name.split('.');
        const recommended = `${parts[1] ?? ''}/${parts[0] ?? ''}`;
        v.warn(
          at,
          `using legacy gatewayName format ${goQuote(name)}; prefer the <namespace>/<name> format: ${goQuote(recommended)}`,
        );
      }
      const err = fqdnError(name);
      if (err) v.error(at, err);
      return;
    }
    const ns = name.slice(0, slash);
    const gw = name.slice(slash + 1);
    if (ns.length === 0 || gw.length === 0) v.error(at, 'config namespace and gateway name cannot be empty');
    if (!isDns1123Label(ns)) v.error(at, `invalid value for namespace: ${goQuote(ns)}`);
    if (!isDns1123Label(gw)) v.error(at, `invalid value for gateway name: ${goQuote(gw)}`);
  }
}

// ---- Istio's AnalysisAwareError (VirtualService rule analysis) ----

/** A warning that istioctl analyze turns into its own message (IST0130 / IST0131). */
export type AnalysisAwareIssue = ValidationIssue & Required<Pick<ValidationIssue, 'analysis'>>;

export function isAnalysisAwareIssue(issue: ValidationIssue): issue is AnalysisAwareIssue {
  return issue.analysis !== undefined;
}

// ---- networking workloadSelector (Sidecar, ServiceEntry, EnvoyFilter) ----

/**
 * Istio's validateAlphaWorkloadSelector for `workloadSelector.labels`: reports empty keys and wildcards and
 * returns 'invalid' (callers then stop, as Istio returns at once), 'no-labels' when a selector has no labels
 * (callers warn that it applies to the whole namespace), or 'ok'.
 */
export function alphaSelectorCheck(
  v: Sink,
  path: string,
  selector: Obj | undefined,
): 'invalid' | 'no-labels' | 'ok' {
  if (!selector) return 'ok';
  const labels = field(selector, 'labels');
  if (checkSelectorLabels(v, `${path}.labels`, labels) > 0) return 'invalid';
  return entries(selector, 'labels').length === 0 ? 'no-labels' : 'ok';
}

/** The warning for a selector without labels, worded per kind (`sidecar`, `service entry`, `Envoy filter`). */
export function selectorWithoutLabelsWarning(kind: string): string {
  return `${kind}: workload selector specified without labels, will be applied to all services in namespace`;
}
