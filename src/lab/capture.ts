/**
 * Traffic capture without iptables: turns the xDS config a proxy received into what skiff's engine serves
 * on the lab's loopback addresses (see addresses.ts), and says where each listener binds.
 *
 * - A gateway (router) binds every listener on its pod address (`0.0.0.0_8080` → podIP:8080).
 * - A sidecar's `virtualInbound` (15006) matches filter chains by destination port after iptables
 *   REDIRECT. Here the sidecar owns podIP:<port> instead: all filter chains for a destination port (the
 *   mTLS `tls` ones and the plaintext `raw_buffer` ones alike) become one listener bound on podIP:<port>
 *   (trafficDirection INBOUND) with only the destinationPort dropped from their matches, so the engine's
 *   own filter-chain matching serves PeerAuthentication's STRICT (TLS only), PERMISSIVE (both) and
 *   DISABLE (plaintext only). A port is served when one of its chains has an HTTP connection manager.
 *   The inbound ORIGINAL_DST cluster `inbound|<port>||` — whose original destination would be the
 *   sidecar's own address — becomes a STATIC cluster pointing at the application on its pod-private
 *   address.
 * - A sidecar's per-port outbound HTTP listeners (`0.0.0.0_80`, bind_to_port false in Istio) bind on the
 *   pod's outbound address; the 15001 front (outbound.ts) hands each request to the one for its port.
 * - Listeners the engine cannot place (TCP-only ones, a second listener on a taken port) are left out.
 *
 * Pure: the same input always gives the same plan, so the xDS client can check a response before ACKing.
 */
import type { BindAddress, ProxySnapshot } from '../proxy/index.js';

type Json = Record<string, unknown>;

export interface CaptureTarget {
  type: 'sidecar' | 'router';
  podIP: string;
  /** Sidecars: where the application listens. */
  appAddress?: string;
  /** Sidecars: where the per-port outbound listeners bind. */
  outboundAddress?: string;
}

/** The xDS resources as received, per type. */
export interface ReceivedConfig {
  listeners: Json[];
  routes: Json[];
  clusters: Json[];
  endpoints: Json[];
  secrets: Json[];
  version?: string;
}

export interface CapturePlan {
  /** What the engine runs. */
  snapshot: ProxySnapshot;
  /** Listener name → bind address. */
  binds: Map<string, BindAddress>;
  /** Pod ports an inbound HTTP listener serves (other application ports pass straight through). */
  inboundPorts: Set<number>;
  /** Ports with an outbound HTTP listener on the outbound address. */
  outboundPorts: Set<number>;
}

const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE_SUFFIX = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A port number or a UInt32Value wrapper (`{value: 3000}`). */
function portNumber(v: unknown): number | undefined {
  const raw = isRecord(v) ? v['value'] : v;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 65535 ? n : undefined;
}

function hasHcm(chain: Json): boolean {
  return records(chain['filters']).some((f) => {
    const typed = isRecord(f['typedConfig']) ? text(f['typedConfig']['@type']) : undefined;
    return text(f['name']) === HCM_FILTER || (typed?.endsWith(HCM_TYPE_SUFFIX) ?? false);
  });
}

function listenerHasHcm(l: Json): boolean {
  const chains = records(l['filterChains']);
  if (isRecord(l['defaultFilterChain'])) chains.push(l['defaultFilterChain']);
  return chains.some(hasHcm);
}

function listenerPort(l: Json): number | undefined {
  const socket = isRecord(l['address']) ? l['address']['socketAddress'] : undefined;
  return isRecord(socket) ? portNumber(socket['portValue']) : undefined;
}

function socketAddress(address: string, port: number): Json {
  return { socketAddress: { address, portValue: port } };
}

function isVirtualInbound(l: Json): boolean {
  return text(l['name']) === 'virtualInbound' || listenerPort(l) === 15006;
}

/** `virtualInbound` split into one listener per destination port, keeping every chain of the port. */
function inboundListeners(virtualInbound: Json, podIP: string): Map<number, Json> {
  const chainsByPort = new Map<number, Json[]>();
  for (const chain of records(virtualInbound['filterChains'])) {
    const match = isRecord(chain['filterChainMatch']) ? chain['filterChainMatch'] : {};
    const port = portNumber(match['destinationPort']);
    if (port === undefined) continue;
    const { destinationPort: _port, ...rest } = match;
    const list = chainsByPort.get(port) ?? [];
    list.push({ ...chain, filterChainMatch: rest });
    chainsByPort.set(port, list);
  }
  const out = new Map<number, Json>();
  for (const [port, chains] of chainsByPort) {
    if (!chains.some(hasHcm)) continue;
    out.set(port, {
      name: `virtualInbound|${port}`,
      address: socketAddress(podIP, port),
      trafficDirection: 'INBOUND',
      filterChains: chains,
    });
  }
  return out;
}

/** `inbound|<port>||` as a STATIC cluster to the application, other clusters unchanged. */
function inboundCluster(cluster: Json, appAddress: string): Json {
  const name = text(cluster['name']) ?? '';
  const m = /^inbound\|(\d+)\|/.exec(name);
  if (!m || text(cluster['type']) !== 'ORIGINAL_DST') return cluster;
  const port = Number(m[1]);
  const { lbPolicy: _lb, ...rest } = cluster;
  return {
    ...rest,
    type: 'STATIC',
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(appAddress, port) } }] }],
    },
  };
}

export function planCapture(config: ReceivedConfig, target: CaptureTarget): CapturePlan {
  const binds = new Map<string, BindAddress>();
  const inboundPorts = new Set<number>();
  const outboundPorts = new Set<number>();
  const snapshot: ProxySnapshot = {
    routes: config.routes,
    endpoints: config.endpoints,
    secrets: config.secrets,
    version: config.version ?? '',
  };
  if (target.type === 'router') {
    const listeners: Json[] = [];
    for (const l of config.listeners) {
      const name = text(l['name']);
      const port = listenerPort(l);
      if (!name || port === undefined) continue;
      listeners.push(l);
      binds.set(name, { address: target.podIP, port });
    }
    return {
      snapshot: { ...snapshot, listeners, clusters: config.clusters },
      binds,
      inboundPorts,
      outboundPorts,
    };
  }
  const appAddress = target.appAddress ?? target.podIP;
  const outboundAddress = target.outboundAddress ?? target.podIP;
  const listeners: Json[] = [];
  for (const l of config.listeners) {
    if (isVirtualInbound(l)) {
      for (const [port, derived] of inboundListeners(l, target.podIP)) {
        listeners.push(derived);
        binds.set(text(derived['name']) as string, { address: target.podIP, port });
        inboundPorts.add(port);
      }
      continue;
    }
    const name = text(l['name']);
    const port = listenerPort(l);
    // TCP-only listeners (virtualOutbound's passthrough, TCP services) are not served by the engine.
    if (!name || port === undefined || !listenerHasHcm(l) || outboundPorts.has(port)) continue;
    listeners.push(l);
    binds.set(name, { address: outboundAddress, port });
    outboundPorts.add(port);
  }
  const clusters = config.clusters.map((c) => inboundCluster(c, appAddress));
  return { snapshot: { ...snapshot, listeners, clusters }, binds, inboundPorts, outboundPorts };
}
