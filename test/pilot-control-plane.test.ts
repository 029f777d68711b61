import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseGoDuration, parseListenAddress, startPilot, tuningSettings } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { CLI, tempDir } from './helpers.js';
import {
  CATALOG_NODE,
  CDS,
  EDS,
  FIXTURE,
  GATEWAY_NODE,
  RDS,
  TestStream,
  decoded,
  eventually,
  names,
} from './xds-server-client.js';

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

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

describe('skiff pilot over a config directory', () => {
  let dir: string;
  let pilot: PilotHandle;
  const logs: string[] = [];
  const streams: TestStream[] = [];

  before(async () => {
    dir = tempDir('skiff-pilot-');
    mkdirSync(join(dir, 'nested'));
    const [base, vs] = splitVirtualService(FIXTURE);
    writeFileSync(join(dir, 'base.yaml'), base);
    writeFileSync(join(dir, 'nested', 'vs.yaml'), vs);
    pilot = await startPilot({
      configDir: dir,
      grpcPort: 0,
      httpPort: 0,
      monitoringPort: 0,
      debounceAfterMs: 50,
      debounceMaxMs: 1000,
      log: (line) => logs.push(line),
      env: {},
    });
  });
  after(async () => {
    for (const s of streams) s.close();
    await pilot.close();
  });

  it('binds loopback on ephemeral ports and reports them', async () => {
    assert.equal(pilot.host, '127.0.0.1');
    assert.ok(pilot.grpcPort > 0 && pilot.httpPort > 0 && pilot.monitoringPort > 0);
    assert.equal(pilot.grpcAddress, `127.0.0.1:${pilot.grpcPort}`);
    assert.equal((await get(pilot.httpPort, '/ready')).status, 200);
    assert.match((await get(pilot.monitoringPort, '/version')).body, /^1\.17\.8-/);
    assert.ok(
      logs.some((l) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\tinfo\tconfig\tLoaded 7 objects/.test(l)),
      logs.join(''),
    );
  });

  it('pushes a file change to a subscribed gateway', async () => {
    const s = new TestStream(pilot.grpcAddress);
    streams.push(s);
    s.send({ node: GATEWAY_NODE, type_url: RDS, resource_names: ['http.8080'] });
    const first = await s.next();
    assert.deepEqual(names(first), ['http.8080']);
    assert.doesNotMatch(JSON.stringify(decoded(first)), /"timeout":"3s"/);
    s.ack(first, ['http.8080']);
    writeFileSync(join(dir, 'nested', 'vs.yaml'), VS_WITH_TIMEOUT);
    // How fast is measured by `npm run bench`; here only that the change arrives.
    const pushed = await s.next(15000);
    assert.equal(pushed.type_url, RDS);
    assert.match(JSON.stringify(decoded(pushed)), /"timeout":"3s"/);
    s.ack(pushed, ['http.8080']);
    assert.ok(
      logs.some((l) =>
        /\tinfo\tads\tPush debounce stable\[\d+\] \d+ for config VirtualService\/istioinaction\/catalog/.test(
          l,
        ),
      ),
    );
    assert.ok(
      logs.some((l) => /\tinfo\tads\tXDS: Pushing:\S+ Services:2 ConnectedEndpoints:\d+ Version:/.test(l)),
    );
    assert.ok(
      logs.some((l) =>
        /\tinfo\tads\tRDS: PUSH for node:istio-ingressgateway-1\.istio-system resources:1 size:/.test(l),
      ),
    );
  });

  it('keeps the last good config when a file becomes invalid, and logs file:line', async () => {
    const s = new TestStream(pilot.grpcAddress);
    streams.push(s);
    s.send({ node: CATALOG_NODE, type_url: CDS });
    const cds = await s.next();
    s.ack(cds);
    const objects = pilot.source.snapshot().resources.length;
    const reloads = (pilot.source as unknown as { reloads: number }).reloads;
    writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n');
    await eventually(() => (pilot.source as unknown as { reloads: number }).reloads > reloads);
    assert.equal(pilot.source.snapshot().resources.length, objects);
    assert.ok(
      logs.some((l) =>
        /\twarn\tconfig\tInvalid config \S*broken\.yaml:\d+: .*keeping the last good config/.test(l),
      ),
      logs.filter((l) => l.includes('broken')).join(''),
    );
    assert.equal(await s.maybeNext(300), undefined, 'nothing is pushed');
    // Fixing the file lets changes through again.
    writeFileSync(
      join(dir, 'broken.yaml'),
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: istioinaction\nspec:\n  ports:\n    - name: http\n      port: 9080\n',
    );
    const next = await s.next(5000);
    assert.equal(next.type_url, CDS);
    assert.ok(names(next).includes('outbound|9080||reviews.istioinaction.svc.cluster.local'));
    s.ack(next);
  });

  it('serves /debug/syncz, /debug/adsz, push and config_dump', async () => {
    const s = new TestStream(pilot.grpcAddress);
    streams.push(s);
    s.send({ node: GATEWAY_NODE, type_url: CDS });
    s.ack(await s.next());
    s.send({ type_url: EDS, resource_names: ['outbound|80||catalog.istioinaction.svc.cluster.local'] });
    const eds = await s.next();
    await eventually(async () => {
      const rows = JSON.parse((await get(pilot.httpPort, '/debug/syncz')).body) as Record<string, string>[];
      return rows.some((r) => r['proxy'] === 'istio-ingressgateway-1.istio-system' && r['cluster_acked']);
    });
    const syncz = await get(pilot.httpPort, '/debug/syncz');
    assert.equal(syncz.type, 'application/json');
    const rows = JSON.parse(syncz.body) as Record<string, string>[];
    const gw = rows.filter((r) => r['proxy'] === 'istio-ingressgateway-1.istio-system').at(-1);
    assert.ok(gw);
    assert.equal(gw['cluster_id'], 'Kubernetes');
    assert.equal(gw['istio_version'], '1.17.8');
    assert.equal(gw['cluster_sent'], gw['cluster_acked']);
    assert.equal(gw['endpoint_sent'], eds.nonce);
    assert.equal(gw['endpoint_acked'], undefined, 'EDS not acked yet');
    assert.deepEqual(
      Object.keys(gw).filter(
        (k) => !/^(cluster_id|proxy|istio_version|(cluster|listener|route|endpoint)_(sent|acked))$/.test(k),
      ),
      [],
    );

    const adsz = JSON.parse((await get(pilot.httpPort, '/debug/adsz')).body) as {
      totalClients: number;
      clients: {
        connectionId: string;
        watches: Record<string, string[]>;
        metadata: Record<string, unknown>;
      }[];
    };
    assert.equal(adsz.totalClients, pilot.server.connections().length);
    const client = adsz.clients.find(
      (c) =>
        c.connectionId.startsWith('istio-ingressgateway-1.istio-system-') && c.watches[EDS] !== undefined,
    );
    assert.ok(client);
    assert.deepEqual(client.watches[CDS], []);
    assert.deepEqual(client.watches[EDS], ['outbound|80||catalog.istioinaction.svc.cluster.local']);
    assert.equal(client.metadata['NAMESPACE'], 'istio-system');

    const push = await get(pilot.httpPort, '/debug/adsz?push=true');
    assert.equal(push.body, `Pushed to ${adsz.totalClients} servers\n`);

    const missing = await get(pilot.httpPort, '/debug/config_dump');
    assert.equal(missing.status, 400);
    assert.equal(missing.body, 'You must provide a proxyID in the query string\n');
    const unknown = await get(pilot.httpPort, '/debug/config_dump?proxyID=nope.nowhere');
    assert.equal(unknown.status, 404);
    const dump = JSON.parse(
      // The stream that watches CDS: istiod dumps only the types a connection watches.
      (await get(pilot.httpPort, `/debug/config_dump?proxyID=${encodeURIComponent(client.connectionId)}`))
        .body,
    ) as {
      configs: Record<string, unknown>[];
    };
    assert.deepEqual(
      dump.configs.map((c) => String(c['@type']).split('.').at(-1)),
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
    assert.match(
      JSON.stringify(dump.configs[1]),
      /outbound\|80\|\|catalog\.istioinaction\.svc\.cluster\.local/,
    );

    const configz = JSON.parse((await get(pilot.httpPort, '/debug/configz')).body) as { kind: string }[];
    assert.ok(configz.some((c) => c.kind === 'VirtualService'));
    const registryz = JSON.parse((await get(pilot.httpPort, '/debug/registryz')).body) as {
      hostname: string;
    }[];
    assert.ok(registryz.some((svc) => svc.hostname === 'catalog.istioinaction.svc.cluster.local'));
    assert.equal((await get(pilot.httpPort, '/debug/nope')).status, 404);
  });

  it('exposes pilot_* metrics with Istio names, types and buckets on the monitoring port', async () => {
    const res = await get(pilot.monitoringPort, '/metrics');
    assert.equal(res.status, 200);
    const text = res.body;
    for (const [name, type] of [
      ['pilot_xds', 'gauge'],
      ['pilot_xds_pushes', 'counter'],
      ['pilot_proxy_convergence_time', 'histogram'],
      ['pilot_proxy_queue_time', 'histogram'],
      ['pilot_xds_push_time', 'histogram'],
      ['pilot_xds_send_time', 'histogram'],
      ['pilot_xds_config_size_bytes', 'histogram'],
      ['pilot_push_triggers', 'counter'],
      ['pilot_debounce_time', 'histogram'],
      ['pilot_pushcontext_init_seconds', 'histogram'],
      ['pilot_total_xds_rejects', 'counter'],
      ['pilot_xds_cds_reject', 'gauge'],
      ['pilot_xds_eds_reject', 'gauge'],
      ['pilot_xds_lds_reject', 'gauge'],
      ['pilot_xds_rds_reject', 'gauge'],
      ['pilot_xds_write_timeout', 'counter'],
      ['pilot_total_xds_internal_errors', 'counter'],
      ['pilot_xds_push_context_errors', 'counter'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
    ]) {
      assert.ok(
        text.includes(`\n# TYPE ${name} ${type}\n`) || text.startsWith(`# HELP ${name} `),
        `${name} ${type}`,
      );
    }
    assert.match(text, /\npilot_xds_pushes\{type="rds"\} [1-9]/);
    assert.match(text, /\npilot_xds_pushes\{type="cds"\} [1-9]/);
    assert.match(text, /\npilot_push_triggers\{type="config"\} [1-9]/);
    assert.match(text, /\npilot_push_triggers\{type="debug"\} [1-9]/);
    assert.match(text, /\npilot_xds\{version="1\.17\.8"\} [1-9]/);
    const buckets = (metric: string) =>
      [...text.matchAll(new RegExp(`^${metric}_bucket\\{(?:type="[^"]*",)?le="([^"]+)"`, 'gm'))].map(
        (m) => m[1],
      );
    assert.deepEqual(
      [...new Set(buckets('pilot_proxy_convergence_time'))],
      ['0.1', '0.5', '1', '3', '5', '10', '20', '30', '+Inf'],
    );
    assert.deepEqual(
      [...new Set(buckets('pilot_debounce_time'))],
      ['0.01', '0.1', '1', '3', '5', '10', '20', '30', '+Inf'],
    );
    assert.deepEqual(
      [...new Set(buckets('pilot_pushcontext_init_seconds'))],
      ['0.01', '0.1', '0.5', '1', '3', '5', '+Inf'],
    );
    assert.deepEqual(
      [...new Set(buckets('pilot_xds_config_size_bytes'))],
      ['1', '10000', '1000000', '4000000', '10000000', '40000000', '+Inf'],
    );
    assert.match(
      text,
      /pilot_xds_config_size_bytes_bucket\{le="1",type="type\.googleapis\.com\/envoy\.config\.route\.v3\.RouteConfiguration"\}/,
    );
    assert.match(
      text,
      /# HELP pilot_xds_send_time Total time in seconds Pilot takes to send generated configuration\.\n/,
    );
    assert.ok((await get(pilot.httpPort, '/metrics')).status === 404, 'metrics live on the monitoring port');
  });
});

function splitVirtualService(yaml: string): [string, string] {
  const docs = yaml.split('\n---\n');
  const vs = docs.filter((d) => d.includes('kind: VirtualService'));
  const rest = docs.filter((d) => !d.includes('kind: VirtualService'));
  return [rest.join('\n---\n'), vs.join('\n---\n')];
}

describe('pilot settings', () => {
  it('parses Go durations, listen addresses and PILOT_* variables', () => {
    assert.equal(parseGoDuration('100ms'), 100);
    assert.equal(parseGoDuration('2.5s'), 2500);
    assert.equal(parseGoDuration('1m30s'), 90_000);
    assert.equal(parseGoDuration('10'), undefined);
    assert.equal(parseGoDuration('fast'), undefined);
    assert.deepEqual(parseListenAddress('127.0.0.1:15010', '127.0.0.1'), { host: '127.0.0.1', port: 15010 });
    assert.deepEqual(parseListenAddress(':8080', '127.0.0.1'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListenAddress('[::1]:0', '127.0.0.1'), { host: '::1', port: 0 });
    assert.throws(() => parseListenAddress('localhost', '127.0.0.1'), /want host:port/);
    assert.deepEqual(tuningSettings({}, {}), {
      debounceAfterMs: 100,
      debounceMaxMs: 10_000,
      pushThrottle: 100,
      sendTimeoutMs: 5000,
    });
    const env = { PILOT_DEBOUNCE_AFTER: '2500ms', PILOT_DEBOUNCE_MAX: '20s', PILOT_PUSH_THROTTLE: '25' };
    assert.deepEqual(tuningSettings({}, env), {
      debounceAfterMs: 2500,
      debounceMaxMs: 20_000,
      pushThrottle: 25,
      sendTimeoutMs: 5000,
    });
    assert.equal(tuningSettings({ pushThrottle: 7 }, env).pushThrottle, 7, 'flags win over the environment');
    assert.throws(
      () => tuningSettings({}, { PILOT_PUSH_THROTTLE: '-1' }),
      /invalid PILOT_PUSH_THROTTLE "-1"/,
    );
  });
});

describe('skiff pilot command', () => {
  it('serves until SIGTERM and exits 0; refuses a missing directory', async () => {
    const dir = tempDir('skiff-pilot-cli-');
    writeFileSync(join(dir, 'base.yaml'), FIXTURE);
    const child = spawn(
      process.execPath,
      [
        CLI,
        'pilot',
        '--config-dir',
        dir,
        '--grpc-addr',
        '127.0.0.1:0',
        '--http-addr',
        '127.0.0.1:0',
        '--monitoring-addr',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const serving = await eventually(() => /XDS: serving on 127\.0\.0\.1:(\d+)/.exec(out), 15_000);
    assert.ok(serving, out);
    const code = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.kill('SIGTERM');
    assert.equal(await code, 0);

    const bad = spawn(process.execPath, [CLI, 'pilot', '--config-dir', join(dir, 'missing')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const badCode = await new Promise<number | null>((resolve) => bad.on('close', resolve));
    assert.notEqual(badCode, 0);
    assert.match(err, /ENOENT|no such file/);
  });
});
