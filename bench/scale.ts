/**
 * `node dist/bench/run.js scale` (issue 8): how the control plane's push cost grows with services and with
 * proxies, with and without Sidecar scoping. In process, without gRPC or clients, so that only the control
 * plane's own work is timed: for each point of the sweep it builds the push context, generates every
 * proxy's config with `generateProxyResources`, encodes it through the server's `ResourceCache` and frames
 * one DiscoveryResponse per type (`encodeSotwResponse`), as `AdsServer` does for a full push; then it
 * changes one VirtualService and pushes again, deciding with the server's `proxyNeedsPush` which proxies the
 * change concerns and sending only what changed (CDS/LDS as whole sets, EDS/RDS per named resource), as the
 * server does. Times are CPU time of the process (median of three), not wall time. Results: docs/benchmarks.md (table) and docs/scale-services.svg, docs/scale-proxies.svg.
 */
import { writeFileSync } from 'node:fs';
import { KIND, parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { EncodedResource, Proxy, ProxyResources, PushContext } from '../src/xds/index.js';
import {
  ResourceCache,
  XDS_TYPE,
  buildPushContext,
  encodeSotwResponse,
  generateProxyResources,
  proxyFromNode,
  proxyNeedsPush,
  sidecarNode,
} from '../src/xds/index.js';
import { median } from './analyze.js';
import { lineChartSvg } from './scale-plot.js';
import type { Series } from './scale-plot.js';

export const SCALE_SERVICES = [100, 200, 500, 1000];
export const SCALE_PROXIES = [10, 100, 1000];
const NAMESPACES = 10;
const REPS = 3;

export interface ScalePoint {
  services: number;
  proxies: number;
  scoped: boolean;
  /** Building the push context (registry and indexes) once. */
  pushContextMs: number;
  /** Generate + encode + frame every proxy's CDS, EDS, LDS and RDS. */
  fullPushMs: number;
  fullPushBytes: number;
  /** One VirtualService changed: new push context, then only the proxies and resources it concerns. */
  changePushMs: number;
  changePushBytes: number;
  changeProxies: number;
}

const ns = (i: number): string => `scale-${i % NAMESPACES}`;

/**
 * M HTTP services spread over ten namespaces, each with a mesh VirtualService (a 10 s timeout); `scoped`
 * adds Istio in Action's mesh-wide Sidecar in the root namespace (egress `./*` and `istio-system/*`).
 */
export function scaleMesh(services: number, scoped: boolean, changedTimeout = '10s'): string {
  const docs = ['apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}'];
  for (let n = 0; n < NAMESPACES; n++)
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns(n)}}`);
  for (let i = 0; i < services; i++) {
    const host = `svc-${i}.${ns(i)}.svc.cluster.local`;
    docs.push(`apiVersion: v1
kind: Service
metadata: {name: svc-${i}, namespace: ${ns(i)}}
spec:
  selector: {app: svc-${i}}
  ports: [{name: http, port: 8080, targetPort: 8080}]`);
    docs.push(`apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: svc-${i}, namespace: ${ns(i)}}
spec:
  hosts: [${host}]
  gateways: [mesh]
  http:
    - timeout: ${i === 0 ? changedTimeout : '10s'}
      route:
        - destination: {host: ${host}, port: {number: 8080}}`);
  }
  if (scoped) {
    docs.push(`apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  egress:
    - hosts: ["./*", "istio-system/*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`);
  }
  return docs.join('\n---\n');
}

function snapshotOf(yaml: string): ConfigSnapshot {
  const parsed = parseManifests(yaml, 'scale.yaml');
  if (parsed.errors.length > 0) throw new Error(`scale mesh: ${parsed.errors[0]?.message ?? ''}`);
  return new ConfigSnapshot(parsed.resources);
}

function proxiesOf(count: number): Proxy[] {
  const out: Proxy[] = [];
  for (let j = 0; j < count; j++) {
    const node = sidecarNode({
      ip: `10.${100 + Math.floor(j / 62500)}.${Math.floor(j / 250) % 250}.${(j % 250) + 1}`,
      podName: `proxy-${j}`,
      namespace: ns(j),
    });
    out.push(proxyFromNode(node.id, node.metadata));
  }
  return out;
}

const TYPES: [string, Exclude<keyof ProxyResources, 'shared'>][] = [
  [XDS_TYPE.cluster, 'clusters'],
  [XDS_TYPE.endpoint, 'endpoints'],
  [XDS_TYPE.listener, 'listeners'],
  [XDS_TYPE.route, 'routes'],
];

/** What each proxy holds after a push: per type, name → content hash. */
type Held = Map<string, Map<string, string>>[];

function frame(typeUrl: string, resources: EncodedResource[], version: string): number {
  return encodeSotwResponse({ versionInfo: version, typeUrl, nonce: 'n', resources, controlPlane: 'skiff' })
    .length;
}

/** Every type to every proxy; records what each holds. Returns the bytes framed. */
function fullPush(push: PushContext, proxies: readonly Proxy[], cache: ResourceCache, held: Held): number {
  let bytes = 0;
  proxies.forEach((proxy, i) => {
    const generated = generateProxyResources(push, proxy);
    const mine = new Map<string, Map<string, string>>();
    for (const [typeUrl, key] of TYPES) {
      const encoded = generated[key].map((json) => cache.encode(typeUrl, json));
      bytes += frame(typeUrl, encoded, push.version);
      mine.set(typeUrl, new Map(encoded.map((r) => [r.name, r.hash])));
    }
    held[i] = mine;
  });
  return bytes;
}

/** The server's non-forced push: concerned proxies only, whole CDS/LDS sets if any differs, else per name. */
function changePush(
  push: PushContext,
  previous: PushContext,
  changed: string,
  proxies: readonly Proxy[],
  cache: ResourceCache,
  held: Held,
): { bytes: number; proxies: number } {
  let bytes = 0;
  let pushed = 0;
  const req = { forced: false, configsUpdated: new Set([changed]), push, previous };
  proxies.forEach((proxy, i) => {
    if (!proxyNeedsPush(proxy, req)) return;
    pushed++;
    const generated = generateProxyResources(push, proxy);
    for (const [typeUrl, key] of TYPES) {
      const before = held[i]?.get(typeUrl) ?? new Map<string, string>();
      const encoded = generated[key].map((json) => cache.encode(typeUrl, json));
      const wholeSet = typeUrl === XDS_TYPE.cluster || typeUrl === XDS_TYPE.listener;
      const differs = encoded.filter((r) => before.get(r.name) !== r.hash);
      const toSend = wholeSet
        ? differs.length > 0 || before.size !== encoded.length
          ? encoded
          : []
        : differs;
      if (toSend.length > 0) bytes += frame(typeUrl, toSend, push.version);
    }
  });
  return { bytes, proxies: pushed };
}

/** CPU time of this process in ms: unlike wall time, it holds up on a machine shared with other work. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function measurePoint(services: number, proxyCount: number, scoped: boolean): ScalePoint {
  const before = snapshotOf(scaleMesh(services, scoped));
  // The changed config keeps every other object as it was, as the directory source hands them over.
  const changed = snapshotOf(scaleMesh(services, scoped, '7s')).get(KIND.VirtualService, ns(0), 'svc-0');
  const after = new ConfigSnapshot(
    before.resources.map((r) =>
      changed && r.kind === 'VirtualService' && r.metadata.namespace === ns(0) && r.metadata.name === 'svc-0'
        ? changed
        : r,
    ),
  );
  const proxies = proxiesOf(proxyCount);
  const ctx: number[] = [];
  const full: number[] = [];
  const change: number[] = [];
  let fullBytes = 0;
  let changeResult = { bytes: 0, proxies: 0 };
  for (let rep = 0; rep < REPS; rep++) {
    const cache = new ResourceCache();
    const held: Held = [];
    // A first push fills the encoded-resource cache, as the initial sync does in the server.
    fullPush(buildPushContext(before, { version: 'v0' }), proxies, cache, held);
    cache.nextGeneration();
    let t0 = cpuMs();
    const push = buildPushContext(before, { version: 'v1' });
    ctx.push(cpuMs() - t0);
    t0 = cpuMs();
    fullBytes = fullPush(push, proxies, cache, held);
    full.push(cpuMs() - t0);
    cache.nextGeneration();
    t0 = cpuMs();
    const next = buildPushContext(after, { version: 'v2' });
    changeResult = changePush(next, push, 'VirtualService/scale-0/svc-0', proxies, cache, held);
    change.push(cpuMs() - t0);
  }
  return {
    services,
    proxies: proxyCount,
    scoped,
    pushContextMs: median(ctx),
    fullPushMs: median(full),
    fullPushBytes: fullBytes,
    changePushMs: median(change),
    changePushBytes: changeResult.bytes,
    changeProxies: changeResult.proxies,
  };
}

/** The sweep: every service count at 1,000 proxies and every proxy count at 1,000 services, both scopings. */
export function runScaleSweep(log: (line: string) => void = () => {}): ScalePoint[] {
  const points: ScalePoint[] = [];
  const maxProxies = Math.max(...SCALE_PROXIES);
  const maxServices = Math.max(...SCALE_SERVICES);
  const grid: [number, number][] = [];
  for (const s of SCALE_SERVICES) grid.push([s, maxProxies]);
  for (const p of SCALE_PROXIES) if (p !== maxProxies) grid.push([maxServices, p]);
  for (const scoped of [false, true]) {
    for (const [s, p] of grid) {
      const point = measurePoint(s, p, scoped);
      log(
        `${s} services × ${p} proxies${scoped ? ' (Sidecar)' : ''}: full ${point.fullPushMs.toFixed(0)} ms, ${mib(point.fullPushBytes)}; change ${point.changePushMs.toFixed(0)} ms, ${mib(point.changePushBytes)}`,
      );
      points.push(point);
    }
  }
  return points;
}

const mib = (bytes: number): string =>
  `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 2 : 1)} MiB`;

export function scaleTable(points: readonly ScalePoint[]): string[] {
  const rows = [...points].sort(
    (a, b) => Number(a.scoped) - Number(b.scoped) || a.services - b.services || a.proxies - b.proxies,
  );
  return [
    '| services | proxies | Sidecar | push context (CPU) | full push (CPU) | full push bytes | per proxy | one change (CPU) | change bytes | proxies pushed |',
    '| ---: | ---: | :---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (p) =>
        `| ${p.services.toLocaleString('en-US')} | ${p.proxies.toLocaleString('en-US')} | ${p.scoped ? 'yes' : 'no'} | ${p.pushContextMs.toFixed(0)} ms | ${p.fullPushMs.toFixed(0)} ms | ${mib(p.fullPushBytes)} | ${(p.fullPushBytes / p.proxies / 1024).toFixed(0)} KiB | ${p.changePushMs.toFixed(0)} ms | ${mib(p.changePushBytes)} | ${p.changeProxies.toLocaleString('en-US')} |`,
    ),
  ];
}

/** Two charts (push time, bytes), each a pair of lines per scoping; x is `by`, the other axis fixed. */
export function scaleSvg(points: readonly ScalePoint[], by: 'services' | 'proxies'): string {
  const fixed = by === 'services' ? Math.max(...SCALE_PROXIES) : Math.max(...SCALE_SERVICES);
  const other = by === 'services' ? 'proxies' : 'services';
  const chosen = points.filter((p) => p[other] === fixed);
  const series = (value: (v: { ms: number; bytes: number }) => number, scale: number): Series[] =>
    [false, true].flatMap((scoped) =>
      (['full', 'change'] as const).map((kind) => ({
        label: `${kind === 'full' ? 'full push' : 'one change'}${scoped ? ', Sidecar' : ''}`,
        dashed: scoped,
        color: kind === 'full' ? '#1f77b4' : '#d62728',
        points: chosen
          .filter((p) => p.scoped === scoped)
          .sort((a, b) => a[by] - b[by])
          .map((p) => ({ x: p[by], y: value(kind === 'full' ? full(p) : changed(p)) / scale })),
      })),
    );
  const full = (p: ScalePoint) => ({ ms: p.fullPushMs, bytes: p.fullPushBytes });
  const changed = (p: ScalePoint) => ({ ms: p.changePushMs, bytes: p.changePushBytes });
  const title = `${by} (at ${fixed.toLocaleString('en-US')} ${other})`;
  return lineChartSvg({
    title: `skiff control plane: push cost vs ${title}`,
    xLabel: by,
    panels: [
      { yLabel: 'push CPU time (ms, log)', series: series((v) => v.ms, 1) },
      { yLabel: 'bytes sent (MiB, log)', series: series((v) => v.bytes, 1024 * 1024) },
    ],
  });
}

/** Runs the sweep, writes the two SVGs and returns the table lines. */
export function runScaleBench(outDir: string, log: (line: string) => void = () => {}): string[] {
  const started = performance.now();
  const points = runScaleSweep(log);
  writeFileSync(`${outDir}/scale-services.svg`, scaleSvg(points, 'services'));
  writeFileSync(`${outDir}/scale-proxies.svg`, scaleSvg(points, 'proxies'));
  return [
    `# skiff scale report (in process, CPU time, median of ${REPS})`,
    '',
    ...scaleTable(points),
    '',
    `Charts: ${outDir}/scale-services.svg, ${outDir}/scale-proxies.svg. Sweep took ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  ];
}
