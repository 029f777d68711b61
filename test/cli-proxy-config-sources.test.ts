import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, runSkiff, tempDir } from './helpers.js';

const MESH = join(ROOT, 'test/fixtures/proxy-config-sim');
const DUMPS = join(ROOT, 'test/fixtures/dumps');
const GATEWAY_DUMP = join(DUMPS, 'ingress-gateway.json');
const GATEWAY_EDS = join(DUMPS, 'ingress-gateway-eds.json');
const GATEWAY_CLUSTERS = join(DUMPS, 'ingress-gateway-clusters.json');
const GATEWAY_POD = 'istio-ingressgateway-7d4f9c-abcde.istio-system';

async function pc(args: string[]) {
  return runSkiff(['proxy-config', ...args]);
}

async function ok(args: string[]): Promise<string> {
  const r = await pc(args);
  assert.equal(r.stderr, '', `stderr of ${args.join(' ')}`);
  assert.equal(r.code, 0, args.join(' '));
  return r.stdout;
}

/** One `Error: ...` line on stderr, exit 1, nothing on stdout, no stack trace. */
async function fails(args: string[], expected: RegExp): Promise<void> {
  const r = await pc(args);
  assert.equal(r.code, 1, args.join(' '));
  assert.equal(r.stdout, '', args.join(' '));
  assert.match(r.stderr, expected, args.join(' '));
  assert.equal(r.stderr.split('\n').length, 2, `one line for ${args.join(' ')}: ${r.stderr}`);
  assert.ok(!/\bat .*\.js:\d+/.test(r.stderr));
}

const row = (...cells: string[]) => new RegExp(`^${cells.join('\\s+')}\\s*$`, 'm');

// ---- offline simulation ----

test('a gateway pod simulated from manifests: clusters, listener, routes and endpoints', async () => {
  const clusters = await ok(['cluster', GATEWAY_POD, '-f', MESH]);
  assert.match(clusters, /^SERVICE FQDN\s+PORT\s+SUBSET\s+DIRECTION\s+TYPE\s+DESTINATION RULE\n/);
  assert.match(
    clusters,
    row('reviews.shop.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS', 'reviews.shop'),
  );
  assert.match(clusters, row('web.shop.svc.cluster.local', '80', '-', 'outbound', 'EDS'));
  const listeners = await ok(['listener', GATEWAY_POD, '-f', MESH]);
  assert.match(listeners, /^ADDRESS\s+PORT\s+MATCH\s+DESTINATION\n/);
  assert.match(listeners, row('0\\.0\\.0\\.0', '8080', 'ALL', 'Route: http\\.8080'));
  // The bootstrap's static listeners and clusters are in the dump, as in a real Envoy's.
  assert.match(listeners, row('0\\.0\\.0\\.0', '15021', 'ALL', 'Inline Route: /healthz/ready\\*'));
  assert.match(clusters, row('xds-grpc', '-', '-', '-', 'STATIC'));
  assert.equal(
    await ok(['routes', GATEWAY_POD, '-f', MESH]),
    [
      'NAME          DOMAINS             MATCH         VIRTUAL SERVICE',
      'http.8080     web.example.com     /reviews*     web.shop',
      'http.8080     web.example.com     /*            web.shop',
      '',
    ].join('\n'),
  );
  const eps = await ok(['endpoints', GATEWAY_POD, '-f', MESH]);
  assert.match(eps, row('10.1.0.5:9080', 'HEALTHY', 'outbound\\|9080\\|v1\\|reviews.shop.svc.cluster.local'));
  const boot = await ok(['bootstrap', GATEWAY_POD, '-f', MESH, '-o', 'short']);
  assert.match(boot, /^Istio Version: 1\.17\.8\n/);
  const json = JSON.parse(await ok(['bootstrap', GATEWAY_POD, '-f', MESH])) as {
    bootstrap: { node: { id: string } };
  };
  // A gateway is a router, with the pod's IP in its node id.
  assert.equal(json.bootstrap.node.id, `router~10.1.0.2~${GATEWAY_POD}~istio-system.svc.cluster.local`);
});

test('deploy/<name>, <pod>.<ns>, -n and --namespace all name the same proxy', async () => {
  const byPod = await ok(['r', GATEWAY_POD, '-f', MESH]);
  assert.equal(await ok(['r', 'deploy/istio-ingressgateway.istio-system', '-f', MESH]), byPod);
  assert.equal(await ok(['r', 'deployment/istio-ingressgateway', '-n', 'istio-system', '-f', MESH]), byPod);
  assert.equal(
    await ok(['r', 'pod/istio-ingressgateway-7d4f9c-abcde', '--namespace', 'istio-system', '--file', MESH]),
    byPod,
  );
  // Manifests may come as several -f flags (files or directories).
  assert.equal(
    await ok(['r', GATEWAY_POD, '-f', join(MESH, 'mesh.yaml'), '-f', join(DUMPS, '..', 'proxy-config-sim')]),
    byPod,
  );
});

test('a sidecar pod and a Deployment without pods (its stand-in) simulate as sidecars', async () => {
  const sleep = await ok(['c', 'sleep-0.shop', '-f', MESH]);
  assert.match(sleep, row('reviews.shop.svc.cluster.local', '9080', 'v1', 'outbound', 'EDS', 'reviews.shop'));
  assert.match(sleep, row('PassthroughCluster', '-', '-', '-', 'ORIGINAL_DST'));
  const boot = JSON.parse(await ok(['b', 'sleep-0.shop', '-f', MESH])) as {
    bootstrap: { node: { id: string } };
  };
  assert.match(boot.bootstrap.node.id, /^sidecar~10\.1\.0\.9~sleep-0\.shop~/);
  const web = await ok(['c', 'deploy/web.shop', '-f', MESH, '--fqdn', 'reviews']);
  assert.equal(web.trimEnd().split('\n').length, 3);
  assert.equal(await ok(['c', 'web-offline-0.shop', '-f', MESH, '--fqdn', 'reviews']), web);
  const id = JSON.parse(await ok(['b', 'deploy/web.shop', '-f', MESH])) as {
    bootstrap: { node: { id: string } };
  };
  assert.match(id.bootstrap.node.id, /^sidecar~0\.0\.0\.0~web-offline-0\.shop~/);
});

test('every flag and output works on a simulation as on the same dump read with --file', async () => {
  const dir = tempDir();
  const dumpFile = join(dir, 'dump.json');
  const dump = await ok(['all', GATEWAY_POD, '-f', MESH, '-o', 'json']);
  writeFileSync(dumpFile, dump);
  const parsed = JSON.parse(dump) as { configs: { '@type': string }[] };
  assert.ok(parsed.configs.some((c) => c['@type'].endsWith('EndpointsConfigDump')));
  const cases = [
    ['c', '--fqdn', 'reviews', '--port', '9080'],
    ['c', '--subset', 'v1', '-o', 'json'],
    ['c', '--direction', 'outbound', '-o', 'yaml'],
    ['l', '--port', '8080', '--type', 'http', '--verbose=false'],
    ['l', '--address', '0.0.0.0', '-o', 'json'],
    ['r', '--name', 'http.8080', '-o', 'json'],
    ['r', '--no-verbose'],
    ['ep', '--cluster', 'outbound|9080|v1|reviews.shop.svc.cluster.local', '--status', 'healthy'],
    ['ep', '--address', '10.1.0.5:9080', '-o', 'yaml'],
    ['s'],
    ['all', '--port', '8080'],
  ];
  for (const [sub = '', ...flags] of cases) {
    const simulated = await pc([sub, GATEWAY_POD, '-f', MESH, ...flags]);
    const read = await pc([sub, '-f', dumpFile, ...flags]);
    assert.equal(simulated.stdout, read.stdout, [sub, ...flags].join(' '));
    assert.equal(simulated.code, read.code);
    assert.ok(simulated.stdout.length > 0, [sub, ...flags].join(' '));
  }
});

test('--meshConfigFile changes the simulated config; a missing one is an error', async () => {
  const dir = tempDir();
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(mesh, 'connectTimeout: 3s\n');
  const args = ['c', 'sleep-0.shop', '-f', MESH, '--fqdn', 'reviews', '--subset', 'v1', '-o', 'json'];
  const defaults = JSON.parse(await ok(args)) as { connectTimeout: string }[];
  assert.equal(defaults[0]?.connectTimeout, '10s');
  const custom = JSON.parse(await ok([...args, '--meshConfigFile', mesh])) as { connectTimeout: string }[];
  assert.equal(custom[0]?.connectTimeout, '3s');
  await fails(
    [...args, '--meshConfigFile', join(dir, 'none.yaml')],
    /^Error: failed to read mesh config file .*none\.yaml: /,
  );
});

test('unknown pods, deployments and types: one clear line, exit 1', async () => {
  await fails(
    ['c', 'nope.shop', '-f', MESH],
    /^Error: pod "nope" not found in namespace "shop" \(in the -f manifests\)\n$/,
  );
  await fails(
    ['l', 'sleep-0', '-f', MESH],
    /^Error: pod "sleep-0" not found in namespace "default" \(in the -f manifests\)\n$/,
  );
  await fails(
    ['r', 'deploy/nope', '-n', 'shop', '-f', MESH],
    /^Error: deployment "nope" not found in namespace "shop" \(in the -f manifests\)\n$/,
  );
  await fails(['c', 'job-done.shop', '-f', MESH], /^Error: pod is not running\. Status=Succeeded\n$/);
  await fails(
    ['c', 'svc/web.shop', '-f', MESH],
    /^Error: "svc\/web\.shop": simulating from manifests finds pods/,
  );
  const missing = await pc(['c', 'sleep-0.shop', '-f', join(MESH, 'missing.yaml')]);
  assert.equal(missing.code, 1);
  assert.equal(
    missing.stderr,
    `Error: could not load the -f manifests: 1 error occurred:\n\t* ${join(MESH, 'missing.yaml')}: no such file or directory\n`,
  );
  // A config dump given with a pod name: the error says how -f is read.
  const dumpAsManifest = await pc(['c', 'sleep-0.shop', '-f', GATEWAY_DUMP]);
  assert.equal(dumpAsManifest.code, 1);
  assert.match(
    dumpAsManifest.stderr,
    /ingress-gateway\.json:1: object has no "kind"\n\(with a pod name, -f reads manifests; to read a config dump, give no pod name\)\n$/,
  );
});

test('source selection errors', async () => {
  await fails(['c', 'a', 'b', '-f', MESH], /^Error: cluster requires pod name or --file parameter\n$/);
  await fails(['l'], /^Error: listener requires pod name or --file parameter\n$/);
  await fails(
    ['r', 'sleep-0.shop'],
    /^Error: reading sleep-0\.shop from a Kubernetes cluster is not available: use --admin-address <host:port> for a running proxy, or -f <manifests> to simulate it\n$/,
  );
  await fails(
    ['c', '-f', GATEWAY_DUMP, '-f', GATEWAY_EDS],
    /^Error: --file without a pod name reads one config dump, got 2/,
  );
  await fails(
    ['c', '--admin-address', '127.0.0.1:15000', '-f', GATEWAY_DUMP],
    /^Error: --admin-address and --file cannot be used together\n$/,
  );
  await fails(['c', '--admin-address', 'a:b:c'], /^Error: invalid --admin-address "a:b:c"/);
  await fails(['log'], /^Error: log requires pod name or --selector\n$/);
  await fails(
    ['log', 'sleep-0.shop'],
    /^Error: reading sleep-0\.shop from a Kubernetes cluster is not available/,
  );
  await fails(['log', '-l', 'app=sleep'], /^Error: --selector needs a Kubernetes cluster/);
});

// ---- a running proxy's admin API ----

interface FakeAdmin {
  address: string;
  requests: string[];
  close: () => Promise<void>;
}

/** A stand-in Envoy admin on 127.0.0.1:0 answering from a table of `METHOD /path` → [status, body]. */
async function fakeAdmin(
  answer: (method: string, path: string) => [number, string] | undefined,
): Promise<FakeAdmin> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const key = `${req.method ?? ''} ${req.url ?? ''}`;
    requests.push(key);
    const [status, body] = answer(req.method ?? '', req.url ?? '') ?? [
      404,
      'invalid path. admin commands are:\n',
    ];
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const dumpText = readFileSync(GATEWAY_DUMP, 'utf8');

test('--admin-address reads /config_dump and renders it exactly as --file does', async () => {
  const admin = await fakeAdmin((method, path) => {
    if (method === 'GET' && path === '/config_dump') return [200, dumpText];
    if (method === 'GET' && path === '/clusters?format=json')
      return [200, readFileSync(GATEWAY_CLUSTERS, 'utf8')];
    if (method === 'GET' && path === '/config_dump?include_eds=true')
      return [200, readFileSync(GATEWAY_EDS, 'utf8')];
    return undefined;
  });
  try {
    const cases = [
      ['c', '--fqdn', 'catalog'],
      ['l'],
      ['r', '--name', 'http.8080', '-o', 'json'],
      ['s'],
      ['b', '-o', 'short'],
      ['all', '-o', 'json'],
    ];
    for (const [sub = '', ...flags] of cases) {
      const live = await ok([sub, '--admin-address', admin.address, ...flags]);
      assert.equal(live, await ok([sub, '-f', GATEWAY_DUMP, ...flags]), [sub, ...flags].join(' '));
    }
    // Endpoints come from /clusters?format=json, as istioctl reads them; `all` adds EDS to the dump.
    assert.equal(
      await ok(['ep', '--admin-address', admin.address]),
      await ok(['ep', '-f', GATEWAY_CLUSTERS]),
    );
    await ok(['all', '--admin-address', `http://${admin.address}/`]);
    assert.deepEqual(admin.requests, [
      ...Array.from({ length: 6 }, () => 'GET /config_dump'),
      'GET /clusters?format=json',
      'GET /config_dump?include_eds=true',
    ]);
  } finally {
    await admin.close();
  }
});

test('--admin-address: endpoints fall back to the EDS dump; HTTP errors are one line', async () => {
  const admin = await fakeAdmin((_method, path) => {
    if (path === '/config_dump?include_eds=true') return [200, readFileSync(GATEWAY_EDS, 'utf8')];
    if (path === '/config_dump') return [503, 'no healthy upstream\nmore'];
    return undefined;
  });
  try {
    assert.equal(await ok(['ep', '--admin-address', admin.address]), await ok(['ep', '-f', GATEWAY_EDS]));
    await fails(
      ['c', '--admin-address', admin.address],
      new RegExp(
        `^Error: failed to execute command on Envoy at ${admin.address}: GET /config_dump: HTTP 503: no healthy upstream\\n$`,
      ),
    );
  } finally {
    await admin.close();
  }
});

test('--admin-address to a closed port: connection refused, exit 1', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const address = `127.0.0.1:${port}`;
  await fails(
    ['c', '--admin-address', address],
    new RegExp(
      `^Error: failed to execute command on Envoy at ${address}: Get "http://${address}/config_dump": dial tcp ${address}: connect: connection refused\\n$`,
    ),
  );
  await fails(['log', '--admin-address', address, '--level', 'debug'], /connect: connection refused\n$/);
});

test('proxy-config log reads and sets logger levels through POST /logging', async () => {
  const levels = new Map([
    ['admin', 'warning'],
    ['http', 'warning'],
    ['router', 'warning'],
  ]);
  const listing = () => `active loggers:\n${[...levels].map(([n, l]) => `  ${n}: ${l}\n`).join('')}`;
  const admin = await fakeAdmin((method, path) => {
    if (method !== 'POST' || !path.startsWith('/logging')) return undefined;
    const query = new URLSearchParams(path.split('?')[1] ?? '');
    for (const [name, level] of query) {
      if (name === 'level') for (const n of levels.keys()) levels.set(n, level);
      else levels.set(name, level);
    }
    return [200, listing()];
  });
  try {
    assert.equal(
      await ok(['log', '--admin-address', admin.address]),
      `${admin.address}:\nactive loggers:\n  admin: warning\n  http: warning\n  router: warning\n`,
    );
    assert.equal(
      await ok(['log', 'sleep-0.shop', '--admin-address', admin.address, '--level', 'info,http:debug']),
      'sleep-0.shop:\nactive loggers:\n  admin: info\n  http: debug\n  router: info\n',
    );
    await ok(['o', 'sleep-0', '-n', 'shop', '--admin-address', admin.address, '-r']);
    // With no pod named, the proxy is asked who it is (this one has no /server_info: the address stays).
    assert.deepEqual(admin.requests, [
      'POST /logging',
      'GET /server_info',
      'POST /logging',
      'POST /logging?level=info',
      'POST /logging?http=debug',
      'POST /logging',
      'POST /logging?level=warning',
    ]);
    assert.equal(levels.get('http'), 'warning');
    await fails(
      ['log', '--admin-address', admin.address, '--level', 'none'],
      /^Error: unrecognized logging level: none\n$/,
    );
    await fails(
      ['log', '--admin-address', admin.address, '--level', 'nosuch:debug'],
      /^Error: unrecognized logger name: nosuch\n$/,
    );
    await fails(
      ['log', '--admin-address', admin.address, '--level', 'http=loud'],
      /^Error: unrecognized logging level: loud\n$/,
    );
    await fails(
      ['log', '--admin-address', admin.address, '--level', 'debug', '-r'],
      /^Error: --level cannot be combined with --reset\n$/,
    );
  } finally {
    await admin.close();
  }
});
