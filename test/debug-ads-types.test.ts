import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { tempDir } from './helpers.js';
import { CATALOG_NODE, CDS, FIXTURE, TestStream, node } from './xds-server-client.js';
import type { Response } from './xds-server-client.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';
const DEBUG_NODE = node('debug~0.0.0.0~istioctl~cluster.local');
const CATALOG_ID = 'catalog-v1.istioinaction';

type AnyPlain = { type_url: string; value: Buffer };

function anys(r: Response): AnyPlain[] {
  return (r.resources ?? []) as unknown as AnyPlain[];
}

function identifier(r: Response): unknown {
  const cp = (r as unknown as { control_plane?: { identifier?: string } }).control_plane;
  assert.ok(cp?.identifier, 'every response names the control plane');
  return JSON.parse(cp.identifier);
}

describe('ADS debug types as istiod 1.17 answers them (statusgen.go, debuggen.go)', () => {
  let pilot: PilotHandle;
  let sidecar: TestStream;
  const streams: TestStream[] = [];

  const open = (): TestStream => {
    const s = new TestStream(pilot.grpcAddress);
    streams.push(s);
    return s;
  };

  before(async () => {
    const dir = tempDir('skiff-debug-ads-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      securePort: false,
      env: { POD_NAME: 'istiod-8d74787f-6jlfq' },
    });
    sidecar = open();
    sidecar.send({ node: CATALOG_NODE, type_url: CDS });
    sidecar.ack(await sidecar.next());
  });
  after(async () => {
    for (const s of streams) s.close();
    await pilot.close();
  });

  it('names the control plane as istiod does: Component, ID, then Info with the build fields in order', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug/syncz' });
    const id = identifier(await s.next()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(id), ['Component', 'ID', 'Info']);
    assert.equal(id['Component'], 'istiod');
    assert.equal(id['ID'], 'istiod-8d74787f-6jlfq');
    const info = id['Info'] as Record<string, unknown>;
    assert.deepEqual(Object.keys(info), ['version', 'revision', 'golang_version', 'status', 'tag']);
    assert.equal(info['version'], '1.17.8');
    assert.equal(info['status'], 'Clean');
    assert.equal(info['tag'], '1.17.8');
    // The same build info istiod's /version prints (BuildInfo.String()).
    const version = await fetch(`http://127.0.0.1:${pilot.monitoringPort}/version`);
    assert.equal(
      await version.text(),
      `${String(info['version'])}-${String(info['revision'])}-${String(info['golang_version'])}-Clean-1.17.8`,
    );
    // Config responses carry it too.
    const cds = open();
    cds.send({ node: CATALOG_NODE, type_url: CDS });
    assert.deepEqual(identifier(await cds.next()), id);
  });

  it('istio.io/debug/syncz: one CSDS ClientConfig per proxy, the request type echoed', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug/syncz' });
    const r = await s.next();
    assert.equal(r.type_url, 'istio.io/debug/syncz');
    assert.ok(r.version_info);
    assert.deepEqual(
      anys(r).map((a) => a.type_url),
      [],
      'CATALOG_NODE sends no PROXY_CONFIG, so istiod does not count it as a proxy',
    );
    const proxy = open();
    proxy.send({
      node: node('sidecar~10.10.0.16~catalog-v2.istioinaction~istioinaction.svc.cluster.local', {
        NAMESPACE: 'istioinaction',
        CLUSTER_ID: 'Kubernetes',
        PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
      }),
      type_url: CDS,
    });
    proxy.ack(await proxy.next());
    s.send({ type_url: 'istio.io/debug/syncz' });
    const again = await s.next();
    assert.deepEqual(
      anys(again).map((a) => a.type_url),
      ['type.googleapis.com/envoy.service.status.v3.ClientConfig'],
    );
    assert.ok(anys(again)[0]?.value.includes(Buffer.from('catalog-v2.istioinaction')));
  });

  it('istio.io/debug/config_dump?<proxyID>: the config dump sections as unnamed Anys', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug/config_dump', resource_names: [CATALOG_ID] });
    const r = await s.next();
    assert.equal(r.type_url, 'istio.io/debug/config_dump');
    assert.deepEqual(
      anys(r).map((a) => a.type_url.replace(ADMIN, '')),
      [
        'BootstrapConfigDump',
        'ClustersConfigDump',
        'ListenersConfigDump',
        'ScopedRoutesConfigDump',
        'RoutesConfigDump',
        'SecretsConfigDump',
        'EcdsConfigDump',
      ],
    );
    const clusters = anys(r)[1]?.value ?? Buffer.alloc(0);
    assert.ok(clusters.includes(Buffer.from('outbound|80||catalog.istioinaction.svc.cluster.local')));
    assert.ok(clusters.includes(Buffer.from('type.googleapis.com/envoy.config.cluster.v3.Cluster')));
    // The sidecar watches CDS only, so istiod dumps no listeners for it.
    assert.equal(anys(r)[2]?.value.includes(Buffer.from('virtualOutbound')), false);
  });

  it('config_dump without exactly one name is an empty answer; an unknown proxy gets none at all', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug/config_dump' });
    const empty = await s.next();
    assert.equal(empty.type_url, 'istio.io/debug/config_dump');
    assert.deepEqual(empty.resources ?? [], []);
    s.send({ type_url: 'istio.io/debug/config_dump', resource_names: ['nope.nowhere'] });
    assert.equal(await s.maybeNext(400), undefined);
    // The stream stays usable.
    s.send({ type_url: 'istio.io/debug/syncz' });
    assert.equal((await s.next()).type_url, 'istio.io/debug/syncz');
  });

  it('any other istio.io/debug/<x> reaches StatusGen, which answers with no resources', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug/adsz' });
    const r = await s.next();
    assert.equal(r.type_url, 'istio.io/debug/adsz');
    assert.deepEqual(r.resources ?? [], []);
    assert.ok(r.nonce);
    assert.equal((identifier(r) as Record<string, unknown>)['Component'], 'istiod');
  });

  it('istio.io/debug runs /debug/<name> in process: one resource of type istio.io/debug with the body', async () => {
    const s = open();
    s.send({ node: DEBUG_NODE, type_url: 'istio.io/debug', resource_names: ['syncz'] });
    const r = await s.next();
    assert.equal(r.type_url, 'istio.io/debug');
    assert.equal(anys(r).length, 1);
    assert.equal(anys(r)[0]?.type_url, 'istio.io/debug');
    const rows = JSON.parse(anys(r)[0]?.value.toString('utf8') ?? '') as Record<string, string>[];
    const http = (await (await fetch(`http://127.0.0.1:${pilot.httpPort}/debug/syncz`)).json()) as unknown[];
    assert.equal(rows.length, http.length);
    assert.ok(rows.some((row) => row['proxy'] === CATALOG_ID && row['cluster_acked']));

    s.send({ type_url: 'istio.io/debug', resource_names: [`config_dump?proxyID=${CATALOG_ID}`] });
    const dump = JSON.parse(anys(await s.next())[0]?.value.toString('utf8') ?? '') as {
      configs: Record<string, unknown>[];
    };
    assert.equal(dump.configs[1]?.['@type'], `${ADMIN}ClustersConfigDump`);

    s.send({ type_url: 'istio.io/debug', resource_names: ['nosuch'] });
    const missing = await s.next();
    assert.equal(anys(missing)[0]?.value.toString('utf8'), '404 page not found\n');
    s.send({ type_url: 'istio.io/debug', resource_names: ['config_dump'] });
    assert.equal(
      anys(await s.next())[0]?.value.toString('utf8'),
      'You must provide a proxyID in the query string\n',
      'the handler body only: istiod never records the status code',
    );
  });

  it('istio.io/debug from outside istio-system: config_dump allowed, anything else ends the stream', async () => {
    const s = open();
    const sleep = node('sidecar~10.10.0.20~sleep-1.istioinaction~istioinaction.svc.cluster.local', {
      NAMESPACE: 'istioinaction',
      SERVICE_ACCOUNT: 'sleep',
    });
    s.send({
      node: sleep,
      type_url: 'istio.io/debug',
      resource_names: [`config_dump?proxyID=${CATALOG_ID}`],
    });
    assert.match(anys(await s.next())[0]?.value.toString('utf8') ?? '', /^\{"configs":\[/);
    s.send({ type_url: 'istio.io/debug', resource_names: ['syncz'] });
    const status = await s.ended;
    assert.equal(status.code, 2, 'gRPC Unknown, as grpc-go sends a plain error');
    assert.equal(
      status.details,
      'the debug info is not available for current identity: "spiffe://cluster.local/ns/istioinaction/sa/sleep"',
    );
  });

  it('istio.io/debug without a name, or with two, ends the stream with istiod error text', async () => {
    const none = open();
    none.send({ node: DEBUG_NODE, type_url: 'istio.io/debug' });
    assert.equal((await none.ended).details, 'debug type is required');
    const two = open();
    two.send({ node: DEBUG_NODE, type_url: 'istio.io/debug', resource_names: ['syncz', 'adsz'] });
    assert.equal((await two.ended).details, 'only one debug request is allowed');
    // Other connections are untouched.
    sidecar.send({ type_url: 'istio.io/debug/syncz' });
    assert.equal((await sidecar.next()).type_url, 'istio.io/debug/syncz');
  });
});
