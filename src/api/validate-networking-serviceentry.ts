// ServiceEntry (networking.istio.io): Istio 1.17's ValidateServiceEntry.
import {
  checkExportTo,
  checkLabels,
  fqdnError,
  goQuote,
  ipAddressError,
  ipSubnetError,
  isValidIP,
  unixAddressError,
  wildcardDomainError,
} from './fields.js';
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  alphaSelectorCheck,
  asObj,
  entries,
  enumName,
  field,
  isHTTPProtocol,
  isTCPProtocol,
  isTLSProtocol,
  list,
  msg,
  num,
  parseProtocol,
  portNameError,
  protocolError,
  reportPort,
  str,
  strList,
  selectorWithoutLabelsWarning,
  toNumber,
} from './validate-networking-common.js';

const RESOLUTION = 'istio.networking.v1alpha3.ServiceEntry.Resolution';

/** The ports of an endpoint: each must name a service port, with a valid name and number. */
function validateEndpointPorts(v: Sink, path: string, endpoint: Obj, servicePorts: Set<string>): void {
  for (const [name, raw] of entries(endpoint, 'ports')) {
    const port = toNumber(raw);
    const at = `${path}.ports`;
    if (!servicePorts.has(name)) v.error(at, `endpoint port ${port} is not defined by the service entry`);
    const nameErr = portNameError(name);
    if (nameErr) v.error(at, nameErr);
    reportPort(v, at, port);
  }
}

registerValidator(KIND.ServiceEntry, (spec, v, r) => {
  const selector = msg(spec, 'workloadSelector');
  // Selector errors end the validation, as in Istio.
  const selectorState = alphaSelectorCheck(v, 'spec.workloadSelector', selector);
  if (selectorState === 'invalid') return;
  if (selectorState === 'no-labels')
    v.warn('spec.workloadSelector', selectorWithoutLabelsWarning('service entry'));

  const endpoints = list(spec, 'endpoints');
  if (selector && endpoints.length > 0) {
    v.error('spec', 'only one of WorkloadSelector or Endpoints is allowed in Service Entry');
  }

  const hosts = strList(spec, 'hosts');
  if (hosts.length === 0) v.error('spec.hosts', 'service entry must have at least one host');
  for (const [i, host] of hosts.entries()) {
    // A full wildcard would capture all traffic.
    const err = host === '*' ? `invalid host ${host}` : wildcardDomainError(host);
    if (err) v.error(`spec.hosts[${i}]`, err);
  }

  const resolution = enumName(spec, 'resolution', RESOLUTION);
  const addresses = strList(spec, 'addresses');
  let cidrFound = false;
  for (const [i, address] of addresses.entries()) {
    cidrFound = cidrFound || address.includes('/');
    const err = ipSubnetError(address);
    if (err) v.error(`spec.addresses[${i}]`, err);
  }
  if (cidrFound && resolution !== 'NONE' && resolution !== 'STATIC') {
    v.error('spec.addresses', 'CIDR addresses are allowed only for NONE/STATIC resolution types');
  }

  const ports = list(spec, 'ports');
  const portNumbers = new Set<number>();
  const portNames = new Set<string>();
  for (const [i, raw] of ports.entries()) {
    const at = `spec.ports[${i}]`;
    const port = asObj(raw);
    if (!port) {
      v.error(at, 'service entry port may not be null');
      continue;
    }
    const name = str(port, 'name');
    const number = num(port, 'number');
    const protocol = str(port, 'protocol');
    if (portNames.has(name))
      v.error(`${at}.name`, `service entry port name ${goQuote(name)} already defined`);
    portNames.add(name);
    if (portNumbers.has(number)) v.error(`${at}.number`, `service entry port ${number} already defined`);
    portNumbers.add(number);
    const target = num(port, 'targetPort');
    if (target !== 0) reportPort(v, `${at}.targetPort`, target);
    if (addresses.length === 0 && (protocol === '' || protocol === 'TCP')) {
      v.warn(at, 'addresses are required for ports serving TCP (or unset) protocol');
    }
    const nameErr = portNameError(name);
    if (nameErr) v.error(`${at}.name`, nameErr);
    const protocolErr = protocolError(protocol);
    if (protocolErr) v.error(`${at}.protocol`, protocolErr);
    reportPort(v, `${at}.number`, number);
  }

  switch (resolution) {
    case 'NONE':
      if (endpoints.length !== 0)
        v.error('spec.endpoints', 'no endpoints should be provided for resolution type none');
      break;
    case 'STATIC': {
      let unixEndpoint = false;
      for (const [i, raw] of endpoints.entries()) {
        const at = `spec.endpoints[${i}]`;
        const endpoint = asObj(raw) ?? {};
        const address = str(endpoint, 'address');
        if (address.startsWith('unix://')) {
          unixEndpoint = true;
          const err = unixAddressError(address.slice('unix://'.length));
          if (err) v.error(`${at}.address`, err);
          if (entries(endpoint, 'ports').length !== 0) {
            v.error(`${at}.ports`, `unix endpoint ${address} must not include ports`);
          }
        } else {
          const err = ipAddressError(address);
          if (err) v.error(`${at}.address`, err);
          validateEndpointPorts(v, at, endpoint, portNames);
        }
        checkLabels(v, `${at}.labels`, field(endpoint, 'labels'));
      }
      if (unixEndpoint && ports.length !== 1) {
        v.error('spec.ports', 'exactly 1 service port required for unix endpoints');
      }
      break;
    }
    case 'DNS':
    case 'DNS_ROUND_ROBIN': {
      if (endpoints.length === 0) {
        for (const [i, host] of hosts.entries()) {
          if (fqdnError(host)) {
            v.error(
              `spec.hosts[${i}]`,
              `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`,
            );
          }
        }
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
        v.error('spec.endpoints', `there must only be 0 or 1 endpoint for resolution mode ${resolution}`);
      }
      for (const [i, raw] of endpoints.entries()) {
        const at = `spec.endpoints[${i}]`;
        const endpoint = asObj(raw) ?? {};
        const address = str(endpoint, 'address');
        if (!isValidIP(address) && fqdnError(address)) {
          v.error(
            `${at}.address`,
            `endpoint address ${goQuote(address)} is not a valid FQDN or an IP address`,
          );
        }
        checkLabels(v, `${at}.labels`, field(endpoint, 'labels'));
        validateEndpointPorts(v, at, endpoint, portNames);
      }
      if (addresses.length > 0 && hosts.length > 1) {
        const tcpPort = ports.some((p) => isTCPProtocol(parseProtocol(str(asObj(p), 'protocol'))));
        if (tcpPort) {
          v.warn(
            'spec.hosts',
            'service entry can not have more than one host specified simultaneously with address and tcp port',
          );
        }
      }
      break;
    }
  }

  // Plain TCP cannot tell hosts apart, so several hosts need HTTP or TLS (SNI) ports unless resolution is NONE.
  if (resolution !== 'NONE' && hosts.length > 1) {
    const opaque = ports.some((raw) => {
      const p = asObj(raw);
      if (!p) return false;
      const protocol = parseProtocol(str(p, 'protocol'));
      return !isHTTPProtocol(protocol) && !isTLSProtocol(protocol);
    });
    if (opaque) v.error('spec.ports', 'multiple hosts provided with non-HTTP, non-TLS ports');
  }

  checkExportTo(v, 'spec.exportTo', field(spec, 'exportTo'), r.metadata.namespace ?? '', {
    serviceEntry: true,
  });
});
