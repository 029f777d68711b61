/**
 * `skiff x metrics controlplane` against a real control plane started in the test: connected proxies,
 * config churn during the scrape window, and each error signal made to move — a proxy that NACKs CDS
 * (pilot_total_xds_rejects{type="cds"} and the CDS reject gauge), a client that never opens its HTTP/2
 * receive window (pilot_xds_write_timeout), a push context that fails to build
 * (pilot_xds_push_context_errors) and a generator that throws (pilot_total_xds_internal_errors).
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import type { ClientHttp2Session } from 'node:http2';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { goldenSignals, parseExposition, runCli } from '../src/cli/index.js';
import type { CommandIO, GoldenSignals } from '../src/cli/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { AdsServer, XdsMetrics, buildPushContext, generateProxyResources } from '../src/xds/index.js';
import { tempDir } from './helpers.js';
import { SimulatedProxy } from './pilot-fixtures.js';
import { CDS, FIXTURE, TestStream, eventually, node, sleep } from './xds-server-client.js';

const VS = (timeout: string) => `
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog
  namespace: istioinaction
spec:
  hosts: [catalog.istioinaction.io]
  gateways: [catalog-gateway]
  http:
    - timeout: ${timeout}
      route: [{destination: {host: catalog.istioinaction.svc.cluster.local, port: {number: 80}}}]
`;

function captureIO(): { io: CommandIO; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: (t) => void (out += t),
      stderr: (t) => void (err += t),
      stdoutIsTTY: false,
      stdinIsTTY: false,
      readStdin: () => Promise.resolve(Buffer.alloc(0)),
      env: {},
    },
    out: () => out,
    err: () => err,
  };
}

// Protobuf by hand for the raw HTTP/2 client: DiscoveryRequest{node: Node{id}, type_url}.
function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}
function field(num: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((num << 3) | 2), varint(payload.length), payload]);
}
function grpcFrame(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/**
 * A client that asks for CDS but advertises a zero-byte HTTP/2 receive window, so the server can send
 * headers but never the response: its write cannot finish.
 */
function stuckClient(address: string): ClientHttp2Session {
  const session = connect(`http://${address}`, { settings: { initialWindowSize: 0 } });
  session.on('error', () => undefined);
  const stream = session.request({
    ':method': 'POST',
    ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => undefined);
  const nodeMsg = field(
    1,
    Buffer.from('sidecar~10.10.0.99~stuck.istioinaction~istioinaction.svc.cluster.local'),
  );
  stream.write(grpcFrame(Buffer.concat([field(2, nodeMsg), field(4, Buffer.from(CDS))])));
  return session;
}

function errorTotal(s: GoldenSignals, metric: string, type?: string): number {
  return s.errors.find((e) => e.metric === metric && e.type === type)?.total ?? NaN;
}

describe('x metrics controlplane on a live pilot', { timeout: 60_000 }, () => {
  let pilot: PilotHandle;
  let dir = '';
  const proxies: SimulatedProxy[] = [];
  const streams: TestStream[] = [];
  let stuck: ClientHttp2Session | undefined;

  before(async () => {
    dir = tempDir('skiff-signals-');
    writeFileSync(
      join(dir, 'base.yaml'),
      FIXTURE.split('\n---\n')
        .filter((d) => !d.includes('kind: VirtualService'))
        .join('\n---\n'),
    );
    writeFileSync(join(dir, 'vs.yaml'), VS('1s'));
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 20,
      env: { PILOT_XDS_SEND_TIMEOUT: '300ms' },
    });
    proxies.push(
      SimulatedProxy.router(pilot.grpcAddress, {
        ip: '10.10.0.101',
        podName: 'istio-ingressgateway-1',
        namespace: 'istio-system',
        labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
        istioVersion: '1.17.8',
      }),
      SimulatedProxy.sidecar(pilot.grpcAddress, {
        ip: '10.10.0.15',
        podName: 'catalog-v1',
        namespace: 'istioinaction',
        labels: { app: 'catalog', version: 'v1' },
        istioVersion: '1.17.8',
      }),
    );
    await Promise.all(proxies.map((p) => p.start()));
  });

  after(async () => {
    for (const s of streams) s.close();
    stuck?.destroy();
    for (const p of proxies) await p.close();
    await pilot?.close();
  });

  it('reports pushes, connected proxies and latency quantiles over the scrape window', async () => {
    const { io, out, err } = captureIO();
    const running = runCli(
      [
        'x',
        'metrics',
        'controlplane',
        '--address',
        `127.0.0.1:${pilot.monitoringPort}`,
        '--interval',
        '1500ms',
        '-o',
        'json',
      ],
      io,
    );
    // Config changes inside the window, so the rates and quantiles have something to show.
    await sleep(300);
    writeFileSync(join(dir, 'vs.yaml'), VS('2s'));
    await sleep(400);
    writeFileSync(join(dir, 'vs.yaml'), VS('3s'));
    assert.equal(await running, 0, err());
    const s = JSON.parse(out()) as GoldenSignals;
    assert.equal(s.mode, 'rate');
    assert.ok(s.seconds >= 1.4 && s.seconds < 5, `window ${s.seconds}`);
    const rate = Object.values(s.traffic.pushesPerSecond).reduce((a, b) => a + b, 0);
    assert.ok(rate > 0, `pushes/s ${JSON.stringify(s.traffic.pushesPerSecond)}`);
    assert.ok((s.traffic.pushesTotal['cds'] ?? 0) >= 2, 'both proxies got CDS at least once');
    assert.deepEqual(s.traffic.connectedProxies, [{ version: '1.17.8', count: 2 }]);
    const convergence = s.latency.find(
      (r) => r.metric === 'pilot_proxy_convergence_time' && r.type === undefined,
    );
    assert.ok(convergence && convergence.count > 0, 'proxies converged inside the window');
    const p99 = convergence.quantiles['p99'] ?? NaN;
    // Loopback convergence lands in the first bucket (≤ 0.1 s), where PromQL interpolates from 0.
    assert.ok(p99 > 0 && p99 <= 0.1, `p99 ${p99}`);
    assert.ok(
      s.traffic.configSize.some((r) => r.type?.startsWith('type.googleapis.com/') && r.count > 0),
      'config sizes per push, by type URL',
    );
    assert.ok((s.saturation.residentMemoryBytes ?? 0) > 10 * 1024 * 1024, 'a plausible RSS');
    assert.ok((s.saturation.cpuCores ?? -1) >= 0);
    for (const e of s.errors)
      assert.equal(e.total, 0, `${e.metric}${e.type ? `{${e.type}}` : ''} before any error`);
  });

  it('counts a NACK in Errors: pilot_total_xds_rejects{type="cds"} and the CDS reject gauge', async () => {
    const nack = new TestStream(pilot.grpcAddress);
    streams.push(nack);
    nack.send({
      node: node('sidecar~10.10.0.77~rejecter.istioinaction~istioinaction.svc.cluster.local', {
        NAMESPACE: 'istioinaction',
        ISTIO_VERSION: '1.17.8',
        CLUSTER_ID: 'Kubernetes',
      }),
      type_url: CDS,
    });
    const first = await nack.next();
    nack.send({
      type_url: CDS,
      response_nonce: first.nonce,
      error_detail: { code: 3, message: 'rejected for the test' },
    });
    const { io, out, err } = captureIO();
    let table = '';
    const ok = await eventually(async () => {
      const code = await runCli(
        ['x', 'metrics', 'controlplane', '--address', `127.0.0.1:${pilot.monitoringPort}`, '--once'],
        io,
      );
      assert.equal(code, 0, err());
      table = out();
      return /Config rejections \(NACKs\)\s+pilot_total_xds_rejects\s+cds\s+1\s/.test(table);
    }, 5000);
    assert.ok(ok, table);
    assert.match(table, /Rejected CDS configs\s+pilot_xds_cds_reject\s+cds\s+1/);
    assert.match(table, /Rejected LDS configs\s+pilot_xds_lds_reject\s+lds\s+0/);
    assert.match(table, /^LATENCY$/m);
    assert.match(table, /^TRAFFIC$/m);
    assert.match(table, /^ERRORS$/m);
    assert.match(table, /^SATURATION$/m);
    assert.match(table, /connected proxies\s+3\s/);
  });

  it('counts a write timeout for a client whose receive window never opens', async () => {
    stuck = stuckClient(pilot.grpcAddress);
    const url = `http://127.0.0.1:${pilot.monitoringPort}/metrics`;
    const moved = await eventually(async () => {
      const s = goldenSignals(parseExposition(await (await fetch(url)).text()), undefined, 0, 'test');
      return errorTotal(s, 'pilot_xds_write_timeout') >= 1;
    }, 5000);
    assert.ok(moved, 'pilot_xds_write_timeout moved');
  });
});

describe('push-context and internal errors in the golden signals', () => {
  const snapshot = new ConfigSnapshot(parseManifests(FIXTURE, 'fixture.yaml').resources);

  it('a push context that fails to build moves pilot_xds_push_context_errors', async () => {
    const metrics = new XdsMetrics({ processMetrics: false });
    let builds = 0;
    const server = new AdsServer({
      snapshot,
      debounceAfterMs: 5,
      debounceMaxMs: 50,
      metrics,
      buildPush: (snap, version) => {
        if (++builds > 1) throw new Error('push context failed for the test');
        return buildPushContext(snap, { version });
      },
    });
    try {
      const before = goldenSignals(parseExposition(await metrics.text()), undefined, 0, 'test');
      assert.equal(errorTotal(before, 'pilot_xds_push_context_errors'), 0);
      server.configUpdate({
        snapshot,
        endpointsOnly: false,
        configs: ['VirtualService/istioinaction/catalog'],
      });
      const moved = await eventually(async () => {
        const s = goldenSignals(parseExposition(await metrics.text()), undefined, 0, 'test');
        return errorTotal(s, 'pilot_xds_push_context_errors') === 1;
      }, 3000);
      assert.ok(moved, 'pilot_xds_push_context_errors moved');
    } finally {
      await server.close();
    }
  });

  it('a generator that throws moves pilot_total_xds_internal_errors', async () => {
    const metrics = new XdsMetrics({ processMetrics: false });
    const server = new AdsServer({
      snapshot,
      debounceAfterMs: 5,
      metrics,
      generator: (push, proxy) => {
        if (proxy.id.includes('broken')) throw new Error('generation failed for the test');
        return generateProxyResources(push, proxy);
      },
    });
    const port = await server.listen('127.0.0.1:0');
    const stream = new TestStream(`127.0.0.1:${port}`);
    try {
      stream.send({
        node: node('sidecar~10.10.0.66~broken.istioinaction~istioinaction.svc.cluster.local', {
          NAMESPACE: 'istioinaction',
          ISTIO_VERSION: '1.17.8',
        }),
        type_url: CDS,
      });
      const moved = await eventually(async () => {
        const s = goldenSignals(parseExposition(await metrics.text()), undefined, 0, 'test');
        return errorTotal(s, 'pilot_total_xds_internal_errors') >= 1;
      }, 3000);
      assert.ok(moved, 'pilot_total_xds_internal_errors moved');
    } finally {
      stream.close();
      await server.close();
    }
  });
});
