import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startProxyRuntime } from '../src/lab/index.js';
import type { ProxyRuntime } from '../src/lab/index.js';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { AdsClient, discoveryResponseJson } from '../src/xds/index.js';
import { tempDir } from './helpers.js';
import { FIXTURE, eventually } from './xds-server-client.js';

const ISTIOD = 'istiod-8d74787f-6jlfq';
const POD = 'webapp-7685bcb84-n2452';

interface Reply {
  status: number;
  rawHeaders: string[];
  body: string;
}

function get(host: string, port: number, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
  });
}

/** Header names in the order they came on the wire, with their exact spelling. */
const headerNames = (r: Reply) => r.rawHeaders.filter((_, i) => i % 2 === 0);

/** A loopback address of our own, so the proxy's fixed ports (15000, 15004, ...) are free. */
function podAddress(): string {
  const n = 1 + Math.floor(Math.random() * 250);
  return `127.93.${process.pid % 250}.${n}`;
}

describe('the agent relays istio.io/debug/* on 15004 over its xDS stream', () => {
  let pilot: PilotHandle;
  let proxy: ProxyRuntime;
  const podIP = podAddress();

  before(async () => {
    const dir = tempDir('skiff-syncz-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 10,
      env: {},
      podName: ISTIOD,
    });
    proxy = await startProxyRuntime({
      type: 'sidecar',
      xdsAddress: pilot.grpcAddress,
      podIP,
      podName: POD,
      namespace: 'istioinaction',
      labels: { app: 'webapp' },
      log: () => undefined,
    });
    await proxy.firstConfig;
  });

  after(async () => {
    await proxy?.close();
    await pilot?.close();
  });

  it('answers /debug/syncz with the control plane DiscoveryResponse, as pilot-agent prints it', async () => {
    const r = await get(podIP, 15004, '/debug/syncz');
    assert.equal(r.status, 200, r.body);
    // Go's net/http: the handler's Content-Type first, then Date and Content-Length; no Connection.
    assert.deepEqual(headerNames(r).slice(0, 2), ['Content-Type', 'Date']);
    assert.ok(!headerNames(r).some((h) => h.toLowerCase() === 'connection'));
    assert.equal(r.rawHeaders[1], 'application/json');
    assert.ok(r.body.startsWith('{\n  "versionInfo": "'), r.body.slice(0, 40));
    assert.ok(!r.body.endsWith('\n'));
    const doc = JSON.parse(r.body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc), ['versionInfo', 'resources', 'typeUrl', 'nonce', 'controlPlane']);
    assert.equal(doc['typeUrl'], 'istio.io/debug/syncz');
    const identifier = (doc['controlPlane'] as { identifier: string }).identifier;
    assert.equal((JSON.parse(identifier) as { ID: string }).ID, ISTIOD);
    const resources = doc['resources'] as Record<string, unknown>[];
    const mine = resources.find((c) => (c['node'] as { id?: string }).id === `${POD}.istioinaction`);
    assert.ok(mine, JSON.stringify(resources));
    assert.deepEqual(Object.keys(mine), ['@type', 'node', 'genericXdsConfigs']);
    assert.equal(mine['@type'], 'type.googleapis.com/envoy.service.status.v3.ClientConfig');
    assert.deepEqual(mine['node'], { id: `${POD}.istioinaction`, metadata: { CLUSTER_ID: 'Kubernetes' } });
    const configs = mine['genericXdsConfigs'] as { typeUrl: string; configStatus: string }[];
    assert.deepEqual(
      configs.map((c) => c.typeUrl.split('.').pop()),
      ['Listener', 'RouteConfiguration', 'ClusterLoadAssignment', 'Cluster', 'TypedExtensionConfig'],
    );
    assert.equal(configs[3]?.configStatus, 'SYNCED');
    assert.equal(configs[4]?.configStatus, 'NOT_SENT');
  });

  it('answers a path outside /debug with Go mux 404 and other ports keep working', async () => {
    const r = await get(podIP, 15004, '/stats');
    assert.equal(r.status, 404);
    assert.equal(r.body, '404 page not found\n');
    assert.deepEqual(headerNames(r), ['Content-Type', 'X-Content-Type-Options', 'Date', 'Content-Length']);
  });

  it('serves 15020 /healthz/ready with only Date and Content-Length, as Go does', async () => {
    const r = await get(podIP, 15020, '/healthz/ready');
    assert.equal(r.status, 200);
    assert.deepEqual(headerNames(r), ['Date', 'Content-Length']);
    assert.equal(r.rawHeaders[3], '0');
    assert.match(r.rawHeaders[1] ?? '', /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
  });

  it('records envoy_server_initialization_time_ms once the first config is applied', async () => {
    const r = await get(podIP, 15020, '/stats/prometheus');
    assert.equal(r.status, 200);
    assert.match(r.body, /^# TYPE envoy_server_initialization_time_ms histogram$/m);
    assert.match(r.body, /^envoy_server_initialization_time_ms_count\{\} 1$/m);
    assert.match(r.body, /^envoy_server_initialization_time_ms_bucket\{le="\+Inf"\} 1$/m);
    const stats = await get(podIP, 15090, '/stats/prometheus');
    assert.match(stats.body, /^envoy_server_initialization_time_ms_count\{\} 1$/m);
  });

  it('gives undefined for a debug type the control plane does not answer, within the timeout', async () => {
    // istiod's StatusGen answers config_dump only for a connected proxy ID, and says nothing otherwise.
    const t0 = Date.now();
    const res = await proxy.client.debugRequest('istio.io/debug/config_dump', {
      timeoutMs: 300,
      resourceNames: ['nope.nowhere'],
    });
    assert.equal(res, undefined);
    assert.ok(Date.now() - t0 >= 250);
    // The stream still works: syncz answers right after.
    const again = await proxy.client.debugRequest('istio.io/debug/syncz');
    assert.equal(again?.type_url, 'istio.io/debug/syncz');
    assert.ok(Array.isArray(discoveryResponseJson(again ?? {})['resources']));
  });

  it('a client that is not connected refuses with the agent text', async () => {
    const client = new AdsClient({ target: pilot.grpcAddress, node: { id: 'sidecar~1.1.1.1~x.y~y.svc' } });
    await assert.rejects(
      client.debugRequest('istio.io/debug/syncz'),
      /^Error: proxy not connected to Istiod$/,
    );
    client.close();
  });
});

describe('15004 without a control plane', () => {
  it('answers 503 saying the proxy is not connected, once the stream is gone', async () => {
    const dir = tempDir('skiff-syncz-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    const pilot = await startPilot({ configDir: dir, grpcPort: 0, httpPort: 0, monitoringPort: 0, env: {} });
    const podIP = podAddress();
    const proxy = await startProxyRuntime({
      type: 'router',
      xdsAddress: pilot.grpcAddress,
      podIP,
      podName: 'istio-ingressgateway-6bb8fb6549-2mlk2',
      namespace: 'istio-system',
      labels: { istio: 'ingressgateway' },
      log: () => undefined,
    });
    try {
      await eventually(() => proxy.client.connected);
      await pilot.close();
      assert.ok(await eventually(() => !proxy.client.connected));
      const r = await get(podIP, 15004, '/debug/syncz');
      assert.equal(r.status, 503);
      assert.equal(r.body, 'proxy not connected to Istiod\n');
      assert.deepEqual(headerNames(r), ['Date', 'Content-Length', 'Content-Type']);
    } finally {
      await proxy.close();
      await pilot.close().catch(() => undefined);
    }
  });
});
