import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';

/** Validates one DestinationRule spec (YAML under `spec:`) and returns `level path: message` lines. */
function check(spec: string): string[] {
  const yaml = `apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  name: reviews\n  namespace: bookinfo\nspec:\n${spec}`;
  const { resources, errors } = parseManifests(yaml, 'test.yaml');
  assert.deepEqual(errors, []);
  return resources.flatMap((r) => validateResource(r).map((i) => `${i.level} ${i.path}: ${i.message}`));
}

test('DestinationRule: a realistic rule with subsets and policies is valid', () => {
  assert.deepEqual(
    check(`
  host: reviews.bookinfo.svc.cluster.local
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
      localityLbSetting:
        distribute:
        - from: us-west/zone1/*
          to: {"us-west/zone1/*": 80, "us-west/zone2/*": 20}
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
      http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10, idleTimeout: 0.5s, h2UpgradePolicy: UPGRADE}
    outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m, maxEjectionPercent: 100}
    tls: {mode: ISTIO_MUTUAL}
    portLevelSettings:
    - port: {number: 9080}
      loadBalancer: {consistentHash: {httpCookie: {name: user, ttl: 0s}}}
  subsets:
  - name: v1
    labels: {version: v1, app.kubernetes.io/name: reviews}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}, tls: {mode: MUTUAL, credentialName: client-cert}}
  exportTo: [".", istio-system]
`),
    [],
  );
  // A workload-specific rule exported only to its own namespace.
  assert.deepEqual(
    check(
      '  host: "*"\n  workloadSelector: {matchLabels: {app: ratings}}\n  exportTo: [.]\n  trafficPolicy: {tunnel: {targetHost: 10.0.0.1, targetPort: 8080}}\n',
    ),
    [],
  );
});

test('DestinationRule: host and traffic policy presence', () => {
  assert.deepEqual(check('  trafficPolicy: {}\n'), [
    'error spec.host: empty domain name not allowed',
    'error spec.trafficPolicy: traffic policy must have at least one field',
  ]);
  assert.deepEqual(check('  host: reviews\n  trafficPolicy: {connectionPool: {}}\n'), [
    'error spec.trafficPolicy.connectionPool: connection pool must have at least one field',
  ]);
});

test('DestinationRule: connection pool and outlier detection', () => {
  assert.deepEqual(
    check(`
  host: reviews
  trafficPolicy:
    connectionPool:
      http: {http1MaxPendingRequests: -1, http2MaxRequests: -1, maxRequestsPerConnection: -1, maxRetries: -1, idleTimeout: 0s, h2UpgradePolicy: UPGRADE, useClientProtocol: true}
      tcp: {maxConnections: -1, connectTimeout: 1.5ms, maxConnectionDuration: 1h}
    outlierDetection: {consecutiveErrors: 5, consecutiveLocalOriginFailures: 3, interval: 0.1ms, baseEjectionTime: 1s, maxEjectionPercent: 101, minHealthPercent: -1}
`),
    [
      'warning spec.trafficPolicy.outlierDetection.consecutiveErrors: outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead',
      'error spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures: outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      'error spec.trafficPolicy.outlierDetection.interval: duration must be greater than 1ms',
      'error spec.trafficPolicy.outlierDetection.maxEjectionPercent: percentage 101 is not in range 0..100',
      'error spec.trafficPolicy.outlierDetection.minHealthPercent: percentage -1 is not in range 0..100',
      'error spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests: http1 max pending requests must be non-negative',
      'error spec.trafficPolicy.connectionPool.http.http2MaxRequests: http2 max requests must be non-negative',
      'error spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection: max requests per connection must be non-negative',
      'error spec.trafficPolicy.connectionPool.http.maxRetries: max retries must be non-negative',
      'error spec.trafficPolicy.connectionPool.http.idleTimeout: duration must be greater than 1ms',
      'error spec.trafficPolicy.connectionPool.http.useClientProtocol: use client protocol must not be true when H2UpgradePolicy is UPGRADE',
      'error spec.trafficPolicy.connectionPool.tcp.maxConnections: max connections must be non-negative',
      'error spec.trafficPolicy.connectionPool.tcp.connectTimeout: only durations to ms precision are supported',
    ],
  );
});

test('DestinationRule: load balancer and locality settings', () => {
  assert.deepEqual(
    check(`
  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpCookie: {path: /}, minimumRingSize: 1024, maglev: {tableSize: 65537}}
      localityLbSetting:
        failover: [{from: us-east, to: us-east}, {from: us-east/zone1, to: "eu-*"}]
`),
    [
      'error spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: name required for HttpCookie',
      'error spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl: ttl required for HttpCookie',
      "warning spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead",
      'error spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: only one of MinimumRingSize or Maglev/Ringhash can be specified',
      'warning spec.trafficPolicy.loadBalancer.localityLbSetting: outlier detection poicy must be provided for failover',
      'error spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: locality lb failover settings must specify different regions',
      'error spec.trafficPolicy.loadBalancer.localityLbSetting.failover[1]: locality lb failover only specify region',
      "error spec.trafficPolicy.loadBalancer.localityLbSetting.failover[1]: locality lb failover region should not contain '*' wildcard",
    ],
  );
  const locality = (setting: string) =>
    check(
      `  host: reviews\n  trafficPolicy:\n    outlierDetection: {interval: 1s}\n    loadBalancer:\n      localityLbSetting: ${setting}\n`,
    );
  assert.deepEqual(locality('{distribute: [{from: a, to: {b: 100}}], failover: [{from: a, to: b}]}'), [
    "error spec.trafficPolicy.loadBalancer.localityLbSetting: can not simultaneously specify 'distribute' and 'failover'",
  ]);
  assert.deepEqual(locality('{distribute: [{from: a, to: {b: 0}}]}'), [
    'error spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: locality weight must be in range [1, 100]',
  ]);
  assert.deepEqual(locality('{distribute: [{from: a, to: {b: 60, c: 30}}]}'), [
    'error spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: total locality weight 90 != 100',
  ]);
  assert.deepEqual(locality('{distribute: [{from: "a/*/c", to: {"b//c": 100}}, {from: a, to: {b: 100}}]}'), [
    'error spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: locality b//c must not contain empty region/zone/subzone info',
    "error spec.trafficPolicy.loadBalancer.localityLbSetting.distribute: locality a/*/c wildcard '*' number can not exceed 1 and must be in the end",
  ]);
  assert.deepEqual(
    locality(
      '{distribute: [{from: a/b, to: {x: 100}}, {from: a, to: {x: 100}}, {from: "a/b/c", to: {x: 100}}]}',
    ),
    [
      'error spec.trafficPolicy.loadBalancer.localityLbSetting.distribute: locality a overlap with previous specified ones',
    ],
  );
});

test('DestinationRule: client TLS, port-level settings and tunnel', () => {
  assert.deepEqual(
    check(`
  host: reviews
  trafficPolicy:
    tls: {mode: SIMPLE, credentialName: c, caCertificates: /ca.pem}
    portLevelSettings:
    - port: {number: 80}
      tls: {mode: MUTUAL}
      outlierDetection: {consecutiveErrors: 1}
    - loadBalancer: {simple: RANDOM}
    - port: {number: 81}
    - null
    tunnel: {protocol: GET, targetHost: "bad host", targetPort: 0}
`),
    [
      'error spec.trafficPolicy.tls: cannot specify client certificates or CA certificate If credentialName is set',
      // Port-level warnings (the deprecated consecutiveErrors) are dropped, as in Istio.
      'error spec.trafficPolicy.portLevelSettings[0].tls.clientCertificate: client certificate required for mutual tls',
      'error spec.trafficPolicy.portLevelSettings[0].tls.privateKey: private key required for mutual tls',
      'error spec.trafficPolicy.portLevelSettings[1].port: portTrafficPolicy must have valid port',
      'error spec.trafficPolicy.portLevelSettings[2]: port traffic policy must have at least one field',
      'error spec.trafficPolicy.portLevelSettings[3]: traffic policy may not be null',
      'error spec.trafficPolicy.tunnel.protocol: tunnel protocol must be "CONNECT" or "POST"',
      'error spec.trafficPolicy.tunnel.targetHost: tunnel target host must be valid FQDN or IP address: domain name "bad host" invalid (label "bad host" invalid); bad host is not a valid IP',
      'error spec.trafficPolicy.tunnel.targetPort: tunnel target port is invalid: port number 0 must be in the range 1..65535',
    ],
  );
});

test('DestinationRule: subsets, exportTo and workload selector', () => {
  assert.deepEqual(
    check(`
  host: "*.bookinfo.svc.cluster.local"
  subsets:
  - name: ""
  - name: v_1
    labels: {"app name": "a", version: "v 1"}
    trafficPolicy: {outlierDetection: {consecutiveErrors: 1, interval: 0s}}
  - null
  workloadSelector: {matchLabels: {app: "*"}}
  exportTo: [other]
`),
    [
      'error spec.subsets[0].name: subset name cannot be empty',
      'error spec.subsets[1].name: subset name is invalid: v_1',
      'error spec.subsets[1].labels: invalid tag key: "app name"',
      'error spec.subsets[1].labels.version: invalid tag value: "v 1"',
      // Subset-level warnings are dropped, as in Istio.
      'error spec.subsets[1].trafficPolicy.outlierDetection.interval: duration must be greater than 1ms',
      'error spec.subsets[2]: subset may not be null',
      'error spec.exportTo: destination rule with workload selector cannot have exportTo beyond current namespace',
      'error spec.workloadSelector.matchLabels.app: wildcard is not supported in selector: "app=*"',
    ],
  );
  assert.deepEqual(
    check('  host: reviews\n  workloadSelector: {matchLabels: {app: r}}\n  exportTo: [., other]\n'),
    ['error spec.exportTo: destination rule with workload selector cannot have multiple entries in exportTo'],
  );
});

test('DestinationRule: values Istio cannot decode are errors, and the rest of the object is not checked', () => {
  const tlsMode = 'istio.networking.v1alpha3.ClientTLSSettings.TLSmode';
  assert.deepEqual(check('  host: reviews\n  trafficPolicy: {tls: {mode: STRICT}}\n'), [
    `error spec.trafficPolicy.tls.mode: cannot decode spec.trafficPolicy.tls.mode: unknown value "STRICT" for enum ${tlsMode}`,
  ]);
  // Enum names are case-sensitive; the missing host is not reported, as Istio never validates the object.
  assert.deepEqual(
    check('  trafficPolicy: {tls: {mode: istio_mutual}, loadBalancer: {simple: ROUND_ROBINN}}\n'),
    [
      'error spec.trafficPolicy.loadBalancer.simple: cannot decode spec.trafficPolicy.loadBalancer.simple: unknown value "ROUND_ROBINN" for enum istio.networking.v1alpha3.LoadBalancerSettings.SimpleLB',
      `error spec.trafficPolicy.tls.mode: cannot decode spec.trafficPolicy.tls.mode: unknown value "istio_mutual" for enum ${tlsMode}`,
    ],
  );
  // The same checks reach into subsets and port-level settings, and snake_case field names.
  assert.deepEqual(
    check(
      '  host: reviews\n  subsets:\n  - name: v1\n    traffic_policy: {port_level_settings: [{port: {number: 80}, tls: {mode: STRICT}}]}\n',
    ),
    [
      `error spec.subsets[0].traffic_policy.port_level_settings[0].tls.mode: cannot decode spec.subsets[0].traffic_policy.port_level_settings[0].tls.mode: unknown value "STRICT" for enum ${tlsMode}`,
    ],
  );
});

test('DestinationRule: enums by number and integers as strings decode', () => {
  // 2 is MUTUAL, which needs client certificates.
  assert.deepEqual(check('  host: reviews\n  trafficPolicy: {tls: {mode: 2}}\n'), [
    'error spec.trafficPolicy.tls.clientCertificate: client certificate required for mutual tls',
    'error spec.trafficPolicy.tls.privateKey: private key required for mutual tls',
  ]);
  // 3 is ISTIO_MUTUAL; quoted integers are read as numbers.
  assert.deepEqual(
    check(`
  host: reviews
  trafficPolicy:
    tls: {mode: 3}
    connectionPool: {tcp: {maxConnections: "100"}, http: {h2UpgradePolicy: 1}}
    outlierDetection: {consecutive5xxErrors: "7", maxEjectionPercent: "50"}
    portLevelSettings: [{port: {number: "9080"}, loadBalancer: {simple: 4}}]
`),
    [],
  );
});

test('DestinationRule: values of the wrong JSON type are decode errors', () => {
  assert.deepEqual(
    check(`
  host: {name: reviews}
  exportTo: "."
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: many}, http: {useClientProtocol: "true", maxRetries: 1.5}}
    outlierDetection: {consecutive5xxErrors: {value: 7}}
  subsets:
  - name: v1
    labels: {version: 1}
`),
    [
      'error spec.host: cannot decode spec.host: json: cannot unmarshal object into Go value of type string',
      "error spec.trafficPolicy.connectionPool.tcp.maxConnections: cannot decode spec.trafficPolicy.connectionPool.tcp.maxConnections: invalid character 'm' looking for beginning of value",
      'error spec.trafficPolicy.connectionPool.http.maxRetries: cannot decode spec.trafficPolicy.connectionPool.http.maxRetries: json: cannot unmarshal number 1.5 into Go value of type int32',
      'error spec.trafficPolicy.connectionPool.http.useClientProtocol: cannot decode spec.trafficPolicy.connectionPool.http.useClientProtocol: json: cannot unmarshal string into Go value of type bool',
      'error spec.trafficPolicy.outlierDetection.consecutive5xxErrors: cannot decode spec.trafficPolicy.outlierDetection.consecutive5xxErrors: json: cannot unmarshal object into Go value of type uint32',
      'error spec.subsets[0].labels.version: cannot decode spec.subsets[0].labels.version: json: cannot unmarshal number into Go value of type string',
      'error spec.exportTo: cannot decode spec.exportTo: json: cannot unmarshal string into Go value of type []json.RawMessage',
    ],
  );
  // Durations keep the message they always had.
  assert.deepEqual(
    check('  host: reviews\n  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 5}}}\n'),
    [
      'error spec.trafficPolicy.connectionPool.tcp.connectTimeout: json: cannot unmarshal number into Go value of type string',
    ],
  );
});
