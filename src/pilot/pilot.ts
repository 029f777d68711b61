/**
 * The control-plane process (`skiff pilot`, our istiod): a config source feeding the ADS server's debounced
 * push pipeline, the xDS gRPC port (15010), the TLS port (15012: xDS and the CA that signs workload
 * certificates), the debug HTTP port (8080) and the monitoring port (15014).
 * Everything binds to loopback unless told otherwise; port 0 picks a free port and the handle reports it.
 */
import { createServer } from 'node:http';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CertificateAuthority } from '../security/index.js';
import {
  addCaService,
  caAuthenticator,
  istiodServerCredentials,
  loadOrCreateCa,
  loadOrCreateTokenKey,
} from '../security/index.js';
import { AdsServer, createLogger, silentLogger } from '../xds/index.js';
import type { Logger, LogSink, ProxyGenerator } from '../xds/index.js';
import { DirectoryConfigSource, configKeyString } from './config-source.js';
import type { ConfigSource } from './config-source.js';
import { debugRequestHandler } from './debug-http.js';
import { tuningSettings } from './options.js';

export interface PilotOptions {
  /** A directory of manifests, watched recursively. Ignored when `source` is given. */
  configDir?: string;
  source?: ConfigSource;
  /** Interface for all three ports unless a port has its own host below. */
  host?: string;
  grpcPort?: number;
  httpPort?: number;
  monitoringPort?: number;
  grpcHost?: string;
  httpHost?: string;
  monitoringHost?: string;
  debounceAfterMs?: number;
  debounceMaxMs?: number;
  pushThrottle?: number;
  sendTimeoutMs?: number;
  /** Where log lines go (istiod format); silent when absent. */
  log?: LogSink;
  debugLog?: boolean;
  /** Environment for PILOT_* settings; process.env by default. */
  env?: NodeJS.ProcessEnv;
  generator?: ProxyGenerator;
  podName?: string;
  /**
   * istiod's TLS port (xDS + the CA), 15012 by default; `false` serves plaintext xDS only. The CA's root and
   * the service-account token key persist under `stateDir` (a temporary CA lives in memory without one).
   */
  securePort?: number | false;
  secureHost?: string;
  stateDir?: string;
  /** A directory with Istio's plug-in CA files (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem). */
  cacertsDir?: string;
  trustDomain?: string;
}

export interface PilotHandle {
  server: AdsServer;
  source: ConfigSource;
  host: string;
  grpcPort: number;
  httpPort: number;
  monitoringPort: number;
  /** `host:port` of the xDS server, ready for a client's target. */
  grpcAddress: string;
  /** The TLS port (xDS + CA) and its `host:port`; undefined when `securePort` is false. */
  securePort?: number;
  secureAddress?: string;
  /** The CA signing workload certificates (with the secure port). */
  ca?: CertificateAuthority;
  /** The key service-account tokens for the CA are signed with (the lab's kubelet issues them). */
  tokenKey?: Buffer;
  close(): Promise<void>;
}

function listenHttp(server: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: HttpServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** 15012 unless set; a pilot whose xDS port is picked freely (port 0, tests) picks its TLS port freely too. */
function securePortFor(options: PilotOptions): number {
  if (typeof options.securePort === 'number') return options.securePort;
  return options.grpcPort === 0 ? 0 : 15012;
}

export async function startPilot(options: PilotOptions): Promise<PilotHandle> {
  const logger: Logger = options.log ? createLogger(options.log, { debug: options.debugLog }) : silentLogger;
  const tuning = tuningSettings(
    {
      debounceAfterMs: options.debounceAfterMs,
      debounceMaxMs: options.debounceMaxMs,
      pushThrottle: options.pushThrottle,
      sendTimeoutMs: options.sendTimeoutMs,
    },
    options.env ?? process.env,
  );
  let source = options.source;
  if (!source) {
    if (!options.configDir) throw new Error('startPilot needs a configDir or a source');
    source = new DirectoryConfigSource(options.configDir, { logger });
  }
  await source.start();

  const host = options.host ?? '127.0.0.1';
  const server = new AdsServer({
    snapshot: source.snapshot(),
    generator: options.generator,
    debounceAfterMs: tuning.debounceAfterMs,
    debounceMaxMs: tuning.debounceMaxMs,
    pushThrottle: tuning.pushThrottle,
    sendTimeoutMs: tuning.sendTimeoutMs,
    logger,
    // istiod's ID is its POD_NAME.
    podName: options.podName ?? (options.env ?? process.env)['POD_NAME'],
  });
  let pushedOnce = false;
  let ready = false;
  const unsubscribe = source.onChange((change) => {
    pushedOnce = true;
    logger.debug('config', `Change: ${change.changed.map(configKeyString).join(', ')}`);
    server.configUpdate({
      snapshot: change.snapshot,
      endpointsOnly: change.endpointsOnly,
      configs: change.changed.map(configKeyString),
    });
  });
  const ctx = {
    server,
    snapshot: () => server.push.snapshot,
    ready: () => ready,
    pushedOnce: () => pushedOnce,
  };
  let ca: CertificateAuthority | undefined;
  let tokenKey: Buffer | undefined;
  let secureCredentials: Awaited<ReturnType<typeof istiodServerCredentials>> | undefined;
  if (options.securePort !== false) {
    ca = await loadOrCreateCa({
      stateDir: options.stateDir,
      cacertsDir: options.cacertsDir,
      trustDomain: options.trustDomain,
    });
    tokenKey = loadOrCreateTokenKey(options.stateDir);
    secureCredentials = await istiodServerCredentials(ca, {
      dnsNames: ['istiod.istio-system.svc.cluster.local', 'istiod.istio-system', 'localhost'],
    });
    const caLogger = logger;
    addCaService(server.grpc, ca, caAuthenticator({ tokenKey, trustDomain: ca.trustDomain }), {
      log: {
        info: (msg: string) => caLogger.info('ca', msg),
        error: (msg: string) => caLogger.error('ca', msg),
      },
    });
  }
  const http = createServer(debugRequestHandler(ctx));
  const monitoring = createServer(debugRequestHandler(ctx, { metrics: true }));
  const grpcHost = options.grpcHost ?? host;
  const httpHost = options.httpHost ?? host;
  const monitoringHost = options.monitoringHost ?? host;
  let grpcPort: number;
  let httpPort: number;
  let monitoringPort: number;
  let securePort: number | undefined;
  const secureHost = options.secureHost ?? grpcHost;
  try {
    grpcPort = await server.listen(hostPort(grpcHost, options.grpcPort ?? 15010));
    if (secureCredentials)
      securePort = await server.listen(hostPort(secureHost, securePortFor(options)), secureCredentials);
    httpPort = await listenHttp(http, httpHost, options.httpPort ?? 8080);
    monitoringPort = await listenHttp(monitoring, monitoringHost, options.monitoringPort ?? 15014);
  } catch (err) {
    unsubscribe();
    await Promise.allSettled([server.close(), source.close(), closeHttp(http), closeHttp(monitoring)]);
    throw err;
  }
  ready = true;
  logger.info(
    'ads',
    `XDS: serving on ${hostPort(grpcHost, grpcPort)} (debug ${hostPort(httpHost, httpPort)}, monitoring ${hostPort(monitoringHost, monitoringPort)}); debounce ${tuning.debounceAfterMs}ms/${tuning.debounceMaxMs}ms, push throttle ${tuning.pushThrottle}`,
  );
  let closing: Promise<void> | undefined;
  const src = source;
  return {
    server,
    source: src,
    host,
    grpcPort,
    httpPort,
    monitoringPort,
    grpcAddress: hostPort(grpcHost, grpcPort),
    ...(securePort !== undefined ? { securePort, secureAddress: hostPort(secureHost, securePort) } : {}),
    ...(ca ? { ca } : {}),
    ...(tokenKey ? { tokenKey } : {}),
    close() {
      closing ??= (async () => {
        ready = false;
        unsubscribe();
        await src.close();
        await server.close();
        await Promise.all([closeHttp(http), closeHttp(monitoring)]);
      })();
      return closing;
    },
  };
}
