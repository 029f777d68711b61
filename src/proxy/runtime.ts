/**
 * State shared by every stream of one proxy: the current compiled config, per-cluster runtime (upstream
 * connection pool and load-balancer state, kept across config updates), stats and loggers.
 */
import http from 'node:http';
import type { AccessLogger } from './access-log.js';
import type { CompiledConfig } from './config.js';
import type { DebugLog } from './debug-log.js';
import type { LbState } from './lb.js';
import { newLbState } from './lb.js';
import type { Stats } from './stats.js';

export interface ClusterRuntime {
  name: string;
  /** Keep-alive HTTP/1.1 pool to the cluster's hosts. */
  agent: http.Agent;
  lb: LbState;
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
}

export function clusterRuntime(rt: Runtime, name: string): ClusterRuntime {
  let c = rt.clusters.get(name);
  if (!c) {
    c = {
      name,
      // Free sockets are dropped before a typical server keep-alive timeout (Node's is 5 s) to avoid
      // reusing a connection the upstream is closing.
      agent: new http.Agent({ keepAlive: true, timeout: 4000, scheduling: 'lifo' }),
      lb: newLbState(),
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
    c.agent.destroy();
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
      c.agent.destroy();
      rt.clusters.delete(name);
    }
  }
}
