// Sidecar (networking.istio.io): Istio 1.17's ValidateSidecar.
import { fqdnError, goAtoi, goAtoiError, ipAddressError, portError, unixAddressError } from './fields.js';
import { goSplitHostPort } from './goparse.js';
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  alphaSelectorCheck,
  asObj,
  bool,
  enumName,
  has,
  isTLSProtocol,
  list,
  msg,
  num,
  parseProtocol,
  portNameError,
  protocolError,
  reportPort,
  selectorWithoutLabelsWarning,
  str,
  strList,
  validateDestination,
  validateNamespacedHost,
} from './validate-networking-common.js';
import { serverTLSMode, validateServerTLS } from './validate-networking-gateway.js';

const CAPTURE_MODE = 'istio.networking.v1alpha3.CaptureMode';
const OUTBOUND_MODE = 'istio.networking.v1alpha3.OutboundTrafficPolicy.Mode';

function report(v: Sink, path: string, err: string | undefined): void {
  if (err) v.error(path, err);
}

/** The listener's own port: optional DNS-label name, a known protocol and (for IP listeners) a number. */
function validateListenerPort(v: Sink, path: string, port: Obj): void {
  const name = str(port, 'name');
  if (name.length > 0) report(v, `${path}.name`, portNameError(name));
  report(v, `${path}.protocol`, protocolError(str(port, 'protocol')));
}

function validateDefaultEndpoint(v: Sink, path: string, endpoint: string): void {
  if (endpoint.startsWith('unix://')) {
    report(v, path, unixAddressError(endpoint.slice('unix://'.length)));
    return;
  }
  // The form is 127.0.0.1:port, [::1]:port or :port.
  const split = goSplitHostPort(endpoint);
  const host = 'error' in split ? '' : split.host;
  const port = 'error' in split ? '' : split.port;
  if ('error' in split) v.error(path, split.error);
  if (host !== '' && host !== '127.0.0.1' && host !== '0.0.0.0' && host !== '::1' && host !== '::') {
    v.error(
      path,
      'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset',
    );
  }
  const n = goAtoi(port);
  if (n === undefined)
    v.error(path, `sidecar: defaultEndpoint port (${port}) is not a number: ${goAtoiError(port)}`);
  else report(v, path, portError(n));
}

function validateIngress(v: Sink, ingress: unknown[]): void {
  const ports = new Set<number>();
  for (const [i, raw] of ingress.entries()) {
    const at = `spec.ingress[${i}]`;
    const listener = asObj(raw);
    if (!listener) {
      v.error(at, 'sidecar: ingress may not be null');
      continue;
    }
    const port = msg(listener, 'port');
    if (!port) {
      v.error(`${at}.port`, 'sidecar: port is required for ingress listeners');
      continue;
    }
    validateListenerPort(v, `${at}.port`, port);
    const number = num(port, 'number');
    reportPort(v, `${at}.port.number`, number);
    const bind = str(listener, 'bind');
    if (bind.length !== 0) report(v, `${at}.bind`, ipAddressError(bind));
    if (ports.has(number))
      v.error(`${at}.port.number`, 'sidecar: ports on IP bound listeners must be unique');
    ports.add(number);

    const defaultEndpoint = str(listener, 'defaultEndpoint');
    if (defaultEndpoint.length !== 0) validateDefaultEndpoint(v, `${at}.defaultEndpoint`, defaultEndpoint);

    const tls = msg(listener, 'tls');
    if (!tls) continue;
    const tp = `${at}.tls`;
    if (strList(tls, 'subjectAltNames').length > 0) {
      v.error(`${tp}.subjectAltNames`, 'sidecar: subjectAltNames is not supported in ingress tls');
    }
    if (bool(tls, 'httpsRedirect')) v.error(`${tp}.httpsRedirect`, 'sidecar: httpsRedirect is not supported');
    if (str(tls, 'credentialName') !== '') {
      v.error(`${tp}.credentialName`, 'sidecar: credentialName is not currently supported');
    }
    const mode = serverTLSMode(tls);
    if (mode === 'ISTIO_MUTUAL' || mode === 'AUTO_PASSTHROUGH') {
      v.error(`${tp}.mode`, `configuration is invalid: cannot set mode to ${mode} in sidecar ingress tls`);
    }
    if (!isTLSProtocol(parseProtocol(str(port, 'protocol')))) {
      v.error(tp, 'server cannot have TLS settings for non HTTPS/TLS ports');
    }
    validateServerTLS(v, tp, tls);
  }
}

/** Duplicate egress hosts only warn (Istio kept them for compatibility). */
function validateEgressHosts(v: Sink, path: string, hosts: string[], namespace: string): void {
  const byNamespace = new Map<string, Set<string>>();
  for (const [i, hostname] of hosts.entries()) {
    const at = `${path}[${i}]`;
    const slash = hostname.indexOf('/');
    if (slash >= 0) {
      const nsPart = hostname.slice(0, slash);
      const ns = nsPart === '.' ? namespace : nsPart;
      const svc = hostname.slice(slash + 1);
      const services = byNamespace.get(ns) ?? new Set<string>();
      byNamespace.set(ns, services);
      const duplicate = svc !== '*' ? services.has(svc) || services.has('*') : services.size !== 0;
      if (duplicate) v.warn(at, `duplicated egress host: ${hostname}`);
      services.add(svc);
    }
    validateNamespacedHost(v, at, hostname, false);
  }
  if (byNamespace.get('*')?.has('*') && byNamespace.size !== 1) {
    v.warn(path, '`*/*` host select all resources, no other hosts can be added');
  }
}

function validateEgress(v: Sink, egress: unknown[], namespace: string): void {
  const ports = new Set<number>();
  const unixBinds = new Set<string>();
  let catchAllFound = false;
  for (const [i, raw] of egress.entries()) {
    const at = `spec.egress[${i}]`;
    const listener = asObj(raw);
    if (!listener) {
      v.error(at, 'egress listener may not be null');
      continue;
    }
    const port = msg(listener, 'port');
    if (!port) {
      // Only one listener may go without a port (the catch-all), and it must be the last.
      if (!catchAllFound) {
        if (i === egress.length - 1) catchAllFound = true;
        else
          v.error(at, 'sidecar: the egress listener with empty port should be the last listener in the list');
      } else {
        v.error(at, 'sidecar: egress can have only one listener with empty port');
        continue;
      }
    } else {
      const bind = str(listener, 'bind');
      const number = num(port, 'number');
      validateListenerPort(v, `${at}.port`, port);
      if (number === 0) {
        // Port 0 means a Unix domain socket listener.
        if (!bind.startsWith('unix://')) {
          v.error(`${at}.bind`, 'sidecar: ports with 0 value must have a unix domain socket bind address');
        } else {
          report(v, `${at}.bind`, unixAddressError(bind.slice('unix://'.length)));
        }
        const captureMode = enumName(listener, 'captureMode', CAPTURE_MODE);
        if (captureMode !== 'DEFAULT' && captureMode !== 'NONE') {
          v.error(
            `${at}.captureMode`,
            'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners',
          );
        }
        if (unixBinds.has(bind))
          v.error(`${at}.bind`, 'sidecar: unix domain socket values for listeners must be unique');
        unixBinds.add(bind);
      } else {
        reportPort(v, `${at}.port.number`, number);
        if (bind.length !== 0) report(v, `${at}.bind`, ipAddressError(bind));
        if (ports.has(number))
          v.error(`${at}.port.number`, 'sidecar: ports on IP bound listeners must be unique');
        ports.add(number);
      }
    }
    const hosts = strList(listener, 'hosts');
    if (hosts.length === 0) v.error(`${at}.hosts`, 'sidecar: egress listener must contain at least one host');
    else validateEgressHosts(v, `${at}.hosts`, hosts, namespace);
  }
}

function validateOutboundTrafficPolicy(v: Sink, path: string, policy: Obj | undefined): void {
  const egressProxy = msg(policy, 'egressProxy');
  if (!policy || !egressProxy) return;
  if (enumName(policy, 'mode', OUTBOUND_MODE) !== 'ALLOW_ANY') {
    v.error(
      `${path}.egressProxy`,
      'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode',
    );
    return;
  }
  report(v, `${path}.egressProxy.host`, fqdnError(str(egressProxy, 'host')));
  if (!has(egressProxy, 'port')) {
    v.error(`${path}.egressProxy.port`, 'sidecar: egress_proxy port must be non-nil');
    return;
  }
  validateDestination(v, `${path}.egressProxy`, egressProxy);
}

registerValidator(KIND.Sidecar, (spec, v, r) => {
  const selectorState = alphaSelectorCheck(v, 'spec.workloadSelector', msg(spec, 'workloadSelector'));
  if (selectorState === 'invalid') return;

  const ingress = list(spec, 'ingress');
  const egress = list(spec, 'egress');
  const outbound = msg(spec, 'outboundTrafficPolicy');
  if (ingress.length === 0 && egress.length === 0 && !outbound) {
    // Istio returns this error on its own, without the selector warning.
    v.error('spec', 'sidecar: empty configuration provided');
    return;
  }
  if (selectorState === 'no-labels') v.warn('spec.workloadSelector', selectorWithoutLabelsWarning('sidecar'));

  validateIngress(v, ingress);
  validateEgress(v, egress, r.metadata.namespace ?? '');
  validateOutboundTrafficPolicy(v, 'spec.outboundTrafficPolicy', outbound);
});
