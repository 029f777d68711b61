import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Agent, ProxySnapshot } from '../src/proxy/index.js';
import { DebugLog, ProxyEngine, startAgent } from '../src/proxy/index.js';
import type { Upstream } from './proxy-fixtures.js';
import {
  call,
  deadPort,
  edsCluster,
  endpoints,
  gatewaySnapshot,
  request,
  upstream,
  vhost,
} from './proxy-fixtures.js';

const CLUSTER = 'outbound|80||catalog.istioinaction.svc.cluster.local';
const LOCAL = { host: '127.0.0.1', port: 0 };

describe('pilot-agent endpoints', () => {
  let app: Upstream;
  let engine: ProxyEngine;
  let agent: Agent;
  let snapshot: ProxySnapshot;
  let synczCalls: string[] = [];

  before(async () => {
    app = await upstream('catalog', (req, res) => {
      if (req.url === '/health') res.end('ok');
      else if (req.url === '/ready') {
        res.statusCode = 500;
        res.end('not yet');
      } else if (req.url === '/metrics') res.end('# TYPE app_orders_total counter\napp_orders_total 7\n');
      else res.end('catalog');
    });
    const dead = await deadPort();
    snapshot = gatewaySnapshot(
      [vhost([{ name: 'catalog', match: { prefix: '/' }, route: { cluster: CLUSTER } }])],
      [edsCluster(CLUSTER)],
      [endpoints(CLUSTER, [app.port])],
    );
    engine = new ProxyEngine({
      bind: () => ({ address: '127.0.0.1', port: 0 }),
      debugLog: new DebugLog(() => undefined),
      peer: { name: 'catalog-6cf4b97d-dkbtp', namespace: 'istioinaction', workloadName: 'catalog' },
    });
    agent = await startAgent(engine, {
      status: LOCAL,
      readiness: LOCAL,
      prometheus: LOCAL,
      debug: LOCAL,
      appProbers: JSON.stringify({
        '/app-health/catalog/livez': {
          httpGet: { path: '/health', port: app.port, scheme: 'HTTP' },
          timeoutSeconds: 1,
        },
        '/app-health/catalog/readyz': {
          httpGet: { path: '/ready', port: app.port, scheme: 'HTTP' },
          timeoutSeconds: 1,
        },
        '/app-health/gone/livez': {
          httpGet: { path: '/health', port: dead, scheme: 'HTTP' },
          timeoutSeconds: 1,
        },
        '/app-health/catalog/startupz': { tcpSocket: { port: app.port }, timeoutSeconds: 1 },
      }),
      appMetrics: { port: app.port, path: '/metrics' },
      debugHandler: (path, q) => {
        synczCalls.push(path);
        return Promise.resolve({
          status: 200,
          body: JSON.stringify({ versionInfo: '2025-05-17T11:28:09Z/7', resources: [], q: q.get('x') }),
        });
      },
    });
  });

  after(async () => {
    await agent.close();
    await engine.close();
    await app.close();
  });

  const port = (name: 'status' | 'readiness' | 'prometheus' | 'debug'): number =>
    agent.address(name)?.port ?? 0;

  it('is not ready before the proxy has clusters and listeners, then ready', async () => {
    assert.equal((await call(port('readiness'), 'GET', '/healthz/ready')).status, 503);
    assert.equal((await call(port('status'), 'GET', '/healthz/ready')).status, 503);
    assert.match(
      agent.readiness() ?? '',
      /^config not received from XDS server \(is Istiod running\?\): cds updates: 0 successful/,
    );
    const result = await engine.update(snapshot);
    assert.equal(result.ok, true);
    assert.equal((await call(port('readiness'), 'GET', '/healthz/ready')).status, 200);
    const ready = await call(port('status'), 'GET', '/healthz/ready');
    assert.equal(ready.status, 200);
    assert.equal(ready.body, '');
  });

  it('fails readiness while the proxy drains', async () => {
    engine.healthCheckFailed = true;
    assert.equal((await call(port('readiness'), 'GET', '/healthz/ready')).status, 503);
    assert.equal(agent.readiness(), 'server is not live, current state is: DRAINING');
    engine.healthCheckFailed = false;
    assert.equal((await call(port('readiness'), 'GET', '/healthz/ready')).status, 200);
  });

  it('forwards rewritten app probes to the app and answers with its status', async () => {
    const live = await call(port('status'), 'GET', '/app-health/catalog/livez');
    assert.equal(live.status, 200);
    assert.equal(live.body, '', 'only the status code is relayed');
    assert.equal((await call(port('status'), 'GET', '/app-health/catalog/readyz')).status, 500);
    assert.equal((await call(port('status'), 'GET', '/app-health/catalog/startupz')).status, 200);
    assert.equal((await call(port('status'), 'GET', '/app-health/gone/livez')).status, 503, 'app down');
    const unknown = await call(port('status'), 'GET', '/app-health/other/livez');
    assert.equal(unknown.status, 400);
    assert.ok(app.paths.includes('/health') && app.paths.includes('/ready'));
  });

  it('serves proxy stats on 15090 and merged proxy + app + agent metrics on 15020', async () => {
    const r = await request(0 + (engine.address('0.0.0.0_8080')?.port ?? 0));
    assert.equal(r.status, 200);
    const proxyOnly = await call(port('prometheus'), 'GET', '/stats/prometheus');
    assert.equal(proxyOnly.status, 200);
    assert.match(
      proxyOnly.body,
      /^envoy_cluster_upstream_rq\{response_code="200",cluster_name="outbound\|80\|\|catalog/m,
    );
    assert.match(proxyOnly.body, /^istio_requests_total\{reporter="source",source_workload="catalog",/m);
    assert.doesNotMatch(proxyOnly.body, /app_orders_total|istio_agent_/);
    assert.equal((await call(port('prometheus'), 'GET', '/nope')).status, 404);

    const merged = await call(port('status'), 'GET', '/stats/prometheus');
    assert.equal(merged.status, 200);
    assert.match(merged.body, /^istio_requests_total\{reporter="source",.*response_code="200".*\} 1$/m);
    assert.match(merged.body, /^app_orders_total 7$/m);
    assert.match(merged.body, /^istio_agent_process_resident_memory_bytes \d+$/m);
    const envoyAt = merged.body.indexOf('envoy_');
    assert.ok(envoyAt >= 0 && envoyAt < merged.body.indexOf('app_orders_total'), 'proxy stats first');
    assert.ok(merged.body.indexOf('app_orders_total') < merged.body.indexOf('istio_agent_'), 'agent last');
  });

  it('relays /debug/syncz on 15004 to the control plane callback', async () => {
    synczCalls = [];
    const r = await call(port('debug'), 'GET', '/debug/syncz?x=1');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { versionInfo: '2025-05-17T11:28:09Z/7', resources: [], q: '1' });
    assert.deepEqual(synczCalls, ['/debug/syncz']);
    assert.equal((await call(port('debug'), 'GET', '/other')).status, 404);
  });
});
