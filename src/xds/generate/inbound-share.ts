/**
 * The key of a sidecar's inbound half (inbound clusters, their ClusterLoadAssignments and `virtualInbound`):
 * everything the inbound generators read from the proxy, so sidecars with equal keys get equal inbound
 * config within one push and can share one copy of it.
 *
 * What the generators read (listener-sidecar-inbound.ts, cluster-inbound.ts, listener-filters.ts,
 * listener-mtls.ts, authz-builder.ts, endpoints.ts):
 * - the service instances (listener-instances.ts): which services select the workload, on which service
 *   ports, with which target ports. The pod's name and IP only serve to find them (the workload), so the
 *   key holds the instances themselves, not the IP: inbound config never contains the pod's own address
 *   (listeners bind the wildcard, clusters are ORIGINAL_DST bound to 127.0.0.6);
 * - the namespace (PeerAuthentication, AuthorizationPolicy and DestinationRule lookup, tracing tag) and all
 *   labels (PeerAuthentication and AuthorizationPolicy selectors, canonical-name/revision tracing tags);
 * - the IP families (passthrough chains and clusters, bind address), the Istio version (istio_authn,
 *   authz principal field), and the INTERCEPTION_MODE, IDLE_TIMEOUT, PROXY_CONFIG and MESH_ID metadata.
 *
 * The service account is not read on the inbound side (sidecars get no SDS secrets from the control plane;
 * the workload certificate comes from the agent), so it is not part of the key. Everything else the
 * generators read (mesh config, PeerAuthentication/AuthorizationPolicy/DestinationRule resources) belongs
 * to the push, and keys are only ever compared within one push.
 */
import { ipFamilies, interceptionMode } from './listener-sidecar-inbound.js';
import type { InstanceProxy } from './listener-instances.js';
import { proxyServiceInstances } from './listener-instances.js';
import type { PushContext } from './push-context.js';

/**
 * Node metadata the inbound generators read. A generator that starts reading another key on the inbound
 * side must add it here, or sidecars that differ in it would share one configuration.
 */
export const INBOUND_METADATA_KEYS: readonly string[] = [
  'IDLE_TIMEOUT',
  'INTERCEPTION_MODE',
  'MESH_ID',
  'PROXY_CONFIG',
];

/** A string equal for two sidecars exactly when the inbound generators produce the same config for them. */
export function sidecarInboundKey(push: PushContext, proxy: InstanceProxy): string {
  const { ipv4, ipv6 } = ipFamilies(proxy);
  const labels = Object.keys(proxy.labels)
    .sort()
    .map((k) => [k, proxy.labels[k]]);
  const metadata = INBOUND_METADATA_KEYS.map((k) => proxy.metadata?.[k] ?? null);
  // Services are unique per (namespace, hostname) within a push; the whole port is kept (name, protocol,
  // target port all reach the config), and the order is the generators' order.
  const instances = proxyServiceInstances(push, proxy).map((inst) => [
    inst.service.namespace,
    inst.service.hostname,
    inst.service.name,
    inst.servicePort,
    inst.endpointPort,
  ]);
  return JSON.stringify([
    proxy.namespace,
    labels,
    ipv4,
    ipv6,
    proxy.istioVersion ?? '',
    interceptionMode(proxy),
    metadata,
    instances,
  ]);
}
