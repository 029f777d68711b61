export {
  TYPE,
  TYPE_URL_PREFIX,
  decodeAny,
  encodeAny,
  envoyRoot,
  lookupMessageType,
  roundTrip,
} from './protos.js';
export type { AnyMessage, RoundTripResult } from './protos.js';
export {
  BLACKHOLE_CLUSTER,
  PASSTHROUGH_CLUSTER,
  buildOutboundClusters,
  istioMtlsSni,
  istioMutualSocket,
  normalizeDuration,
  outboundClusterName,
} from './generate/clusters.js';
export type { Json, ProxyInfo } from './generate/clusters.js';
export { destinationRuleFor, effectivePolicy, namedSubsets } from './generate/destination-rule.js';
export type { AppliedRule } from './generate/destination-rule.js';
export { buildClusterLoadAssignments, parseClusterName } from './generate/endpoints.js';
export type { ParsedClusterName } from './generate/endpoints.js';
export { buildGatewayListeners } from './generate/listeners.js';
export type { GatewayProxyInfo } from './generate/listeners.js';
export { buildGatewayRouteConfigs } from './generate/routes.js';
export {
  ProxyNodeError,
  SKIFF_ISTIO_VERSION,
  isGatewayWorkload,
  proxyForWorkload,
  proxyFromNode,
  proxyNodeId,
} from './generate/proxy.js';
export type { Proxy, ProxyType } from './generate/proxy.js';
export { buildPushContext, memoized } from './generate/push-context.js';
export type { PushContext } from './generate/push-context.js';
export { generateProxyResources, rdsRouteNames } from './generate/generate.js';
export type { ProxyResources } from './generate/generate.js';
export {
  hostMatchesPattern,
  parseEgressHosts,
  selectSidecar,
  sidecarScopeFor,
} from './generate/sidecar-scope.js';
export type { EgressHost, OutboundTrafficMode, SidecarScope } from './generate/sidecar-scope.js';
export * from './client/index.js';
export * from './server/index.js';
export * from './generate/config-dump.js';
export * from './generate/route-virtual-services.js';
export * from './generate/route-translate.js';
export * from './generate/route-hash.js';
export * from './generate/route-sidecar.js';
export * from './generate/routes.js';
export { buildSidecarListeners } from './generate/listener-sidecar.js';
export {
  buildSidecarOutboundListeners,
  buildVirtualOutboundListener,
} from './generate/listener-sidecar-outbound.js';
export { buildVirtualInboundListener } from './generate/listener-sidecar-inbound.js';
export { buildRouterListeners, gatewayRdsRouteName, mergeGateways } from './generate/listeners.js';
export { proxyServiceInstances } from './generate/listener-instances.js';
export type { ServiceInstance } from './generate/listener-instances.js';
export { inboundMtlsContext, peerAuthenticationFor, tlsTransportSocket } from './generate/listener-mtls.js';
export { buildInboundClusters, buildInboundPassthroughClusters } from './generate/cluster-inbound.js';
export { buildProxyClusters } from './generate/cluster-proxy.js';
export { buildSniDnatClusters } from './generate/clusters.js';
export { buildBootstrap, effectiveProxyConfig } from './generate/bootstrap.js';
export type { BootstrapOptions } from './generate/bootstrap.js';
export { buildSecret, buildSecrets, gatewayCredentialNames } from './generate/secrets.js';
export * from './generate/grpc-generate.js';
export * from './generate/grpc-listeners.js';
export * from './generate/grpc-clusters.js';
export * from './generate/route-gateway-api.js';
export * from './generate/authz-builder.js';
export { AUTHN_FILTER_NAME, withTrustDomainAliases } from './generate/authz-model.js';
export type { RbacAction } from './generate/authz-model.js';
export { sidecarInboundKey } from './generate/inbound-share.js';
export { cachedDescriptorPath } from './protos.js';
