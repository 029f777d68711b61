/**
 * One skiff proxy as a pod runs it (`skiff proxy sidecar|router`): an ADS client that identifies as an Istio
 * 1.17 sidecar or gateway, skiff's engine fed with every config the client applies (responses the engine
 * would refuse are NACKed before they are applied), the admin API (15000) and the agent (15020 status,
 * 15021 readiness, 15090 Prometheus, 15004 debug) on the pod address, and the lab's capture (capture.ts):
 * inbound listeners on podIP:<port>, passthrough for application ports without one, and the 15001 front.
 */
import { readFileSync } from 'node:fs';
import type { AdminServer, Agent, CompiledConfig, DebugReply, ProxyEngine } from '../proxy/index.js';
import { compileSnapshot, ProxyEngine as Engine, startAdmin, startAgent } from '../proxy/index.js';
import { WorkloadCertManager, spiffeUri } from '../security/index.js';
// The xDS client and the type URLs only, not the xds index: that would load the config generators, the
// ADS server and their dependencies into every proxy process (see the exception in eslint.config.js).
import type { AdsSnapshot, ValidatedResource, XdsNode } from '../xds/client/index.js';
import { AdsClient, DecodeCache, debugResponseText, routerNode, sidecarNode } from '../xds/client/index.js';
import { TYPE } from '../xds/protos.js';
import { podAppAddress, podOutboundAddress } from './addresses.js';
import type { CapturePlan, CaptureTarget, ReceivedConfig } from './capture.js';
import { planCapture } from './capture.js';
import type { OutboundFront } from './outbound.js';
import { startOutboundFront } from './outbound.js';
import type { TcpForwarder } from './tcp-forward.js';
import { startTcpForwarder } from './tcp-forward.js';

export interface PodPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface ProxyRuntimeOptions {
  type: 'sidecar' | 'router';
  /** `host:port` of the control plane's plaintext xDS port. */
  xdsAddress: string;
  podIP: string;
  podName: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  serviceAccount?: string;
  /** The application containers' ports (sidecars): each gets inbound capture on podIP:<port>. */
  podPorts?: PodPort[];
  /** Sidecars: where the application listens; default the pod address's 127.11.x.y twin. */
  appAddress?: string;
  /** ISTIO_KUBE_APP_PROBERS (the injector's rewritten application probes). */
  appProbers?: string;
  clusterId?: string;
  /** Istio-style log lines (`<time>\tinfo\t<message>`); stdout by default. */
  log?: (line: string) => void;
  /** Serve admin and agent ports (default true). */
  adminPorts?: boolean;
  /**
   * The istiod CA (15012) the agent gets the workload certificate from, as pilot-agent does: a key and CSR
   * made here, signed for the pod's service account, served to the engine as SDS `default` and `ROOTCA`.
   * Without it the proxy has no certificate, and mTLS clusters and chains fail their handshakes.
   */
  ca?: ProxyCaOptions;
}

export interface ProxyCaOptions {
  /** `host:port` of the CA (istiod's TLS port). */
  address: string;
  /** The mesh root (istio-ca-root-cert), to verify istiod. */
  rootCertPem: string;
  /** The service-account token presented to the CA, read on every request (the kubelet may refresh it). */
  token: () => string;
  trustDomain?: string;
  /** Workload certificate lifetime asked for (SECRET_TTL; default 24 h). */
  ttlSeconds?: number;
  /** The workload key type (ECC_SIGNATURE_ALGORITHM=ECDSA → P-256; RSA 2048 otherwise, Istio's default). */
  keyAlgorithm?: 'RSA' | 'ECDSA';
}

export interface ProxyRuntime {
  readonly engine: ProxyEngine;
  readonly client: AdsClient;
  readonly node: XdsNode;
  /** The plan serving now (undefined before the first config). */
  plan(): CapturePlan | undefined;
  /** Resolves once the first config is applied. */
  firstConfig: Promise<void>;
  close(): Promise<void>;
}

/**
 * The CA settings from a proxy container's environment: SKIFF_CA_ADDRESS (istiod's 15012),
 * SKIFF_CA_ROOT_CERT (the mounted istio-ca-root-cert) and SKIFF_TOKEN_FILE (the projected service-account
 * token, Istio's /var/run/secrets/tokens/istio-token); SECRET_TTL and ECC_SIGNATURE_ALGORITHM optional.
 * Undefined when no CA is set; an error naming the variable when a file cannot be read.
 */
export function proxyCaFromEnv(env: NodeJS.ProcessEnv): ProxyCaOptions | undefined {
  const address = env['SKIFF_CA_ADDRESS'];
  if (!address) return undefined;
  const rootFile = env['SKIFF_CA_ROOT_CERT'] ?? '';
  const tokenFile = env['SKIFF_TOKEN_FILE'] ?? '';
  let rootCertPem: string;
  try {
    rootCertPem = readFileSync(rootFile, 'utf8');
  } catch (err) {
    throw new Error(`SKIFF_CA_ROOT_CERT ${rootFile || '(unset)'}: ${(err as Error).message}`);
  }
  const ttl = env['SECRET_TTL'] ? parseGoDurationSeconds(env['SECRET_TTL']) : undefined;
  return {
    address,
    rootCertPem,
    token: () => readFileSync(tokenFile, 'utf8').trim(),
    ...(env['TRUST_DOMAIN'] ? { trustDomain: env['TRUST_DOMAIN'] } : {}),
    ...(ttl !== undefined ? { ttlSeconds: ttl } : {}),
    ...(env['ECC_SIGNATURE_ALGORITHM'] === 'ECDSA' ? { keyAlgorithm: 'ECDSA' as const } : {}),
  };
}

/** `24h`, `90m`, `30s` (Go durations as SECRET_TTL takes them) in seconds; undefined when unreadable. */
function parseGoDurationSeconds(text: string): number | undefined {
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * (unit[m[2] ?? 's'] ?? 1);
    consumed = re.lastIndex;
  }
  return consumed === text.length && total > 0 ? Math.round(total) : undefined;
}

function istioLog(write: (line: string) => void, level: string, message: string): void {
  const now = new Date().toISOString().replace(/(\.\d{3})Z$/, '$1000Z');
  write(`${now}\t${level}\t${message}\n`);
}

/** The xDS config as the planner reads it, from the client's accepted resources. */
export function receivedConfig(s: AdsSnapshot): ReceivedConfig {
  const versions = [TYPE.Cluster, TYPE.Listener, TYPE.RouteConfiguration, TYPE.ClusterLoadAssignment]
    .map((t) => s.versions[t] ?? '')
    .filter((v) => v !== '');
  return {
    clusters: Object.values(s.clusters),
    endpoints: Object.values(s.endpoints),
    listeners: Object.values(s.listeners),
    routes: Object.values(s.routes),
    secrets: Object.values(s.secrets),
    version: versions[versions.length - 1] ?? '',
  };
}

/**
 * Whether two received configs hold the very same resource objects (in any order: the client keeps them by
 * name), so that what was planned and compiled for one serves the other. Versions are not compared: a
 * response is validated before its version is acknowledged.
 */
export function sameReceivedConfig(a: ReceivedConfig, b: ReceivedConfig): boolean {
  const same = (x: readonly object[], y: readonly object[]): boolean => {
    if (x.length !== y.length) return false;
    const held = new Set(x);
    return y.every((r) => held.has(r));
  };
  return (
    same(a.clusters, b.clusters) &&
    same(a.endpoints, b.endpoints) &&
    same(a.listeners, b.listeners) &&
    same(a.routes, b.routes) &&
    same(a.secrets, b.secrets)
  );
}

/** The config if a response of `typeUrl` carrying `resources` were accepted. */
export function withResponse(
  current: ReceivedConfig,
  typeUrl: string,
  resources: readonly ValidatedResource[],
): ReceivedConfig {
  const list = resources.map((r) => r.resource);
  switch (typeUrl) {
    case TYPE.Cluster:
      return { ...current, clusters: list };
    case TYPE.Listener:
      return { ...current, listeners: list };
    case TYPE.RouteConfiguration:
      return { ...current, routes: list };
    case TYPE.ClusterLoadAssignment:
      return { ...current, endpoints: list };
    case TYPE.Secret:
      return { ...current, secrets: list };
    default:
      return current;
  }
}

/**
 * pilot-agent's 15004 tap: `/debug/<type>[?resourceName=<name>]` becomes a request for
 * `istio.io/debug/<type>` on the proxy's own ADS stream; the answer is relayed as indented JSON, no answer
 * within 5 s is a bare 504, and no connection a 503 saying so (the agent's text).
 */
export function relayDebugRequest(
  client: AdsClient,
): (path: string, query: URLSearchParams) => Promise<DebugReply> {
  return async (path, query) => {
    const resourceName = query.get('resourceName') ?? '';
    const response = await client.debugRequest(`istio.io${path}`, {
      resourceNames: resourceName === '' ? [] : [resourceName],
    });
    if (!response) return { status: 504, body: '' };
    return { status: 200, body: debugResponseText(response), type: 'application/json' };
  };
}

/** Encoded bytes a proxy keeps decoded (its config is a few MB even at 1,000 services). */
const PROXY_DECODE_CACHE_BYTES = 32 * 1024 * 1024;

export async function startProxyRuntime(opts: ProxyRuntimeOptions): Promise<ProxyRuntime> {
  const write = opts.log ?? ((line: string) => void process.stdout.write(line));
  const info = (m: string): void => istioLog(write, 'info', m);
  const warn = (m: string): void => istioLog(write, 'warn', m);
  const podPorts = (opts.podPorts ?? []).filter(
    (p) => Number.isInteger(p.containerPort) && p.containerPort > 0 && p.containerPort <= 65535,
  );
  const target: CaptureTarget =
    opts.type === 'router'
      ? { type: 'router', podIP: opts.podIP }
      : {
          type: 'sidecar',
          podIP: opts.podIP,
          appAddress: opts.appAddress ?? podAppAddress(opts.podIP),
          outboundAddress: podOutboundAddress(opts.podIP),
        };
  const nodeOptions = {
    ip: opts.podIP,
    podName: opts.podName,
    namespace: opts.namespace,
    labels: opts.labels ?? {},
    annotations: opts.annotations,
    serviceAccount: opts.serviceAccount,
    clusterId: opts.clusterId,
    podPorts: opts.type === 'sidecar' ? podPorts : undefined,
  };
  const node = opts.type === 'router' ? routerNode(nodeOptions) : sidecarNode(nodeOptions);

  let plan: CapturePlan | undefined;
  const engine = new Engine({
    bind: (l) => plan?.binds.get(l.name) ?? { address: opts.podIP, port: l.port },
    // Upstream connections leave from the pod's address, as a pod's Envoy does.
    upstreamBindAddress: opts.podIP,
    peer: {
      name: opts.podName,
      namespace: opts.namespace,
      labels: opts.labels ?? {},
      clusterId: opts.clusterId ?? 'Kubernetes',
      meshId: 'cluster.local',
      serviceAccount: opts.serviceAccount,
      workloadName:
        typeof node.metadata?.['WORKLOAD_NAME'] === 'string' ? node.metadata['WORKLOAD_NAME'] : '',
      nodeId: node.id,
    },
  });

  // pilot-agent's SDS: the workload certificate arrives beside xDS; config is applied once both are in,
  // as Envoy keeps listeners warming until their secrets arrive.
  let certs: WorkloadCertManager | undefined;
  let certsReady: Promise<void> = Promise.resolve();
  if (opts.ca) {
    const ca = opts.ca;
    certs = new WorkloadCertManager({
      identity: spiffeUri(
        ca.trustDomain ?? 'cluster.local',
        opts.namespace,
        opts.serviceAccount ?? 'default',
      ),
      caAddress: ca.address,
      rootCertPem: ca.rootCertPem,
      token: ca.token,
      ...(ca.ttlSeconds !== undefined ? { ttlSeconds: ca.ttlSeconds } : {}),
      ...(ca.keyAlgorithm ? { keyAlgorithm: ca.keyAlgorithm } : {}),
      onError: (err: Error) => warn(`cannot get the workload certificate from ${ca.address}: ${err.message}`),
    });
    certs.onUpdate((secrets, cert) => {
      engine.updateSecrets(secrets);
      info(
        `SDS: workload certificate serial ${cert.serialNumber} valid until ${cert.expiresAt.toISOString()}`,
      );
    });
    certsReady = certs.start().catch(() => undefined);
  }

  const passthrough = new Map<number, TcpForwarder>();
  let front: OutboundFront | undefined;
  let admin: AdminServer | undefined;
  let agent: Agent | undefined;
  let closed = false;

  /** The last response validated: what it would make the config, planned and compiled. */
  let validated: { input: ReceivedConfig; plan: CapturePlan; compiled: CompiledConfig } | undefined;
  const client = new AdsClient({
    target: opts.xdsAddress,
    node,
    initialFetchTimeoutMs: 0,
    // Every push resends whole CDS/LDS sets: resources whose bytes did not change are not decoded again.
    decodeCache: new DecodeCache(20_000, PROXY_DECODE_CACHE_BYTES),
    secretSource: 'all',
    validate: (typeUrl, resources) => {
      // Compile what the engine would run; a failure NACKs the response and keeps the running config.
      validated = undefined;
      try {
        const input = withResponse(receivedConfig(client.snapshot()), typeUrl, resources);
        const next = planCapture(input, target);
        validated = { input, plan: next, compiled: compileSnapshot(next.snapshot) };
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
      return undefined;
    },
  });

  let firstApplied: () => void = () => undefined;
  const firstConfig = new Promise<void>((resolve) => (firstApplied = resolve));
  let applying: Promise<void> = Promise.resolve();
  let scheduled = false;
  let readyLogged = false;

  const applyNow = async (): Promise<void> => {
    await certsReady;
    if (closed) return;
    const input = receivedConfig(client.snapshot());
    // The config just validated is the one accepted: apply its plan and compiled form, not a recompile.
    const version = input.version ?? '';
    const reuse =
      validated && sameReceivedConfig(validated.input, input)
        ? {
            plan: { ...validated.plan, snapshot: { ...validated.plan.snapshot, version } },
            compiled: { ...validated.compiled, version },
          }
        : undefined;
    // Used once: a later apply of the same resources (a secret rotated, say) compiles afresh.
    if (reuse) validated = undefined;
    const next = reuse?.plan ?? planCapture(input, target);
    // Ports an inbound listener takes over stop passing through first, so the listener can bind.
    for (const [port, fwd] of passthrough) {
      if (next.inboundPorts.has(port)) {
        passthrough.delete(port);
        await fwd.close();
      }
    }
    plan = next;
    const result = await engine.update(next.snapshot, reuse?.compiled);
    if (!result.ok) warn(`config refused: ${result.error ?? 'unknown error'}`);
    for (const e of result.bindErrors) warn(`listener not bound: ${e}`);
    if (target.type === 'sidecar' && !closed) {
      for (const p of podPorts) {
        const port = p.containerPort;
        if (next.inboundPorts.has(port) || passthrough.has(port)) continue;
        try {
          const app = target.appAddress ?? opts.podIP;
          passthrough.set(port, await startTcpForwarder(opts.podIP, port, () => ({ host: app, port })));
        } catch (err) {
          warn(`passthrough for port ${port} not bound: ${(err as Error).message}`);
        }
      }
    }
    if (engine.hasConfig()) {
      firstApplied();
      if (!readyLogged) {
        readyLogged = true;
        info('Envoy proxy is ready');
      }
    }
  };

  const schedule = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      applying = applying
        .then(applyNow)
        .catch((err: unknown) => warn(`applying config failed: ${String(err)}`));
    });
  };

  client.on('update', schedule);
  client.on('connected', () => info(`ADS: connected to ${opts.xdsAddress} as ${node.id}`));
  client.on('disconnected', (s) => warn(`ADS: stream closed: ${s.details || s.code}; reconnecting`));
  client.on('rejected', (e) => warn(`ADS: NACK ${e.typeUrl.split('.').pop() ?? e.typeUrl}: ${e.message}`));

  try {
    if (opts.adminPorts !== false) {
      admin = await startAdmin(engine, { host: opts.podIP, port: 15000 });
      agent = await startAgent(engine, {
        status: { host: opts.podIP, port: 15020 },
        readiness: { host: opts.podIP, port: 15021 },
        prometheus: { host: opts.podIP, port: 15090 },
        debug: { host: opts.podIP, port: 15004 },
        appProbers: opts.appProbers,
        appHost: target.appAddress ?? opts.podIP,
        debugHandler: relayDebugRequest(client),
        initialized: firstConfig,
      });
    }
    if (target.type === 'sidecar') {
      const outboundAddress = target.outboundAddress ?? opts.podIP;
      front = await startOutboundFront(opts.podIP, 15001, (port) =>
        plan?.outboundPorts.has(port) ? { host: outboundAddress, port } : undefined,
      );
    }
  } catch (err) {
    await Promise.allSettled([admin?.close(), agent?.close(), front?.close(), engine.close()]);
    throw err;
  }
  info(
    `skiff proxy (${opts.type}) ${opts.podName}.${opts.namespace} on ${opts.podIP}; xDS ${opts.xdsAddress}`,
  );
  client.start();

  let closing: Promise<void> | undefined;
  return {
    engine,
    client,
    node,
    plan: () => plan,
    firstConfig,
    close() {
      closing ??= (async () => {
        closed = true;
        certs?.close();
        client.close();
        await applying.catch(() => undefined);
        await Promise.allSettled([
          admin?.close(),
          agent?.close(),
          front?.close(),
          ...[...passthrough.values()].map((f) => f.close()),
        ]);
        passthrough.clear();
        await engine.close();
      })();
      return closing;
    },
  };
}
