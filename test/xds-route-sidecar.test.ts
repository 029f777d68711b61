import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot, parseMeshConfig } from '../src/model/index.js';
import type { Json, Proxy } from '../src/xds/index.js';
import {
  alternateHosts,
  buildPushContext,
  buildSidecarRouteConfigs,
  proxyFromNode,
  roundTrip,
  sidecarRouteNames,
  TYPE,
} from '../src/xds/index.js';

const BASE = `apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: default }
spec:
  clusterIP: 10.0.0.5
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: ratings, namespace: other }
spec:
  clusterIP: 10.0.0.6
  selector: { app: ratings }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec:
  clusterIP: 10.0.0.7
  ports: [{ name: http-web, port: 80 }, { name: tcp-db, port: 3306 }]
---
apiVersion: v1
kind: Service
metadata: { name: db, namespace: default }
spec:
  clusterIP: None
  selector: { app: db }
  ports: [{ name: http, port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: sniff, namespace: default }
spec:
  clusterIP: 10.0.0.9
  ports: [{ port: 7070 }]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: httpbin, namespace: default }
spec:
  hosts: [httpbin.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{ number: 80, name: http, protocol: HTTP }]`;

const RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: 2,
  retryHostPredicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      typedConfig: {
        '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate',
      },
    },
  ],
  hostSelectionRetryMaxAttempts: '5',
  retriableStatusCodes: [503],
};

const ALLOW_ANY = {
  name: 'allow_any',
  domains: ['*'],
  routes: [
    {
      name: 'allow_any',
      match: { prefix: '/' },
      route: { cluster: 'PassthroughCluster', timeout: '0s', maxGrpcTimeout: '0s' },
    },
  ],
  includeRequestAttemptCount: true,
};

function client(version = '1.17.8', extra: Record<string, unknown> = {}): Proxy {
  return proxyFromNode('sidecar~10.1.0.1~client-1.default~default.svc.cluster.local', {
    LABELS: { app: 'client' },
    ISTIO_VERSION: version,
    ...extra,
  });
}

function configs(extra = '', proxy = client(), meshYaml?: string, names?: string[]): Json[] {
  const resources = parseManifests(extra === '' ? BASE : `${BASE}\n---\n${extra}`, 'in.yaml').resources;
  const snapshot = new ConfigSnapshot(resources, meshYaml ? parseMeshConfig(meshYaml) : undefined);
  const out = buildSidecarRouteConfigs(buildPushContext(snapshot), proxy, names);
  for (const c of out) assert.deepEqual(roundTrip(TYPE.RouteConfiguration, c).lost, [], String(c['name']));
  return out;
}

function config(name: string, list: Json[]): Json {
  const c = list.find((x) => x['name'] === name);
  assert.ok(c, `route ${name} is built`);
  return c;
}

function vhost(c: Json, name: string): Json {
  const v = (c['virtualHosts'] as Json[]).find((x) => x['name'] === name);
  assert.ok(v, `virtual host ${name} exists`);
  return v;
}

test('route names: one per HTTP port, host:port for a sniffed port with a VIP', () => {
  const push = buildPushContext(new ConfigSnapshot(parseManifests(BASE, 'in.yaml').resources));
  assert.deepEqual(sidecarRouteNames(push, client()), [
    '80',
    'sniff.default.svc.cluster.local:7070',
    '8080',
    '9080',
  ]);
  // A headless Service with a sniffed port: listeners per endpoint IP, so routes by host; none without endpoints.
  const headless = `apiVersion: v1
kind: Service
metadata: { name: peers, namespace: default }
spec:
  clusterIP: None
  selector: { app: peers }
  ports: [{ port: 6000 }]`;
  const pod = `apiVersion: v1
kind: Pod
metadata: { name: peers-0, namespace: default, labels: { app: peers } }
spec: { containers: [{ name: c, image: x, ports: [{ containerPort: 6000 }] }] }
status: { podIP: 10.2.0.9, phase: Running, conditions: [{ type: Ready, status: "True" }] }`;
  const names = (docs: string[]): string[] =>
    sidecarRouteNames(
      buildPushContext(new ConfigSnapshot(parseManifests(docs.join('\n---\n'), 'in.yaml').resources)),
      client(),
    );
  assert.ok(names([BASE, headless, pod]).includes('peers.default.svc.cluster.local:6000'));
  assert.ok(!names([BASE, headless]).some((n) => n.endsWith(':6000') || n === '6000'));
});

test('route 9080: a virtual host per service with Istio 1.17 domains and the default route, then allow_any', () => {
  const c = config('9080', configs());
  assert.deepEqual(c, {
    name: '9080',
    virtualHosts: [
      {
        name: 'ratings.other.svc.cluster.local:9080',
        domains: ['ratings.other.svc.cluster.local', 'ratings.other', 'ratings.other.svc', '10.0.0.6'],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              cluster: 'outbound|9080||ratings.other.svc.cluster.local',
              timeout: '0s',
              retryPolicy: RETRY,
              maxGrpcTimeout: '0s',
            },
            decorator: { operation: 'ratings.other.svc.cluster.local:9080/*' },
          },
        ],
        includeRequestAttemptCount: true,
      },
      {
        name: 'reviews.default.svc.cluster.local:9080',
        domains: [
          'reviews.default.svc.cluster.local',
          'reviews',
          'reviews.default.svc',
          'reviews.default',
          '10.0.0.5',
        ],
        routes: [
          {
            name: 'default',
            match: { prefix: '/' },
            route: {
              cluster: 'outbound|9080||reviews.default.svc.cluster.local',
              timeout: '0s',
              retryPolicy: RETRY,
              maxGrpcTimeout: '0s',
            },
            decorator: { operation: 'reviews.default.svc.cluster.local:9080/*' },
          },
        ],
        includeRequestAttemptCount: true,
      },
      ALLOW_ANY,
    ],
    validateClusters: false,
    maxDirectResponseBodySizeBytes: 1048576,
    ignorePortInHostMatching: true,
  });
});

test('headless Services get *. domains, ServiceEntry hosts no short names, TCP ports no virtual host', () => {
  const all = configs();
  assert.deepEqual(vhost(config('8080', all), 'db.default.svc.cluster.local:8080')['domains'], [
    'db.default.svc.cluster.local',
    'db',
    'db.default.svc',
    'db.default',
    '*.db.default.svc.cluster.local',
    '*.db',
    '*.db.default.svc',
    '*.db.default',
  ]);
  const port80 = config('80', all);
  assert.deepEqual(
    (port80['virtualHosts'] as Json[]).map((v) => [v['name'], v['domains']]),
    [
      ['httpbin.org:80', ['httpbin.org']],
      [
        'web.default.svc.cluster.local:80',
        ['web.default.svc.cluster.local', 'web', 'web.default.svc', 'web.default', '10.0.0.7'],
      ],
      ['allow_any', ['*']],
    ],
  );
  assert.equal(
    all.some((c) => c['name'] === '3306'),
    false,
  );
});

test('a sniffed service route holds only its own virtual host, answering every domain, without catch-all', () => {
  const c = config('sniff.default.svc.cluster.local:7070', configs());
  assert.deepEqual(
    (c['virtualHosts'] as Json[]).map((v) => [v['name'], v['domains']]),
    [['sniff.default.svc.cluster.local:7070', ['*']]],
  );
});

test('a VirtualService replaces the default route of its host; its non-service hosts join its ports and 80', () => {
  const vs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: reviews, namespace: default }
spec:
  hosts: [reviews, bookinfo.com]
  http:
    - match: [{ headers: { end-user: { exact: jason } } }]
      route: [{ destination: { host: reviews, subset: v2 } }]
    - route: [{ destination: { host: reviews, subset: v1 } }]`;
  const all = configs(vs);
  const reviews = vhost(config('9080', all), 'reviews.default.svc.cluster.local:9080');
  const routes = reviews['routes'] as Json[];
  assert.deepEqual(
    routes.map((r) => (r['route'] as Json)['cluster']),
    [
      'outbound|9080|v2|reviews.default.svc.cluster.local',
      'outbound|9080|v1|reviews.default.svc.cluster.local',
    ],
  );
  assert.deepEqual(routes[1]?.['metadata'], {
    filterMetadata: {
      istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/reviews' },
    },
  });
  // Hosts that are no service ride along on every port where the VirtualService has a service...
  assert.deepEqual(vhost(config('9080', all), 'bookinfo.com:9080')['domains'], ['bookinfo.com']);
  assert.equal(
    (config('8080', all)['virtualHosts'] as Json[]).some((v) => v['name'] === 'bookinfo.com:8080'),
    false,
  );
  // ...and on port 80 even where it has none (Istio's port-80 special case), the service host included.
  const port80 = config('80', all);
  assert.deepEqual(vhost(port80, 'bookinfo.com:80')['domains'], ['bookinfo.com']);
  assert.deepEqual(vhost(port80, 'reviews.default.svc.cluster.local:80')['domains'], [
    'reviews.default.svc.cluster.local',
  ]);
});

test('a VirtualService for another port is not selected; a mesh-unbound one is ignored', () => {
  const vs = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: web-gw, namespace: default }
spec:
  hosts: [web]
  gateways: [istio-system/ingress]
  http: [{ route: [{ destination: { host: web, subset: v9 } }] }]`;
  const web = vhost(config('80', configs(vs)), 'web.default.svc.cluster.local:80');
  assert.equal(((web['routes'] as Json[])[0] as Json)['name'], 'default');
});

test('REGISTRY_ONLY ends with block_all; a Sidecar egressProxy routes unknown hosts to it', () => {
  const blocked = config('9080', configs('', client(), 'outboundTrafficPolicy: { mode: REGISTRY_ONLY }'));
  assert.deepEqual((blocked['virtualHosts'] as Json[]).at(-1), {
    name: 'block_all',
    domains: ['*'],
    routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502 } }],
    includeRequestAttemptCount: true,
  });
  const sidecar = `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["*/*"] }]
  outboundTrafficPolicy:
    mode: ALLOW_ANY
    egressProxy: { host: egress.istio-system.svc.cluster.local, subset: out, port: { number: 443 } }`;
  const viaEgress = config('9080', configs(sidecar));
  const last = (viaEgress['virtualHosts'] as Json[]).at(-1) as Json;
  assert.equal(last['name'], 'allow_any');
  assert.equal(
    (((last['routes'] as Json[])[0] as Json)['route'] as Json)['cluster'],
    'outbound|443|out|egress.istio-system.svc.cluster.local',
  );
});

test('older proxies and proxyless gRPC match ports in domains and do not ignore ports', () => {
  for (const proxy of [client('1.14.3'), client('1.17.8', { GENERATOR: 'grpc' })]) {
    const c = config('9080', configs('', proxy));
    assert.equal(c['ignorePortInHostMatching'], undefined);
    assert.deepEqual(vhost(c, 'reviews.default.svc.cluster.local:9080')['domains'], [
      'reviews.default.svc.cluster.local',
      'reviews.default.svc.cluster.local:9080',
      'reviews',
      'reviews:9080',
      'reviews.default.svc',
      'reviews.default.svc:9080',
      'reviews.default',
      'reviews.default:9080',
      '10.0.0.5',
      '10.0.0.5:9080',
    ]);
  }
});

test('a consistent-hash DestinationRule adds a hash policy to the default route', () => {
  const dr = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: { name: ratings, namespace: other }
spec:
  host: ratings.other.svc.cluster.local
  trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: x-user } } }`;
  const ratings = vhost(config('9080', configs(dr)), 'ratings.other.svc.cluster.local:9080');
  const action = ((ratings['routes'] as Json[])[0] as Json)['route'] as Json;
  assert.deepEqual(action['hashPolicy'], [{ header: { headerName: 'x-user' } }]);
  assert.deepEqual(Object.keys(action), [
    'cluster',
    'timeout',
    'retryPolicy',
    'hashPolicy',
    'maxGrpcTimeout',
  ]);
});

test('requested names: unknown ones get an empty configuration, a port without services only the catch-all', () => {
  const out = configs('', client(), undefined, ['http_proxy', '12345', '9080']);
  assert.deepEqual(out[0], { name: 'http_proxy', validateClusters: false });
  assert.deepEqual(out[1]?.['virtualHosts'], [ALLOW_ANY]);
  assert.equal((out[2]?.['virtualHosts'] as Json[]).length, 3);
});

test('a domain is used by one virtual host only', () => {
  // A ServiceEntry whose host is the short form of a Kubernetes Service in the proxy's namespace.
  const se = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: { name: short, namespace: default }
spec:
  hosts: [reviews.default]
  location: MESH_INTERNAL
  resolution: DNS
  ports: [{ number: 9080, name: http, protocol: HTTP }]`;
  const c = config('9080', configs(se));
  const domains = (c['virtualHosts'] as Json[]).flatMap((v) => v['domains'] as string[]);
  assert.equal(new Set(domains).size, domains.length);
  assert.ok(domains.includes('reviews.default'));
  assert.ok(
    !(vhost(c, 'reviews.default.svc.cluster.local:9080')['domains'] as string[]).includes('reviews.default'),
  );
});

test('alternate hosts follow the proxy DNS domain (kube and non-kube suffixes)', () => {
  assert.deepEqual(alternateHosts('foo.ns1.svc.cluster.local', 0, 'ns1.svc.cluster.local'), [
    'foo',
    'foo.ns1.svc',
    'foo.ns1',
  ]);
  assert.deepEqual(alternateHosts('foo.ns1.svc.cluster.local', 80, 'ns2.svc.cluster.local'), [
    'foo.ns1',
    'foo.ns1:80',
    'foo.ns1.svc',
    'foo.ns1.svc:80',
  ]);
  assert.deepEqual(alternateHosts('example.com', 0, 'ns2.svc.cluster.local'), []);
  assert.deepEqual(alternateHosts('foo.local.campus.net', 80, 'remote.campus.net'), [
    'foo.local',
    'foo.local:80',
    'foo.local.campus',
    'foo.local.campus:80',
  ]);
  assert.deepEqual(alternateHosts('foobar.com', 80, 'local.net'), []);
});
