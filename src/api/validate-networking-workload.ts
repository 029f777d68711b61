// WorkloadEntry and WorkloadGroup (networking.istio.io): Istio 1.17's ValidateWorkloadEntry and
// ValidateWorkloadGroup.
import { checkLabels, fqdnError, goQuote, isValidIP, labelErrors, unixAddressError } from './fields.js';
import { goMultiErrorText } from './goparse.js';
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  entries,
  field,
  list,
  msg,
  num,
  portNameError,
  reportPort,
  str,
  strList,
  toNumber,
} from './validate-networking-common.js';

registerValidator(KIND.WorkloadEntry, (spec, v) => {
  const address = str(spec, 'address');
  if (address === '') {
    v.error('spec.address', 'address must be set');
    return;
  }
  // Without its ServiceEntry the resolution is unknown, so the address may be a socket, an IP or a hostname.
  if (address.startsWith('unix://')) {
    const err = unixAddressError(address.slice('unix://'.length));
    if (err) v.error('spec.address', err);
    if (entries(spec, 'ports').length !== 0)
      v.error('spec.ports', `unix endpoint ${address} must not include ports`);
  } else if (!isValidIP(address) && fqdnError(address)) {
    v.error('spec.address', `endpoint address ${goQuote(address)} is not a valid FQDN or an IP address`);
  }
  checkLabels(v, 'spec.labels', field(spec, 'labels'));
  for (const [name, port] of entries(spec, 'ports')) {
    const err = portNameError(name);
    if (err) v.error('spec.ports', err);
    reportPort(v, 'spec.ports', toNumber(port));
  }
});

function validateReadinessProbe(v: Sink, path: string, probe: Obj | undefined): void {
  if (!probe) return;
  for (const name of [
    'periodSeconds',
    'initialDelaySeconds',
    'timeoutSeconds',
    'successThreshold',
    'failureThreshold',
  ]) {
    if (num(probe, name) < 0) v.error(`${path}.${name}`, `${name} must be non-negative`);
  }
  // The health check method is a oneof; the first one present counts.
  const method = Object.keys(probe).find(
    (k) => ['httpGet', 'tcpSocket', 'exec'].includes(k) && probe[k] !== null,
  );
  if (method === 'httpGet') {
    const http = asObj(probe['httpGet']) ?? {};
    reportPort(v, `${path}.httpGet.port`, num(http, 'port'));
    const scheme = str(http, 'scheme');
    // Istio compares with the Kubernetes constants HTTP / HTTPS, although its message shows lower case.
    if (scheme !== '' && scheme !== 'HTTPS' && scheme !== 'HTTP') {
      v.error(`${path}.httpGet.scheme`, 'httpGet.scheme must be one of "http", "https"');
    }
    for (const [i, raw] of list(http, 'httpHeaders').entries()) {
      const header = asObj(raw);
      const at = `${path}.httpGet.httpHeaders[${i}]`;
      if (!header) v.error(at, 'invalid nil header');
      else if (str(header, 'name') === '') v.error(`${at}.name`, 'header name cannot be empty');
    }
  } else if (method === 'tcpSocket') {
    reportPort(v, `${path}.tcpSocket.port`, num(asObj(probe['tcpSocket']), 'port'));
  } else if (method === 'exec') {
    if (strList(asObj(probe['exec']), 'command').length === 0)
      v.error(`${path}.exec.command`, 'exec.command is required');
  } else {
    v.error(path, 'unknown health check method <nil>');
  }
}

registerValidator(KIND.WorkloadGroup, (spec, v) => {
  if (!msg(spec, 'template')) {
    v.error('spec.template', 'template is required');
    return;
  }
  // The template is not validated: address and other fields are filled in when workloads register.
  const labels = asObj(field(msg(spec, 'metadata'), 'labels'));
  if (labels) {
    const errors = labelErrors(labels);
    if (errors.length > 0) {
      // Istio wraps the label multierror into a single error, so its text keeps the list format.
      v.error('spec.metadata.labels', `invalid labels: ${goMultiErrorText(errors)}`);
      return;
    }
  }
  validateReadinessProbe(v, 'spec.probe', msg(spec, 'probe'));
});
