/**
 * The pilot's /metrics through a real Prometheus (the Debian `prometheus` package): a 1 s scrape of the
 * monitoring port while proxies connect, config changes and a proxy rejects config, then the lab's PromQL
 * evaluated over Prometheus's HTTP API. Under CI (CI=true) a missing binary fails the test; elsewhere it
 * skips with a message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startPilot } from '../src/pilot/index.js';
import type { PilotHandle } from '../src/pilot/index.js';
import { tempDir } from './helpers.js';
import { SimulatedProxy } from './pilot-fixtures.js';
import { CDS, FIXTURE, TestStream, eventually, node, sleep } from './xds-server-client.js';

function findPrometheus(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'prometheus');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

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

const PROMETHEUS = findPrometheus();
const IN_CI = process.env['CI'] === 'true';

describe(
  'pilot metrics in a real Prometheus',
  {
    skip:
      !PROMETHEUS && !IN_CI
        ? 'prometheus is not installed (apt-get install prometheus); CI installs it'
        : false,
  },
  () => {
    let pilot: PilotHandle;
    let prometheus: ChildProcess | undefined;
    let promPort = 0;
    let promLog = '';
    let churn: NodeJS.Timeout | undefined;
    const proxies: SimulatedProxy[] = [];
    const streams: TestStream[] = [];

    async function query(expr: string): Promise<Sample[]> {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as {
        status: string;
        data?: { resultType: string; result: Sample[] };
        error?: string;
      };
      assert.equal(body.status, 'success', `${expr}: ${body.error ?? ''}`);
      assert.equal(body.data?.resultType, 'vector');
      return body.data?.result ?? [];
    }

    /** Polls a query until `accept` holds for its result (Prometheus needs a few scrapes for rate()). */
    async function queryUntil(
      expr: string,
      accept: (r: Sample[]) => boolean,
      ms = 40_000,
    ): Promise<Sample[]> {
      let last: Sample[] = [];
      const ok = await eventually(async () => {
        last = await query(expr);
        return accept(last);
      }, ms);
      if (!ok) {
        const pilotMetrics = await (await fetch(`http://127.0.0.1:${pilot.monitoringPort}/metrics`)).text();
        const targets = await (await fetch(`http://127.0.0.1:${promPort}/api/v1/targets`)).text();
        assert.fail(
          `${expr} never gave an acceptable result: ${JSON.stringify(last)}\npilot: ${pilotMetrics
            .split('\n')
            .filter((l) => /^pilot_(xds_pushes|proxy_convergence_time_count|xds\{)/.test(l))
            .join('; ')}\ntargets: ${targets}\n${promLog.slice(-1500)}`,
        );
      }
      return last;
    }

    before(async () => {
      assert.ok(
        PROMETHEUS,
        'CI=true but the prometheus binary is missing: .ci/run installs the Debian package',
      );
      const dir = tempDir('skiff-prom-config-');
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
        env: {},
      });

      const promDir = tempDir('skiff-prom-');
      writeFileSync(
        join(promDir, 'prometheus.yml'),
        [
          'global:',
          '  scrape_interval: 1s',
          '  evaluation_interval: 1s',
          'scrape_configs:',
          '  - job_name: pilot',
          '    static_configs:',
          `      - targets: ['127.0.0.1:${pilot.monitoringPort}']`,
          '',
        ].join('\n'),
      );
      promPort = await freePort();
      prometheus = spawn(
        PROMETHEUS,
        [
          `--config.file=${join(promDir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${join(promDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${promPort}`,
          '--storage.tsdb.retention.time=1h',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      prometheus.stdout?.on('data', (d: Buffer) => (promLog += d.toString()));
      prometheus.stderr?.on('data', (d: Buffer) => (promLog += d.toString()));
      const ready = await eventually(async () => {
        try {
          return (await fetch(`http://127.0.0.1:${promPort}/-/ready`)).status === 200;
        } catch {
          return false;
        }
      }, 30_000);
      assert.ok(ready, `prometheus did not become ready:\n${promLog.slice(-2000)}`);

      // Connected clients: two simulated gateways and a sidecar; one raw client that rejects CDS.
      for (let i = 1; i <= 2; i++) {
        proxies.push(
          SimulatedProxy.router(pilot.grpcAddress, {
            ip: `10.10.0.${i + 100}`,
            podName: `istio-ingressgateway-${i}`,
            namespace: 'istio-system',
            labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' },
            istioVersion: '1.17.8',
          }),
        );
      }
      proxies.push(
        SimulatedProxy.sidecar(pilot.grpcAddress, {
          ip: '10.10.0.15',
          podName: 'catalog-v1',
          namespace: 'istioinaction',
          labels: { app: 'catalog', version: 'v1' },
          istioVersion: '1.17.8',
        }),
      );
      await Promise.all(proxies.map((p) => p.start()));
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

      // Config changes every 700 ms for as long as the tests run, so every rate() window sees pushes
      // between two scrapes however late Prometheus starts scraping.
      let i = 0;
      churn = setInterval(() => writeFileSync(join(dir, 'vs.yaml'), VS(`${(i++ % 50) + 2}s`)), 700);
      await sleep(3000);
    });

    after(async () => {
      clearInterval(churn);
      for (const s of streams) s.close();
      for (const p of proxies) await p.close();
      await pilot?.close();
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus?.once('exit', resolve));
        prometheus.kill('SIGTERM');
        const timer = setTimeout(() => prometheus?.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    });

    it('scrapes the pilot as an up target', async () => {
      const up = await queryUntil('up{job="pilot"}', (r) => r.length === 1 && r[0]?.value[1] === '1');
      assert.equal(up[0]?.metric['instance'], `127.0.0.1:${pilot.monitoringPort}`);
    });

    it('evaluates the lab p99 convergence query to a sane number of seconds', async () => {
      const r = await queryUntil(
        'histogram_quantile(0.99, sum(rate(pilot_proxy_convergence_time_bucket[1m])) by (le))',
        (res) => res.length === 1 && Number.isFinite(Number(res[0]?.value[1])),
      );
      const p99 = Number(r[0]?.value[1]);
      // Convergence on loopback is far below the first bucket (0.1 s); the quantile interpolates inside it.
      assert.ok(p99 > 0 && p99 <= 0.1, `p99 ${p99}`);
    });

    it('sees pushes per second, connected clients by version, and the rejection', async () => {
      const pushes = await queryUntil(
        'sum(rate(pilot_xds_pushes[1m]))',
        (r) => r.length === 1 && Number(r[0]?.value[1]) > 0,
      );
      assert.ok(Number(pushes[0]?.value[1]) < 1000, 'a sane rate');
      const byType = await query('sum by (type) (pilot_xds_pushes)');
      assert.deepEqual(
        byType.map((s) => s.metric['type']).sort(),
        ['cds', 'eds', 'lds', 'rds'],
        'pushes by xDS type, as the dashboard groups them',
      );
      const clients = await queryUntil('pilot_xds', (r) => r.some((s) => s.value[1] === '4'));
      assert.deepEqual(
        clients.map((s) => [s.metric['version'], s.value[1]]),
        [['1.17.8', '4']],
      );
      const rejects = await queryUntil(
        'sum(pilot_total_xds_rejects)',
        (r) => r.length === 1 && Number(r[0]?.value[1]) >= 1,
      );
      assert.equal(rejects[0]?.value[1], '1');
      const byRejectType = await query('pilot_total_xds_rejects');
      assert.deepEqual(
        byRejectType.map((s) => s.metric['type']),
        ['cds'],
      );
    });
  },
);
