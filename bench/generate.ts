/**
 * The generation benchmark (part of `npm run bench`): for meshes of 200 and 1,000 HTTP services, how long
 * skiff takes to build the push context and a proxy's whole config, and how big that config is, for the
 * ingress gateway and for one sleep sidecar with and without a namespace-scoped Sidecar resource. The
 * proxy configs come from `generateProxyResources`, so whatever the generators learn shows up here.
 * Results and the comparison with Istio's published figures are in docs/benchmarks.md.
 */
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import type { Workload } from '../src/registry/index.js';
import type { Proxy, ProxyResources, PushContext } from '../src/xds/index.js';
import {
  TYPE,
  buildBootstrap,
  buildConfigDump,
  buildGatewayRouteConfigs,
  buildPushContext,
  buildSidecarRouteConfigs,
  encodeAny,
  generateProxyResources,
  isGatewayWorkload,
  proxyForWorkload,
} from '../src/xds/index.js';
import { median } from './analyze.js';

export const GENERATION_SIZES = [200, 1000];
const SLEEP_REPLICAS = 10;
const APP_NAMESPACE = 'app';
const SLEEP_NAMESPACE = 'sleep';

/** Istio's published micro-benchmarks (performance-anchors.md §3, Go, 16 threads, XDS cache off). */
export const ISTIO_ANCHORS = {
  /** RouteGeneration/http-16: a sidecar's routes for 100 HTTP services. */
  sidecarRoutes100Ms: 0.33,
  /** RouteGeneration/gateways-16: a router's routes for 1,000 gateways (1.00k route configs). */
  gatewayRoutes1000Ms: 22.5,
  /** Istio in Action ch. 11: per-proxy config_dump ~2 MB → ~520 KB with a Sidecar (200 services). */
  sidecarShrinkGoal: 4,
};

// ---- the mesh ----

function systemObjects(): string[] {
  return [
    `apiVersion: v1
kind: Namespace
metadata: { name: istio-system }`,
    `apiVersion: v1
kind: Service
metadata: { name: istio-ingressgateway, namespace: istio-system, labels: { istio: ingressgateway } }
spec:
  selector: { istio: ingressgateway }
  ports:
    - { name: http2, port: 80, targetPort: 8080 }
    - { name: https, port: 443, targetPort: 8443 }`,
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: istio-ingressgateway, namespace: istio-system }
spec:
  replicas: 1
  selector: { matchLabels: { istio: ingressgateway } }
  template:
    metadata: { labels: { istio: ingressgateway, sidecar.istio.io/inject: 'false' } }
    spec:
      containers: [{ name: istio-proxy, ports: [{ containerPort: 8080, name: http2 }] }]`,
    pod('istio-ingressgateway-0', 'istio-system', '10.0.0.2', { istio: 'ingressgateway' }, 8080),
  ];
}

function pod(name: string, ns: string, ip: string, labels: Record<string, string>, port: number): string {
  const labelText = Object.entries(labels)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${ns}, labels: { ${labelText} } }
spec:
  containers: [{ name: app, ports: [{ containerPort: ${port}, name: http }] }, { name: istio-proxy }]
status:
  phase: Running
  podIP: ${ip}
  conditions: [{ type: Ready, status: 'True' }]`;
}

function httpService(i: number): string[] {
  const name = `svc-${i}`;
  const ns = APP_NAMESPACE;
  const host = `${name}.example.com`;
  const ip = `10.1.${Math.floor(i / 250)}.${(i % 250) + 2}`;
  return [
    `apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: ${ns} }
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: 80, targetPort: 8080 }]`,
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns} }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name}, version: v1 } }
    spec:
      containers: [{ name: app, ports: [{ containerPort: 8080, name: http }] }]`,
    pod(`${name}-0`, ns, ip, { app: name, version: 'v1' }, 8080),
    `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata: { name: ${name}-gateway, namespace: ${ns} }
spec:
  selector: { istio: ingressgateway }
  servers: [{ hosts: [${host}], port: { number: 80, name: http, protocol: HTTP } }]`,
    `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: { name: ${name}, namespace: ${ns} }
spec:
  hosts: [${host}]
  gateways: [${name}-gateway]
  http:
    - match: [{ uri: { prefix: /${name} } }]
      route: [{ destination: { host: ${name}.${ns}.svc.cluster.local, port: { number: 80 } } }]`,
  ];
}

function sleepObjects(): string[] {
  const docs = [
    `apiVersion: v1
kind: Namespace
metadata: { name: ${SLEEP_NAMESPACE}, labels: { istio-injection: enabled } }`,
    `apiVersion: v1
kind: Service
metadata: { name: sleep, namespace: ${SLEEP_NAMESPACE} }
spec:
  selector: { app: sleep }
  ports: [{ name: http, port: 80, targetPort: 80 }]`,
  ];
  for (let k = 0; k < SLEEP_REPLICAS; k++) {
    docs.push(pod(`sleep-${k}`, SLEEP_NAMESPACE, `10.2.0.${k + 2}`, { app: 'sleep' }, 80));
  }
  return docs;
}

/** The Sidecar that limits the sleep namespace to itself and the control plane's namespace. */
const SLEEP_SIDECAR = `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: { name: default, namespace: ${SLEEP_NAMESPACE} }
spec:
  egress: [{ hosts: ['./*', 'istio-system/*'] }]`;

export function meshManifests(services: number, withSidecar: boolean): string {
  const docs = [
    ...systemObjects(),
    `apiVersion: v1
kind: Namespace
metadata: { name: ${APP_NAMESPACE}, labels: { istio-injection: enabled } }`,
    ...sleepObjects(),
  ];
  for (let i = 0; i < services; i++) docs.push(...httpService(i));
  if (withSidecar) docs.push(SLEEP_SIDECAR);
  return docs.join('\n---\n');
}

// ---- measuring ----

export interface ConfigSize {
  resources: number;
  /** Sum of the encoded `Any.value` bytes, per xDS type (Istio's `kb/msg` counts the same bytes). */
  bytes: Record<ResourceList, number>;
  total: number;
  /** The config dump (with bootstrap and EDS) as Envoy's admin prints it: what the book's sizes measure. */
  dumpJsonBytes: number;
}

/** The resource lists of ProxyResources (not the sidecar's hidden `shared` hint). */
type ResourceList = Exclude<keyof ProxyResources, 'shared'>;

const TYPE_URLS: Record<ResourceList, string> = {
  clusters: TYPE.Cluster,
  endpoints: TYPE.ClusterLoadAssignment,
  listeners: TYPE.Listener,
  routes: TYPE.RouteConfiguration,
  secrets: TYPE.Secret,
};

export function encodedSize(proxy: Proxy, resources: ProxyResources): ConfigSize {
  const bytes = { clusters: 0, endpoints: 0, listeners: 0, routes: 0, secrets: 0 };
  let count = 0;
  for (const key of Object.keys(TYPE_URLS) as ResourceList[]) {
    for (const r of resources[key]) {
      bytes[key] += encodeAny(TYPE_URLS[key], r).value.length;
      count++;
    }
  }
  const dump = buildConfigDump(proxy, resources, {
    bootstrap: buildBootstrap(proxy),
    versionInfo: 'bench',
    lastUpdated: '2026-01-01T00:00:00Z',
    snakeCase: true,
    includeEds: true,
  });
  return {
    resources: count,
    bytes,
    total: Object.values(bytes).reduce((a, b) => a + b, 0),
    dumpJsonBytes: Buffer.byteLength(JSON.stringify(dump, null, 2)),
  };
}

export interface Timing {
  /** Median CPU time (user + system) of this process: the machine is shared, so wall time wanders. */
  cpuMs: number;
  wallMs: number;
}

/** Medians of `fn`'s CPU and wall time in ms, after `warmup` untimed runs. */
export function timeIt(fn: () => unknown, reps: number, warmup = 2): Timing {
  for (let i = 0; i < warmup; i++) fn();
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < reps; i++) {
    const before = process.cpuUsage();
    const start = performance.now();
    fn();
    wall.push(performance.now() - start);
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
  }
  return { cpuMs: median(cpu), wallMs: median(wall) };
}

export interface ProxyMeasurement {
  label: string;
  /** First generation on a fresh push: includes the per-push indexes built on first use (CPU). */
  coldMs: number;
  /** Median of repeated generations on the same push (indexes built), as Istio's benchmarks run (CPU). */
  fullMs: number;
  fullWallMs: number;
  /** RDS alone, for the comparison with Istio's RouteGeneration figures (CPU). */
  routesMs: number;
  /** `encodeAny` of every resource (CPU). */
  encodeMs: number;
  size: ConfigSize;
}

function findWorkload(push: PushContext, pick: (w: Workload) => boolean, what: string): Workload {
  const w = push.registry.workloads().find(pick);
  if (!w) throw new Error(`bench mesh has no ${what}`);
  return w;
}

function measureProxy(
  label: string,
  manifests: string,
  pick: (w: Workload) => boolean,
  reps: number,
  timePush: boolean,
): { measurement: ProxyMeasurement; pushMs: number } {
  const resources = parseManifests(manifests, 'bench.yaml').resources;
  const snapshot = () => new ConfigSnapshot(resources);
  const pushMs = timePush ? timeIt(() => buildPushContext(snapshot()), reps).cpuMs : 0;
  const cold: number[] = [];
  for (let i = 0; i < Math.max(3, Math.ceil(reps / 2)); i++) {
    const push = buildPushContext(snapshot());
    const proxy = proxyFor(findWorkload(push, pick, label));
    const before = process.cpuUsage();
    generateProxyResources(push, proxy);
    const used = process.cpuUsage(before);
    cold.push((used.user + used.system) / 1000);
  }
  const push = buildPushContext(snapshot());
  const proxy = proxyFor(findWorkload(push, pick, label));
  let generated: ProxyResources = generateProxyResources(push, proxy);
  // A sidecar's outbound half is shared per push (generate.ts); forget it so that each run is one proxy's
  // whole generation on a push whose indexes are built, as Istio's benchmark measures.
  const unshared = (): void => {
    for (const key of [...push.memo.keys()])
      if (key.startsWith('generate-sidecar-outbound|')) push.memo.delete(key);
  };
  const full = timeIt(() => {
    unshared();
    generated = generateProxyResources(push, proxy);
  }, reps);
  const routesMs = timeIt(
    () =>
      proxy.type === 'router'
        ? buildGatewayRouteConfigs(push.registry, push.snapshot, proxy)
        : buildSidecarRouteConfigs(push, proxy),
    reps,
  ).cpuMs;
  const encodeMs = timeIt(() => encodeAll(generated), reps, 1).cpuMs;
  return {
    measurement: {
      label,
      coldMs: median(cold.slice(1)),
      fullMs: full.cpuMs,
      fullWallMs: full.wallMs,
      routesMs,
      encodeMs,
      size: encodedSize(proxy, generated),
    },
    pushMs,
  };
}

function proxyFor(w: Workload): Proxy {
  return proxyForWorkload(w, { type: isGatewayWorkload(w) ? 'router' : 'sidecar' });
}

function encodeAll(resources: ProxyResources): number {
  let n = 0;
  for (const key of Object.keys(TYPE_URLS) as ResourceList[]) {
    for (const r of resources[key]) n += encodeAny(TYPE_URLS[key], r).value.length;
  }
  return n;
}

export interface MeshResult {
  services: number;
  objects: number;
  pushMs: number;
  gateway: ProxyMeasurement;
  sidecar: ProxyMeasurement;
  scoped: ProxyMeasurement;
}

export function measureMesh(services: number, reps: number): MeshResult {
  const open = meshManifests(services, false);
  const scopedText = meshManifests(services, true);
  const isGateway = (w: Workload) => isGatewayWorkload(w);
  const isSleep = (w: Workload) => w.name === 'sleep-0' && w.namespace === SLEEP_NAMESPACE;
  const gateway = measureProxy('ingress gateway', open, isGateway, reps, true);
  const sidecar = measureProxy('sleep sidecar', open, isSleep, reps, false);
  const scoped = measureProxy('sleep sidecar + Sidecar', scopedText, isSleep, reps, false);
  return {
    services,
    objects: parseManifests(open, 'bench.yaml').resources.length,
    pushMs: gateway.pushMs,
    gateway: gateway.measurement,
    sidecar: sidecar.measurement,
    scoped: scoped.measurement,
  };
}

// ---- report ----

const fmtMs = (ms: number) =>
  ms >= 100 ? `${ms.toFixed(0)} ms` : ms >= 1 ? `${ms.toFixed(1)} ms` : `${(ms * 1000).toFixed(0)} µs`;
const fmtKB = (bytes: number) => `${(bytes / 1024).toFixed(bytes >= 100 * 1024 ? 0 : 1)} KB`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** The generation benchmark as Markdown lines. */
export function generationReport(results: readonly MeshResult[]): string[] {
  const out: string[] = [];
  out.push("## Generation: one proxy's full config (medians of CPU time, after warm-up)\n");
  out.push(
    '| services | objects | proxy | push context | full config (cold) | full config | (wall) | RDS only | encode | resources | CDS | EDS | LDS | RDS | total (Any bytes) | config_dump JSON |',
  );
  out.push('|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    for (const m of [r.gateway, r.sidecar, r.scoped]) {
      const b = m.size.bytes;
      out.push(
        `| ${r.services.toLocaleString('en-US')} | ${r.objects.toLocaleString('en-US')} | ${m.label} | ${fmtMs(r.pushMs)} | ${fmtMs(m.coldMs)} | ${fmtMs(m.fullMs)} | ${fmtMs(m.fullWallMs)} | ${fmtMs(m.routesMs)} | ${fmtMs(m.encodeMs)} | ${m.size.resources} | ${fmtKB(b.clusters)} | ${fmtKB(b.endpoints)} | ${fmtKB(b.listeners)} | ${fmtKB(b.routes)} | ${fmtKB(m.size.total)} | ${fmtKB(m.size.dumpJsonBytes)} |`,
      );
    }
  }
  out.push("\n## Against Istio's published figures\n");
  out.push('| figure | Istio (Go, 16 threads) | skiff | skiff / Istio | goal |');
  out.push('|---|---:|---:|---:|---|');
  const big = results.find((r) => r.services === 1000);
  const small = results.find((r) => r.services === 200);
  if (big) {
    out.push(
      `| gateway routes, 1,000 gateways | ${fmtMs(ISTIO_ANCHORS.gatewayRoutes1000Ms)} | ${fmtMs(big.gateway.routesMs)} | ${ratio(big.gateway.routesMs, ISTIO_ANCHORS.gatewayRoutes1000Ms)} | ≤ 2× |`,
    );
    out.push(
      `| gateway full config, 1,000 gateways (vs routes figure) | ${fmtMs(ISTIO_ANCHORS.gatewayRoutes1000Ms)} | ${fmtMs(big.gateway.fullMs)} | ${ratio(big.gateway.fullMs, ISTIO_ANCHORS.gatewayRoutes1000Ms)} | (upper bound) |`,
    );
  }
  for (const r of results) {
    // Istio's figure is for 100 services; scaled linearly to this mesh's size.
    const anchor = (ISTIO_ANCHORS.sidecarRoutes100Ms * r.services) / 100;
    out.push(
      `| sidecar routes, ${r.services} services (330 µs per 100, scaled) | ${fmtMs(anchor)} | ${fmtMs(r.sidecar.routesMs)} | ${ratio(r.sidecar.routesMs, anchor)} | ≤ 2× |`,
    );
  }
  for (const r of results) {
    out.push(
      `| Sidecar shrink, ${r.services} services (Any bytes / config_dump JSON) | ~2 MB → ~520 KB (≈ 4×) | ${fmtKB(r.sidecar.size.total)} → ${fmtKB(r.scoped.size.total)} / ${fmtKB(r.sidecar.size.dumpJsonBytes)} → ${fmtKB(r.scoped.size.dumpJsonBytes)} | ${ratio(r.sidecar.size.total, r.scoped.size.total)} / ${ratio(r.sidecar.size.dumpJsonBytes, r.scoped.size.dumpJsonBytes)} | ≥ ${ISTIO_ANCHORS.sidecarShrinkGoal}× at 200 |`,
    );
  }
  if (small) {
    const shrink = small.sidecar.size.total / small.scoped.size.total;
    out.push(
      `\nSidecar scoping at 200 services: ${ratio(small.sidecar.size.total, small.scoped.size.total)} smaller (goal ≥ ${ISTIO_ANCHORS.sidecarShrinkGoal}×: ${shrink >= ISTIO_ANCHORS.sidecarShrinkGoal ? 'met' : 'NOT met'}).`,
    );
  }
  return out;
}

/** Runs the generation benchmark and returns its report. */
export function runGenerationBench(reps = 9): string[] {
  // The HTTP filter, listener and bootstrap types, so that no Any is packed empty.
  const results = GENERATION_SIZES.map((n) => measureMesh(n, reps));
  return generationReport(results);
}
