import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { goSortSlice } from '../src/cli/index.js';
import { ROOT, runSkiff } from './helpers.js';

const DUMPS = join(ROOT, 'test/fixtures/dumps');
const GATEWAY = join(DUMPS, 'ingress-gateway.json');
const GATEWAY_EDS = join(DUMPS, 'ingress-gateway-eds.json');
const GATEWAY_CLUSTERS = join(DUMPS, 'ingress-gateway-clusters.json');
const SIDECAR = join(DUMPS, 'sidecar.json');
const CATALOG = 'catalog.istioinaction.svc.cluster.local';

async function pc(args: string[], stdin?: string) {
  const r = await runSkiff(['proxy-config', ...args], stdin === undefined ? {} : { stdin });
  return r;
}

async function ok(args: string[], stdin?: string): Promise<string> {
  const r = await pc(args, stdin);
  assert.equal(r.stderr, '', `stderr of ${args.join(' ')}`);
  assert.equal(r.code, 0);
  return r.stdout;
}

const lines = (...l: string[]) => l.map((x) => `${x}\n`).join('');

test('cluster table with --fqdn and --port matches the seed output', async () => {
  assert.equal(
    await ok(['clusters', '-f', GATEWAY, '--fqdn', CATALOG, '--port', '80']),
    lines(
      'SERVICE FQDN                                PORT     SUBSET         DIRECTION     TYPE     DESTINATION RULE',
      'catalog.istioinaction.svc.cluster.local     80       -              outbound      EDS      catalog.istioinaction',
      'catalog.istioinaction.svc.cluster.local     80       version-v1     outbound      EDS      catalog.istioinaction',
      'catalog.istioinaction.svc.cluster.local     80       version-v2     outbound      EDS      catalog.istioinaction',
    ),
  );
});

test('cluster filters: --subset, --direction and a filter that matches nothing', async () => {
  assert.equal(
    await ok(['c', '-f', GATEWAY, '--fqdn', CATALOG, '--subset', 'version-v1']),
    lines(
      'SERVICE FQDN                                PORT     SUBSET         DIRECTION     TYPE     DESTINATION RULE',
      'catalog.istioinaction.svc.cluster.local     80       version-v1     outbound      EDS      catalog.istioinaction',
    ),
  );
  // The seed's "no subset clusters yet" output: only the header, aligned on itself.
  assert.equal(
    await ok(['c', '-f', GATEWAY, '--direction', 'inbound']),
    'SERVICE FQDN     PORT     SUBSET     DIRECTION     TYPE     DESTINATION RULE\n',
  );
  const port = await ok(['c', '-f', GATEWAY, '--port', '15021']);
  assert.equal(port.trimEnd().split('\n').length, 2);
  assert.match(port, /istio-ingressgateway\.istio-system\.svc\.cluster\.local\s+15021/);
});

test('full cluster list: sorted by fqdn, static clusters without type are STATIC, empty DR pads', async () => {
  const out = await ok(['cluster', '-f', GATEWAY]);
  const rows = out.split('\n');
  assert.equal(
    rows[1],
    'BlackHoleCluster                                        -         -              -             STATIC     ',
  );
  assert.equal(
    rows[2],
    'agent                                                   -         -              -             STATIC     ',
  );
  assert.equal(
    rows[6],
    'istio-ingressgateway.istio-system.svc.cluster.local     80        -              outbound      EDS        ',
  );
  assert.equal(
    rows.at(-2),
    'xds-grpc                                                -         -              -             STATIC     ',
  );
  assert.equal(rows.length, 13);
});

test('listener table matches the seed output (padding 1)', async () => {
  assert.equal(
    await ok(['listener', '-f', GATEWAY]),
    lines(
      'ADDRESS PORT  MATCH DESTINATION',
      '0.0.0.0 8080  ALL   Route: http.8080',
      '0.0.0.0 15021 ALL   Inline Route: /healthz/ready*',
      '0.0.0.0 15090 ALL   Inline Route: /stats/prometheus*',
    ),
  );
});

test('listener filter chains: SNI, transport, ALPN, CIDR, port, tcp_proxy and blackhole destinations', async () => {
  assert.equal(
    await ok(['l', '-f', SIDECAR]),
    lines(
      'ADDRESS    PORT  MATCH                                                       DESTINATION',
      '10.96.0.10 53    ALL                                                         Cluster: outbound|53||kube-dns.kube-system.svc.cluster.local',
      '0.0.0.0    9080  Trans: raw_buffer; App: http/1.1,h2c                        Route: 9080',
      '0.0.0.0    9080  ALL                                                         Cluster: outbound|9080||ratings.default.svc.cluster.local',
      '0.0.0.0    15001 ALL                                                         PassthroughCluster',
      '0.0.0.0    15001 Addr: *:15001                                               Non-HTTP/Non-TCP',
      '0.0.0.0    15006 Addr: *:15006                                               Non-HTTP/Non-TCP',
      '0.0.0.0    15006 SNI: a.example.com,b.example.com; App: TCP TLS              Non-HTTP/Non-TCP',
      '0.0.0.0    15006 Trans: raw_buffer; App: http/1.1,h2c,http/1.0; Addr: *:3000 Inline Route: a.example.com/a /exact, regex /r.*; /b*',
      '0.0.0.0    15006 Trans: tls; Addr: 10.10.0.0/16,10.20.0.0/16:9090            Cluster: inbound|9090||',
      '0.0.0.0    15006 Trans: tls; App: HTTP TLS; Addr: *:3000                     Cluster: inbound|3000||',
    ),
  );
});

test('listener filters and --verbose=false', async () => {
  assert.equal(
    await ok(['l', '-f', SIDECAR, '--verbose=false']),
    lines(
      'ADDRESS    PORT  TYPE',
      '10.96.0.10 53    TCP',
      '0.0.0.0    9080  HTTP+TCP',
      '0.0.0.0    15001 TCP',
      '0.0.0.0    15006 HTTP+TCP',
    ),
  );
  assert.equal(
    await ok(['l', '-f', SIDECAR, '--type', 'tcp', '--verbose=false']),
    lines('ADDRESS    PORT  TYPE', '10.96.0.10 53    TCP', '0.0.0.0    15001 TCP'),
  );
  assert.equal(
    await ok(['l', '-f', SIDECAR, '--address', '10.96.0.10', '--verbose=false']),
    lines('ADDRESS    PORT TYPE', '10.96.0.10 53   TCP'),
  );
  assert.equal(
    await ok(['l', '-f', GATEWAY, '--port', '15021', '--verbose=false']),
    lines('ADDRESS PORT  TYPE', '0.0.0.0 15021 HTTP'),
  );
  assert.equal(await ok(['l', '-f', GATEWAY, '--address', '10.0.0.1']), 'ADDRESS PORT MATCH DESTINATION\n');
});

test('route table with --name matches the seed output', async () => {
  assert.equal(
    await ok(['routes', '-f', GATEWAY, '--name', 'http.8080']),
    lines(
      'NAME          DOMAINS                      MATCH     VIRTUAL SERVICE',
      'http.8080     catalog.istioinaction.io     /*        catalog-v1-v2.istioinaction',
    ),
  );
  assert.equal(
    await ok(['r', '-f', GATEWAY, '--name', 'nope']),
    'NAME     DOMAINS     MATCH     VIRTUAL SERVICE\n',
  );
});

test('route rows: shortened domains, 404 vhosts, passthrough skipped, unknown config paths', async () => {
  assert.equal(
    await ok(['r', '-f', SIDECAR]),
    lines(
      'NAME               DOMAINS                                  MATCH                           VIRTUAL SERVICE',
      '80                 *                                        /*                              404',
      '9080               reviews, reviews.default + 1 more...     /*                              reviews.default',
      '9080               reviews, reviews.default + 1 more...     regex ^/api/(v1|v2)/<id>&x$     <unknown>',
      '9080               [fd00:10:96::7fc7]                       /*                              ',
      'inbound|3000||     *                                        /*                              ',
    ),
  );
  assert.equal(
    await ok(['r', '-f', SIDECAR, '--verbose=false']),
    lines(
      'NAME               VIRTUAL HOSTS',
      '80                 1',
      '9080               3',
      'inbound|3000||     1',
    ),
  );
});

const SEED_ROUTE_JSON = `[
    {
        "name": "http.8080",
        "virtualHosts": [
            {
                "name": "catalog.istioinaction.io:80",
                "domains": [
                    "catalog.istioinaction.io"
                ],
                "routes": [
                    {
                        "match": {
                            "prefix": "/"
                        },
                        "route": {
                            "weightedClusters": {
                                "clusters": [
                                    {
                                        "name": "outbound|80|version-v1|catalog.istioinaction.svc.cluster.local",
                                        "weight": 20
                                    },
                                    {
                                        "name": "outbound|80|version-v2|catalog.istioinaction.svc.cluster.local",
                                        "weight": 80
                                    }
                                ],
                                "totalWeight": 100
                            },
                            "timeout": "0s",
                            "retryPolicy": {
                                "retryOn": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                                "numRetries": 2,
                                "retryHostPredicate": [
                                    {
                                        "name": "envoy.retry_host_predicates.previous_hosts",
                                        "typedConfig": {
                                            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                                        }
                                    }
                                ],
                                "hostSelectionRetryMaxAttempts": "5",
                                "retriableStatusCodes": [
                                    503
                                ]
                            },
                            "maxGrpcTimeout": "0s"
                        },
                        "metadata": {
                            "filterMetadata": {
                                "istio": {
                                    "config": "/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/virtual-service/catalog-v1-v2"
                                }
                            }
                        },
                        "decorator": {
                            "operation": "catalog-v1-v2:80/*"
                        }
                    }
                ],
                "includeRequestAttemptCount": true
            }
        ],
        "validateClusters": false,
        "ignorePortInHostMatching": true
    }
]
`;

test('route -o json prints the filtered protos in camelCase, 4-space indent, as in the seed', async () => {
  assert.equal(await ok(['r', '-f', GATEWAY, '--name', 'http.8080', '-o', 'json']), SEED_ROUTE_JSON);
  assert.equal(await ok(['r', '-f', GATEWAY, '--name', 'nope', '-o', 'json']), '[]\n');
  // Go's encoding/json escapes <, > and & inside strings.
  const escaped = await ok(['r', '-f', SIDECAR, '--name', '9080', '-o', 'json']);
  assert.ok(escaped.includes('"regex": "^/api/(v1|v2)/\\u003cid\\u003e\\u0026x$"'));
});

test('cluster -o json: declaration order, no top-level @type, Struct keys untouched', async () => {
  const out = await ok(['c', '-f', GATEWAY, '--fqdn', CATALOG, '--subset', 'version-v1', '-o', 'json']);
  const parsed = JSON.parse(out) as Record<string, unknown>[];
  assert.equal(parsed.length, 1);
  const first = parsed[0] ?? {};
  assert.deepEqual(Object.keys(first).slice(0, 3), ['transportSocketMatches', 'name', 'type']);
  assert.ok(!('@type' in first));
  assert.ok(out.includes('"tlsMode": "istio"'));
  assert.ok(out.includes('"filterMetadata": {\n                "istio": {'));
  assert.ok(out.startsWith('[\n    {\n        "transportSocketMatches": ['));
});

test('-o yaml: go-yaml style (sorted keys, unindented sequences, quoting)', async () => {
  const out = await ok(['c', '-f', GATEWAY, '--fqdn', CATALOG, '--subset', 'version-v2', '-o', 'yaml']);
  assert.ok(out.startsWith('- circuitBreakers:\n    thresholds:\n    - maxConnections: 4294967295\n'));
  assert.ok(!out.startsWith("- '@type'"));
  assert.ok(out.includes("      typedConfig:\n        '@type': type.googleapis.com/"));
  assert.ok(out.includes('  transportSocketMatches:\n  - match:\n      tlsMode: istio\n'));
  assert.ok(out.endsWith('\n\n'));
  const secrets = await ok(['s', '-f', GATEWAY, '-o', 'yaml']);
  assert.ok(secrets.includes('- lastUpdated: "2026-11-25T21:58:30.000Z"\n'));
});

test('camelCase dumps (as istioctl prints them) read the same as snake_case ones', async () => {
  const clusters = JSON.parse(await ok(['c', '-f', GATEWAY, '-o', 'json'])) as unknown[];
  const camelDump = JSON.stringify({
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        dynamicActiveClusters: clusters.map((c) => ({ cluster: c })),
      },
    ],
  });
  assert.equal(await ok(['c', '-f', '-'], camelDump), await ok(['c', '-f', GATEWAY]));
});

test('endpoint from a /clusters?format=json capture: columns, sort and filters', async () => {
  assert.equal(
    await ok(['endpoints', '-f', GATEWAY_CLUSTERS]),
    lines(
      'ENDPOINT                                                STATUS        OUTLIER CHECK     CLUSTER',
      '10.10.0.12:3000                                         HEALTHY       OK                outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
      '10.10.0.12:3000                                         HEALTHY       OK                outbound|80||catalog.istioinaction.svc.cluster.local',
      '10.10.0.13:3000                                         HEALTHY       FAILED            outbound|80||catalog.istioinaction.svc.cluster.local',
      '10.10.0.5:15012                                         UNHEALTHY     OK                outbound|15012||istiod.istio-system.svc.cluster.local',
      '127.0.0.1:15020                                         HEALTHY       OK                agent',
      'unix://./var/run/secrets/workload-spiffe-uds/socket     HEALTHY       OK                sds-grpc',
    ),
  );
  assert.equal(
    await ok(['ep', '-f', GATEWAY_CLUSTERS, '--status', 'unhealthy']),
    lines(
      'ENDPOINT            STATUS        OUTLIER CHECK     CLUSTER',
      '10.10.0.5:15012     UNHEALTHY     OK                outbound|15012||istiod.istio-system.svc.cluster.local',
    ),
  );
  const byCluster = await ok([
    'ep',
    '-f',
    GATEWAY_CLUSTERS,
    '--cluster',
    `OUTBOUND|80||${CATALOG.toUpperCase()}`,
  ]);
  assert.equal(byCluster.trimEnd().split('\n').length, 3);
  const byAddress = await ok(['ep', '-f', GATEWAY_CLUSTERS, '--address', '10.10.0.12', '--port', '3000']);
  assert.equal(byAddress.trimEnd().split('\n').length, 3);
  const json = JSON.parse(
    await ok(['ep', '-f', GATEWAY_CLUSTERS, '--address', '10.10.0.13', '-o', 'json']),
  ) as {
    name: string;
    hostStatuses: unknown[];
  }[];
  assert.deepEqual(
    json.map((c) => [c.name, c.hostStatuses.length]),
    [[`outbound|80||${CATALOG}`, 2]],
  );
});

test('endpoint from a config_dump with EDS: locality table, filters and pruned JSON', async () => {
  assert.equal(
    await ok(['ep', '-f', GATEWAY_EDS]),
    lines(
      'ENDPOINT            STATUS        LOCALITY                CLUSTER',
      '127.0.0.1:15020     UNKNOWN                               agent',
      '10.10.0.12:3000     HEALTHY       us-east1/us-east1-b     outbound|80||catalog.istioinaction.svc.cluster.local',
      '10.10.0.13:3000     UNHEALTHY     us-east1/us-east1-b     outbound|80||catalog.istioinaction.svc.cluster.local',
      '10.10.0.12:3000     HEALTHY       us-east1/us-east1-b     outbound|80|version-v1|catalog.istioinaction.svc.cluster.local',
      '10.10.0.13:3000     HEALTHY       us-east1/us-east1-b     outbound|80|version-v2|catalog.istioinaction.svc.cluster.local',
    ),
  );
  const json = JSON.parse(
    await ok([
      'ep',
      '-f',
      GATEWAY_EDS,
      '--address',
      '10.10.0.13:3000',
      '--status',
      'UNHEALTHY',
      '-o',
      'json',
    ]),
  ) as { clusterName: string; endpoints: { lbEndpoints: unknown[] }[] }[];
  assert.equal(json.length, 1);
  assert.equal(json[0]?.clusterName, `outbound|80||${CATALOG}`);
  assert.equal(json[0]?.endpoints[0]?.lbEndpoints.length, 1);
  const r = await pc(['ep', '-f', GATEWAY]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^Error: endpoints not found \(was include_eds=true used\?\)/);
});

test('secret table: types, serials, dates, WARMING and UNINITIALIZED states', async () => {
  const out = await ok(['secret', '-f', GATEWAY]);
  assert.equal(
    out,
    lines(
      'RESOURCE NAME     TYPE           STATUS     VALID CERT     SERIAL NUMBER           NOT AFTER                NOT BEFORE',
      'default           Cert Chain     ACTIVE     true           12648430                2125-06-19T21:58:22Z     2026-11-25T21:58:22Z',
      'ROOTCA            CA             ACTIVE     true           2246800662264969608     2126-11-01T21:58:22Z     2026-11-25T21:58:22Z',
    ),
  );
  assert.equal(
    await ok(['s', '-f', SIDECAR]),
    lines(
      'RESOURCE NAME                          TYPE     STATUS            VALID CERT     SERIAL NUMBER     NOT AFTER     NOT BEFORE',
      'file-root:/etc/certs/root-cert.pem              WARMING           false                                          ',
      'default                                         UNINITIALIZED     false                                          ',
    ),
  );
  const empty = JSON.stringify({
    configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump' }],
  });
  assert.equal(await ok(['s', '-f', '-'], empty), 'No active or warming secrets found.\n');
});

test('bootstrap: JSON by default, -o short version lines', async () => {
  const json = await ok(['bootstrap', '-f', GATEWAY]);
  assert.ok(json.startsWith('{\n    "bootstrap": {\n        "node": {'));
  assert.ok(json.includes('"ISTIO_VERSION": "1.17.8"'));
  assert.ok(json.includes('"userAgentBuildVersion"'));
  assert.equal(
    await ok(['b', '-f', GATEWAY, '-o', 'short']),
    lines(
      'Istio Version:       1.17.8',
      'Istio Proxy Version: 2c6a7b1ff4a3b1e9b0f7e3c2d1a0b9c8d7e6f5a4',
      'Envoy Version:       1.25.9/Clean/RELEASE/BoringSSL',
    ),
  );
});

test('all: cluster, listener, route and secret summaries separated by blank lines', async () => {
  const out = await ok(['all', '-f', GATEWAY, '--port', '8080']);
  assert.equal(
    out,
    lines(
      'SERVICE FQDN     PORT     SUBSET     DIRECTION     TYPE     DESTINATION RULE',
      '',
      'ADDRESS PORT MATCH DESTINATION',
      '0.0.0.0 8080 ALL   Route: http.8080',
      '',
      'NAME          DOMAINS                      MATCH     VIRTUAL SERVICE',
      'http.8080     catalog.istioinaction.io     /*        catalog-v1-v2.istioinaction',
      '',
      'RESOURCE NAME     TYPE           STATUS     VALID CERT     SERIAL NUMBER           NOT AFTER                NOT BEFORE',
      'default           Cert Chain     ACTIVE     true           12648430                2125-06-19T21:58:22Z     2026-11-25T21:58:22Z',
      'ROOTCA            CA             ACTIVE     true           2246800662264969608     2126-11-01T21:58:22Z     2026-11-25T21:58:22Z',
    ),
  );
  const raw = await ok(['a', '-f', GATEWAY, '-o', 'json']);
  assert.equal(raw, `${readFileSync(GATEWAY, 'utf8')}\n`);
  // A section missing part-way stops with an error after the earlier tables.
  const r = await pc(['all', '-f', SIDECAR]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /ClustersConfigDump/);
});

test('bad input: one Error line, exit 1, never a stack trace', async () => {
  const text = readFileSync(GATEWAY, 'utf8');
  const cases: [string[], string | undefined, RegExp][] = [
    [['c', '-f', '-'], text.slice(0, 300), /^Error: error unmarshalling config dump response from Envoy: /],
    [['c', '-f', '-'], 'not json', /^Error: error unmarshalling config dump response from Envoy: /],
    [
      ['l', '-f', '-'],
      '[]',
      /^Error: error unmarshalling config dump response from Envoy: not a JSON object\n$/,
    ],
    [
      ['c', '-f', '-'],
      '{"configs":[]}',
      /^Error: config dump has no configuration type type\.googleapis\.com\/envoy\.admin\.v3\.ClustersConfigDump\n$/,
    ],
    [
      ['c', '-f', '-'],
      '{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ClustersConfigDump"}]}',
      /^Error: no clusters found\n$/,
    ],
    [
      ['l', '-f', '-'],
      '{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.ListenersConfigDump","dynamic_listeners":[{"name":"x"}]}]}',
      /^Error: no listeners found\n$/,
    ],
    [
      ['r', '-f', '-'],
      '{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.RoutesConfigDump","dynamic_route_configs":"oops"}]}',
      /^Error: no routes found\n$/,
    ],
    [['c', '-f', GATEWAY, '-o', 'xml'], undefined, /^Error: output format "xml" not supported\n$/],
    [['c'], undefined, /^Error: cluster requires pod name or --file parameter\n$/],
    [
      ['ep', 'pod-a', 'pod-b', '-f', GATEWAY],
      undefined,
      /^Error: endpoints requires pod name or --file parameter\n$/,
    ],
    [['r', 'a', 'b'], undefined, /^Error: route requires pod name or --file parameter\n$/],
    [
      ['l', 'istio-ingressgateway-abc.istio-system'],
      undefined,
      /^Error: reading istio-ingressgateway-abc\.istio-system from a Kubernetes cluster is not available: use --admin-address <host:port> for a running proxy, or -f <manifests> to simulate it\n$/,
    ],
    [
      ['c', '-f', join(DUMPS, 'missing.json')],
      undefined,
      /^Error: open .*missing\.json: no such file or directory\n$/,
    ],
  ];
  for (const [args, stdin, expected] of cases) {
    const r = await pc(args, stdin);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, expected, args.join(' '));
    assert.equal(r.stderr.split('\n').length, 2, `one line for ${args.join(' ')}`);
    assert.ok(!/\bat .*\.js:\d+/.test(r.stderr));
  }
});

test('a bad --port is a usage error (exit 64) in pflag wording', async () => {
  const r = await pc(['c', '-f', GATEWAY, '--port', 'http']);
  assert.equal(r.code, 64);
  assert.equal(
    r.stderr,
    'Error: invalid argument "http" for "--port" flag: strconv.ParseInt: parsing "http": invalid syntax\n',
  );
});

test('fields of the wrong type never crash the tables', async () => {
  const weird = JSON.stringify({
    configs: [
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
        dynamic_active_clusters: [
          { cluster: { name: 7, type: ['x'], metadata: 'm' } },
          null,
          3,
          { cluster: { name: 'a|b|c|d|e' } },
        ],
      },
      {
        '@type': 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
        dynamic_listeners: [
          { active_state: { listener: { address: 'x', filter_chains: [null, { filters: 'y' }] } } },
        ],
      },
    ],
  });
  assert.equal(
    await ok(['c', '-f', '-'], weird),
    lines(
      'SERVICE FQDN     PORT     SUBSET     DIRECTION     TYPE       DESTINATION RULE',
      '                 -        -          -             STATIC     ',
      'd                0        c          a             STATIC     ',
    ),
  );
  assert.equal(
    await ok(['l', '-f', '-'], weird),
    lines(
      'ADDRESS PORT MATCH DESTINATION',
      '        0    ALL   Non-HTTP/Non-TCP',
      '        0    ALL   Non-HTTP/Non-TCP',
    ),
  );
});

test('proxy-config is also reachable as pc, sub-commands by their aliases', async () => {
  const a = await runSkiff(['pc', 'l', '-f', GATEWAY, '--verbose=false']);
  const b = await runSkiff(['proxy-config', 'listeners', '--file', GATEWAY, '--no-verbose']);
  assert.equal(a.code, 0);
  assert.equal(a.stdout, b.stdout);
  assert.ok(a.stdout.startsWith('ADDRESS PORT  TYPE\n'));
});

test('goSortSlice orders like Go sort.Slice: insertion sort up to 12, pdqsort beyond', () => {
  // A small LCG keeps the inputs deterministic.
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const distinct = Array.from({ length: 500 }, (_, i) => i).sort(() => rand(3) - 1);
  assert.deepEqual(
    goSortSlice(distinct, (a, b) => a < b),
    [...distinct].sort((a, b) => a - b),
  );
  const dupes = Array.from({ length: 1000 }, (_, i) => ({ key: rand(7), id: i }));
  const sorted = goSortSlice(dupes, (a, b) => a.key < b.key);
  assert.equal(sorted.length, 1000);
  assert.ok(sorted.every((x, i) => i === 0 || (sorted[i - 1]?.key ?? 0) <= x.key));
  assert.deepEqual(new Set(sorted.map((x) => x.id)).size, 1000);
  // Equal keys keep their order in the insertion-sort range and on already-sorted input.
  const equal = Array.from({ length: 13 }, (_, i) => ({ key: 1, id: i }));
  assert.deepEqual(
    goSortSlice(equal.slice(0, 12), (a, b) => a.key < b.key).map((x) => x.id),
    equal.slice(0, 12).map((x) => x.id),
  );
  assert.deepEqual(
    goSortSlice(equal, (a, b) => a.key < b.key).map((x) => x.id),
    equal.map((x) => x.id),
  );
  // The route-name comparator is not a strict weak order; insertion sort decides the result.
  const names = ['9080', 'inbound|3000||', '80', '15010'];
  const asInt = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  assert.deepEqual(
    goSortSlice(names, (a, b) => {
      const x = asInt(a);
      const y = asInt(b);
      return x !== undefined && y !== undefined && x < y;
    }),
    ['9080', 'inbound|3000||', '80', '15010'],
  );
  assert.deepEqual(
    goSortSlice([], () => true),
    [],
  );
});
