// AuthorizationPolicy (security.istio.io) validation: Istio 1.17 ValidateAuthorizationPolicy and
// pkg/config/security's attribute, IP and port checks. Every error is prefixed with
// `invalid policy <name>.<namespace>:`, as multierror.Prefix does in Istio.
import { checkWorkloadSelector } from './fields.js';
import type { Resource } from './resource.js';
import { goMultiErrorText, goNetipAddrError, goNetipPrefixError, goParseUint } from './goparse.js';
import type { Obj, Sink } from './validate-networking-common.js';
import { asObj, enumName, field, list, msg, str, strList } from './validate-networking-common.js';

const ACTION = 'istio.security.v1beta1.AuthorizationPolicy.Action';

/** Source fields with the names pkg/config/security uses in `empty value not allowed, found in %s`. */
const SOURCE_FIELDS = [
  ['principals', 'Principals'],
  ['requestPrincipals', 'RequestPrincipals'],
  ['namespaces', 'Namespaces'],
  ['ipBlocks', 'IpBlocks'],
  ['remoteIpBlocks', 'RemoteIpBlocks'],
  ['notPrincipals', 'NotPrincipals'],
  ['notRequestPrincipals', 'NotRequestPrincipals'],
  ['notNamespaces', 'NotNamespaces'],
  ['notIpBlocks', 'NotIpBlocks'],
  ['notRemoteIpBlocks', 'NotRemoteIpBlocks'],
] as const;

const OPERATION_FIELDS = [
  ['ports', 'Ports'],
  ['methods', 'Methods'],
  ['paths', 'Paths'],
  ['hosts', 'Hosts'],
  ['notPorts', 'NotPorts'],
  ['notMethods', 'NotMethods'],
  ['notPaths', 'NotPaths'],
  ['notHosts', 'NotHosts'],
] as const;

/** Source fields that also apply to TCP traffic (a DENY rule with only HTTP fields warns). */
const TCP_SOURCE_FIELDS = [
  'principals',
  'notPrincipals',
  'ipBlocks',
  'notIpBlocks',
  'namespaces',
  'notNamespaces',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
];

/** Sources a CUSTOM policy cannot match on, with the labels Istio's message uses. */
const CUSTOM_UNSUPPORTED_SOURCES = [
  ['namespaces', 'From.Namespaces'],
  ['notNamespaces', 'From.NotNamespaces'],
  ['principals', 'From.Principals'],
  ['notPrincipals', 'From.NotPrincipals'],
  ['requestPrincipals', 'From.RequestPrincipals'],
  ['notRequestPrincipals', 'From.NotRequestPrincipals'],
] as const;

const WITHOUT_RULES = (action: string) =>
  `${action} action without \`rules\` is meaningless as it will never be triggered, add an empty rule \`{}\` if you want it be triggered for every request`;

const DENY_HTTP_ONLY_WARNING =
  'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port';

/** The key as written (JSON or proto name), so paths point at the user's field. */
function keyOf(o: Obj | undefined, name: string): string {
  if (!o || name in o) return name;
  const snake = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return snake in o ? snake : name;
}

// ---- pkg/config/security ----

/** One bad entry of a list: its index and Istio's message. */
interface EntryError {
  index: number;
  message: string;
}

/** security.ValidateIPs: one message per bad entry. */
export function ipErrors(values: readonly string[]): EntryError[] {
  const errors: EntryError[] = [];
  for (const [index, value] of values.entries()) {
    if (value.includes('/')) {
      const err = goNetipPrefixError(value);
      if (err) errors.push({ index, message: `bad CIDR range (${value}): ${err}` });
    } else if (goNetipAddrError(value)) {
      errors.push({ index, message: `bad IP address (${value})` });
    }
  }
  return errors;
}

/** security.ValidatePorts: unsigned 32-bit numbers up to 65535; the Go error is printed even when nil. */
export function portErrors(values: readonly string[]): EntryError[] {
  const errors: EntryError[] = [];
  for (const [index, value] of values.entries()) {
    const parsed = goParseUint(value, 32);
    if (parsed.error !== undefined) errors.push({ index, message: `bad port (${value}): ${parsed.error}` });
    else if (parsed.value > 65535n) errors.push({ index, message: `bad port (${value}): <nil>` });
  }
  return errors;
}

function emptyValueError(key: string, values: readonly string[]): string | undefined {
  return values.includes('') ? `empty value not allowed, found in ${key}` : undefined;
}

function mapKeyError(key: string): string | undefined {
  const open = key.indexOf('[');
  if (key.endsWith(']') && open > 0 && open < key.length - 2) return undefined;
  return `bad key (${key}): should have format a[b]`;
}

/** A multierror from ValidateIPs/ValidatePorts, printed with `%v` as Istio's wrapping message does. */
function multi(errors: EntryError[]): string | undefined {
  return errors.length === 0 ? undefined : goMultiErrorText(errors.map((e) => e.message));
}

/** security.ValidateAttribute for a `when` condition's key and values. */
export function attributeError(key: string, values: readonly string[]): string | undefined {
  const empty = emptyValueError(key, values);
  if (empty) return empty;
  if (key.startsWith('request.headers')) return mapKeyError(key);
  if (key === 'source.ip' || key === 'remote.ip') return multi(ipErrors(values));
  if (
    [
      'source.namespace',
      'source.principal',
      'request.auth.principal',
      'request.auth.audiences',
      'request.auth.presenter',
    ].includes(key)
  )
    return undefined;
  if (key.startsWith('request.auth.claims')) return mapKeyError(key);
  if (key === 'destination.ip') return multi(ipErrors(values));
  if (key === 'destination.port') return multi(portErrors(values));
  if (key === 'connection.sni') return undefined;
  if (key.startsWith('experimental.envoy.filters.')) return mapKeyError(key);
  if (key === 'destination.namespace') return `attribute ${key} is replaced by the metadata.namespace`;
  if (key.startsWith('destination.labels')) return `attribute ${key} is replaced by the workload selector`;
  if (key === 'destination.name' || key === 'destination.user')
    return `deprecated attribute ${key}: only supported in v1alpha1`;
  return `unknown attribute: ${key}`;
}

// ---- the policy ----

function checkCustomRule(v: Sink, path: string, rule: Obj): void {
  for (const [j, raw] of list(rule, 'from').entries()) {
    const src = msg(asObj(raw) ?? {}, 'source');
    if (!src) continue;
    for (const [name, label] of CUSTOM_UNSUPPORTED_SOURCES) {
      if (strList(src, name).length > 0) {
        v.error(
          `${path}.from[${j}].source.${keyOf(src, name)}`,
          `${label} is currently not supported with CUSTOM action`,
        );
      }
    }
  }
  for (const [k, raw] of list(rule, 'when').entries()) {
    const key = str(asObj(raw) ?? {}, 'key');
    if (key === 'source.namespace' || key === 'source.principal' || key.startsWith('request.auth.')) {
      v.error(`${path}.when[${k}].key`, `${key} is currently not supported with CUSTOM action`);
    }
  }
}

/** Checks the `from` list; returns whether a source exists and whether one uses TCP-capable fields. */
function checkFrom(v: Sink, path: string, rule: Obj, i: number): { exists: boolean; tcp: boolean } {
  let exists = false;
  let tcp = false;
  for (const [j, raw] of list(rule, 'from').entries()) {
    const from = asObj(raw) ?? {};
    const fromPath = `${path}.${keyOf(rule, 'from')}[${j}]`;
    const src = msg(from, 'source');
    if (!src) {
      v.error(fromPath, `\`from.source\` must not be nil, found at rule ${i}`);
      continue;
    }
    exists = true;
    const srcPath = `${fromPath}.source`;
    if (SOURCE_FIELDS.every(([name]) => strList(src, name).length === 0)) {
      v.error(srcPath, `\`from.source\` must not be empty, found at rule ${i}`);
    }
    for (const name of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
      for (const err of ipErrors(strList(src, name))) {
        v.error(`${srcPath}.${keyOf(src, name)}[${err.index}]`, err.message);
      }
    }
    for (const [name, label] of SOURCE_FIELDS) {
      const values = strList(src, name);
      const empty = emptyValueError(label, values);
      if (empty) v.error(`${srcPath}.${keyOf(src, name)}[${values.indexOf('')}]`, empty);
    }
    if (TCP_SOURCE_FIELDS.some((name) => strList(src, name).length > 0)) tcp = true;
  }
  return { exists, tcp };
}

function checkTo(v: Sink, path: string, rule: Obj, i: number): { exists: boolean; tcp: boolean } {
  let exists = false;
  let tcp = false;
  for (const [j, raw] of list(rule, 'to').entries()) {
    const to = asObj(raw) ?? {};
    const toPath = `${path}.${keyOf(rule, 'to')}[${j}]`;
    const op = msg(to, 'operation');
    if (!op) {
      v.error(toPath, `\`to.operation\` must not be nil, found at rule ${i}`);
      continue;
    }
    exists = true;
    const opPath = `${toPath}.operation`;
    if (OPERATION_FIELDS.every(([name]) => strList(op, name).length === 0)) {
      v.error(opPath, `\`to.operation\` must not be empty, found at rule ${i}`);
    }
    for (const name of ['ports', 'notPorts']) {
      for (const err of portErrors(strList(op, name))) {
        v.error(`${opPath}.${keyOf(op, name)}[${err.index}]`, err.message);
      }
    }
    for (const [name, label] of OPERATION_FIELDS) {
      const values = strList(op, name);
      const empty = emptyValueError(label, values);
      if (empty) v.error(`${opPath}.${keyOf(op, name)}[${values.indexOf('')}]`, empty);
    }
    if (strList(op, 'ports').length > 0 || strList(op, 'notPorts').length > 0) tcp = true;
  }
  return { exists, tcp };
}

function checkWhen(v: Sink, path: string, rule: Obj): void {
  for (const [k, raw] of list(rule, 'when').entries()) {
    const cond = asObj(raw) ?? {};
    const condPath = `${path}.when[${k}]`;
    const key = str(cond, 'key');
    if (key === '') {
      v.error(field(cond, 'key') === undefined ? condPath : `${condPath}.key`, '`key` must not be empty');
      continue;
    }
    const values = strList(cond, 'values');
    const notValues = strList(cond, 'notValues');
    if (values.length === 0 && notValues.length === 0) {
      v.error(condPath, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
      continue;
    }
    const valueErr = attributeError(key, values);
    if (valueErr) v.error(`${condPath}.values`, `invalid \`value\` for \`key\` ${key}: ${valueErr}`);
    const notValueErr = attributeError(key, notValues);
    if (notValueErr) {
      v.error(
        `${condPath}.${keyOf(cond, 'notValues')}`,
        `invalid \`notValue\` for \`key\` ${key}: ${notValueErr}`,
      );
    }
  }
}

/** Istio 1.17 ValidateAuthorizationPolicy. */
export function validateAuthorizationPolicy(spec: Obj, sink: Sink, r: Resource): void {
  const prefix = `invalid policy ${r.metadata.name}.${r.metadata.namespace ?? ''}:`;
  const v: Sink = { error: (p, m) => sink.error(p, `${prefix} ${m}`), warn: (p, m) => sink.warn(p, m) };

  checkWorkloadSelector(v, 'spec.selector', field(spec, 'selector'));

  const action = enumName(spec, 'action', ACTION);
  // jsonpb decodes `rules: []` to a nil list, the same as no rules at all.
  const rules = list(spec, 'rules');
  const provider = msg(spec, 'provider');
  if (action === 'CUSTOM') {
    if (rules.length === 0) v.error('spec.rules', WITHOUT_RULES('CUSTOM'));
    else if (!provider || str(provider, 'name') === '') {
      v.error(provider ? 'spec.provider.name' : 'spec.provider', '`provider.name` must not be empty');
    }
    for (const [i, raw] of rules.entries()) checkCustomRule(v, `spec.rules[${i}]`, asObj(raw) ?? {});
  }
  if (provider && action !== 'CUSTOM') {
    v.error('spec.provider', `\`provider\` must not be with non CUSTOM action, found ${action}`);
  }
  if (action === 'DENY' && rules.length === 0) v.error('spec.rules', WITHOUT_RULES('DENY'));

  // Istio keeps one warning, overwritten by each rule that earns it.
  let warnAt: string | undefined;
  for (const [i, raw] of rules.entries()) {
    const rule = asObj(raw) ?? {};
    const path = `spec.rules[${i}]`;
    const from = checkFrom(v, path, rule, i);
    const to = checkTo(v, path, rule, i);
    checkWhen(v, path, rule);
    const httpOnly = (from.exists && !to.exists && !from.tcp) || (to.exists && !to.tcp);
    if (httpOnly && action === 'DENY') warnAt = path;
  }
  if (warnAt !== undefined) v.warn(warnAt, DENY_HTTP_ONLY_WARNING);
}
