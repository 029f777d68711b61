// DestinationRule (networking.istio.io): Istio 1.17's ValidateDestinationRule and validateTrafficPolicy.
import {
  checkDuration,
  checkExportTo,
  checkLabels,
  checkPercentage,
  checkWorkloadSelector,
  fqdnError,
  ipAddressError,
  portError,
  wildcardDomainError,
} from './fields.js';
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import type { Obj, Sink } from './validate-networking-common.js';
import {
  asObj,
  bool,
  entries,
  enumName,
  errorsOnly,
  field,
  has,
  list,
  msg,
  num,
  str,
  strList,
  subsetNameError,
  toNumber,
  wrapperNumber,
} from './validate-networking-common.js';

const CLIENT_TLS_MODE = 'istio.networking.v1alpha3.ClientTLSSettings.TLSmode';
const H2_UPGRADE_POLICY = 'istio.networking.v1alpha3.ConnectionPoolSettings.HTTPSettings.H2UpgradePolicy';

function checkDurationField(v: Sink, path: string, o: Obj | undefined, name: string): void {
  if (has(o, name)) checkDuration(v, `${path}.${name}`, field(o, name));
}

function validateOutlierDetection(v: Sink, path: string, outlier: Obj | undefined): void {
  if (!outlier) return;
  checkDurationField(v, path, outlier, 'baseEjectionTime');
  if (num(outlier, 'consecutiveErrors') !== 0) {
    v.warn(
      `${path}.consecutiveErrors`,
      'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead',
    );
  }
  if (
    !bool(outlier, 'splitExternalLocalOriginErrors') &&
    (wrapperNumber(outlier, 'consecutiveLocalOriginFailures') ?? 0) > 0
  ) {
    v.error(
      `${path}.consecutiveLocalOriginFailures`,
      'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
    );
  }
  checkDurationField(v, path, outlier, 'interval');
  checkPercentage(v, `${path}.maxEjectionPercent`, num(outlier, 'maxEjectionPercent'));
  checkPercentage(v, `${path}.minHealthPercent`, num(outlier, 'minHealthPercent'));
}

function validateConnectionPool(v: Sink, path: string, pool: Obj | undefined): void {
  if (!pool) return;
  const http = msg(pool, 'http');
  const tcp = msg(pool, 'tcp');
  if (!http && !tcp) {
    v.error(path, 'connection pool must have at least one field');
    return;
  }
  if (http) {
    const hp = `${path}.http`;
    const nonNegative: [string, string][] = [
      ['http1MaxPendingRequests', 'http1 max pending requests must be non-negative'],
      ['http2MaxRequests', 'http2 max requests must be non-negative'],
      ['maxRequestsPerConnection', 'max requests per connection must be non-negative'],
      ['maxRetries', 'max retries must be non-negative'],
    ];
    for (const [name, message] of nonNegative) if (num(http, name) < 0) v.error(`${hp}.${name}`, message);
    checkDurationField(v, hp, http, 'idleTimeout');
    if (
      enumName(http, 'h2UpgradePolicy', H2_UPGRADE_POLICY) === 'UPGRADE' &&
      bool(http, 'useClientProtocol')
    ) {
      v.error(
        `${hp}.useClientProtocol`,
        'use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      );
    }
  }
  if (tcp) {
    const tp = `${path}.tcp`;
    if (num(tcp, 'maxConnections') < 0)
      v.error(`${tp}.maxConnections`, 'max connections must be non-negative');
    checkDurationField(v, tp, tcp, 'connectTimeout');
    checkDurationField(v, tp, tcp, 'maxConnectionDuration');
  }
}

/** getLocalityParam: `region[/zone[/subzone]]`, no empty part. */
function localityParts(locality: string): string[] | undefined {
  const parts = locality.split('/');
  const items = parts.length > 3 ? [...parts.slice(0, 2), parts.slice(2).join('/')] : parts;
  return items.some((p) => p === '') ? undefined : items;
}

/** validateLocalities: returns the first problem, as Istio does. */
function localitiesError(localities: string[]): string | undefined {
  const seen = new Map<string, Map<string, Set<string>>>();
  const overlap = (l: string) => `locality ${l} overlap with previous specified ones`;
  for (const locality of localities) {
    const stars = locality.split('*').length - 1;
    if (stars > 0 && (stars > 1 || !locality.endsWith('*'))) {
      return `locality ${locality} wildcard '*' number can not exceed 1 and must be in the end`;
    }
    if (seen.has('*')) return overlap(locality);
    const parts = localityParts(locality);
    if (!parts) return `locality ${locality} must not contain empty region/zone/subzone info`;
    const [region = '', zone = '', subZone = ''] = parts;
    const zones = seen.get(region);
    if (parts.length === 1) {
      if (zones) return overlap(locality);
      seen.set(region, new Map([['*', new Set(['*'])]]));
    } else if (parts.length === 2) {
      if (zones) {
        if (zones.has('*') || zones.has(zone)) return overlap(locality);
        zones.set(zone, new Set(['*']));
      } else {
        seen.set(region, new Map([[zone, new Set(['*'])]]));
      }
    } else if (zones) {
      if (zones.has('*')) return overlap(locality);
      const subZones = zones.get(zone);
      if (subZones) {
        if (subZones.has('*') || subZones.has(subZone)) return overlap(locality);
        subZones.add(subZone);
      } else {
        zones.set(zone, new Set([subZone]));
      }
    } else {
      seen.set(region, new Map([[zone, new Set([subZone])]]));
    }
  }
  return undefined;
}

/** validateLocalityLbSetting; `outlier` is the outlier detection of the same policy level. */
function validateLocalityLb(v: Sink, path: string, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (!lb) return;
  const distribute = list(lb, 'distribute');
  const failover = list(lb, 'failover');
  if (distribute.length > 0 && failover.length > 0) {
    v.error(path, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  const from: string[] = [];
  for (const [i, raw] of distribute.entries()) {
    const d = asObj(raw);
    const dp = `${path}.distribute[${i}]`;
    from.push(str(d, 'from'));
    let total = 0;
    const to: string[] = [];
    for (const [loc, weightRaw] of entries(d, 'to')) {
      to.push(loc);
      const weight = toNumber(weightRaw);
      if (weight <= 0 || weight > 100) {
        v.error(`${dp}.to`, 'locality weight must be in range [1, 100]');
        return;
      }
      total += weight;
    }
    if (total !== 100) {
      v.error(`${dp}.to`, `total locality weight ${total} != 100`);
      return;
    }
    const err = localitiesError(to);
    if (err) v.error(`${dp}.to`, err);
  }
  const fromErr = localitiesError(from);
  if (fromErr) v.error(`${path}.distribute`, fromErr);

  if ((failover.length > 0 || strList(lb, 'failoverPriority').length > 0) && !outlier) {
    v.warn(path, 'outlier detection poicy must be provided for failover');
  }
  for (const [i, raw] of failover.entries()) {
    const f = asObj(raw);
    const fp = `${path}.failover[${i}]`;
    const fromRegion = str(f, 'from');
    const toRegion = str(f, 'to');
    if (fromRegion === toRegion) v.error(fp, 'locality lb failover settings must specify different regions');
    if (fromRegion.includes('/') || toRegion.includes('/'))
      v.error(fp, 'locality lb failover only specify region');
    if (fromRegion.includes('*') || toRegion.includes('*')) {
      v.error(fp, "locality lb failover region should not contain '*' wildcard");
    }
  }
}

function validateLoadBalancer(v: Sink, path: string, lb: Obj | undefined, outlier: Obj | undefined): void {
  if (!lb) return;
  const hash = msg(lb, 'consistentHash');
  if (hash) {
    const hp = `${path}.consistentHash`;
    const cookie = msg(hash, 'httpCookie');
    if (cookie) {
      if (str(cookie, 'name') === '') v.error(`${hp}.httpCookie.name`, 'name required for HttpCookie');
      if (!has(cookie, 'ttl')) v.error(`${hp}.httpCookie.ttl`, 'ttl required for HttpCookie');
    }
    const minimumRingSize = num(hash, 'minimumRingSize');
    if (minimumRingSize !== 0) {
      v.warn(
        `${hp}.minimumRingSize`,
        "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
      );
      if (has(hash, 'ringHash') || has(hash, 'maglev')) {
        v.error(`${hp}.minimumRingSize`, 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
      }
    }
  }
  validateLocalityLb(v, `${path}.localityLbSetting`, msg(lb, 'localityLbSetting'), outlier);
}

function validateClientTLS(v: Sink, path: string, tls: Obj | undefined): void {
  if (!tls) return;
  const mode = enumName(tls, 'mode', CLIENT_TLS_MODE);
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && str(tls, 'credentialName') !== '') {
    // The credentials come from the secret, so no file paths may be given.
    if (str(tls, 'clientCertificate') || str(tls, 'caCertificates') || str(tls, 'privateKey')) {
      v.error(path, 'cannot specify client certificates or CA certificate If credentialName is set');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (str(tls, 'clientCertificate') === '') {
      v.error(`${path}.clientCertificate`, 'client certificate required for mutual tls');
    }
    if (str(tls, 'privateKey') === '') v.error(`${path}.privateKey`, 'private key required for mutual tls');
  }
}

function validatePortLevelSettings(v: Sink, path: string, settings: unknown[]): void {
  for (const [i, raw] of settings.entries()) {
    const at = `${path}[${i}]`;
    const p = asObj(raw);
    if (!p) {
      v.error(at, 'traffic policy may not be null');
      continue;
    }
    if (!has(p, 'port')) v.error(`${at}.port`, 'portTrafficPolicy must have valid port');
    const outlier = msg(p, 'outlierDetection');
    const pool = msg(p, 'connectionPool');
    const lb = msg(p, 'loadBalancer');
    const tls = msg(p, 'tls');
    if (!outlier && !pool && !lb && !tls) {
      v.error(at, 'port traffic policy must have at least one field');
      continue;
    }
    validateOutlierDetection(v, `${at}.outlierDetection`, outlier);
    validateConnectionPool(v, `${at}.connectionPool`, pool);
    validateLoadBalancer(v, `${at}.loadBalancer`, lb, outlier);
    validateClientTLS(v, `${at}.tls`, tls);
  }
}

function validateTunnel(v: Sink, path: string, tunnel: Obj | undefined): void {
  if (!tunnel) return;
  const protocol = str(tunnel, 'protocol');
  if (protocol !== '' && protocol !== 'CONNECT' && protocol !== 'POST') {
    v.error(`${path}.protocol`, 'tunnel protocol must be "CONNECT" or "POST"');
  }
  const target = str(tunnel, 'targetHost');
  const fqdnErr = fqdnError(target);
  const ipErr = ipAddressError(target);
  if (fqdnErr && ipErr) {
    v.error(
      `${path}.targetHost`,
      `tunnel target host must be valid FQDN or IP address: ${fqdnErr}; ${ipErr}`,
    );
  }
  const portErr = portError(num(tunnel, 'targetPort'));
  if (portErr) v.error(`${path}.targetPort`, `tunnel target port is invalid: ${portErr}`);
}

/** validateTrafficPolicy. */
function validateTrafficPolicy(v: Sink, path: string, policy: Obj | undefined): void {
  if (!policy) return;
  const outlier = msg(policy, 'outlierDetection');
  const pool = msg(policy, 'connectionPool');
  const lb = msg(policy, 'loadBalancer');
  const tls = msg(policy, 'tls');
  const tunnel = msg(policy, 'tunnel');
  // A present but empty portLevelSettings list decodes to nil, like an absent one.
  const portLevel = list(policy, 'portLevelSettings');
  if (!outlier && !pool && !lb && !tls && portLevel.length === 0 && !tunnel) {
    v.error(path, 'traffic policy must have at least one field');
    return;
  }
  validateOutlierDetection(v, `${path}.outlierDetection`, outlier);
  validateConnectionPool(v, `${path}.connectionPool`, pool);
  validateLoadBalancer(v, `${path}.loadBalancer`, lb, outlier);
  validateClientTLS(v, `${path}.tls`, tls);
  // Istio appends port-level results with appendErrors, which drops their warnings.
  validatePortLevelSettings(errorsOnly(v), `${path}.portLevelSettings`, portLevel);
  validateTunnel(v, `${path}.tunnel`, tunnel);
}

registerValidator(KIND.DestinationRule, (spec, v, r) => {
  // With PILOT_ENABLE_DESTINATION_RULE_INHERITANCE off (the 1.17 default) the host is always required.
  const hostErr = wildcardDomainError(str(spec, 'host'));
  if (hostErr) v.error('spec.host', hostErr);

  validateTrafficPolicy(v, 'spec.trafficPolicy', msg(spec, 'trafficPolicy'));

  for (const [i, raw] of list(spec, 'subsets').entries()) {
    const at = `spec.subsets[${i}]`;
    const subset = asObj(raw);
    if (!subset) {
      v.error(at, 'subset may not be null');
      continue;
    }
    const nameErr = subsetNameError(str(subset, 'name'));
    if (nameErr) v.error(`${at}.name`, nameErr);
    checkLabels(v, `${at}.labels`, field(subset, 'labels'));
    // Subset policies are appended with appendErrors in Istio, so their warnings are dropped.
    validateTrafficPolicy(errorsOnly(v), `${at}.trafficPolicy`, msg(subset, 'trafficPolicy'));
  }

  const selector = msg(spec, 'workloadSelector');
  checkExportTo(v, 'spec.exportTo', field(spec, 'exportTo'), r.metadata.namespace ?? '', {
    destinationRuleWithSelector: selector !== undefined,
  });
  checkWorkloadSelector(v, 'spec.workloadSelector', selector);
});
