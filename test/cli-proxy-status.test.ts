import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { generateProxyResources } from '../src/xds/index.js';
import { runSkiff, tempDir } from './helpers.js';
import { SimulatedProxy, httpGet } from './pilot-fixtures.js';
import { CDS, FIXTURE, TestStream, eventually, node } from './xds-server-client.js';

const POD = 'istiod-7f9c6b5d4-x2x9p';

const VS_WITH_TIMEOUT = `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog
  namespace: istioinaction
spec:
  hosts:
    - catalog.istioinaction.io
  gateways:
    - catalog-gateway
  http:
    - timeout: 3s
      route:
        - destination:
            host: catalog.istioinaction.svc.cluster.local
            port:
              number: 80
`;

function rawNode(pod: string, namespace: string, clusterId = 'Kubernetes') {
  return node(`sidecar~10.10.1.${pod.length}~${pod}.${namespace}~${namespace}.svc.cluster.local`, {
    NAMESPACE: namespace,
    ISTIO_VERSION: '1.17.8',
    CLUSTER_ID: clusterId,
    LABELS: { app: pod },
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('skiff proxy-status against a running control plane', () => {
  let dir: string;
  let pilot: PilotHandle;
  let pilotAddr: string;
  let gateway: SimulatedProxy;
  const proxies: SimulatedProxy[] = [];
  const streams: TestStream[] = [];

  before(async () => {
    dir = tempDir('skiff-ps-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 20,
      env: {},
      podName: POD,
      // Sidecars get clusters only, so the table's RDS column does not follow generator work elsewhere.
      generator: (push, proxy) => {
        const all = generateProxyResources(push, proxy);
        return proxy.type === 'router' ? all : { ...all, listeners: [], routes: [], secrets: [] };
      },
    });
    pilotAddr = `127.0.0.1:${pilot.httpPort}`;
    const sidecar = SimulatedProxy.sidecar(pilot.grpcAddress, {
      ip: '10.10.0.15',
      podName: 'catalog-v1',
      namespace: 'istioinaction',
      labels: { app: 'catalog', version: 'v1' },
      istioVersion: '1.17.8',
    });
    gateway = SimulatedProxy.router(pilot.grpcAddress, {
      ip: '10.10.0.5',
      podName: 'istio-ingressgateway-1',
      namespace: 'istio-system',
      labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
      istioVersion: '1.17.8',
    });
    proxies.push(sidecar, gateway);
    await Promise.all(proxies.map((p) => p.start()));
    await gateway.serveAdmin();
  });
  after(async () => {
    for (const s of streams) s.close();
    for (const p of proxies) await p.close();
    await pilot.close();
  });

  it('prints the 1.17 table byte for byte: SYNCED and NOT SENT, the ISTIOD id and VERSION', async () => {
    const run = await runSkiff(['proxy-status', '--pilot-addr', pilotAddr]);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.equal(
      run.stdout,
      [
        'NAME                                    CLUSTER        CDS        LDS        EDS        RDS          ECDS         ISTIOD                     VERSION',
        'catalog-v1.istioinaction                Kubernetes     SYNCED     SYNCED     SYNCED     NOT SENT     NOT SENT     istiod-7f9c6b5d4-x2x9p     1.17.8',
        'istio-ingressgateway-1.istio-system     Kubernetes     SYNCED     SYNCED     SYNCED     SYNCED       NOT SENT     istiod-7f9c6b5d4-x2x9p     1.17.8',
        '',
      ].join('\n'),
    );
    // The alias and -i are accepted.
    const alias = await runSkiff(['ps', '-i', 'istio-system', '--pilot-addr', pilotAddr]);
    assert.equal(alias.stdout, run.stdout);
  });

  it('shows ERROR for a held NACK, STALE (Never Acknowledged), STALE, and sorts by cluster first', async () => {
    // Rejects its first CDS response.
    const nack = new TestStream(pilot.grpcAddress);
    streams.push(nack);
    nack.send({ node: rawNode('nack-pod', 'istioinaction'), type_url: CDS });
    const rejected = await nack.next();
    nack.send({
      type_url: CDS,
      response_nonce: rejected.nonce,
      error_detail: { code: 3, message: 'cluster validation failed' },
    });
    // Never acknowledges.
    const silent = new TestStream(pilot.grpcAddress);
    streams.push(silent);
    silent.send({ node: rawNode('silent-pod', 'istioinaction'), type_url: CDS });
    await silent.next();
    // Acknowledges once, then a forced push leaves the new nonce unacknowledged. Its cluster sorts first.
    const lagging = new TestStream(pilot.grpcAddress);
    streams.push(lagging);
    lagging.send({ node: rawNode('zz-lagging', 'default', 'Alpha'), type_url: CDS });
    lagging.ack(await lagging.next());
    await eventually(async () => {
      const rows = JSON.parse((await httpGet(pilot.httpPort, '/debug/syncz')).body) as Record<
        string,
        string
      >[];
      const row = rows.find((r) => r['proxy'] === 'zz-lagging.default');
      return row !== undefined && row['cluster_acked'] === row['cluster_sent'];
    });
    assert.equal((await httpGet(pilot.httpPort, '/debug/adsz?push=true')).status, 200);
    await lagging.next();
    await eventually(async () => {
      const rows = JSON.parse((await httpGet(pilot.httpPort, '/debug/syncz')).body) as Record<
        string,
        string
      >[];
      const gw = rows.find((r) => r['proxy'] === 'istio-ingressgateway-1.istio-system');
      return (
        gw !== undefined &&
        gw['route_acked'] === gw['route_sent'] &&
        gw['cluster_acked'] === gw['cluster_sent']
      );
    });

    const syncz = JSON.parse((await httpGet(pilot.httpPort, '/debug/syncz')).body) as Record<
      string,
      unknown
    >[];
    const nackRow = syncz.find((r) => r['proxy'] === 'nack-pod.istioinaction');
    assert.deepEqual(Object.keys((nackRow?.['resources'] ?? {}) as object), [CDS]);
    assert.equal(
      ((nackRow?.['resources'] as Record<string, Record<string, string>>)[CDS] ?? {})['lastError'],
      'cluster validation failed',
    );

    const run = await runSkiff(['proxy-status', '--pilot-addr', pilotAddr]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    // The CDS column is as wide as its widest cell plus the padding of 5.
    assert.match(lines[0] ?? '', /^NAME {36}CLUSTER {8}CDS {28}LDS {10}EDS/);
    assert.match(lines[1] ?? '', /^zz-lagging\.default {22}Alpha {10}STALE {26}NOT SENT {5}NOT SENT/);
    const byName = (name: string) => (lines.find((l) => l.startsWith(`${name} `)) ?? '').split(/ {5,}/);
    assert.deepEqual(byName('nack-pod.istioinaction').slice(1, 7), [
      'Kubernetes',
      'ERROR',
      'NOT SENT',
      'NOT SENT',
      'NOT SENT',
      'NOT SENT',
    ]);
    assert.deepEqual(byName('silent-pod.istioinaction').slice(2, 4), [
      'STALE (Never Acknowledged)',
      'NOT SENT',
    ]);
    assert.deepEqual(byName('istio-ingressgateway-1.istio-system').slice(2, 6), [
      'SYNCED',
      'SYNCED',
      'SYNCED',
      'SYNCED',
    ]);
    // Rows after the first are in name order within the Kubernetes cluster.
    const names = lines.slice(2, -1).map((l) => l.split(' ')[0]);
    assert.deepEqual(names, [...names].sort());
    assert.equal(lines.at(-1), '');
    for (const s of streams.splice(0)) s.close();
  });

  it('compares a synced proxy with the control plane: all three sections match', async () => {
    const run = await runSkiff([
      'proxy-status',
      'istio-ingressgateway-1.istio-system',
      '--pilot-addr',
      pilotAddr,
      '--admin-address',
      `127.0.0.1:${gateway.adminPort}`,
    ]);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.match(
      run.stdout,
      /^Clusters Match\nListeners Match\nRoutes Match \(RDS last loaded at (Sun|Mon|Tue|Wed|Thu|Fri|Sat), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d \S+\)\n$/,
    );
    // `<pod> -n <namespace>` names the same proxy.
    const short = await runSkiff([
      'ps',
      'istio-ingressgateway-1',
      '-n',
      'istio-system',
      '--pilot-addr',
      pilotAddr,
      '--admin-address',
      `127.0.0.1:${gateway.adminPort}`,
    ]);
    assert.equal(short.stdout, run.stdout);
  });

  it('prints a unified diff when the proxy holds older routes, and diffs a missing section as its error', async () => {
    const dumpFile = join(tempDir('skiff-ps-dump-'), 'envoy.json');
    writeFileSync(dumpFile, JSON.stringify(gateway.configDump()));
    const version = pilot.server.push.version;
    writeFileSync(join(dir, 'vs.yaml'), VS_WITH_TIMEOUT);
    assert.ok(await eventually(() => pilot.server.push.version !== version, 5000), 'config reloaded');

    const run = await runSkiff([
      'ps',
      'istio-ingressgateway-1.istio-system',
      '--pilot-addr',
      pilotAddr,
      '--file',
      dumpFile,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const [head, ...rest] = run.stdout.split('--- Istiod Routes\n');
    assert.match(
      head ?? '',
      /^Clusters Match\nListeners Match\nRoutes Don't Match \(RDS last loaded at .+\)\n$/,
    );
    const diff = rest.join('');
    assert.match(diff, /^\+\+\+ Envoy Routes\n@@ -\d+,\d+ \+\d+,\d+ @@\n/);
    assert.match(diff, /\n- {32,}"timeout": "3s",?\n/);
    assert.match(diff, /\n\+ {32,}"timeout": "0s",?\n/);
    // 7 lines of context around the change; the diff ends with Fprintln's extra newline.
    assert.ok(diff.endsWith('\n\n'));
    // Each change (route timeout, and the gRPC timeout derived from it) gets 7 lines of context either side.
    const hunks = [...diff.matchAll(/@@ -(\d+),(\d+) \+(\d+),(\d+) @@\n/g)];
    assert.equal(hunks.length, 2);
    for (const h of hunks) assert.deepEqual([h[2], h[4]], ['15', '15']);
    const firstHunk = diff.split('@@\n')[1]?.split('\n') ?? [];
    assert.deepEqual(
      firstHunk.slice(0, 9).map((l) => l[0]),
      [' ', ' ', ' ', ' ', ' ', ' ', ' ', '-', '+'],
    );

    // The same dump from stdin, with the listeners section removed: that section diffs against its error.
    const dump = JSON.parse(JSON.stringify(gateway.configDump())) as { configs: { '@type': string }[] };
    dump.configs = dump.configs.filter((c) => !c['@type'].endsWith('ListenersConfigDump'));
    const missing = await runSkiff(
      ['ps', 'istio-ingressgateway-1.istio-system', '--pilot-addr', pilotAddr, '-f', '-'],
      {
        stdin: JSON.stringify(dump),
      },
    );
    assert.equal(missing.code, 0, missing.stderr);
    assert.match(
      missing.stdout,
      /^Clusters Match\n--- Istiod Listeners\n\+\+\+ Envoy Listeners\n@@ -1,\d+ \+1 @@\n/,
    );
    assert.match(
      missing.stdout,
      /\n\+config dump has no configuration type type\.googleapis\.com\/envoy\.admin\.v3\.ListenersConfigDump\n\nRoutes /,
    );

    // Without a routes section istioctl cannot read the RDS load time: the sections before it print, then the error.
    dump.configs = dump.configs.filter((c) => !c['@type'].endsWith('RoutesConfigDump'));
    const noRoutes = await runSkiff(
      ['ps', 'istio-ingressgateway-1.istio-system', '--pilot-addr', pilotAddr, '-f', '-'],
      {
        stdin: JSON.stringify(dump),
      },
    );
    assert.equal(noRoutes.code, 1);
    assert.match(noRoutes.stdout, /^Clusters Match\n--- Istiod Listeners\n/);
    assert.equal(
      noRoutes.stderr,
      'Error: config dump has no configuration type type.googleapis.com/envoy.admin.v3.RoutesConfigDump\n',
    );
  });

  it('explains a proxy the control plane does not know, and a proxy it cannot reach', async () => {
    const unknown = await runSkiff([
      'ps',
      'nobody.nowhere',
      '--pilot-addr',
      pilotAddr,
      '--admin-address',
      `127.0.0.1:${gateway.adminPort}`,
    ]);
    assert.equal(unknown.code, 1);
    assert.equal(
      unknown.stderr,
      `Error: unable to find config dump in Istiod responses (${pilotAddr}: Proxy not connected to this Pilot instance. It may be connected to another instance.)\n`,
    );
    const noAdmin = await runSkiff(['ps', 'istio-ingressgateway-1.istio-system', '--pilot-addr', pilotAddr]);
    assert.equal(noAdmin.code, 1);
    assert.match(noAdmin.stderr, /^Error: could not contact sidecar: .*--admin-address <host:port>.*\n$/);
    const port = await closedPort();
    const down = await runSkiff([
      'ps',
      'istio-ingressgateway-1.istio-system',
      '--pilot-addr',
      pilotAddr,
      '--admin-address',
      `127.0.0.1:${port}`,
    ]);
    assert.equal(down.code, 1);
    assert.equal(
      down.stderr,
      `Error: could not contact sidecar: failed to reach the proxy admin at 127.0.0.1:${port}: Get "http://127.0.0.1:${port}/config_dump": dial tcp 127.0.0.1:${port}: connect: connection refused\n`,
    );
  });
});

describe('skiff proxy-status errors', () => {
  it('fails with one line when the control plane is unreachable', async () => {
    const port = await closedPort();
    const run = await runSkiff(['proxy-status', '--pilot-addr', `127.0.0.1:${port}`]);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      `Error: failed to reach the control plane at 127.0.0.1:${port}: Get "http://127.0.0.1:${port}/debug/syncz": dial tcp 127.0.0.1:${port}: connect: connection refused\n`,
    );
  });

  it('refuses --file without a proxy and a malformed --pilot-addr (usage, exit 64)', async () => {
    const file = await runSkiff(['proxy-status', '--file', 'dump.json']);
    assert.equal(file.code, 64);
    assert.equal(file.stderr, 'Error: --file can only be used when pod-name is specified\n');
    const bad = await runSkiff(['proxy-status', '--pilot-addr', 'localhost']);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /^Error: invalid --pilot-addr "localhost": want <host>:<port>/);
  });

  it('prints only the header when no proxy is connected', async () => {
    const dir = tempDir('skiff-ps-empty-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    const pilot = await startPilot({ configDir: dir, grpcPort: 0, httpPort: 0, monitoringPort: 0, env: {} });
    try {
      const run = await runSkiff(['proxy-status', '--pilot-addr', `127.0.0.1:${pilot.httpPort}`]);
      assert.equal(run.code, 0);
      assert.equal(
        run.stdout,
        'NAME     CLUSTER     CDS     LDS     EDS     RDS     ECDS     ISTIOD     VERSION\n',
      );
    } finally {
      await pilot.close();
    }
  });
});
