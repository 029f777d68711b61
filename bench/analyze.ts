import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, Parser, parseAllDocuments } from 'yaml';
import { loadPaths } from '../src/api/index.js';
import { ALL_ANALYZERS, runAnalysis, offlineDefaultResources } from '../src/analyze/index.js';
import { ConfigSnapshot, defaultMeshConfig } from '../src/model/index.js';

/** The repository root (this file runs from dist/bench). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli/main.js');

/** Objects shared by every generated mesh: the control-plane namespace and the ingress gateway. */
const FIXED_OBJECTS = 3;
/** Application namespaces, labelled for injection as the lab's istioinaction is. */
const APP_NAMESPACES = 2;
/** Objects per service: Service, Deployment, Gateway, VirtualService, DestinationRule. */
const PER_SERVICE = 5;

export interface GeneratedMesh {
  dir: string;
  files: string[];
  resources: number;
  services: number;
}

/**
 * Writes a mesh shaped like the lab (catalog behind the ingress gateway, routed to subset v1) with
 * `total` objects, spread over `fileCount` multi-document files. `total - 5` must be a multiple of 5.
 */
export function generateMesh(dir: string, total: number, fileCount: number): GeneratedMesh {
  const services = Math.floor((total - FIXED_OBJECTS - APP_NAMESPACES) / PER_SERVICE);
  const docs: string[][] = Array.from({ length: fileCount }, () => []);
  docs[0]?.push(...fixedObjects());
  for (let n = 0; n < APP_NAMESPACES; n++) docs[0]?.push(namespace(`app-${n}`));
  for (let i = 0; i < services; i++) {
    docs[i % fileCount]?.push(...service(`svc-${i}`, `app-${i % APP_NAMESPACES}`));
  }
  const files = docs.map((d, i) => {
    const file = join(dir, `mesh-${i}.yaml`);
    writeFileSync(file, d.join('---\n'));
    return file;
  });
  return { dir, files, resources: FIXED_OBJECTS + APP_NAMESPACES + services * PER_SERVICE, services };
}

function fixedObjects(): string[] {
  return [
    `apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
`,
    `apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels:
    app: istio-ingressgateway
    istio: ingressgateway
spec:
  type: NodePort
  selector:
    app: istio-ingressgateway
    istio: ingressgateway
  ports:
    - name: http2
      port: 80
      targetPort: 8080
      nodePort: 30000
`,
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  replicas: 1
  selector:
    matchLabels:
      app: istio-ingressgateway
      istio: ingressgateway
  template:
    metadata:
      labels:
        app: istio-ingressgateway
        istio: ingressgateway
        sidecar.istio.io/inject: 'false'
    spec:
      containers:
        - name: istio-proxy
          image: skiff/proxy:latest
          ports:
            - containerPort: 8080
              name: http2
`,
  ];
}

function namespace(name: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
  labels:
    istio-injection: enabled
`;
}

function service(name: string, ns: string): string[] {
  const fqdn = `${name}.${ns}.svc.cluster.local`;
  const host = `${name}.${ns}.example.com`;
  return [
    `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app: ${name}
spec:
  selector:
    app: ${name}
  ports:
    - name: http
      port: 80
      protocol: TCP
      targetPort: 3000
`,
    `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app: ${name}
    version: v1
spec:
  replicas: 1
  selector:
    matchLabels:
      app: ${name}
      version: v1
  template:
    metadata:
      labels:
        app: ${name}
        version: v1
    spec:
      containers:
        - name: ${name}
          image: skiff/catalog:latest
          ports:
            - containerPort: 3000
              name: http
              protocol: TCP
`,
    `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: ${name}-gateway
  namespace: ${ns}
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts:
        - ${host}
      port:
        number: 80
        name: http
        protocol: HTTP
`,
    `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  hosts:
    - ${host}
  gateways:
    - ${name}-gateway
  http:
    - route:
        - destination:
            host: ${fqdn}
            subset: version-v1
            port:
              number: 80
`,
    `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  host: ${fqdn}
  subsets:
    - name: version-v1
      labels:
        version: v1
`,
  ];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `fn` `reps` times and returns the median wall time in milliseconds. */
export async function timeMedian(reps: number, fn: () => unknown): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return median(times);
}

export interface CliTiming {
  medianMs: number;
  /** Median CPU time (user + system) of the child, when /proc tells it; contention inflates wall time, not this. */
  medianCpuMs: number | undefined;
  runs: number;
  exitCode: number | null;
  messageLines: number;
}

/** The whole `skiff analyze` run as a user sees it: a fresh node process, files to exit code. */
export function timeCli(args: readonly string[], reps: number): CliTiming {
  const times: number[] = [];
  const cpu: number[] = [];
  let exitCode: number | null = null;
  let messageLines = 0;
  for (let i = 0; i < reps; i++) {
    const cpuBefore = childrenCpuMs();
    const start = performance.now();
    const run = spawnSync(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, TERM: 'dumb' },
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'utf8',
    });
    times.push(performance.now() - start);
    const cpuAfter = childrenCpuMs();
    if (cpuBefore !== undefined && cpuAfter !== undefined) cpu.push(cpuAfter - cpuBefore);
    exitCode = run.status;
    messageLines = run.stdout.split('\n').filter((l) => /^(Error|Warning|Info) \[/.test(l)).length;
  }
  return {
    medianMs: median(times),
    medianCpuMs: cpu.length === reps ? median(cpu) : undefined,
    runs: reps,
    exitCode,
    messageLines,
  };
}

/** CPU time of this process's waited-for children (cutime + cstime of /proc/self/stat), in ms. */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the parenthesised command name; cutime and cstime are fields 16 and 17.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks * 10 : undefined; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

export interface PhaseTimings {
  loadMs: number;
  snapshotMs: number;
  analysisMs: number;
  messages: number;
}

/** The same work in this process, phase by phase (medians), to show where the end-to-end time goes. */
export async function timePhases(dir: string, reps: number): Promise<PhaseTimings> {
  const load: number[] = [];
  const snap: number[] = [];
  const analysis: number[] = [];
  let messages = 0;
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    const loaded = await loadPaths([dir], { defaultNamespace: 'default' });
    load.push(performance.now() - t);
    t = performance.now();
    const mesh = defaultMeshConfig();
    const snapshot = new ConfigSnapshot(
      [...offlineDefaultResources(mesh, 'istio-system'), ...loaded.resources],
      mesh,
    );
    snap.push(performance.now() - t);
    t = performance.now();
    messages = runAnalysis(snapshot, {}).messages.length;
    analysis.push(performance.now() - t);
  }
  return { loadMs: median(load), snapshotMs: median(snap), analysisMs: median(analysis), messages };
}

/** Each analyzer alone over the same snapshot: one run each, slowest first. */
export async function timeAnalyzers(dir: string, top: number): Promise<{ name: string; ms: number }[]> {
  const loaded = await loadPaths([dir], { defaultNamespace: 'default' });
  const mesh = defaultMeshConfig();
  const snapshot = new ConfigSnapshot(
    [...offlineDefaultResources(mesh, 'istio-system'), ...loaded.resources],
    mesh,
  );
  const out: { name: string; ms: number }[] = [];
  for (const a of ALL_ANALYZERS) {
    const start = performance.now();
    runAnalysis(snapshot, { analyzers: [a.name] });
    out.push({ name: a.name, ms: performance.now() - start });
  }
  return out.sort((a, b) => b.ms - a.ms).slice(0, top);
}

export interface BaselineTimings {
  /** Read the files and `parseAllDocuments` + `toJS` with line positions: what a loader built on `yaml` must do. */
  yamlParseMs: number;
  /** Only the `yaml` package's tokenizer and CST parser, the part no `yaml`-based loader can skip. */
  yamlCstMs: number;
}

export async function timeBaselines(dir: string, reps: number): Promise<BaselineTimings> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join(dir, f));
  const yamlParseMs = await timeMedian(reps, () => {
    for (const f of files) {
      const lines = new LineCounter();
      for (const doc of parseAllDocuments(readFileSync(f, 'utf8'), { lineCounter: lines })) doc.toJS();
    }
  });
  const yamlCstMs = await timeMedian(reps, () => {
    for (const f of files) {
      for (const token of new Parser().parse(readFileSync(f, 'utf8'))) void token;
    }
  });
  return { yamlParseMs, yamlCstMs };
}

/** Node starting and loading the CLI's modules, with nothing to analyze (`analyze -L`). */
export function timeStartup(reps: number): number {
  return timeCli(['analyze', '-L'], reps).medianMs;
}
