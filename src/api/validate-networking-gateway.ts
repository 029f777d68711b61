// Gateway (networking.istio.io): Istio 1.17's ValidateGateway, validateServer and validateTLSOptions.
import { goList, goQuote, ipAddressError, isDns1123Label, unixAddressError } from './fields.js';
import { KIND } from './kinds.js';
import { PROTO_ENUMS } from './validate-decode-schema.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  bool,
  counting,
  enumName,
  isHTTPProtocol,
  isTLSProtocol,
  msg,
  num,
  parseProtocol,
  portText,
  reportPort,
  str,
  strList,
  list,
  validateNamespacedHost,
} from './validate-networking-common.js';

/** ServerTLSSettings.TLSmode; the zero value is PASSTHROUGH. */
const SERVER_TLS_MODE = 'istio.networking.v1alpha3.ServerTLSSettings.TLSmode';
export const SERVER_TLS_MODES = PROTO_ENUMS[SERVER_TLS_MODE];
const TLS_PROTOCOL = 'istio.networking.v1alpha3.ServerTLSSettings.TLSProtocol';

/** The cipher suites Envoy (BoringSSL) accepts for a gateway server (pkg/config/security). */
const VALID_CIPHER_SUITES = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-RSA-AES256-SHA',
  'AES128-GCM-SHA256',
  'AES256-GCM-SHA384',
  'AES128-SHA',
  'AES256-SHA',
  'DES-CBC3-SHA',
]);

function isValidCipherSuite(cs: string): boolean {
  if (cs === '' || cs === 'ALL') return true;
  // Istio lets anything not starting with a letter or digit through (`-`, `+`, `!` expressions). Go looks
  // at the first byte, read as a Latin-1 rune.
  const firstByte = Buffer.from(cs, 'utf8')[0] ?? 0;
  if (!/[\p{L}\p{N}]/u.test(String.fromCharCode(firstByte))) return true;
  return VALID_CIPHER_SUITES.has(cs);
}

export function serverTLSMode(tls: Obj): string {
  return enumName(tls, 'mode', SERVER_TLS_MODE);
}

/** Istio's validateTLSOptions for ServerTLSSettings (Gateway servers and Sidecar ingress listeners). */
export function validateServerTLS(v: Sink, path: string, tls: Obj | undefined): void {
  if (!tls) return;
  const minVersion = enumName(tls, 'minProtocolVersion', TLS_PROTOCOL);
  const ciphers = strList(tls, 'cipherSuites');
  if ((minVersion === 'TLSV1_0' || minVersion === 'TLSV1_1') && ciphers.length === 0) {
    v.warn(
      `${path}.minProtocolVersion`,
      'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.',
    );
  }
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const duplicate = new Set<string>();
  for (const cs of ciphers) {
    if (!isValidCipherSuite(cs)) invalid.add(cs);
    else if (valid.has(cs)) duplicate.add(cs);
    else valid.add(cs);
  }
  if (invalid.size > 0)
    v.warn(`${path}.cipherSuites`, `ignoring invalid cipher suites: ${goList([...invalid].sort())}`);
  if (duplicate.size > 0) {
    v.warn(`${path}.cipherSuites`, `ignoring duplicate cipher suites: ${goList([...duplicate].sort())}`);
  }

  const mode = serverTLSMode(tls);
  const cert = str(tls, 'serverCertificate');
  const key = str(tls, 'privateKey');
  const ca = str(tls, 'caCertificates');
  const credential = str(tls, 'credentialName');
  if (mode === 'ISTIO_MUTUAL') {
    // ISTIO_MUTUAL uses the workload certificates, so no other source may be given.
    if (cert !== '')
      v.error(`${path}.serverCertificate`, 'ISTIO_MUTUAL TLS cannot have associated server certificate');
    if (key !== '') v.error(`${path}.privateKey`, 'ISTIO_MUTUAL TLS cannot have associated private key');
    if (ca !== '') v.error(`${path}.caCertificates`, 'ISTIO_MUTUAL TLS cannot have associated CA bundle');
    if (credential !== '') {
      v.error(`${path}.credentialName`, 'ISTIO_MUTUAL TLS cannot have associated credentialName');
    }
    return;
  }
  if ((mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') && (cert || key || ca || credential)) {
    v.warn(`${path}.mode`, `${mode} mode does not use certificates, they will be ignored`);
  }
  // With a credentialName the certificates come from a secret.
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credential !== '') return;
  if (mode === 'SIMPLE') {
    if (cert === '') v.error(`${path}.serverCertificate`, 'SIMPLE TLS requires a server certificate');
    if (key === '') v.error(`${path}.privateKey`, 'SIMPLE TLS requires a private key');
  } else if (mode === 'MUTUAL') {
    if (cert === '') v.error(`${path}.serverCertificate`, 'MUTUAL TLS requires a server certificate');
    if (key === '') v.error(`${path}.privateKey`, 'MUTUAL TLS requires a private key');
    if (ca === '') v.error(`${path}.caCertificates`, 'MUTUAL TLS requires a client CA bundle');
  }
}

function validateServerPort(v: Sink, path: string, port: Obj | undefined): void {
  if (!port) {
    v.error(path, 'port is required');
    return;
  }
  const protocol = str(port, 'protocol');
  if (parseProtocol(protocol) === undefined) {
    v.error(
      `${path}.protocol`,
      `invalid protocol ${goQuote(protocol)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`,
    );
  }
  const number = num(port, 'number');
  if (number > 0) reportPort(v, `${path}.number`, number);
  if (str(port, 'name') === '') v.error(`${path}.name`, `port name must be set: ${portText(port)}`);
}

function validateServerBind(v: Sink, path: string, port: Obj | undefined, bind: string): void {
  if (bind.startsWith('unix://')) {
    const err = unixAddressError(bind.slice('unix://'.length));
    if (err) v.error(`${path}.bind`, err);
    if (port && num(port, 'number') !== 0) {
      v.error(`${path}.port.number`, `port number must be 0 for unix domain socket: ${portText(port)}`);
    }
  } else if (bind.length !== 0) {
    const err = ipAddressError(bind);
    if (err) v.error(`${path}.bind`, err);
  }
}

function validateServer(v: Sink, path: string, raw: unknown): void {
  const server = asObj(raw);
  if (!server) {
    v.error(path, 'cannot have nil server');
    return;
  }
  const hosts = strList(server, 'hosts');
  if (hosts.length === 0) v.error(`${path}.hosts`, 'server config must contain at least one host');
  for (const [i, host] of hosts.entries()) validateNamespacedHost(v, `${path}.hosts[${i}]`, host, true);

  const port = msg(server, 'port');
  const portCheck = counting(v);
  validateServerPort(portCheck, `${path}.port`, port);
  validateServerBind(v, path, port, str(server, 'bind'));
  const tls = msg(server, 'tls');
  validateServerTLS(v, `${path}.tls`, tls);

  // The protocol and the TLS settings must agree (checked only when the port itself is valid).
  if (portCheck.errors > 0 || !port) return;
  const protocol = parseProtocol(str(port, 'protocol'));
  if (isTLSProtocol(protocol) && !tls) {
    v.error(`${path}.tls`, 'server must have TLS settings for HTTPS/TLS protocols');
  } else if (!isTLSProtocol(protocol) && tls) {
    if (isHTTPProtocol(protocol)) {
      // Plain HTTP may only carry httpsRedirect (the zero mode is PASSTHROUGH), without certificates.
      const mode = serverTLSMode(tls);
      const passthrough = mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
      if (
        !passthrough ||
        str(tls, 'caCertificates') ||
        str(tls, 'privateKey') ||
        str(tls, 'serverCertificate')
      ) {
        v.error(`${path}.tls`, 'server cannot have TLS settings for plain text HTTP ports');
      }
    } else {
      v.error(`${path}.tls`, 'server cannot have TLS settings for non HTTPS/TLS ports');
    }
  }
}

registerValidator(KIND.Gateway, (spec, v, r) => {
  const name = r.metadata.name ?? '';
  if (!isDns1123Label(name)) v.error('metadata.name', `invalid gateway name: ${goQuote(name)}`);

  const servers = list(spec, 'servers');
  if (servers.length === 0) v.error('spec.servers', 'gateway must have at least one server');
  for (const [i, server] of servers.entries()) validateServer(v, `spec.servers[${i}]`, server);

  const portNames = new Set<string>();
  for (const [i, raw] of servers.entries()) {
    const server = asObj(raw);
    const path = `spec.servers[${i}]`;
    if (!server) {
      v.error(path, 'server may not be nil');
      continue;
    }
    const port = msg(server, 'port');
    if (!port) continue;
    const portName = str(port, 'name');
    if (portNames.has(portName)) {
      v.error(`${path}.port.name`, `port names in servers must be unique: duplicate name ${portName}`);
    }
    portNames.add(portName);
    if (!isHTTPProtocol(parseProtocol(str(port, 'protocol'))) && bool(msg(server, 'tls'), 'httpsRedirect')) {
      v.warn(`${path}.tls.httpsRedirect`, 'tls.httpsRedirect should only be used with http servers');
    }
  }
});
