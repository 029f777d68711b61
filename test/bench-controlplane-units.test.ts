// The pieces of `skiff bench controlplane`: the sets it creates, pilot metric parsing and deltas,
// PromQL's histogram_quantile, the proxies' trimmed dumps, and the book's output lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseManifests, validateResource } from '../src/api/index.js';
import {
  bookLines,
  bucketDelta,
  bytes,
  comparisonTable,
  configProxy,
  convergenceQuantile,
  parseDelay,
  parseMetrics,
  parseTrimmedDump,
  pilotDelta,
  pilotReading,
  quantile,
  randomSetName,
  setObjects,
  windowStart,
  withDiscoverySelectors,
  workspaceObjects,
  workspaceSetName,
} from '../src/cli/index.js';
import type { RunResult } from '../src/cli/index.js';
import { parseMeshConfig } from '../src/model/index.js';

const METRICS = (
  pushes: number,
  buckets: [string, number][],
  cpu: number,
) => `# HELP pilot_xds_pushes Pilot build and send errors for lds, rds, cds and eds.
# TYPE pilot_xds_pushes counter
pilot_xds_pushes{type="cds"} ${pushes}
pilot_xds_pushes{type="eds"} ${pushes * 2}
pilot_xds_pushes{type="cds_senderr"} 1
# TYPE pilot_proxy_convergence_time histogram
${buckets.map(([le, n]) => `pilot_proxy_convergence_time_bucket{le="${le}"} ${n}`).join('\n')}
pilot_proxy_convergence_time_sum 1.5
pilot_proxy_convergence_time_count ${buckets[buckets.length - 1]?.[1] ?? 0}
pilot_xds_config_size_bytes_sum{type="type.googleapis.com/envoy.config.cluster.v3.Cluster"} ${pushes * 1000}
pilot_xds_config_size_bytes_count{type="type.googleapis.com/envoy.config.cluster.v3.Cluster"} ${pushes}
process_cpu_seconds_total ${cpu}
process_resident_memory_bytes 104857600
not a metric line
`;

describe('bench controlplane: the sets', () => {
  it('names sets as the book does: random service-<hex>-<i>, stable service<hex>-<i> in the workspace', () => {
    assert.equal(
      randomSetName(3, () => Buffer.from([0xab, 0x01])),
      'service-ab01-3',
    );
    assert.match(randomSetName(0), /^service-[0-9a-f]{4}-0$/);
    assert.match(workspaceSetName(7), /^service[0-9a-f]{4}-7$/);
    assert.equal(workspaceSetName(7), workspaceSetName(7), 'the workspace names never change');
    assert.notEqual(workspaceSetName(7), workspaceSetName(8));
  });

  it('makes a Gateway, a Service selecting catalog and a VirtualService routing the host to it', () => {
    const [gw, svc, vs] = setObjects('service-ab01-3', { namespace: 'perf' });
    assert.equal(gw?.['kind'], 'Gateway');
    assert.deepEqual((gw?.['spec'] as { servers: { hosts: string[] }[] }).servers[0]?.hosts, [
      'service-ab01-3.istioinaction.io',
    ]);
    assert.equal(svc?.['kind'], 'Service');
    assert.deepEqual((svc?.['spec'] as { selector: unknown }).selector, { app: 'catalog' });
    assert.equal(vs?.['kind'], 'VirtualService');
    const spec = vs?.['spec'] as {
      gateways: string[];
      http: { route: { destination: { host: string } }[] }[];
    };
    assert.deepEqual(spec.gateways, ['service-ab01-3']);
    assert.equal(spec.http[0]?.route[0]?.destination.host, 'service-ab01-3.perf.svc.cluster.local');
  });

  it('builds a resources-600-shaped workspace that passes validation', () => {
    const objects = workspaceObjects(200);
    assert.equal(objects.length, 600);
    const parsed = parseManifests(objects.map((o) => JSON.stringify(o)).join('\n---\n'), 'ws.yaml');
    assert.equal(parsed.errors.length, 0);
    assert.equal(parsed.resources.length, 600);
    const keys = new Set(parsed.resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`));
    assert.equal(keys.size, 600, 'no two objects share a name');
    const issues = parsed.resources.flatMap((r) => validateResource(r).filter((i) => i.level === 'error'));
    assert.deepEqual(issues, []);
    const gw = parsed.resources.find((r) => r.kind === 'Gateway');
    assert.match(gw?.metadata.name ?? '', /^service[0-9a-f]{4}-0-gateway$/);
  });

  it("adds the book's discoverySelectors to the mesh config, replacing earlier ones", () => {
    const mesh = 'accessLogFile: /dev/stdout\nrootNamespace: istio-system\n';
    const once = withDiscoverySelectors(mesh);
    const parsed = parseMeshConfig(once);
    assert.equal(parsed.rootNamespace, 'istio-system');
    assert.deepEqual(parsed.discoverySelectors, [
      { matchExpressions: [{ key: 'istio-exclude', operator: 'NotIn', values: ['true'] }] },
    ]);
    const twice = withDiscoverySelectors(`${once}\ntrustDomain: cluster.local`);
    assert.equal(twice.match(/discoverySelectors/g)?.length, 1);
    assert.match(twice, /trustDomain: cluster.local/);
    assert.equal(parseMeshConfig(twice).discoverySelectors?.length, 1);
  });
});

describe('bench controlplane: pilot metrics', () => {
  it('parses the exposition and sums pushes of every type, as the book sums every line', () => {
    const samples = parseMetrics(
      METRICS(
        10,
        [
          ['0.1', 2],
          ['+Inf', 2],
        ],
        1.25,
      ),
    );
    assert.ok(samples.some((s) => s.name === 'pilot_xds_pushes' && s.labels['type'] === 'cds_senderr'));
    const r = pilotReading(
      METRICS(
        10,
        [
          ['0.1', 2],
          ['+Inf', 2],
        ],
        1.25,
      ),
      1000,
    );
    assert.equal(r.pushes, 31);
    assert.equal(r.cpuSeconds, 1.25);
    assert.equal(r.configBytes, 10_000);
    assert.equal(r.residentBytes, 104857600);
    assert.deepEqual(r.convergence, [
      { le: 0.1, count: 2 },
      { le: Infinity, count: 2 },
    ]);
  });

  it("computes PromQL's histogram_quantile", () => {
    const b = (pairs: [number, number][]) => pairs.map(([le, count]) => ({ le, count }));
    // 4 observations in (0.1, 0.5]: rank 3.96 → 0.1 + 0.4 × 3.96/4.
    assert.ok(
      Math.abs(
        convergenceQuantile(
          0.99,
          b([
            [0.1, 0],
            [0.5, 4],
            [1, 4],
            [Infinity, 4],
          ]),
        ) - 0.496,
      ) < 1e-9,
    );
    // Everything under the first bound: the book's "0.0990 s".
    assert.ok(
      Math.abs(
        convergenceQuantile(
          0.99,
          b([
            [0.1, 10],
            [0.5, 10],
            [Infinity, 10],
          ]),
        ) - 0.099,
      ) < 1e-9,
    );
    assert.equal(
      convergenceQuantile(
        0.99,
        b([
          [0.1, 0],
          [0.5, 0],
          [Infinity, 3],
        ]),
      ),
      0.5,
      '+Inf answers the top bound',
    );
    assert.ok(
      Number.isNaN(
        convergenceQuantile(
          0.99,
          b([
            [0.1, 0],
            [Infinity, 0],
          ]),
        ),
      ),
    );
    assert.ok(Number.isNaN(convergenceQuantile(0.99, [])));
  });

  it('takes deltas between readings (a restart counts from zero)', () => {
    const before = pilotReading(
      METRICS(
        10,
        [
          ['0.1', 5],
          ['0.5', 5],
          ['+Inf', 5],
        ],
        1,
      ),
      0,
    );
    const after = pilotReading(
      METRICS(
        30,
        [
          ['0.1', 5],
          ['0.5', 9],
          ['+Inf', 9],
        ],
        3.5,
      ),
      10_000,
    );
    const d = pilotDelta(before, after);
    assert.equal(d.pushes, 60);
    assert.equal(d.cpuSeconds, 2.5);
    assert.equal(d.configBytes, 20_000);
    assert.equal(d.convergenceObservations, 4);
    // The 5 old observations under 0.1 s are outside the window: p99 falls in (0.1, 0.5].
    assert.ok(d.convergenceP99 > 0.1 && d.convergenceP99 <= 0.5, String(d.convergenceP99));
    const restarted = pilotReading(
      METRICS(
        2,
        [
          ['0.1', 1],
          ['+Inf', 1],
        ],
        0.5,
      ),
      20_000,
    );
    assert.equal(pilotDelta(after, restarted).pushes, 7, 'counted from zero after a reset');
    assert.deepEqual(bucketDelta(after.convergence, restarted.convergence), restarted.convergence);
  });

  it('starts the [1m] window a minute before the end, or at the start of a shorter run', () => {
    const at = (t: number) => pilotReading(METRICS(t, [['+Inf', 0]], 0), t);
    const readings = [at(0), at(30_000), at(65_000), at(90_000)];
    assert.equal(windowStart(readings, at(130_000)).at, 65_000);
    assert.equal(windowStart(readings, at(50_000)).at, 0);
  });

  it('takes nearest-rank quantiles of the proxies samples', () => {
    const v = Array.from({ length: 100 }, (_, i) => (i + 1) / 100);
    assert.equal(quantile(v, 0.5), 0.5);
    assert.equal(quantile(v, 0.99), 0.99);
    assert.equal(quantile([0.3], 0.99), 0.3);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });
});

describe('bench controlplane: proxies and output', () => {
  it('reads cluster names and route domains from trimmed config dumps', () => {
    const clusters = JSON.stringify({
      configs: [
        {
          cluster: { name: 'outbound|80||a.ns.svc.cluster.local' },
          last_updated: '2026-11-26T01:00:00.250Z',
        },
        { cluster: { name: 'BlackHoleCluster' }, last_updated: '2026-11-26T01:00:00.250Z' },
      ],
    });
    const s = parseTrimmedDump(clusters, false);
    assert.ok(s.names.has('outbound|80||a.ns.svc.cluster.local'));
    assert.equal(s.lastUpdated, Date.parse('2026-11-26T01:00:00.250Z'));
    const routes = JSON.stringify({
      configs: [
        {
          route_config: { virtual_hosts: [{ domains: ['x.istioinaction.io', 'x.istioinaction.io:80'] }] },
          last_updated: '2026-11-26T01:00:01Z',
        },
      ],
    });
    assert.deepEqual([...parseTrimmedDump(routes, true).names], ['x.istioinaction.io']);
    assert.equal(parseTrimmedDump('not json', true).names.size, 0);
    assert.equal(parseTrimmedDump('{"configs": 3}', false).names.size, 0);
  });

  it('sizes a sleep proxy of the namespace, else another sidecar', () => {
    const pod = (name: string, ns: string, app: string, router = false) => ({
      name,
      namespace: ns,
      ip: '127.10.0.2',
      router,
      labels: { app },
    });
    const gw = pod('gw', 'istio-system', 'istio-ingressgateway', true);
    assert.equal(configProxy([gw, pod('c', 'ns', 'catalog'), pod('s', 'ns', 'sleep')], 'ns')?.name, 's');
    assert.equal(configProxy([gw, pod('c', 'ns', 'catalog')], 'ns')?.name, 'c');
    assert.equal(configProxy([gw], 'ns'), undefined);
  });

  it("prints the book's two lines exactly", () => {
    assert.equal(
      bookLines({ pushCount: 510, latencyP99: 0.4512 }),
      'Push count: 510\nLatency in the last minute: 0.45 seconds\n',
    );
    assert.equal(
      bookLines({ pushCount: 0, latencyP99: NaN }),
      'Push count: 0\nLatency in the last minute: NaN seconds\n',
    );
    assert.equal(bytes(2_050_000), '2.05 MB');
    assert.equal(bytes(520_300), '520.3 KB');
    assert.equal(bytes(undefined), 'n/a');
  });

  it('compares steps in one Markdown table', () => {
    const result = (pushCount: number, p99: number): RunResult =>
      ({
        pushCount,
        latencyP99: p99,
        proxy: { p99: p99 * 2 },
        configBytesPerProxy: 2_000_000,
        bytesPushed: 5_000_000,
        cpuSeconds: 1.5,
        peakRssBytes: 200 * 1048576,
      }) as unknown as RunResult;
    const table = comparisonTable([
      { step: 'baseline', result: result(510, 0.45) },
      { step: 'sidecar', result: result(70, 0.1) },
    ]);
    const lines = table.trimEnd().split('\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0] ?? '', /^\| step +\| push count \| p99 convergence \(pilot\) \|/);
    assert.match(lines[2] ?? '', /^\| baseline \| +510 \| +0\.45 s \| +0\.900 s \| +2\.00 MB \|/);
    assert.match(lines[3] ?? '', /^\| sidecar +\| +70 \|/);
  });

  it('reads --delay as the script does (seconds) or as a duration', () => {
    assert.equal(parseDelay('2.5'), 2500);
    assert.equal(parseDelay('0'), 0);
    assert.equal(parseDelay('500ms'), 500);
    assert.throws(() => parseDelay('soon'), /invalid --delay/);
  });
});
