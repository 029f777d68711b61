/**
 * envoy.filters.network.tcp_proxy for a filter chain without an HTTP connection manager: one upstream
 * connection per downstream connection to a host of the chain's cluster (TLS when the endpoint's
 * transport socket says so, as for HTTP), bytes copied both ways, then one access-log line with
 * %BYTES_RECEIVED% / %BYTES_SENT% and Istio's TCP metrics. Upstream connect failures close the
 * downstream connection with UF (UH without a host, NC without the cluster), as Envoy does.
 *
 * The chain's `envoy.filters.network.rbac` filters run as Envoy's do: on the first bytes the client
 * sends (the upstream connection is already being made), and a denial closes the connection with
 * `rbac_access_denied_matched_policy[...]` as its connection termination details.
 */
import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { AccessLogger } from './access-log.js';
import { upstreamTlsFor } from './clusters.js';
import { peerFromWorkloadMetadata } from './istio-stats.js';
import { pickHost, trackEnd, trackStart } from './lb.js';
import type { TcpProxyConfig } from './listeners.js';
import { evaluateRbac, rbacResponseCodeDetails } from './rbac.js';
import type { DownstreamConnection } from './router.js';
import { connectionRbacAttributes, rbacSource, reportRbac, upstreamLocalAddress } from './router.js';
import type { Runtime } from './runtime.js';
import { clusterRuntime, releaseCluster } from './runtime.js';
import type { StreamInfo } from './stream-info.js';
import { flagsShort, joinHostPort, newStreamInfo, setFlag } from './stream-info.js';
import { peerChain, resolveTls, tlsFailureReason, uriSans, verifyPeer } from './tls-context.js';

export function proxyTcp(
  rt: Runtime,
  tcp: TcpProxyConfig,
  downstream: Socket,
  conn: DownstreamConnection,
  loggers: readonly AccessLogger[],
  inbound: boolean,
): void {
  const info = newStreamInfo(conn.id, '', conn.localAddress, conn.remoteAddress);
  info.protocol = '';
  if (conn.requestedServerName !== undefined) info.requestedServerName = conn.requestedServerName;
  if (conn.tls) {
    info.downstreamTlsVersion = conn.tls.version;
    if (conn.tls.peerUriSans.length > 0) info.downstreamPeerUriSan = conn.tls.peerUriSans.join(',');
    if (conn.tls.localUriSans.length > 0) info.downstreamLocalUriSan = conn.tls.localUriSans.join(',');
  }
  rt.stats.counter(`tcp.${tcp.statPrefix}.downstream_cx_total`).value++;
  const cluster = rt.config.clusters.get(tcp.cluster);
  let finished = false;
  let opened = false;
  const picked: { workload?: string } = {};
  const finish = (): void => {
    if (finished) return;
    finished = true;
    info.endMono = performance.now();
    for (const logger of loggers) {
      try {
        logger.sink(logger.format(info));
      } catch {
        // a broken sink must not break traffic
      }
    }
    if (rt.istio && opened) recordTcp(rt, info, conn, inbound, cluster?.istioService, picked.workload);
  };
  const fail = (flag: 'UF' | 'UH' | 'NC', reason?: string): void => {
    setFlag(info, flag);
    if (reason !== undefined) info.upstreamTransportFailureReason = reason;
    downstream.destroy();
    finish();
  };
  if (!cluster) {
    fail('NC');
    return;
  }
  info.upstreamCluster = cluster.name;
  info.upstreamClusterStatName = cluster.statName;
  const crt = clusterRuntime(rt, cluster.name, cluster.statName);
  const host = pickHost(cluster.lbPolicy, cluster.hosts, crt.lb);
  if (!host) {
    rt.stats.cluster('counter', cluster.statName, 'upstream_cx_none_healthy').value++;
    fail('UH');
    return;
  }
  info.upstreamHost = host.key;
  if (host.workload !== undefined) picked.workload = host.workload;
  crt.active++;
  trackStart(crt.lb, host);
  const clusterStat = (stat: string): void => {
    rt.stats.cluster('counter', cluster.statName, stat).value++;
  };
  clusterStat('upstream_cx_total');
  const active = rt.stats.cluster('gauge', cluster.statName, 'upstream_cx_active');
  active.value++;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    active.value--;
    trackEnd(crt.lb, host);
    releaseCluster(rt, crt);
  };

  const tlsConfig = upstreamTlsFor(cluster, host);
  const localAddress = upstreamLocalAddress(rt, host.address);
  let up: Socket;
  let transportReason: string | undefined;
  if (tlsConfig) {
    const resolved = resolveTls(tlsConfig, rt.secrets);
    if ('error' in resolved) {
      clusterStat('upstream_cx_connect_fail');
      release();
      fail('UF', resolved.error);
      return;
    }
    const options: tls.ConnectionOptions & { localAddress?: string } = {
      host: host.address,
      port: host.port,
      secureContext: resolved.context,
      rejectUnauthorized: false,
      ALPNProtocols: tlsConfig.alpn,
    };
    if (localAddress !== undefined) options.localAddress = localAddress;
    if (tlsConfig.sni !== undefined) options.servername = tlsConfig.sni;
    const sessionKey = `${host.key}|${tlsConfig.sni ?? ''}|${tlsConfig.key}`;
    const session = upstreamSessions.get(resolved)?.get(sessionKey);
    if (session) options.session = session;
    const secure = tls.connect(options);
    keepSessions(secure, resolved, sessionKey);
    secure.once('secureConnect', () => {
      const chain = peerChain(secure);
      const failure = verifyPeer(chain, resolved, tlsConfig.sanMatchers);
      if (failure && (resolved.roots || failure.detail.includes('SAN'))) {
        transportReason = failure.reason;
        secure.destroy(new Error(failure.reason));
        return;
      }
      const peer = uriSans(chain[0]);
      if (peer.length > 0) info.upstreamPeerUriSan = peer.join(',');
      const local = uriSans(resolved.own);
      if (local.length > 0) info.upstreamLocalUriSan = local.join(',');
      connected();
    });
    up = secure;
  } else {
    up = net.connect({
      host: host.address,
      port: host.port,
      ...(localAddress !== undefined ? { localAddress } : {}),
    });
    up.once('connect', () => connected());
  }
  const timer = setTimeout(() => {
    clusterStat('upstream_cx_connect_timeout');
    up.destroy(new Error('connect timeout'));
  }, cluster.connectTimeoutMs);

  // Bytes read before the upstream is connected (only with RBAC, which reads the first bytes early).
  let pending: Buffer[] = [];
  let rbacChecked = tcp.rbacFilters.length === 0;
  const onDownstreamData = (chunk: Buffer): void => {
    if (finished) return;
    if (!rbacChecked) {
      rbacChecked = true;
      if (!rbacAllows()) return;
    }
    info.bytesReceived += chunk.length;
    if (!opened) {
      pending.push(chunk);
      downstream.pause();
      return;
    }
    if (!up.write(chunk)) {
      downstream.pause();
      up.once('drain', () => downstream.resume());
    }
  };
  /** Each network RBAC filter in order; the first denial closes both sides and logs the connection. */
  const rbacAllows = (): boolean => {
    const attrs = connectionRbacAttributes(conn);
    for (const f of tcp.rbacFilters) {
      if (rt.log.enabled('rbac'))
        rt.log.write(
          'rbac',
          'debug',
          rbacSource('network', 'checking'),
          `checking connection: requestedServerName: ${conn.requestedServerName ?? ''}, remoteAddress: ` +
            `${conn.remoteAddress}, localAddress: ${conn.localAddress}, ssl: ` +
            (conn.tls
              ? `uriSanPeerCertificate: ${conn.tls.peerUriSans.join(',')}, subjectPeerCertificate: `
              : 'none') +
            ', dynamicMetadata: ',
          conn.id,
        );
      const decision = evaluateRbac(f.rbac, attrs);
      reportRbac(
        rt,
        f.rbac,
        decision,
        (stat) => rt.stats.counter(`${f.rbac.statPrefix}${stat}`).value++,
        'network',
      );
      if (decision.allowed) continue;
      info.connectionTerminationDetails = rbacResponseCodeDetails(decision);
      clearTimeout(timer);
      downstream.destroy();
      up.destroy();
      finish();
      return false;
    }
    return true;
  };
  if (!rbacChecked) {
    downstream.on('data', onDownstreamData);
    downstream.resume();
  }

  function connected(): void {
    clearTimeout(timer);
    opened = true;
    info.upstreamLocalAddress = joinHostPort(up.localAddress, up.localPort);
    for (const chunk of pending) up.write(chunk);
    pending = [];
    if (tcp.rbacFilters.length === 0) downstream.on('data', onDownstreamData);
    up.on('data', (chunk: Buffer) => {
      info.bytesSent += chunk.length;
      if (!downstream.write(chunk)) {
        up.pause();
        downstream.once('drain', () => up.resume());
      }
    });
    downstream.on('end', () => up.end());
    up.on('end', () => downstream.end());
    downstream.resume();
  }

  up.on('error', (err: NodeJS.ErrnoException) => {
    if (opened) return;
    clearTimeout(timer);
    clusterStat('upstream_cx_connect_fail');
    const reason =
      transportReason ?? (tlsConfig && err.code?.startsWith('ERR_SSL_') ? tlsFailureReason(err) : undefined);
    release();
    fail('UF', reason);
  });
  up.once('close', () => {
    clearTimeout(timer);
    release();
    if (opened) {
      downstream.destroySoon();
      if (downstream.destroyed) finish();
    }
  });
  downstream.once('close', () => {
    up.destroySoon();
    if (opened) finish();
  });
}

/**
 * The last TLS session per upstream endpoint and settings, per resolved context (a rotated secret starts
 * afresh), as Envoy's client session cache: a new connection resumes instead of a full handshake.
 */
const upstreamSessions = new WeakMap<object, Map<string, Buffer>>();
const SESSIONS_PER_CONTEXT = 256;

function keepSessions(socket: tls.TLSSocket, context: object, key: string): void {
  socket.on('session', (session: Buffer) => {
    let sessions = upstreamSessions.get(context);
    if (!sessions) {
      sessions = new Map();
      upstreamSessions.set(context, sessions);
    }
    if (!sessions.has(key) && sessions.size >= SESSIONS_PER_CONTEXT) sessions.clear();
    sessions.set(key, session);
  });
  // A connection that fails may have failed on its session: the next one starts afresh.
  socket.once('error', () => upstreamSessions.get(context)?.delete(key));
}

/** Istio's TCP metrics for one finished connection. */
function recordTcp(
  rt: Runtime,
  info: StreamInfo,
  conn: DownstreamConnection,
  inbound: boolean,
  service: Parameters<NonNullable<Runtime['istio']>['recordTcp']>[0]['service'],
  workload: string | undefined,
): void {
  const o: Parameters<NonNullable<Runtime['istio']>['recordTcp']>[0] = {
    reporter: inbound ? 'destination' : 'source',
    responseFlags: flagsShort(info.flags) ?? '-',
    opened: 1,
    closed: 1,
    sentBytes: inbound ? info.bytesSent : info.bytesReceived,
    receivedBytes: inbound ? info.bytesReceived : info.bytesSent,
  };
  if (service) o.service = service;
  const peer = inbound ? undefined : peerFromWorkloadMetadata(workload);
  if (peer) o.peer = peer;
  if (inbound && conn.tls?.peerCertificate) {
    o.mtls = true;
    if (conn.tls.peerUriSans[0] !== undefined) o.sourcePrincipal = conn.tls.peerUriSans[0];
    if (conn.tls.localUriSans[0] !== undefined) o.destinationPrincipal = conn.tls.localUriSans[0];
  }
  rt.istio?.recordTcp(o);
}
