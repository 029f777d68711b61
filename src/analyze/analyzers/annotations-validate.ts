/**
 * Value checks for the annotations the sidecar injector validates (Istio 1.17 `inject.AnnotationValidation`),
 * returning the error text istioctl puts in IST0125 InvalidAnnotation.
 */
import { parseDocument } from 'yaml';
import {
  durationValue,
  fqdnError,
  goAtoi,
  goAtoiError,
  goMultiErrorText,
  goNetipAddrError,
  goNetipPrefixError,
  goParseBoolError,
  goParseUint,
  goSplitHostPort,
} from '../../api/index.js';
import { goQuote } from '../../api/index.js';
import { asObject } from './util.js';

type Check = (value: string) => string | undefined;

function validateUint32(value: string): string | undefined {
  return goParseUint(value, 32).error;
}

function validateInterceptionMode(mode: string): string | undefined {
  if (mode === 'REDIRECT' || mode === 'TPROXY' || mode === 'NONE') return undefined;
  return `interceptionMode invalid, use REDIRECT,TPROXY,NONE: ${mode}`;
}

function cidrListError(cidrs: string): string | undefined {
  if (cidrs === '') return undefined;
  for (const cidr of cidrs.split(',')) {
    const err = goNetipPrefixError(cidr);
    if (err !== undefined) return `failed parsing cidr '${cidr}': ${err}`;
  }
  return undefined;
}

function validateIncludeIPRanges(ranges: string): string | undefined {
  if (ranges === '*') return undefined;
  const err = cidrListError(ranges);
  return err === undefined ? undefined : `includeIPRanges invalid: ${err}`;
}

function validateExcludeIPRanges(ranges: string): string | undefined {
  const err = cidrListError(ranges);
  return err === undefined ? undefined : `excludeIPRanges invalid: ${err}`;
}

/** Istio's parsePort: a trimmed 16-bit decimal. */
function portError(portText: string): string | undefined {
  const err = goParseUint(portText.trim(), 16).error;
  return err === undefined ? undefined : `failed parsing port '${portText}': ${err}`;
}

/** Istio's parsePorts: the whole list trimmed, then split on commas (each element trimmed again). */
function portListError(parameter: string, ports: string): string | undefined {
  const trimmed = ports.trim();
  if (trimmed === '') return undefined;
  for (const port of trimmed.split(',')) {
    const err = portError(port);
    if (err !== undefined) return `${parameter} invalid: failed parsing port '${port}': ${err}`;
  }
  return undefined;
}

function validateStatusPort(port: string): string | undefined {
  const err = portError(port);
  return err === undefined ? undefined : `excludeInboundPorts invalid: ${err}`;
}

function portRangeError(port: unknown): string | undefined {
  // Protobuf JSON takes an int32 as a number or a decimal string.
  const n =
    typeof port === 'number' ? port : typeof port === 'string' && /^-?\d+$/.test(port) ? Number(port) : 0;
  return n >= 1 && n <= 65535 ? undefined : `port number ${n} must be in the range 1..65535`;
}

/** Istio's ValidateProxyAddress: `host:port` with a valid port and a DNS name or IP address. */
function proxyAddressError(address: string): string | undefined {
  const split = goSplitHostPort(address);
  if ('error' in split) return `unable to split ${goQuote(address)}: ${split.error}`;
  const port = goAtoi(split.port);
  if (port === undefined) return `port (${split.port}) is not a number: ${goAtoiError(split.port)}`;
  const range = portRangeError(port);
  if (range !== undefined) return range;
  const host = split.host;
  if (fqdnError(host) !== undefined && goNetipAddrError(host) !== undefined) {
    return `${goQuote(host)} is not a valid hostname or an IP address`;
  }
  return undefined;
}

const NS_PER_MS = 1_000_000n;
const NS_PER_SECOND = 1_000_000_000n;
const DRAIN_TIME_MAX = 3600n * NS_PER_SECOND;

/** Go's time.Duration.String for durations of at least one second (the only ones printed here). */
function goDurationString(ns: bigint): string {
  const hours = ns / (3600n * NS_PER_SECOND);
  const minutes = (ns / (60n * NS_PER_SECOND)) % 60n;
  const rest = ns % (60n * NS_PER_SECOND);
  const whole = rest / NS_PER_SECOND;
  const frac = (rest % NS_PER_SECOND).toString().padStart(9, '0').replace(/0+$/, '');
  const seconds = frac === '' ? `${whole}s` : `${whole}.${frac}s`;
  if (hours > 0n) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0n) return `${minutes}m${seconds}`;
  return seconds;
}

function drainDurationErrors(value: unknown): string[] {
  const ns = durationValue(value);
  if (ns === undefined) return [];
  if (ns < NS_PER_MS) return ['invalid drain duration: duration must be greater than 1ms'];
  if (ns % NS_PER_MS !== 0n) return ['invalid drain duration: only durations to ms precision are supported'];
  const out: string[] = [];
  if (ns % NS_PER_SECOND !== 0n) out.push('drain time only supports durations to seconds precision');
  if (ns > DRAIN_TIME_MAX) {
    out.push(`drain time ${goDurationString(ns)} must be <${goDurationString(DRAIN_TIME_MAX)}`);
  }
  return out;
}

/** Istio's mesh.DefaultProxyConfig, the base the annotation's fields are applied on. */
const DEFAULT_PROXY_CONFIG: Readonly<Record<string, unknown>> = {
  configPath: './etc/istio/proxy',
  binaryPath: '/usr/local/bin/envoy',
  serviceCluster: 'istio-proxy',
  drainDuration: '45s',
  discoveryAddress: 'istiod.istio-system.svc:15012',
  proxyAdminPort: 15000,
  statusPort: 15020,
};

/**
 * `proxy.istio.io/config`: applied over Istio's default ProxyConfig, then the main checks of
 * ValidateMeshConfigProxyConfig (paths, cluster name, drain duration, addresses, ports). Tracing,
 * private-key-provider and TLS sub-checks are not reproduced.
 */
function validateProxyConfig(value: string): string | undefined {
  let doc: unknown;
  try {
    const parsed = parseDocument(value);
    const first = parsed.errors[0];
    if (first) return `failed to convert to apply proxy config: ${first.message.split('\n')[0] ?? ''}`;
    doc = parsed.toJS();
  } catch (err) {
    // toJS refuses excessive alias expansion.
    return `failed to convert to apply proxy config: ${(err as Error).message}`;
  }
  if (doc === null || doc === undefined) doc = {};
  const overlay = asObject(doc);
  if (!overlay) return 'failed to convert to apply proxy config: the value is not a YAML mapping';
  const config = { ...DEFAULT_PROXY_CONFIG, ...overlay };
  if ('tracingServiceName' in overlay && !('serviceCluster' in overlay)) delete config['serviceCluster'];
  const errors: string[] = [];
  if (config['configPath'] === '' || config['configPath'] === null) errors.push('config path must be set');
  if (config['binaryPath'] === '' || config['binaryPath'] === null) errors.push('binary path must be set');
  if ('serviceCluster' in config) {
    if (config['serviceCluster'] === '') errors.push('service cluster must be specified');
  } else if (!('tracingServiceName' in config)) {
    errors.push('oneof service cluster or tracing service name must be specified');
  }
  errors.push(...drainDurationErrors(config['drainDuration']));
  const discovery = typeof config['discoveryAddress'] === 'string' ? config['discoveryAddress'] : '';
  if (discovery === '') {
    errors.push('discovery address must be set to the proxy discovery service');
  } else {
    const err = proxyAddressError(discovery);
    if (err !== undefined) errors.push(`invalid discovery address: ${err}`);
  }
  const statsd = typeof config['statsdUdpAddress'] === 'string' ? config['statsdUdpAddress'] : '';
  if (statsd !== '') {
    const err = proxyAddressError(statsd);
    if (err !== undefined) errors.push(`invalid statsd udp address ${goQuote(statsd)}: ${err}`);
  }
  const adminPort = portRangeError(config['proxyAdminPort']);
  if (adminPort !== undefined) errors.push(`invalid proxy admin port: ${adminPort}`);
  const statusPort = portRangeError(config['statusPort']);
  if (statusPort !== undefined) errors.push(`invalid status port: ${statusPort}`);
  // ValidateMeshConfigProxyConfig's go-multierror; no errors is a nil error.
  return errors.length === 0 ? undefined : goMultiErrorText(errors);
}

/** Annotation name → check, as Istio 1.17's inject.AnnotationValidation. */
const ANNOTATION_CHECKS: ReadonlyMap<string, Check> = new Map<string, Check>([
  ['sidecar.istio.io/interceptionMode', validateInterceptionMode],
  ['sidecar.istio.io/enableCoreDump', goParseBoolError],
  ['status.sidecar.istio.io/port', validateStatusPort],
  ['readiness.status.sidecar.istio.io/initialDelaySeconds', validateUint32],
  ['readiness.status.sidecar.istio.io/periodSeconds', validateUint32],
  ['readiness.status.sidecar.istio.io/failureThreshold', validateUint32],
  ['traffic.sidecar.istio.io/includeOutboundIPRanges', validateIncludeIPRanges],
  ['traffic.sidecar.istio.io/excludeOutboundIPRanges', validateExcludeIPRanges],
  [
    'traffic.sidecar.istio.io/includeInboundPorts',
    (v) => (v === '*' ? undefined : portListError('includeInboundPorts', v)),
  ],
  ['traffic.sidecar.istio.io/excludeInboundPorts', (v) => portListError('excludeInboundPorts', v)],
  ['traffic.sidecar.istio.io/excludeOutboundPorts', (v) => portListError('excludeOutboundPorts', v)],
  ['prometheus.istio.io/merge-metrics', goParseBoolError],
  ['proxy.istio.io/config', validateProxyConfig],
]);

/** The problem with an annotation's value, or undefined when it is valid or not checked. */
export function annotationValueError(name: string, value: string): string | undefined {
  return ANNOTATION_CHECKS.get(name)?.(value);
}
