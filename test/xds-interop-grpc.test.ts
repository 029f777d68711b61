/**
 * Interop with a real proxyless gRPC client: `@grpc/grpc-js-xds` (in a child process, its bootstrap being
 * process-global) resolves `xds:///echo.default.svc.cluster.local:7070` through skiff pilot, which serves it
 * with the gRPC generator; two real gRPC servers on loopback are the service's v1 and v2 endpoints.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import '@grpc/proto-loader';
import type { Root } from 'protobufjs';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import {
  XDS_TYPE,
  generateGrpcResources,
  generateProxyResources,
  isGrpcProxy,
  proxyFromNode,
  withGrpcGenerator,
  buildPushContext,
} from '../src/xds/index.js';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { tempDir } from './helpers.js';
import { startEchoServer } from './grpc-echo.js';
import type { EchoServer } from './grpc-echo.js';
import type { BatchResult, CallBatch } from './xds-interop-grpc-client.js';
import { TestStream, eventually, node } from './xds-server-client.js';

const require = createRequire(import.meta.url);
const HOST = 'echo.default.svc.cluster.local';
const TARGET = `xds:///${HOST}:7070`;
const CLIENT_NODE_ID = 'sidecar~127.0.0.1~grpc-client.default~default.svc.cluster.local';

function baseConfig(v1Port: number, v2Port: number): string {
  const pod = (version: string, port: number) => `
apiVersion: v1
kind: Pod
metadata:
  name: echo-${version}
  namespace: default
  labels: {app: echo, version: ${version}}
spec:
  containers:
    - name: echo
      image: skiff/echo
      ports: [{name: grpc, containerPort: ${port}}]
status:
  phase: Running
  podIP: 127.0.0.1
  conditions: [{type: Ready, status: 'True'}]
`;
  return `
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 7070, targetPort: grpc}]
---
${pod('v1', v1Port)}
---
${pod('v2', v2Port)}
`;
}

function destinationRule(extra = ''): string {
  return `
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: ${HOST}
${extra}  subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v2}}
`;
}

/** Header `x-variant: v2` → v2 without timeout; everything else split v1/v2 with a 300 ms timeout. */
function virtualService(v1Weight: number, v2Weight: number): string {
  return `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [${HOST}]
  http:
    - match: [{headers: {x-variant: {exact: v2}}}]
      route: [{destination: {host: ${HOST}, subset: v2}}]
    - timeout: 0.3s
      route:
        - {destination: {host: ${HOST}, subset: v1}, weight: ${v1Weight}}
        - {destination: {host: ${HOST}, subset: v2}, weight: ${v2Weight}}
`;
}

function bootstrap(grpcAddress: string): string {
  return JSON.stringify({
    xds_servers: [
      { server_uri: grpcAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: {
      id: CLIENT_NODE_ID,
      locality: {},
      metadata: {
        GENERATOR: 'grpc',
        NAMESPACE: 'default',
        ISTIO_VERSION: '1.17.8',
        CLUSTER_ID: 'Kubernetes',
        PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
      },
    },
  });
}

class GrpcClientProcess {
  private readonly child: ChildProcess;
  private nextId = 0;
  private readonly pending = new Map<number, (r: BatchResult) => void>();
  readonly ready: Promise<void>;
  stderr = '';

  constructor(grpcAddress: string) {
    this.child = fork(join(import.meta.dirname, 'xds-interop-grpc-client.js'), [], {
      env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: bootstrap(grpcAddress), GRPC_XDS_BOOTSTRAP: '' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.ready = new Promise((resolve) => {
      this.child.on('message', (m: BatchResult | { ready: true }) => {
        if ('ready' in m) return resolve();
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      });
    });
  }

  call(batch: Omit<CallBatch, 'id' | 'target'> & { target?: string }): Promise<BatchResult> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ target: TARGET, ...batch, id });
    });
  }

  close(): void {
    if (this.child.connected) this.child.send('exit');
    setTimeout(() => this.child.kill(), 1000).unref();
  }
}

function clientConfigType() {
  const { loadProtosWithOptionsSync } = require('@grpc/proto-loader/build/src/util') as {
    loadProtosWithOptionsSync(files: string[], options: { keepCase: boolean; includeDirs: string[] }): Root;
  };
  const deps = join(require.resolve('@grpc/grpc-js-xds/package.json'), '..', 'deps');
  const root = loadProtosWithOptionsSync(['envoy/service/status/v3/csds.proto'], {
    keepCase: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)),
  });
  return root.lookupType('envoy.service.status.v3.ClientConfig');
}

/** What `istioctl proxy-status` reads: the CSDS status per type of one proxy, over the debug xDS type. */
async function proxyStatus(address: string, proxyName: string): Promise<Record<string, string>> {
  const debug = new TestStream(address);
  try {
    debug.send({ node: node('debug~0.0.0.0~istioctl~cluster.local'), type_url: 'istio.io/debug/syncz' });
    const r = await debug.next();
    const T = clientConfigType();
    for (const any of (r.resources ?? []) as unknown as { value: Buffer }[]) {
      const cc = T.toObject(T.decode(any.value), { enums: String }) as {
        node: { id: string };
        generic_xds_configs: { type_url: string; config_status?: string }[];
      };
      if (cc.node.id !== proxyName) continue;
      return Object.fromEntries(
        cc.generic_xds_configs.map((g) => [g.type_url.split('.').at(-1) ?? '', g.config_status ?? '']),
      );
    }
    return {};
  } finally {
    debug.close();
  }
}

async function metric(port: number, series: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('the gRPC generator', () => {
  const snapshot = (yaml: string) => new ConfigSnapshot(parseManifests(yaml, 'test.yaml').resources);
  const grpcProxy = proxyFromNode(CLIENT_NODE_ID, { GENERATOR: 'grpc', NAMESPACE: 'default' });

  it('recognises proxyless clients by GENERATOR: grpc only', () => {
    assert.equal(isGrpcProxy(grpcProxy), true);
    assert.equal(isGrpcProxy(proxyFromNode(CLIENT_NODE_ID, { NAMESPACE: 'default' })), false);
    assert.equal(isGrpcProxy(proxyFromNode(CLIENT_NODE_ID, { GENERATOR: 'grpc-x' })), false);
  });

  it('answers requested listener names, resolving short names only in the own namespace', () => {
    const push = buildPushContext(snapshot(baseConfig(1, 2) + '---' + destinationRule()));
    const r = generateGrpcResources(push, grpcProxy, {
      listeners: ['echo:7070', `${HOST}:7070`, 'echo.default:9999', 'echo.other:7070', 'nope:7070'],
    });
    assert.deepEqual(
      r.listeners.map((l) => l['name']),
      // grpcgen keeps requested ports per host, so `echo.default` gets the service's port 7070 too.
      ['echo:7070', 'echo.default:7070', `${HOST}:7070`],
    );
    const hcm = (r.listeners[0]?.['apiListener'] as { apiListener: Record<string, unknown> }).apiListener;
    assert.deepEqual(hcm['rds'], { configSource: { ads: {} }, routeConfigName: `outbound|7070||${HOST}` });
    assert.deepEqual(
      (hcm['httpFilters'] as { name: string }[]).map((f) => f.name),
      ['envoy.filters.http.fault', 'envoy.filters.http.router'],
    );
    // A proxy in another namespace must use the FQDN.
    const other = proxyFromNode('sidecar~10.0.0.9~c.other~other.svc.cluster.local', { GENERATOR: 'grpc' });
    assert.deepEqual(
      generateGrpcResources(push, other, {
        listeners: ['echo:7070', 'echo.default:7070', `${HOST}:7070`],
      }).listeners.map((l) => l['name']),
      [`${HOST}:7070`],
    );
  });

  it('builds plain EDS clusters per subset, a MAGLEV hash as such, and routes without a catch-all', () => {
    const push = buildPushContext(
      snapshot(
        `${baseConfig(1, 2)}---${destinationRule('  trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 65537}}}}\n')}---${virtualService(20, 80)}`,
      ),
    );
    const r = generateGrpcResources(push, grpcProxy);
    assert.deepEqual(
      r.clusters.map((c) => c['name']),
      ['', 'v1', 'v2'].map((s) => `outbound|7070|${s}|${HOST}`),
    );
    assert.deepEqual(r.clusters[1], {
      name: `outbound|7070|v1|${HOST}`,
      type: 'EDS',
      edsClusterConfig: { edsConfig: { ads: {} }, serviceName: `outbound|7070|v1|${HOST}` },
      lbPolicy: 'MAGLEV',
      maglevLbConfig: { tableSize: '65537' },
    });
    const route = r.routes.find((x) => x['name'] === `outbound|7070||${HOST}`);
    const vhosts = route?.['virtualHosts'] as { name: string; domains: string[]; routes: unknown[] }[];
    assert.deepEqual(
      vhosts.map((v) => v.name),
      [`${HOST}:7070`],
    );
    assert.ok(vhosts[0]?.domains.includes(`${HOST}:7070`), 'gRPC matches the authority with its port');
    assert.equal(route?.['ignorePortInHostMatching'], undefined);
    assert.match(JSON.stringify(route), /"maxStreamDuration":\{"maxStreamDuration":"0.300s"\}/);
    // A plain sidecar gets Envoy's config instead.
    const envoy = withGrpcGenerator(generateProxyResources)(
      push,
      proxyFromNode(CLIENT_NODE_ID, { NAMESPACE: 'default' }),
    );
    assert.ok(!envoy.clusters.some((c) => c['lbPolicy'] === 'MAGLEV' && !('connectTimeout' in c)));
  });
});

describe('interop with @grpc/grpc-js-xds', () => {
  let dir: string;
  let pilot: PilotHandle;
  let v1: EchoServer;
  let v2: EchoServer;
  let client: GrpcClientProcess;

  const write = (file: string, text: string) => writeFileSync(join(dir, file), text);
  const connection = () => pilot.server.findConnection('grpc-client.default');

  before(async () => {
    [v1, v2] = await Promise.all([startEchoServer('v1'), startEchoServer('v2')]);
    dir = tempDir('skiff-grpc-interop-');
    write('base.yaml', baseConfig(v1.port, v2.port));
    write('dr.yaml', destinationRule());
    write('vs.yaml', virtualService(20, 80));
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 50,
      debounceMaxMs: 1000,
      env: {},
      generator: withGrpcGenerator(generateProxyResources),
    });
    client = new GrpcClientProcess(pilot.grpcAddress);
    await client.ready;
  });

  after(async () => {
    client?.close();
    await pilot?.close();
    await Promise.all([v1?.close(), v2?.close()]);
  });

  it('splits 1,000 RPCs 20/80 between the subsets, and the proxy is SYNCED on every type', async () => {
    const r = await client.call({ count: 1000, concurrency: 20 });
    assert.deepEqual(r.errors, {}, `${r.lastError ?? ''} ${client.stderr}`);
    const n1 = r.backends['v1'] ?? 0;
    const n2 = r.backends['v2'] ?? 0;
    assert.equal(n1 + n2, 1000);
    // Binomial(1000, 0.2): sd ≈ 12.6; ±60 is almost five standard deviations.
    assert.ok(Math.abs(n1 - 200) <= 60, `v1 got ${n1}, v2 got ${n2}`);
    const con = connection();
    assert.ok(con, 'the gRPC client is connected as grpc-client.default');
    assert.deepEqual(
      [...con.watches.get(XDS_TYPE.listener)!.names],
      [`${HOST}:7070`],
      'gRPC names its listener after the target',
    );
    assert.deepEqual([...con.watches.get(XDS_TYPE.route)!.names], [`outbound|7070||${HOST}`]);
    for (const t of [XDS_TYPE.listener, XDS_TYPE.route, XDS_TYPE.cluster, XDS_TYPE.endpoint]) {
      assert.equal(pilot.server.statusOf(con, t), 'SYNCED', t);
    }
  });

  it('routes on a header match, without the default route timeout', async () => {
    const r = await client.call({
      count: 20,
      concurrency: 10,
      metadata: { 'x-variant': 'v2' },
      delayMs: 400,
    });
    assert.deepEqual(r.errors, {}, r.lastError);
    assert.deepEqual(r.backends, { v2: 20 });
  });

  it('applies the route timeout (300 ms) as the call deadline', async () => {
    const slow = await client.call({ count: 3, delayMs: 1500, deadlineMs: 10_000 });
    assert.deepEqual(slow.backends, {});
    assert.deepEqual(slow.errors, { '4': 3 }, 'DEADLINE_EXCEEDED');
    assert.ok(slow.maxMs < 1200, `gave up after ${slow.maxMs} ms`);
    const fast = await client.call({ count: 3, delayMs: 50 });
    assert.deepEqual(fast.errors, {});
  });

  it('delivers a VirtualService change to the running client', async () => {
    write('vs.yaml', virtualService(100, 0));
    const t0 = Date.now();
    const moved = await eventually(async () => {
      const r = await client.call({ count: 20, concurrency: 4 });
      return r.backends['v1'] === 20 ? r : undefined;
    }, 8000);
    assert.ok(moved, 'all traffic moved to v1');
    assert.ok(Date.now() - t0 < 8000);
  });

  it('shows a config the client rejects as ERROR, counts it, and the client keeps its last good config', async () => {
    const before = await metric(pilot.monitoringPort, 'pilot_total_xds_rejects{type="cds"}');
    // grpc-js accepts only ROUND_ROBIN and RING_HASH: a maglev hash policy is NACKed.
    write('dr.yaml', destinationRule('  trafficPolicy: {loadBalancer: {consistentHash: {maglev: {}}}}\n'));
    const con = connection();
    assert.ok(con);
    assert.ok(
      await eventually(() => pilot.server.statusOf(con, XDS_TYPE.cluster) === 'ERROR', 8000),
      'CDS is ERROR after the NACK',
    );
    const w = con.watches.get(XDS_TYPE.cluster)!;
    assert.match(w.lastError, /MAGLEV/);
    assert.equal((await proxyStatus(pilot.grpcAddress, 'grpc-client.default'))['Cluster'], 'ERROR');
    const syncz = (await (await fetch(`http://127.0.0.1:${pilot.httpPort}/debug/syncz`)).json()) as {
      proxy: string;
      cluster_sent: string;
      cluster_acked: string;
    }[];
    const row = syncz.find((s) => s.proxy === 'grpc-client.default');
    assert.ok(row && row.cluster_sent !== row.cluster_acked, 'the rejected CDS nonce is not acked');
    assert.ok((await metric(pilot.monitoringPort, 'pilot_total_xds_rejects{type="cds"}')) > before);
    const r = await client.call({ count: 20, concurrency: 4 });
    assert.deepEqual(r.errors, {}, r.lastError);
    assert.equal(r.backends['v1'], 20, 'still routed by the last accepted config');

    write('dr.yaml', destinationRule());
    assert.ok(
      await eventually(() => pilot.server.statusOf(con, XDS_TYPE.cluster) === 'SYNCED', 8000),
      'a good config is ACKed again',
    );
    assert.equal((await proxyStatus(pilot.grpcAddress, 'grpc-client.default'))['Cluster'], 'SYNCED');
  });
});
