/**
 * State shared by every stream of one proxy: the current compiled config, per-cluster runtime (upstream
 * connection pool and load-balancer state, kept across config updates), stats and loggers.
 */
import http from 'node:http';
import https from 'node:https';
import type { AccessLogger } from './access-log.js';
import type { CompiledConfig } from './config.js';
import type { DebugLog } from './debug-log.js';
import { destroyH2Pool } from './h2-upstream.js';
import type { IstioStats } from './istio-stats.js';
import type { LbState } from './lb.js';
import { newLbState } from './lb.js';
import { OutlierDetector } from './outlier.js';
import type { PeerInfo } from './peer-metadata.js';
import type { Stats } from './stats.js';
import type { SecretStore } from './tls-secrets.js';

/** Envoy's per-host counters and gauges (printed by /clusters). */
export interface HostStats {
  cx_active: number;
  cx_connect_fail: number;
  cx_total: number;
  rq_active: number;
  rq_error: number;
  rq_success: number;
  rq_timeout: number;
  rq_total: number;
}

export function hostStats(c: ClusterRuntime, key: string): HostStats {
  let s = c.hosts.get(key);
  if (!s) {
    s = {
      cx_active: 0,
      cx_connect_fail: 0,
      cx_total: 0,
      rq_active: 0,
      rq_error: 0,
      rq_success: 0,
      rq_timeout: 0,
      rq_total: 0,
    };
    c.hosts.set(key, s);
  }
  return s;
}

export interface ClusterRuntime {
  name: string;
  /** Keep-alive HTTP/1.1 pool to the cluster's plaintext hosts. */
  agent: http.Agent;
  /** Keep-alive pool of TLS connections (made on first use): Envoy keeps one pool per transport socket. */
  tlsAgent?: https.Agent;
  lb: LbState;
  outlier: OutlierDetector;
  /** Per-host stats by `address:port`. */
  hosts: Map<string, HostStats>;
  /** Requests in flight, for the circuit breaker and for retiring removed clusters. */
  active: number;
  /** Set when the cluster left the config: the pool closes once its last request ends. */
  retired: boolean;
}

export interface Runtime {
  config: CompiledConfig;
  stats: Stats;
  log: DebugLog;
  /** Mesh-level access loggers (accessLogFile), applied to every HTTP listener. */
  accessLoggers: AccessLogger[];
  clusters: Map<string, ClusterRuntime>;
  nextConnectionId: () => number;
  /** SDS secrets TLS contexts resolve against. */
  secrets: SecretStore;
  /** Istio's standard metrics; undefined when turned off. */
  istio?: IstioStats;
  /** This proxy's own workload and its metadata-exchange header values. */
  peer?: { info: PeerInfo; metadata: string; id: string };
}

/** Upstream connections per cluster pool (Envoy's default max_connections); more requests queue. */
const MAX_SOCKETS = 1024;

// Free sockets are dropped before a typical server keep-alive timeout (Node's is 5 s) to avoid reusing a
// connection the upstream is closing.
const POOL_OPTIONS = {
  keepAlive: true,
  timeout: 4000,
  scheduling: 'lifo',
  maxSockets: MAX_SOCKETS,
  maxFreeSockets: 256,
} as const;

/** The cluster's TLS pool. */
export function tlsAgentOf(c: ClusterRuntime): https.Agent {
  c.tlsAgent ??= new https.Agent(POOL_OPTIONS);
  return c.tlsAgent;
}

/** Closes both pools of a cluster. */
export function destroyPools(c: ClusterRuntime): void {
  c.agent.destroy();
  c.tlsAgent?.destroy();
  destroyH2Pool(c);
}

export function clusterRuntime(rt: Runtime, name: string, statName: string = name): ClusterRuntime {
  let c = rt.clusters.get(name);
  if (!c) {
    const outlier = new OutlierDetector();
    outlier.onStat = (stat, by = 1) => {
      const kind = stat === 'ejections_active' ? 'gauge' : 'counter';
      rt.stats.cluster(kind, statName, `outlier_detection.${stat}`).value += by;
    };
    c = {
      name,
      agent: new http.Agent(POOL_OPTIONS),
      lb: newLbState(),
      outlier,
      hosts: new Map(),
      active: 0,
      retired: false,
    };
    rt.clusters.set(name, c);
  }
  return c;
}

/** Called when a request to the cluster ends: closes the pool of a removed cluster once it is idle. */
export function releaseCluster(rt: Runtime, c: ClusterRuntime): void {
  c.active = Math.max(0, c.active - 1);
  if (c.retired && c.active === 0) {
    destroyPools(c);
    if (rt.clusters.get(c.name) === c) rt.clusters.delete(c.name);
  }
}

/** Reconciles cluster runtimes with a new config: clusters that left are retired. */
export function retireRemovedClusters(rt: Runtime): void {
  for (const [name, c] of rt.clusters) {
    if (rt.config.clusters.has(name)) {
      c.retired = false;
      continue;
    }
    c.retired = true;
    if (c.active === 0) {
      destroyPools(c);
      rt.clusters.delete(name);
    }
  }
}
