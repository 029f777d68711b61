/**
 * The lab's kubelet: runs every Pod in the store as OS processes, one per container, on the pod's own
 * loopback address (127.10.0.0/16). It captures each container's output into `<stateDir>/logs/`, probes
 * readiness (the container's readinessProbe, or a TCP connect to its first port), restarts crashed
 * containers with a short back-off, and reports phase, podIP, conditions and containerStatuses (ready,
 * restartCount, state, lastState) back to the store. Deleting a Pod stops its processes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { KubeObject, ObjectStore } from '../store/index.js';
import { IpAllocator, POD_SUBNET } from './addresses.js';
import type { ContainerCommand } from './containers.js';
import { appBindAddress, containerCommand, firstPort, processEnv } from './containers.js';
import { SIDECAR_CONTAINER } from './inject.js';
import type { Json } from './objects.js';
import {
  arrayAt,
  isRecord,
  mutable,
  numberAt,
  nsOf,
  recordAt,
  sameJson,
  stringAt,
  timestamp,
  uidOf,
} from './objects.js';

export interface KubeletOptions {
  /** Container logs go to `<logDir>/<namespace>_<pod>_<container>.log`. */
  logDir: string;
  /** The control plane's xDS address, for proxies. */
  xdsAddress: string;
  /** The CA proxies get their workload certificates from (absent: proxies run without certificates). */
  ca?: KubeletCa;
  warn?: (message: string) => void;
  /** Called whenever the set of running process ids changes. */
  onProcesses?: (pids: number[]) => void;
  /** Grace period between SIGTERM and SIGKILL (default 5 s). */
  stopGraceMs?: number;
}

export interface KubeletCa {
  /** istiod's TLS address (15012). */
  address: string;
  /** The mesh root, as the istio-ca-root-cert ConfigMap mounted into the proxy. */
  rootCertFile: string;
  /** Where projected service-account tokens are written, one file per pod. */
  tokenDir: string;
  issueToken(namespace: string, serviceAccount: string): string;
}

// Probe periods are the lab's own (Kubernetes' default periodSeconds is 10): a container is probed every
// 100 ms until it is ready, since `skiff up` waits for exactly that, then every 2 s.
const FAST_PROBE_MS = 100;
const PROBE_MS = 2000;
const FAILURE_THRESHOLD = 3;
const MAX_BACKOFF_MS = 10_000;

/** The log file of one container. */
export function containerLogPath(logDir: string, namespace: string, pod: string, container: string): string {
  return join(logDir, `${namespace}_${pod}_${container}.log`);
}

interface ContainerState {
  name: string;
  spec: Json;
  image: string;
  command: ContainerCommand | { error: string };
  child?: ChildProcess;
  startedAt?: string;
  restartCount: number;
  ready: boolean;
  failures: number;
  lastTerminated?: Json;
  waitingReason?: string;
  waitingMessage?: string;
  probeTimer?: NodeJS.Timeout;
  restartTimer?: NodeJS.Timeout;
}

interface PodState {
  uid: string;
  namespace: string;
  name: string;
  podIP: string;
  startTime: string;
  containers: ContainerState[];
  stopping: boolean;
}

export class Kubelet {
  private readonly ips = new IpAllocator(POD_SUBNET);
  private readonly pods = new Map<string, PodState>();
  private readonly dirty = new Set<string>();
  private scheduled = false;
  private flushScheduled = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly warn: (message: string) => void;
  private readonly graceMs: number;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: KubeletOptions,
  ) {
    this.warn = opts.warn ?? (() => undefined);
    this.graceMs = opts.stopGraceMs ?? 5000;
    mkdirSync(opts.logDir, { recursive: true });
  }

  start(): void {
    // Pods recovered from the state dir keep their addresses.
    for (const pod of this.store.list('/Pod').items) {
      const ip = stringAt(pod['status'], 'podIP');
      if (ip) this.ips.reserve(ip);
    }
    this.unsubscribe = this.store.onChange((c) => {
      if (c.kindKey === '/Pod') this.schedule();
    });
    this.sync();
    // Recovered pods' statuses are from the previous run: say now that nothing is ready yet.
    this.flush();
  }

  /** Every process id this kubelet runs now. */
  pids(): number[] {
    const out: number[] = [];
    for (const p of this.pods.values())
      for (const c of p.containers)
        if (c.child?.pid !== undefined && c.child.exitCode === null) out.push(c.child.pid);
    return out;
  }

  /** Stops every container (SIGTERM, then SIGKILL after the grace period). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all([...this.pods.values()].map((p) => this.stopPod(p)));
    this.pods.clear();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sync();
    });
  }

  private sync(): void {
    if (this.stopped) return;
    const seen = new Set<string>();
    for (const pod of this.store.list('/Pod').items) {
      const uid = uidOf(pod);
      const phase = stringAt(pod['status'], 'phase');
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      seen.add(uid);
      if (!this.pods.has(uid)) this.admit(pod);
    }
    for (const [uid, state] of this.pods) {
      if (seen.has(uid)) continue;
      this.pods.delete(uid);
      void this.stopPod(state).then(() => this.ips.release(state.podIP));
    }
  }

  private admit(pod: KubeObject): void {
    const status = recordAt(pod, 'status');
    let podIP = stringAt(status, 'podIP');
    const taken = [...this.pods.values()].some((p) => p.podIP === podIP);
    if (!podIP || !this.ips.contains(podIP) || taken) podIP = this.ips.allocate();
    else this.ips.reserve(podIP);
    const previous = arrayAt(status, 'containerStatuses');
    const state: PodState = {
      uid: uidOf(pod),
      namespace: nsOf(pod),
      name: pod.metadata.name,
      podIP,
      startTime: stringAt(status, 'startTime') ?? timestamp(),
      stopping: false,
      containers: arrayAt(pod['spec'], 'containers').map((spec) => {
        const name = stringAt(spec, 'name') ?? '';
        const before = previous.find((c) => c['name'] === name);
        return {
          name,
          spec,
          image: stringAt(spec, 'image') ?? '',
          command: containerCommand(spec),
          restartCount: numberAt(before, 'restartCount') ?? 0,
          ready: false,
          failures: 0,
        };
      }),
    };
    this.pods.set(state.uid, state);
    this.markDirty(state);
    // The sidecar starts first, as Istio's holdApplicationUntilProxyStarts would have it; the others follow.
    const ordered = [...state.containers].sort(
      (a, b) => Number(b.name === SIDECAR_CONTAINER) - Number(a.name === SIDECAR_CONTAINER),
    );
    for (const c of ordered) this.run(state, c);
  }

  private current(state: PodState): KubeObject | undefined {
    const pod = this.store.get('/Pod', state.namespace, state.name);
    return pod && uidOf(pod) === state.uid ? pod : undefined;
  }

  /**
   * A proxy's identity material, as a kubelet mounts it: a service-account token projected for the CA
   * (audience istio-ca) and the mesh root. Empty when the lab runs without a CA or the token cannot be made.
   */
  private proxyIdentity(
    pod: KubeObject,
    namespace: string,
    name: string,
  ): { caAddress?: string; rootCertFile?: string; tokenFile?: string } {
    const ca = this.opts.ca;
    if (!ca) return {};
    const spec = pod['spec'];
    const sa =
      spec && typeof spec === 'object' && typeof (spec as Json)['serviceAccountName'] === 'string'
        ? ((spec as Json)['serviceAccountName'] as string)
        : 'default';
    const tokenFile = join(ca.tokenDir, `${namespace}_${name}.istio-token`);
    try {
      writeFileSync(tokenFile, ca.issueToken(namespace, sa), { mode: 0o600 });
    } catch (err) {
      this.warn(
        `cannot project the service-account token of ${namespace}/${name}: ${(err as Error).message}`,
      );
      return {};
    }
    return { caAddress: ca.address, rootCertFile: ca.rootCertFile, tokenFile };
  }

  private run(state: PodState, c: ContainerState): void {
    if (state.stopping || this.stopped) return;
    const pod = this.current(state);
    if (!pod) return;
    if ('error' in c.command) {
      c.waitingReason = 'ErrImagePull';
      c.waitingMessage = c.command.error;
      this.markDirty(state);
      return;
    }
    const logPath = containerLogPath(this.opts.logDir, state.namespace, state.name, c.name);
    if (c.restartCount > 0 && existsSync(logPath)) {
      try {
        renameSync(logPath, logPath.replace(/\.log$/, '.previous.log'));
      } catch {
        // keep appending to the old file
      }
    }
    let fd: number | undefined;
    try {
      fd = openSync(logPath, 'a');
      const env = {
        ...process.env,
        ...processEnv(this.store, pod, c.spec, c.command, {
          podIP: state.podIP,
          xdsAddress: this.opts.xdsAddress,
          ...(c.command.program === 'proxy' ? this.proxyIdentity(pod, state.namespace, state.name) : {}),
        }),
      };
      const child = spawn(process.execPath, [c.command.script, ...c.command.args], {
        env,
        stdio: ['ignore', fd, fd],
        // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which stops pods in order.
        detached: true,
      });
      c.child = child;
      c.startedAt = timestamp();
      c.waitingReason = undefined;
      c.waitingMessage = undefined;
      c.ready = false;
      c.failures = 0;
      child.on('error', (err) => this.warn(`${state.namespace}/${state.name} ${c.name}: ${err.message}`));
      child.on('exit', (code, signal) => this.exited(state, c, child, code, signal));
      this.opts.onProcesses?.(this.pids());
    } catch (err) {
      c.waitingReason = 'RunContainerError';
      c.waitingMessage = (err as Error).message;
      this.scheduleRestart(state, c);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.markDirty(state);
    this.probeLater(state, c, FAST_PROBE_MS);
  }

  private exited(
    state: PodState,
    c: ContainerState,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (c.child !== child) return;
    c.child = undefined;
    if (c.probeTimer) clearTimeout(c.probeTimer);
    c.ready = false;
    this.opts.onProcesses?.(this.pids());
    const exitCode = code ?? (signal === 'SIGKILL' ? 137 : 143);
    c.lastTerminated = {
      terminated: {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt: c.startedAt ?? timestamp(),
        finishedAt: timestamp(),
        containerID: `skiff://${child.pid ?? 0}`,
      },
    };
    if (state.stopping || this.stopped) return;
    c.restartCount++;
    this.warn(
      `${state.namespace}/${state.name} container ${c.name} exited (${signal ?? `code ${exitCode}`}); restarting`,
    );
    this.scheduleRestart(state, c);
    this.markDirty(state);
  }

  private scheduleRestart(state: PodState, c: ContainerState): void {
    // The first restart is immediate; repeated crashes back off (Kubernetes: 10 s doubling to 5 min).
    const delay = c.restartCount <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** (c.restartCount - 2));
    if (delay > 0) c.waitingReason = 'CrashLoopBackOff';
    c.restartTimer = setTimeout(() => {
      c.restartTimer = undefined;
      this.run(state, c);
    }, delay);
  }

  private probeLater(state: PodState, c: ContainerState, ms: number): void {
    if (c.probeTimer) clearTimeout(c.probeTimer);
    c.probeTimer = setTimeout(() => void this.probe(state, c), ms);
  }

  private async probe(state: PodState, c: ContainerState): Promise<void> {
    c.probeTimer = undefined;
    if (!c.child || state.stopping || this.stopped) return;
    const pod = this.current(state);
    if (!pod) return;
    const ok = await this.check(pod, state, c);
    if (!c.child || state.stopping || this.stopped) return;
    if (ok) {
      c.failures = 0;
      if (!c.ready) {
        c.ready = true;
        this.markDirty(state);
      }
    } else if (c.ready && ++c.failures >= FAILURE_THRESHOLD) {
      c.ready = false;
      this.markDirty(state);
    }
    this.probeLater(state, c, c.ready ? PROBE_MS : FAST_PROBE_MS);
  }

  /** One readiness check: the container's probe, or a TCP connect to its first port. */
  private check(pod: KubeObject, state: PodState, c: ContainerState): Promise<boolean> {
    const probe = recordAt(c.spec, 'readinessProbe');
    const port = (p: unknown): number | undefined => {
      if (typeof p === 'number') return p;
      if (typeof p === 'string' && /^\d+$/.test(p)) return Number(p);
      for (const cp of arrayAt(c.spec, 'ports')) if (cp['name'] === p) return numberAt(cp, 'containerPort');
      return undefined;
    };
    if (isRecord(probe['httpGet'])) {
      const target = port(probe['httpGet']['port']);
      if (target === undefined) return Promise.resolve(false);
      return httpOk(state.podIP, target, stringAt(probe['httpGet'], 'path') ?? '/');
    }
    if (isRecord(probe['tcpSocket'])) {
      const target = port(probe['tcpSocket']['port']);
      return target === undefined ? Promise.resolve(false) : tcpOk(state.podIP, target);
    }
    const first = firstPort(c.spec);
    if (first === undefined || c.name === SIDECAR_CONTAINER) return Promise.resolve(true);
    return tcpOk(appBindAddress(pod, state.podIP), first);
  }

  private markDirty(state: PodState): void {
    this.dirty.add(state.uid);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const uids = [...this.dirty];
    this.dirty.clear();
    this.store.batch(() => {
      for (const uid of uids) {
        const state = this.pods.get(uid);
        if (!state || state.stopping) continue;
        const pod = this.current(state);
        if (!pod) continue;
        const status = podStatus(pod, state);
        if (sameJson(pod['status'], status)) continue;
        const next = mutable(pod);
        next['status'] = status;
        try {
          this.store.updateStatus(next);
        } catch (err) {
          this.warn(`status of ${state.namespace}/${state.name}: ${(err as Error).message}`);
        }
      }
    });
  }

  private async stopPod(state: PodState): Promise<void> {
    state.stopping = true;
    await Promise.all(
      state.containers.map((c) => {
        if (c.probeTimer) clearTimeout(c.probeTimer);
        if (c.restartTimer) clearTimeout(c.restartTimer);
        const child = c.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const kill = setTimeout(() => child.kill('SIGKILL'), this.graceMs);
          child.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          child.kill('SIGTERM');
        });
      }),
    );
    this.opts.onProcesses?.(this.pids());
  }
}

function containerStatus(c: ContainerState, previous: Json | undefined): Json {
  let state: Json;
  if (c.child && c.startedAt) state = { running: { startedAt: c.startedAt } };
  else if (c.waitingReason)
    state = {
      waiting: c.waitingMessage
        ? { reason: c.waitingReason, message: c.waitingMessage }
        : { reason: c.waitingReason },
    };
  else state = { waiting: { reason: 'ContainerCreating' } };
  const out: Json = {
    name: c.name,
    image: c.image,
    imageID: '',
    ready: c.ready,
    restartCount: c.restartCount,
    started: c.child !== undefined,
    state,
    lastState: c.lastTerminated ?? (isRecord(previous?.['lastState']) ? previous['lastState'] : {}),
  };
  if (c.child?.pid !== undefined) out['containerID'] = `skiff://${c.child.pid}`;
  return out;
}

/**
 * Init containers run no process in the lab: `istio-init`'s redirection is the capture layer's, in place
 * before the pod's containers start, so each reports Completed at the pod's start time.
 */
function initContainerStatuses(pod: KubeObject, startTime: string): Json[] {
  return arrayAt(pod['spec'], 'initContainers').map((c) => ({
    name: stringAt(c, 'name') ?? '',
    image: stringAt(c, 'image') ?? '',
    imageID: '',
    ready: true,
    restartCount: 0,
    started: false,
    state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: startTime, finishedAt: startTime } },
  }));
}

function podStatus(pod: KubeObject, state: PodState): Json {
  const before = recordAt(pod, 'status');
  const previous = arrayAt(before, 'conditions');
  const previousContainers = arrayAt(before, 'containerStatuses');
  const statuses = state.containers.map((c) =>
    containerStatus(
      c,
      previousContainers.find((p) => p['name'] === c.name),
    ),
  );
  const allReady = state.containers.length > 0 && state.containers.every((c) => c.ready);
  const running = state.containers.some((c) => c.child !== undefined);
  const now = timestamp();
  const cond = (type: string, ok: boolean, reason?: string): Json => {
    const prior = previous.find((c) => c['type'] === type);
    const status = ok ? 'True' : 'False';
    const out: Json = { type, status, lastProbeTime: null };
    out['lastTransitionTime'] = prior && prior['status'] === status ? prior['lastTransitionTime'] : now;
    if (!ok && reason) {
      out['reason'] = reason;
      const notReady = state.containers.filter((c) => !c.ready).map((c) => c.name);
      out['message'] = `containers with unready status: [${notReady.join(' ')}]`;
    }
    return out;
  };
  return {
    phase: running || stringAt(before, 'phase') === 'Running' ? 'Running' : 'Pending',
    conditions: [
      cond('Initialized', true),
      cond('Ready', allReady, 'ContainersNotReady'),
      cond('ContainersReady', allReady, 'ContainersNotReady'),
      cond('PodScheduled', true),
    ],
    hostIP: '127.0.0.1',
    podIP: state.podIP,
    podIPs: [{ ip: state.podIP }],
    startTime: state.startTime,
    initContainerStatuses: initContainerStatuses(pod, state.startTime),
    containerStatuses: statuses,
    qosClass: qosClass(pod),
  };
}

/**
 * The pod's QoS class as Kubernetes derives it from its containers' resources: Guaranteed when every
 * container's cpu and memory limits equal their requests, BestEffort when none sets any, else Burstable.
 */
export function qosClass(pod: KubeObject): string {
  const containers = [...arrayAt(pod['spec'], 'initContainers'), ...arrayAt(pod['spec'], 'containers')];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const resources = recordAt(c, 'resources');
    const limits = recordAt(resources, 'limits');
    const requests = { ...limits, ...recordAt(resources, 'requests') };
    if (Object.keys(limits).length > 0 || Object.keys(requests).length > 0) any = true;
    for (const r of ['cpu', 'memory'])
      if (limits[r] === undefined || String(limits[r]) !== String(requests[r])) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function tcpOk(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function httpOk(host: string, port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}
