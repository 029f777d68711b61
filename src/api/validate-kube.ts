// Light structural checks for the Kubernetes core kinds the mesh reads (Service, Pod, Deployment): a few of
// the checks the Kubernetes API server itself makes (pkg/apis/core/validation, apps/validation), with its
// messages (`Required value`, `Invalid value: 0: must be between 1 and 65535, inclusive`, ...). The field
// path is carried by the issue, so messages hold only the part after `<path>: `. istioctl analyze does not
// report these; they exist so skiff can refuse objects the API server would refuse.
import { goQuote } from './fields.js';
import type { Obj, Sink } from './validate-networking-common.js';
import { asObj, field, list, msg } from './validate-networking-common.js';

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/** field.ErrorBody's rendering of a bad value: strings quoted, numbers and booleans plain. */
function badValue(value: unknown): string {
  if (typeof value === 'string') return goQuote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return 'null';
}

export function required(): string {
  return 'Required value';
}

export function invalid(value: unknown, detail: string): string {
  return `Invalid value: ${badValue(value)}: ${detail}`;
}

export function duplicate(value: unknown): string {
  return `Duplicate value: ${badValue(value)}`;
}

export function unsupported(value: unknown, supported: readonly string[]): string {
  return `Unsupported value: ${badValue(value)}: supported values: ${supported.map((s) => goQuote(s)).join(', ')}`;
}

/** validation.IsDNS1123Label. */
export function dns1123LabelErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 63) errors.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(name)) errors.push(DNS1123_LABEL_MESSAGE);
  return errors;
}

/** validation.IsValidPortName (IANA_SVC_NAME). */
export function portNameErrors(name: string): string[] {
  const errors: string[] = [];
  if (name.length > 15) errors.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name))
    errors.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)');
  if (!/[a-z]/.test(name)) errors.push('must contain at least one letter (a-z)');
  if (name.includes('--')) errors.push('must not contain consecutive hyphens');
  if (name.startsWith('-') || name.endsWith('-')) errors.push('must not begin or end with a hyphen');
  return errors;
}

const PORT_RANGE = 'must be between 1 and 65535, inclusive';

function isPortNumber(n: unknown): boolean {
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65535;
}

function text(o: Obj | undefined, name: string): string {
  const value = field(o, name);
  return typeof value === 'string' ? value : '';
}

function checkProtocol(v: Sink, path: string, o: Obj): void {
  // The API server defaults an empty protocol to TCP before validating.
  const protocol = field(o, 'protocol');
  if (protocol === undefined || protocol === null || protocol === '') return;
  if (typeof protocol !== 'string' || !PROTOCOLS.includes(protocol)) {
    v.error(`${path}.protocol`, unsupported(protocol, PROTOCOLS));
  }
}

function checkServicePort(v: Sink, path: string, port: Obj, requireName: boolean, names: Set<string>): void {
  const name = text(port, 'name');
  if (requireName && name === '') v.error(`${path}.name`, required());
  else if (name !== '') {
    for (const err of dns1123LabelErrors(name)) v.error(`${path}.name`, invalid(name, err));
    if (names.has(name)) v.error(`${path}.name`, duplicate(name));
    else names.add(name);
  }
  const number = field(port, 'port');
  if (!isPortNumber(number))
    v.error(`${path}.port`, invalid(typeof number === 'number' ? number : 0, PORT_RANGE));
  checkProtocol(v, path, port);
  // An unset or zero targetPort defaults to the port.
  const target = field(port, 'targetPort');
  if (typeof target === 'number' && target !== 0 && !isPortNumber(target)) {
    v.error(`${path}.targetPort`, invalid(target, PORT_RANGE));
  } else if (typeof target === 'string' && target !== '') {
    for (const err of portNameErrors(target)) v.error(`${path}.targetPort`, invalid(target, err));
  }
}

/** A subset of ValidateService: type, required ports, port names, numbers and protocols. */
export function validateService(spec: Obj, v: Sink): void {
  const type = text(spec, 'type') || 'ClusterIP';
  if (!SERVICE_TYPES.includes(type)) v.error('spec.type', unsupported(type, SERVICE_TYPES));
  const ports = list(spec, 'ports');
  const headless = text(spec, 'clusterIP') === 'None';
  if (ports.length === 0 && !headless && type !== 'ExternalName') v.error('spec.ports', required());
  const names = new Set<string>();
  for (const [i, raw] of ports.entries()) {
    checkServicePort(v, `spec.ports[${i}]`, asObj(raw) ?? {}, ports.length > 1, names);
  }
}

function checkContainerPorts(v: Sink, path: string, container: Obj): void {
  const names = new Set<string>();
  for (const [i, raw] of list(container, 'ports').entries()) {
    const port = asObj(raw) ?? {};
    const at = `${path}.ports[${i}]`;
    const name = text(port, 'name');
    if (name !== '') {
      const errs = portNameErrors(name);
      for (const err of errs) v.error(`${at}.name`, invalid(name, err));
      if (errs.length === 0 && names.has(name)) v.error(`${at}.name`, duplicate(name));
      else if (errs.length === 0) names.add(name);
    }
    const number = field(port, 'containerPort');
    if (number === undefined || number === null || number === 0) v.error(`${at}.containerPort`, required());
    else if (!isPortNumber(number)) v.error(`${at}.containerPort`, invalid(number, PORT_RANGE));
    checkProtocol(v, at, port);
  }
}

/** The container part of ValidatePodSpec: containers present, named uniquely, with an image. */
export function validatePodSpec(v: Sink, path: string, podSpec: Obj | undefined): void {
  const containers = list(podSpec, 'containers');
  if (containers.length === 0) v.error(`${path}.containers`, required());
  const names = new Set<string>();
  // Regular containers first: a clashing init container is the one reported as the duplicate.
  for (const [group, items] of [
    ['containers', containers],
    ['initContainers', list(podSpec, 'initContainers')],
  ] as const) {
    for (const [i, raw] of items.entries()) {
      const container = asObj(raw) ?? {};
      const at = `${path}.${group}[${i}]`;
      const name = text(container, 'name');
      if (name === '') v.error(`${at}.name`, required());
      else {
        for (const err of dns1123LabelErrors(name)) v.error(`${at}.name`, invalid(name, err));
        if (names.has(name)) v.error(`${at}.name`, duplicate(name));
        else names.add(name);
      }
      if (text(container, 'image') === '') v.error(`${at}.image`, required());
      checkContainerPorts(v, at, container);
    }
  }
}

/** Go's `%#v` of a map[string]string, as field.Invalid prints template labels. */
function goStringMap(labels: Obj | undefined): string {
  if (!labels) return 'map[string]string(nil)';
  const items = Object.keys(labels)
    .sort()
    .map((k) => `${goQuote(k)}:${goQuote(typeof labels[k] === 'string' ? (labels[k] as string) : '')}`);
  return `map[string]string{${items.join(', ')}}`;
}

/** metav1.LabelSelector matching (matchLabels and matchExpressions). */
function selectorMatches(selector: Obj, labels: Obj): boolean {
  for (const [k, value] of Object.entries(asObj(field(selector, 'matchLabels')) ?? {})) {
    if (labels[k] !== value) return false;
  }
  for (const raw of list(selector, 'matchExpressions')) {
    const req = asObj(raw) ?? {};
    const key = text(req, 'key');
    const values = list(req, 'values').map(String);
    const present = key in labels;
    const value = String(labels[key] ?? '');
    switch (text(req, 'operator')) {
      case 'In':
        if (!present || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(value)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/** A subset of ValidateDeployment: replicas, a selector that matches the template, the pod spec. */
export function validateDeployment(spec: Obj, v: Sink): void {
  const replicas = field(spec, 'replicas');
  if (typeof replicas === 'number' && replicas < 0) {
    v.error('spec.replicas', invalid(replicas, 'must be greater than or equal to 0'));
  }
  const template = msg(spec, 'template');
  const selector = msg(spec, 'selector');
  if (!selector) v.error('spec.selector', required());
  else {
    const selectorEmpty =
      Object.keys(asObj(field(selector, 'matchLabels')) ?? {}).length === 0 &&
      list(selector, 'matchExpressions').length === 0;
    const labels = asObj(field(msg(template, 'metadata'), 'labels'));
    if (!selectorEmpty && !selectorMatches(selector, labels ?? {})) {
      v.error(
        'spec.template.metadata.labels',
        `Invalid value: ${goStringMap(labels)}: \`selector\` does not match template \`labels\``,
      );
    }
  }
  validatePodSpec(v, 'spec.template.spec', msg(template, 'spec'));
}

/** Pods: the container checks of ValidatePodSpec. */
export function validatePod(spec: Obj, v: Sink): void {
  validatePodSpec(v, 'spec', spec);
}
