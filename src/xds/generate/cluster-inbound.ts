/**
 * A sidecar's inbound clusters as Istio 1.17 builds them (cluster.go buildInboundClusters,
 * cluster_builder.go buildInboundClusterForPortOrUDS, buildInboundPassthroughClusters), in proto3 JSON:
 *
 * - `inbound|<port>||` per workload port: ORIGINAL_DST (PILOT_ENABLE_INBOUND_PASSTHROUGH is on, so traffic
 *   goes to the pod IP it was sent to), bound to the source address 127.0.0.6 so iptables lets it through,
 *   default circuit breakers (or the DestinationRule's connection pool), and `istio.services` metadata for
 *   every service on that port;
 * - `InboundPassthroughClusterIpv4` (and `…Ipv6`): PassthroughCluster without metadata exchange, also
 *   bound to 127.0.0.6 (`::6`).
 *
 * Sidecar `ingress` listeners (with their defaultEndpoint) are not modelled.
 */
import type { ServicePort } from '../../registry/index.js';
import type { Json } from './clusters.js';
import {
  HTTP_OPTIONS_KEY,
  applyTcpKeepalive,
  circuitBreakers,
  meshConnectTimeout,
  normalizeDuration,
  passthroughCluster,
  upstreamHttpOptions,
} from './clusters.js';
import { destinationRuleFor, effectivePolicy } from './destination-rule.js';
import type { InstanceProxy, ServiceInstance } from './listener-instances.js';
import { proxyServiceInstances } from './listener-instances.js';
import {
  INBOUND_PASSTHROUGH_CLUSTER_IPV4,
  INBOUND_PASSTHROUGH_CLUSTER_IPV6,
  interceptionMode,
  ipFamilies,
} from './listener-sidecar-inbound.js';
import type { PushContext } from './push-context.js';

/** The "magic" source addresses iptables does not redirect back to the sidecar. */
const INBOUND_PASSTHROUGH_BIND_IPV4 = '127.0.0.6';
const INBOUND_PASSTHROUGH_BIND_IPV6 = '::6';

function upstreamBind(address: string): Json {
  return { sourceAddress: { address, portValue: 0 } };
}

/** The config path of a DestinationRule (`/apis/networking.istio.io/v1alpha3/namespaces/<ns>/destination-rule/<name>`). */
function ruleConfigPath(namespace: string, name: string): string {
  return `/apis/networking.istio.io/v1alpha3/namespaces/${namespace}/destination-rule/${name}`;
}

function inboundCluster(
  push: PushContext,
  proxy: InstanceProxy,
  port: number,
  instances: ServiceInstance[],
): Json {
  const primary = instances[0];
  const name = `inbound|${port}||`;
  const snapshot = push.snapshot;
  const cluster: Json = { name, type: 'ORIGINAL_DST' };
  const servicePort: ServicePort | undefined = primary?.servicePort;
  // The primary service's DestinationRule: its (port-level) connection pool sizes the server side too.
  const rule = primary
    ? destinationRuleFor(
        snapshot,
        primary.service.hostname,
        primary.service.namespace,
        proxy.namespace,
        push.registry.domainSuffix,
      )
    : undefined;
  const withPolicy = rule && typeof rule.spec.trafficPolicy === 'object' && rule.spec.trafficPolicy !== null;
  const policy = withPolicy && servicePort ? effectivePolicy(rule.spec, servicePort.port, undefined) : {};
  cluster['connectTimeout'] =
    normalizeDuration(policy.connectionPool?.tcp?.connectTimeout) ?? meshConnectTimeout(snapshot);
  cluster['lbPolicy'] = 'CLUSTER_PROVIDED';
  cluster['circuitBreakers'] = circuitBreakers(policy.connectionPool);
  applyTcpKeepalive(cluster, snapshot, policy.connectionPool);
  if (servicePort) {
    const options = upstreamHttpOptions(
      snapshot,
      { type: 'sidecar', namespace: proxy.namespace },
      servicePort,
      policy.connectionPool,
      'inbound',
    );
    if (options) cluster['typedExtensionProtocolOptions'] = { [HTTP_OPTIONS_KEY]: options };
  }
  cluster['commonLbConfig'] = {};
  const { ipv4 } = ipFamilies(proxy);
  cluster['upstreamBindConfig'] = upstreamBind(
    ipv4 ? INBOUND_PASSTHROUGH_BIND_IPV4 : INBOUND_PASSTHROUGH_BIND_IPV6,
  );
  // Telemetry metadata: every service on the primary's service port, once per hostname.
  const services: Json[] = [];
  const seen = new Set<string>();
  for (const inst of instances) {
    if (!servicePort || inst.servicePort.port !== servicePort.port || seen.has(inst.service.hostname))
      continue;
    seen.add(inst.service.hostname);
    services.push({
      host: inst.service.hostname,
      name: inst.service.name,
      namespace: inst.service.namespace,
    });
  }
  const istio: Json = {};
  if (withPolicy && rule) {
    istio['config'] = ruleConfigPath(
      rule.resource.metadata.namespace ?? 'default',
      rule.resource.metadata.name,
    );
  }
  istio['services'] = services;
  cluster['metadata'] = { filterMetadata: { istio } };
  return cluster;
}

/** `inbound|<port>||` per workload port (in port order), for proxies that capture inbound traffic. */
export function buildInboundClusters(push: PushContext, proxy: InstanceProxy): Json[] {
  // Without capture there are no inbound listeners, so no inbound clusters either.
  if (interceptionMode(proxy) === 'NONE') return [];
  const byPort = new Map<number, ServiceInstance[]>();
  for (const inst of proxyServiceInstances(push, proxy)) {
    const list = byPort.get(inst.endpointPort) ?? [];
    list.push(inst);
    byPort.set(inst.endpointPort, list);
  }
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, instances]) => inboundCluster(push, proxy, port, instances));
}

/** InboundPassthroughClusterIpv4 / Ipv6 for the proxy's IP families. */
export function buildInboundPassthroughClusters(push: PushContext, proxy: InstanceProxy): Json[] {
  const { ipv4, ipv6 } = ipFamilies(proxy);
  const out: Json[] = [];
  const make = (name: string, bind: string): Json => {
    const c = passthroughCluster(push.snapshot);
    delete c['filters'];
    return { ...c, name, upstreamBindConfig: upstreamBind(bind) };
  };
  if (ipv4) out.push(make(INBOUND_PASSTHROUGH_CLUSTER_IPV4, INBOUND_PASSTHROUGH_BIND_IPV4));
  if (ipv6) out.push(make(INBOUND_PASSTHROUGH_CLUSTER_IPV6, INBOUND_PASSTHROUGH_BIND_IPV6));
  return out;
}
