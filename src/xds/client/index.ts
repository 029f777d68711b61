/** The reusable ADS client (skiff's proxy and the xDS load generator) and its helpers. */
export { AdsClient, NACK_CODE } from './client.js';
export type {
  AdsClientEvents,
  AdsClientOptions,
  AdsSnapshot,
  AppliedEvent,
  DebugRequestOptions,
  RejectedEvent,
  ValidatedResource,
  XdsNode,
} from './client.js';
export { Backoff } from './backoff.js';
export { debugResponseText, discoveryResponseJson, isDebugTypeUrl } from './debug.js';
export type { BackoffOptions } from './backoff.js';
export { defaultProxyConfig, istioNode, routerNode, serviceCluster, sidecarNode } from './node.js';
export type { IstioNodeOptions } from './node.js';
export {
  CLIENT_TYPES,
  DecodeCache,
  ResourceError,
  TYPE_SHORT,
  decodeResources,
  edsServiceName,
  listenerRouteNames,
  sampledFingerprint,
  sampledFingerprintOf,
  secretNames,
} from './resources.js';
export type { ClientTypeUrl, DecodedResource, SecretSource } from './resources.js';
export {
  ADS_DELTA_METHOD,
  ADS_SERVICE,
  ADS_STREAM_METHOD,
  adsCodecs,
  adsServiceDefinition,
  plainFromStruct,
  structFromPlain,
} from './service.js';
export type {
  DiscoveryRequestMessage,
  DiscoveryResponseMessage,
  NodeMessage,
  RpcStatus,
  StructMessage,
} from './service.js';
export type { ResourceChanges, ResourceEntry, WarmingEntry } from './state.js';
