/**
 * The lab's supervisor (`skiff up`): one process hosting the object store and its REST API, the control
 * plane (xDS, debug and monitoring ports), the controllers, the kubelet that runs pods as processes and the
 * kube-proxy that publishes Services — like a single-binary Kubernetes distribution with Istio on top.
 * State lives in the state dir, so stopping and starting again resumes the same mesh.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Resource } from '../api/index.js';
import { loadPaths } from '../api/index.js';
import type { PilotHandle } from '../pilot/index.js';
import { startPilot } from '../pilot/index.js';
import { issueServiceAccountToken, loadOrCreateCa, loadOrCreateTokenKey } from '../security/index.js';
import type { KubeObject, StoreApiServer } from '../store/index.js';
import { ObjectStore } from '../store/index.js';
import { SKIFF_ISTIO_VERSION, cachedDescriptorPath, envoyRoot } from '../xds/index.js';
import { loopbackRangeUsable } from './addresses.js';
import { LabController } from './controller.js';
import { KubeProxy } from './kube-proxy.js';
import { Kubelet } from './kubelet.js';
import { MESH_CONFIGMAP_NAME, MESH_CONFIGMAP_NAMESPACE, meshConfigMap } from './mesh-config.js';
import { numberAt, ownerUid, podReady, recordAt, stringAt, uidOf } from './objects.js';
import { PodMetricsCollector } from './pod-metrics.js';
import { createLabApiServer } from './pod-metrics-api.js';
import { publishIstiodPod, withoutMirrorPods } from './pod-metrics-istiod.js';
import { publishRootCert } from './root-cert-publisher.js';
import type { KubeletCa } from './kubelet.js';
import type { LabState } from './state.js';
import { clearLabState, killLeftovers, logDir, stateDirPath, writeLabState, writePids } from './state.js';
import { StoreConfigSource } from './store-source.js';

/** The project's examples folder (dist/src/lab → the repository root). */
export const EXAMPLES_DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));

export interface LabOptions {
  stateDir?: string;
  /** An example under examples/ whose `base` folder is applied (objects that do not exist yet). */
  example?: string;
  /** Apply the example only when the store is empty (a fresh state dir). Default true. */
  exampleOnlyWhenEmpty?: boolean;
  apiPort?: number;
  xdsPort?: number;
  debugPort?: number;
  monitoringPort?: number;
  /** Supervisor and control-plane log lines. */
  log?: (line: string) => void;
  /** istiod's TLS port (xDS + CA), 15012 unless taken. */
  securePort?: number;
  /** How often the metrics API samples container processes (default 5 s). */
  podMetricsIntervalMs?: number;
}

export interface LabHandle {
  readonly stateDir: string;
  readonly store: ObjectStore;
  readonly pilot: PilotHandle;
  readonly api: StoreApiServer;
  readonly kubeProxy: KubeProxy;
  state(): LabState;
  /** Resolves once every pod is Ready (rejects after timeoutMs). */
  waitReady(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** `preferred` when it can be bound on host, else 0 (any free port). */
async function portOrAny(host: string, preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(preferred, host, () => s.close(() => resolve(true)));
  });
  return free ? preferred : 0;
}

/** Objects every lab has: the default namespaces and the mesh config. */
function bootstrapObjects(): Record<string, unknown>[] {
  const ns = (name: string, labels: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } },
  });
  return [ns('default'), ns('kube-system'), ns('istio-system'), meshConfigMap()];
}

/** The body to create for a loaded manifest (namespace filled in for namespaced kinds). */
export function objectFromResource(r: Resource): Record<string, unknown> {
  const metadata = { ...(r.object['metadata'] as Record<string, unknown> | undefined) };
  if (r.info.namespaced) metadata['namespace'] = r.metadata.namespace ?? 'default';
  return { ...r.object, apiVersion: r.apiVersion, kind: r.kind, metadata };
}

function createIfMissing(
  store: ObjectStore,
  object: Record<string, unknown>,
  warn: (m: string) => void,
): void {
  const kind = String(object['kind']);
  const apiVersion = String(object['apiVersion']);
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const meta = (object['metadata'] ?? {}) as Record<string, unknown>;
  try {
    if (store.get(`${group}/${kind}`, meta['namespace'] as string | undefined, String(meta['name']))) return;
    store.create(object);
  } catch (err) {
    warn(
      `cannot create ${kind} ${String(meta['namespace'] ?? '')}/${String(meta['name'])}: ${(err as Error).message}`,
    );
  }
}

/** Why the lab is not ready yet, or undefined when every pod of every workload is Ready. */
export function notReadyReason(store: ObjectStore): string | undefined {
  const pods = store.list('/Pod').items.filter((p) => {
    const phase = stringAt(p['status'], 'phase');
    return phase !== 'Succeeded' && phase !== 'Failed';
  });
  for (const d of store.list('apps/Deployment').items) {
    const want = numberAt(recordAt(d, 'spec'), 'replicas') ?? 1;
    const ready = numberAt(recordAt(d, 'status'), 'readyReplicas') ?? 0;
    const rsUids = new Set(
      store
        .list('apps/ReplicaSet', { namespace: d.metadata.namespace })
        .items.filter((rs) => ownerUid(rs) === uidOf(d))
        .map(uidOf),
    );
    const owned = pods.filter((p) => rsUids.has(ownerUid(p) ?? ''));
    if (ready < want || owned.length !== want)
      return `deployment ${d.metadata.namespace}/${d.metadata.name}: ${ready}/${want} ready`;
  }
  const waiting = pods.find((p: KubeObject) => !podReady(p));
  return waiting ? `pod ${waiting.metadata.namespace}/${waiting.metadata.name} not ready` : undefined;
}

/**
 * What the lab's pods need from the control plane's CA: the root (written where the kubelet "mounts" the
 * istio-ca-root-cert ConfigMap), the CA address, and service-account tokens signed with the CA's key.
 */
function labCa(
  rootCertPem: string,
  tokenKey: Buffer,
  address: string,
  stateDir: string,
): { rootCertPem: string; kubelet: KubeletCa } {
  const secretsDir = join(stateDir, 'secrets');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const rootCertFile = join(secretsDir, 'root-cert.pem');
  writeFileSync(rootCertFile, rootCertPem);
  return {
    rootCertPem,
    kubelet: {
      address,
      rootCertFile,
      tokenDir: secretsDir,
      // Projected service-account tokens live as long as the lab may (a real kubelet refreshes them).
      issueToken: (ns, sa) => issueServiceAccountToken(tokenKey, ns, sa, 7 * 24 * 3600),
    },
  };
}

/** The CA material of a started control plane (undefined when it runs without one). */
function pilotCa(
  pilot: PilotHandle,
  stateDir: string,
): { rootCertPem: string; kubelet: KubeletCa } | undefined {
  if (!pilot.ca || !pilot.tokenKey || !pilot.secureAddress) return undefined;
  return labCa(pilot.ca.rootCertPem, pilot.tokenKey, pilot.secureAddress, stateDir);
}

/**
 * The CA material before the control plane starts: the root and token key it will load from the state dir
 * (created here on a fresh one), and its TLS address on a port known up front.
 */
async function earlyCa(
  stateDir: string,
  securePort: number,
): Promise<{ rootCertPem: string; kubelet: KubeletCa }> {
  const ca = await loadOrCreateCa({ stateDir });
  return labCa(ca.rootCertPem, loadOrCreateTokenKey(stateDir), `127.0.0.1:${securePort}`, stateDir);
}

export async function startLab(opts: LabOptions = {}): Promise<LabHandle> {
  const log = opts.log ?? ((line: string) => void process.stdout.write(line));
  const say = (m: string): void => log(`${new Date().toISOString()}\tinfo\tlab\t${m}\n`);
  const warn = (m: string): void => log(`${new Date().toISOString()}\twarn\tlab\t${m}\n`);
  const stateDir = stateDirPath(opts.stateDir);
  if (!(await loopbackRangeUsable()))
    throw new Error(
      'this machine does not route 127.10.0.0/16, 127.11.0.0/16, 127.12.0.0/16 and 127.200.0.0/22 to loopback ' +
        '(macOS needs `ifconfig lo0 alias` per address); the single-address fallback is not implemented yet',
    );
  const leftovers = await killLeftovers(stateDir);
  if (leftovers > 0) say(`ended ${leftovers} pod process(es) left by a previous supervisor`);
  const state: LabState = {
    pid: process.pid,
    status: 'starting',
    startedAt: new Date().toISOString(),
    stateDir,
  };
  writeLabState(stateDir, state);

  const store = ObjectStore.open({ stateDir, warn });
  const fresh = store.size === 0;
  const cleanup: (() => Promise<void> | void)[] = [() => store.close()];
  const fail = async (err: unknown): Promise<never> => {
    for (const c of cleanup.reverse()) await c();
    writeLabState(stateDir, { ...state, status: 'failed', error: (err as Error).message ?? String(err) });
    throw err;
  };
  try {
    store.batch(() => {
      for (const o of bootstrapObjects()) createIfMissing(store, o, warn);
    });
    if (!store.get('/ConfigMap', MESH_CONFIGMAP_NAMESPACE, MESH_CONFIGMAP_NAME))
      createIfMissing(store, meshConfigMap(), warn);
    if (opts.example && (fresh || opts.exampleOnlyWhenEmpty === false)) {
      const dir = `${EXAMPLES_DIR}${opts.example}/base`;
      if (!existsSync(dir)) throw new Error(`no example "${opts.example}" (looked for ${dir})`);
      const loaded = await loadPaths([dir], { defaultNamespace: 'default' });
      for (const e of loaded.errors) warn(`example: ${e.file}: ${e.message}`);
      // Namespaces first, so injection sees their labels when the pods are made.
      const ordered = [...loaded.resources].sort(
        (a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'),
      );
      store.batch(() => {
        for (const r of ordered) createIfMissing(store, objectFromResource(r), warn);
      });
      say(`applied examples/${opts.example}/base (${ordered.length} objects)`);
    }

    // The metrics.k8s.io API (kubectl top) is served beside the store's, from samples of the pods' processes.
    const podMetrics = new PodMetricsCollector(store, { intervalMs: opts.podMetricsIntervalMs });
    const api = await createLabApiServer(store, podMetrics, {
      port: await portOrAny('127.0.0.1', opts.apiPort ?? 6443),
    });
    cleanup.push(() => api.close());
    cleanup.push(() => podMetrics.stop());
    const source = new StoreConfigSource(store, warn);
    const [grpcPort, httpPort, monitoringPort, securePort] = await Promise.all([
      portOrAny('127.0.0.1', opts.xdsPort ?? 15010),
      portOrAny('127.0.0.1', opts.debugPort ?? 8080),
      portOrAny('127.0.0.1', opts.monitoringPort ?? 15014),
      portOrAny('127.0.0.1', opts.securePort ?? 15012),
    ]);

    const controller = new LabController(store, { warn });
    const kubeProxy = new KubeProxy(store, { warn });
    const startWorkloads = (xdsAddress: string, ca: KubeletCa | undefined): void => {
      // The kubelet runs pod processes; the control plane's mirror pod is this process and not its to run.
      const kubelet = new Kubelet(withoutMirrorPods(store), {
        logDir: logDir(stateDir),
        xdsAddress,
        ...(ca ? { ca } : {}),
        warn,
        onProcesses: (pids) => writePids(stateDir, pids),
      });
      cleanup.push(() => controller.stop());
      cleanup.push(() => kubeProxy.stop());
      cleanup.push(() => kubelet.stop());
      controller.start();
      kubelet.start();
      kubeProxy.start();
    };
    // Pods start while the control plane starts, as in a cluster where sidecars retry until istiod answers:
    // each pod process first spends a second or more of CPU loading its code, which now overlaps the control
    // plane's start instead of following it. That needs the control plane's addresses before it listens
    // (its preferred ports were free) and its CA material (loaded from the state dir by both).
    const early = grpcPort !== 0 && securePort !== 0 ? await earlyCa(stateDir, securePort) : undefined;
    const pilotCleanupAt = cleanup.length;
    // Proxies load the Envoy protos from the descriptor the first parse caches; when none is cached yet
    // (the first lab on this machine), parse here once before they start rather than in every one of them.
    const descriptor = cachedDescriptorPath();
    if (early && descriptor && !existsSync(descriptor)) envoyRoot();
    if (early) startWorkloads(`127.0.0.1:${grpcPort}`, early.kubelet);
    const pilot = await startPilot({
      source,
      host: '127.0.0.1',
      grpcPort,
      httpPort,
      monitoringPort,
      securePort,
      stateDir,
      log,
      podName: 'istiod-skiff',
    });
    // Cleanups run in reverse: the pods stop before the control plane, as when it started first.
    cleanup.splice(pilotCleanupAt, 0, () => pilot.close());
    const ca = early ?? pilotCa(pilot, stateDir);
    if (early && pilot.ca && pilot.ca.rootCertPem !== early.rootCertPem)
      warn('the control plane loaded another CA root than the pods were given');
    if (!early) startWorkloads(pilot.grpcAddress, ca?.kubelet);
    if (ca) {
      const publisher = publishRootCert(store, ca.rootCertPem, warn);
      cleanup.push(() => publisher.close());
    }
    // The control plane runs in this process; its mirror pod makes it visible as istio-system's istiod.
    publishIstiodPod(store, { name: 'istiod-skiff', istioVersion: SKIFF_ISTIO_VERSION, warn });
    state.endpoints = {
      api: api.url,
      xds: pilot.grpcAddress,
      debug: `http://127.0.0.1:${pilot.httpPort}`,
      monitoring: `http://127.0.0.1:${pilot.monitoringPort}`,
    };
    writeLabState(stateDir, state);
    podMetrics.start();
    say(
      `store API ${api.url}, xDS ${pilot.grpcAddress}, debug :${pilot.httpPort}, monitoring :${pilot.monitoringPort}`,
    );

    let closing: Promise<void> | undefined;
    const handle: LabHandle = {
      stateDir,
      store,
      pilot,
      api,
      kubeProxy,
      state: () => ({
        ...state,
        published: kubeProxy
          .ports()
          .filter((p) => p.nodePort)
          .map((p) => ({
            address: p.address,
            port: p.port,
            service: p.service,
            portName: p.portName,
            ...(p.error ? { error: p.error } : {}),
          })),
      }),
      async waitReady(timeoutMs: number) {
        // Checked on every store change (pod and deployment statuses), not on a timer.
        await new Promise<void>((resolve, reject) => {
          let scheduled = false;
          const finish = (err?: Error): void => {
            clearTimeout(timer);
            unsubscribe();
            if (err) reject(err);
            else resolve();
          };
          const check = (): void => {
            scheduled = false;
            if (notReadyReason(store) === undefined) finish();
          };
          const timer = setTimeout(
            () => finish(new Error(`not ready after ${timeoutMs} ms: ${notReadyReason(store) ?? 'unknown'}`)),
            timeoutMs,
          );
          const unsubscribe = store.onChange(() => {
            if (scheduled) return;
            scheduled = true;
            setImmediate(check);
          });
          check();
        });
        // Node ports bind asynchronously; give them their turn before reporting.
        await new Promise((r) => setTimeout(r, 50));
        state.status = 'ready';
        writeLabState(stateDir, handle.state());
      },
      close() {
        closing ??= (async () => {
          state.status = 'stopping';
          writeLabState(stateDir, handle.state());
          for (const c of [...cleanup].reverse()) {
            try {
              await c();
            } catch (err) {
              warn(`shutdown: ${(err as Error).message}`);
            }
          }
          writePids(stateDir, []);
          clearLabState(stateDir);
        })();
        return closing;
      },
    };
    return handle;
  } catch (err) {
    return fail(err);
  }
}
