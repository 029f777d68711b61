import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AdminServer } from '../src/proxy/index.js';
import { applyMask, startAdmin } from '../src/proxy/index.js';
import type { Harness, Upstream } from './proxy-fixtures.js';
import {
  call,
  edsCluster,
  endpoints,
  gatewaySnapshot,
  request,
  startProxy,
  upstream,
  vhost,
  waitFor,
} from './proxy-fixtures.js';

const CLUSTER = 'outbound|80||catalog.istioinaction.svc.cluster.local';
const BOOTSTRAP = {
  node: {
    id: 'router~10.10.0.6~istio-ingressgateway-6bb8fb6549-2mlk2.istio-system~istio-system.svc.cluster.local',
    cluster: 'istio-ingressgateway.istio-system',
    metadata: { ISTIO_VERSION: '1.17.8', CLUSTER_ID: 'Kubernetes' },
  },
  staticResources: {
    clusters: [
      {
        name: 'prometheus_stats',
        type: 'STATIC',
        connectTimeout: '0.250s',
        loadAssignment: {
          clusterName: 'prometheus_stats',
          endpoints: [
            {
              lbEndpoints: [
                { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 15000 } } } },
              ],
            },
          ],
        },
      },
    ],
  },
};

type Json = Record<string, unknown>;
const configs = (body: string): Json[] => (JSON.parse(body) as { configs: Json[] }).configs;
const typeOf = (c: Json): string => String(c['@type']).replace('type.googleapis.com/envoy.admin.v3.', '');

describe('admin server', () => {
  let app: Upstream;
  let h: Harness;
  let admin: AdminServer;
  let port = 0;
  let shutdowns = 0;

  before(async () => {
    app = await upstream('catalog');
    const snapshot = gatewaySnapshot(
      [vhost([{ name: 'catalog', match: { prefix: '/' }, route: { cluster: CLUSTER } }])],
      [edsCluster(CLUSTER)],
      [endpoints(CLUSTER, [app.port])],
    );
    h = await startProxy({ ...snapshot, version: '2025-05-17T11:28:09Z/7' });
    admin = await startAdmin(h.proxy, {
      port: 0,
      bootstrap: BOOTSTRAP,
      onShutdown: () => {
        shutdowns++;
      },
    });
    port = admin.address()?.port ?? 0;
    const warm = await request(h.port);
    assert.equal(warm.status, 200);
  });

  after(async () => {
    await admin.close();
    await h.close();
    await app.close();
  });

  it('binds to localhost by default and answers unknown paths with the command list', async () => {
    assert.equal(admin.address()?.address, '127.0.0.1');
    const r = await call(port, 'GET', '/nope');
    assert.equal(r.status, 404);
    assert.ok(r.body.startsWith('invalid path. admin commands are:\n'), r.body.slice(0, 60));
    assert.match(r.body, /\n {2}\/quitquitquit \(POST\): exit the server\n/);
    assert.match(r.body, /\n {2}\/clusters: upstream cluster status\n {6}format: /);
    const help = await call(port, 'GET', '/help');
    assert.equal(help.status, 200);
    assert.ok(help.body.startsWith('admin commands are:\n'));
  });

  it('refuses GET on handlers that change state, as Envoy does', async () => {
    for (const path of ['/logging', '/healthcheck/fail', '/reset_counters', '/quitquitquit']) {
      const r = await call(port, 'GET', path);
      assert.equal(r.status, 405, path);
      assert.equal(r.body, 'Method GET not allowed, POST required.');
    }
    assert.equal(shutdowns, 0);
  });

  it('dumps the config in Envoy snake_case with bootstrap, dynamic clusters, listeners and routes', async () => {
    const r = await call(port, 'GET', '/config_dump');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /application\/json/);
    assert.ok(r.body.startsWith('{\n "configs": [\n  {\n   "@type"'), 'protobuf-style one-space indent');
    const list = configs(r.body);
    assert.deepEqual(list.map(typeOf), [
      'BootstrapConfigDump',
      'ClustersConfigDump',
      'ListenersConfigDump',
      'ScopedRoutesConfigDump',
      'RoutesConfigDump',
      'SecretsConfigDump',
    ]);
    const boot = list[0]?.['bootstrap'] as Json;
    assert.equal((boot['node'] as Json)['id'], BOOTSTRAP.node.id);
    assert.ok('static_resources' in boot, 'snake_case keys');
    const clusters = list[1] as Json;
    assert.equal(clusters['version_info'], '2025-05-17T11:28:09Z/7');
    const statics = clusters['static_clusters'] as Json[];
    assert.equal((statics[0]?.['cluster'] as Json)['name'], 'prometheus_stats');
    const dynamic = clusters['dynamic_active_clusters'] as Json[];
    assert.equal((dynamic[0]?.['cluster'] as Json)['name'], CLUSTER);
    assert.equal(dynamic[0]?.['version_info'], '2025-05-17T11:28:09Z/7');
    assert.match(String(dynamic[0]?.['last_updated']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok('eds_cluster_config' in ((dynamic[0]?.['cluster'] as Json) ?? {}));
    const listeners = list[2]?.['dynamic_listeners'] as Json[];
    assert.equal(listeners[0]?.['name'], '0.0.0.0_8080');
    assert.ok('active_state' in (listeners[0] ?? {}));
    const routes = list[4]?.['dynamic_route_configs'] as Json[];
    assert.equal((routes[0]?.['route_config'] as Json)['name'], 'http.8080');
  });

  it('adds endpoints with ?include_eds', async () => {
    const r = await call(port, 'GET', '/config_dump?include_eds');
    const list = configs(r.body);
    const eds = list.find((c) => typeOf(c) === 'EndpointsConfigDump');
    assert.ok(eds, 'EndpointsConfigDump present');
    const dyn = eds['dynamic_endpoint_configs'] as Json[];
    assert.equal((dyn[0]?.['endpoint_config'] as Json)['cluster_name'], CLUSTER);
    assert.equal(list.map(typeOf).indexOf('EndpointsConfigDump'), 2, 'after clusters, before listeners');
  });

  it('lists one repeated field with ?resource= and trims with ?mask=', async () => {
    const r = await call(port, 'GET', '/config_dump?resource=dynamic_active_clusters');
    const list = configs(r.body);
    assert.equal(list.length, 1);
    assert.equal(typeOf(list[0] ?? {}), 'ClustersConfigDump.DynamicCluster');
    assert.equal((list[0]?.['cluster'] as Json)['name'], CLUSTER);

    const masked = configs(
      (await call(port, 'GET', '/config_dump?resource=dynamic_active_clusters&mask=cluster.name')).body,
    );
    assert.deepEqual(masked[0], {
      '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster',
      cluster: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: CLUSTER },
    });
    const top = configs((await call(port, 'GET', '/config_dump?mask=dynamic_active_clusters')).body);
    assert.ok(
      top.every((c) => Object.keys(c).every((k) => k === '@type' || k === 'dynamic_active_clusters')),
    );

    const bad = await call(port, 'GET', '/config_dump?resource=nope');
    assert.equal(bad.status, 404);
  });

  it('answers ?resource= with exactly the entries of that field in the whole dump', async () => {
    const withoutTimes = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(withoutTimes)
        : typeof v === 'object' && v !== null
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'last_updated')
                .map(([k, x]) => [k, withoutTimes(x)]),
            )
          : v;
    const whole = configs((await call(port, 'GET', '/config_dump?include_eds')).body);
    const fields = [
      'static_clusters',
      'dynamic_active_clusters',
      'static_listeners',
      'dynamic_listeners',
      'dynamic_route_configs',
      'static_secrets',
      'dynamic_active_secrets',
      'dynamic_endpoint_configs',
      'static_endpoint_configs',
    ];
    for (const field of fields) {
      const expected = whole.flatMap((c) => (Array.isArray(c[field]) ? (c[field] as Json[]) : []));
      const got = configs((await call(port, 'GET', `/config_dump?resource=${field}`)).body);
      assert.deepEqual(
        withoutTimes(got.map(({ '@type': _t, ...rest }) => rest)),
        withoutTimes(expected),
        field,
      );
    }
    // Masked answers (built from only the masked fields) equal the unmasked answer trimmed afterwards.
    const masked: [string, string][] = [
      ['dynamic_active_clusters', 'cluster.name,last_updated'],
      ['dynamic_active_clusters', 'cluster.eds_cluster_config.service_name,cluster.connect_timeout'],
      ['dynamic_active_clusters', 'cluster'],
      ['dynamic_listeners', 'name,active_state.listener.address'],
      ['dynamic_listeners', 'active_state'],
      ['dynamic_route_configs', 'route_config.virtual_hosts.domains,last_updated'],
      ['dynamic_active_secrets', 'name'],
    ];
    for (const [field, mask] of masked) {
      const full = configs((await call(port, 'GET', `/config_dump?resource=${field}`)).body);
      const got = configs((await call(port, 'GET', `/config_dump?resource=${field}&mask=${mask}`)).body);
      const paths = mask.split(',');
      assert.deepEqual(
        withoutTimes(got),
        withoutTimes(full.map((c) => applyMask(c, paths))),
        `${field} ${mask}`,
      );
      assert.ok(got.length > 0 || field.endsWith('secrets'), `${field} has entries`);
    }
  });

  it('prints /clusters in Envoy text and JSON forms with per-host stats', async () => {
    const r = await call(port, 'GET', '/clusters');
    assert.equal(r.status, 200);
    const host = `${CLUSTER}::127.0.0.1:${app.port}`;
    assert.match(r.body, new RegExp(`^${esc(CLUSTER)}::observability_name::${esc(CLUSTER)}$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(CLUSTER)}::default_priority::max_requests::1024$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(CLUSTER)}::added_via_api::true$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::cx_active::\\d+$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::rq_success::1$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::rq_total::1$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::health_flags::healthy$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::weight::1$`, 'm'));
    assert.match(r.body, new RegExp(`^${esc(host)}::region::$`, 'm'));
    const lines = r.body.split('\n').filter((l) => l.startsWith(`${host}::`));
    assert.deepEqual(
      lines.slice(0, 8).map((l) => l.split('::')[2]),
      [
        'cx_active',
        'cx_connect_fail',
        'cx_total',
        'rq_active',
        'rq_error',
        'rq_success',
        'rq_timeout',
        'rq_total',
      ],
    );

    const j = JSON.parse((await call(port, 'GET', '/clusters?format=json')).body) as {
      cluster_statuses: Json[];
    };
    const status = j.cluster_statuses.find((c) => c['name'] === CLUSTER);
    assert.ok(status);
    assert.equal(status['added_via_api'], true);
    const hs = (status['host_statuses'] as Json[])[0] ?? {};
    assert.deepEqual(hs['address'], { socket_address: { address: '127.0.0.1', port_value: app.port } });
    assert.deepEqual(hs['health_status'], { eds_health_status: 'HEALTHY' });
    assert.ok((hs['stats'] as Json[]).some((s) => s['name'] === 'rq_total' && s['value'] === '1'));
  });

  it('prints /listeners in text and JSON', async () => {
    const r = await call(port, 'GET', '/listeners');
    assert.equal(r.body, '0.0.0.0_8080::0.0.0.0:8080\n');
    const j = JSON.parse((await call(port, 'GET', '/listeners?format=json')).body) as Json;
    assert.deepEqual(j, {
      listener_statuses: [
        { name: '0.0.0.0_8080', local_address: { socket_address: { address: '0.0.0.0', port_value: 8080 } } },
      ],
    });
  });

  it('lists and changes logger levels through POST /logging, driving debug lines', async () => {
    const list = await call(port, 'POST', '/logging');
    assert.equal(list.status, 200);
    assert.match(list.body, /^active loggers:\n {2}admin: warning\n/);
    assert.match(list.body, /\n {2}http: warning\n/);

    const set = await call(port, 'POST', '/logging?paths=http:debug,router:debug');
    assert.equal(set.status, 200);
    assert.match(set.body, /\n {2}http: debug\n/);
    assert.match(set.body, /\n {2}router: debug\n/);
    assert.match(set.body, /\n {2}pool: warning\n/);

    h.debug.length = 0;
    await request(h.port);
    await waitFor(() =>
      h.debug.some((l) => l.includes('Sending local reply') || l.includes('encoding headers')),
    );
    const match = h.debug.find((l) => l.includes(`cluster '${CLUSTER}' match for URL '/items'`));
    assert.ok(match, h.debug.join(''));
    assert.match(
      match,
      /\tdebug\tenvoy router external\/envoy\/source\/common\/router\/router\.cc:\d+\t\[C\d+\]\[S\d+\] /,
    );

    const one = await call(port, 'POST', '/logging?pool=trace');
    assert.match(one.body, /\n {2}pool: trace\n/);

    const bad = await call(port, 'POST', '/logging?nope=debug');
    assert.equal(bad.status, 404);
    assert.ok(bad.body.startsWith('error: unknown logger name\n\nusage: /logging?<name>=<level>'));
    assert.match(bad.body, /levels: trace debug info warning error critical off \nactive loggers:\n/);

    const badLevel = await call(port, 'POST', '/logging?level=loud');
    assert.equal(badLevel.status, 404);
    assert.ok(badLevel.body.startsWith('error: unknown logger level\n'));

    const off = await call(port, 'POST', '/logging?level=warning');
    assert.equal(off.status, 200);
    assert.doesNotMatch(off.body, /: (debug|trace)\n/);
    h.debug.length = 0;
    await request(h.port);
    assert.equal(h.debug.length, 0, 'no debug lines once levels are back to warning');
  });

  it('serves /stats, /stats/prometheus and /reset_counters', async () => {
    const stats = await call(port, 'GET', '/stats');
    assert.match(stats.body, new RegExp(`^cluster\\.${esc(CLUSTER)}\\.upstream_rq_200: [1-9]\\d*$`, 'm'));
    assert.match(stats.body, /^cluster_manager\.cds\.update_success: 1$/m);
    const filtered = await call(port, 'GET', '/stats?filter=cds');
    assert.ok(
      filtered.body
        .split('\n')
        .filter(Boolean)
        .every((l) => l.includes('cds')),
    );
    const prom = await call(port, 'GET', '/stats/prometheus');
    assert.match(prom.body, /# TYPE envoy_cluster_upstream_rq counter/);
    assert.match(prom.body, /^envoy_server_live\{\} 1$/m);
    assert.match(prom.body, /^envoy_cluster_manager_cds_update_success\{\} 1$/m);

    const reset = await call(port, 'POST', '/reset_counters');
    assert.equal(reset.status, 200);
    assert.equal(reset.body, 'OK\n');
    const after = await call(port, 'GET', '/stats');
    assert.match(after.body, new RegExp(`^cluster\\.${esc(CLUSTER)}\\.upstream_rq_200: 0$`, 'm'));
  });

  it('reports readiness and server info, and fails health checks on demand', async () => {
    const ready = await call(port, 'GET', '/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body, 'LIVE\n');
    const info = JSON.parse((await call(port, 'GET', '/server_info')).body) as Json;
    assert.equal(info['state'], 'LIVE');
    assert.match(String(info['version']), /\/1\.25\.\d+\//);
    assert.equal((info['command_line_options'] as Json)['concurrency'], 2);
    assert.equal((info['node'] as Json)['id'], BOOTSTRAP.node.id);
    assert.match(String(info['uptime_current_epoch']), /^\d+s$/);

    assert.equal((await call(port, 'POST', '/healthcheck/fail')).body, 'OK\n');
    const draining = await call(port, 'GET', '/ready');
    assert.equal(draining.status, 503);
    assert.equal(draining.body, 'DRAINING\n');
    await call(port, 'POST', '/healthcheck/ok');
    assert.equal((await call(port, 'GET', '/ready')).status, 200);
  });

  it('calls the shutdown hook on POST /quitquitquit', async () => {
    const r = await call(port, 'POST', '/quitquitquit');
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK\n');
    await waitFor(() => shutdowns === 1);
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
