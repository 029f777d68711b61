/**
 * A whole proxy config: the four xDS resource lists compiled together. Compilation is all-or-nothing:
 * a snapshot that fails anywhere leaves the running config untouched (and the error is the NACK detail).
 */
import type { CompiledCluster } from './clusters.js';
import { compileClusters } from './clusters.js';
import { ConfigError } from './errors.js';
import type { CompiledListener } from './listeners.js';
import { compileListeners } from './listeners.js';
import { records, str } from './json.js';
import type { CompiledRouteConfig } from './routes.js';
import { compileRouteConfig } from './routes.js';

/** The config the proxy consumes: proto3-JSON resources as the xDS generators emit them. */
export interface ProxySnapshot {
  listeners?: unknown[];
  routes?: unknown[];
  clusters?: unknown[];
  endpoints?: unknown[];
  /** SDS secrets (shown in /config_dump; the proxy itself serves plaintext). */
  secrets?: unknown[];
  /** An opaque version label, reported back by the proxy (the xDS version_info). */
  version?: string;
}

export interface CompiledConfig {
  version: string;
  listeners: Map<string, CompiledListener>;
  routes: Map<string, CompiledRouteConfig>;
  clusters: Map<string, CompiledCluster>;
}

export function compileSnapshot(snapshot: ProxySnapshot): CompiledConfig {
  const routes = new Map<string, CompiledRouteConfig>();
  for (const rc of records(snapshot.routes)) {
    const name = str(rc['name']);
    if (name === undefined || name === '') throw new ConfigError('route configuration without a name');
    routes.set(name, compileRouteConfig(rc));
  }
  return {
    version: snapshot.version ?? '',
    listeners: compileListeners(Array.isArray(snapshot.listeners) ? snapshot.listeners : []),
    routes,
    clusters: compileClusters(
      Array.isArray(snapshot.clusters) ? snapshot.clusters : [],
      Array.isArray(snapshot.endpoints) ? snapshot.endpoints : [],
    ),
  };
}
