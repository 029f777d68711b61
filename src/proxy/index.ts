/**
 * skiff's data plane: an Envoy-like HTTP proxy driven by xDS resources in proto3 JSON.
 *
 *   const proxy = await createProxy(snapshot, { accessLog: { encoding: 'TEXT' } });
 *   proxy.address('0.0.0.0_8080');      // where it listens
 *   await proxy.update(nextSnapshot);   // atomic; in-flight requests finish on the old config
 *   await proxy.close();
 */
export { createProxy, ProxyEngine } from './engine.js';
export type { BindAddress, ProxyOptions, UpdateResult } from './engine.js';
export type { CompiledConfig, ProxySnapshot } from './config.js';
export { compileSnapshot } from './config.js';
export { ConfigError } from './errors.js';
export {
  accessLoggerFromOptions,
  fileSink,
  ISTIO_JSON_FORMAT,
  ISTIO_TEXT_FORMAT,
  jsonFormatter,
  parseFormat,
  textFormatter,
} from './access-log.js';
export type { AccessLogger, AccessLogOptions, AccessLogSink, Formatter } from './access-log.js';
export { DebugLog, LEVELS, LOGGER_NAMES } from './debug-log.js';
export type { Level, LoggerName } from './debug-log.js';
export { Stats } from './stats.js';
export type { StreamInfo } from './stream-info.js';
export { flagsShort, newStreamInfo, RESPONSE_FLAGS, setFlag } from './stream-info.js';
export {
  compileRouteConfig,
  matchRoute,
  pickWeighted,
  redirectLocation,
  rewritePath,
  selectVirtualHost,
} from './routes.js';
export type { CompiledRoute, CompiledRouteConfig, CompiledVirtualHost } from './routes.js';
export { compileClusters } from './clusters.js';
export { pickHost, newLbState } from './lb.js';
export type { PickOptions } from './lb.js';
export { isInternalAddress } from './router.js';
export { AdminServer, ENVOY_VERSION, startAdmin } from './admin.js';
export type { AdminOptions } from './admin.js';
export { adminConfigDump, applyMask } from './admin-config-dump.js';
export type { ConfigDumpQuery } from './admin-config-dump.js';
export {
  clustersJson,
  clusterViews,
  listenersJson,
  renderClustersText,
  renderListenersText,
} from './admin-clusters.js';
export { Agent, startAgent } from './agent.js';
export type { AgentBind, AgentOptions, DebugReply } from './agent.js';
export { parseAppProbers, runAppProbe } from './app-probes.js';
export type { AppProbe } from './app-probes.js';
export {
  ISTIO_BUCKETS,
  ISTIO_LABELS,
  IstioStats,
  peerFromWorkloadMetadata,
  requestLabels,
} from './istio-stats.js';
export type { IstioService, RequestObservation } from './istio-stats.js';
export {
  decodeStruct,
  encodeStruct,
  parsePeerHeader,
  PEER_METADATA_HEADER,
  PEER_METADATA_ID_HEADER,
  peerHeaders,
  peerMetadata,
} from './peer-metadata.js';
export type { PeerInfo } from './peer-metadata.js';
export { buildMaglev, buildRing, compileHashPolicies, fnv1a, lookupHash, requestHash } from './hash-lb.js';
export type { HashPolicy, HashTable } from './hash-lb.js';
export { OutlierDetector, compileOutlier } from './outlier.js';
export type { OutlierConfig } from './outlier.js';
export { compileCors, compileFault, compileMirrors, shadowAuthority } from './filters.js';
export type { CorsPolicy, FaultConfig, MirrorPolicy } from './filters.js';
export {
  compileCidr,
  compileRbacFilter,
  evaluateRbac,
  ipBytes,
  RBAC_DENIED_BODY,
  RBAC_DENIED_STATUS,
  RBAC_RESPONSE_FLAG,
  RBAC_RESPONSE_FLAG_LONG,
  RBAC_TCP_TERMINATION_DETAILS,
  rbacDynamicMetadata,
  rbacResponseCodeDetails,
} from './rbac.js';
export type { CompiledRbac, RbacAttributes, RbacDecision } from './rbac.js';
export {
  canonicalPath,
  mergeSlashes,
  normalizePath,
  PATH_NORMALIZATION_FAILED,
  pathOptionsFromHcm,
  unescapeSlashes,
} from './path-normalize.js';
export type { EscapedSlashesAction, PathNormalizeOptions, PathNormalizeResult } from './path-normalize.js';
export { compileChainMatch, needsInspection, selectChain } from './tls-chains.js';
export type { ChainMatch, ConnectionFacts } from './tls-chains.js';
export { inspect as inspectFirstBytes } from './tls-inspect.js';
export type { Inspection } from './tls-inspect.js';
export { compileTransportSocket, resolveTls, verifyPeer, tlsFailureReason } from './tls-context.js';
export type { CompiledTls, SanMatcher } from './tls-context.js';
export { parseSecret, SecretStore } from './tls-secrets.js';
export type { ParsedSecret } from './tls-secrets.js';
export type { CompiledChain, CompiledListener } from './listeners.js';
export { addressFromXff, remoteAddressOf, setUpstreamBindAddress } from './router.js';
export type { RbacFilter } from './listeners.js';
export * from './xfcc.js';
export { ClusterStatusCounters } from './stats.js';
export {
  compileMaxStreamDuration,
  durationTimer,
  formatGrpcTimeout,
  legacyGrpcGlobalTimeout,
  parseGrpcTimeout,
} from './stream-duration.js';
export type { DurationTimer, LegacyGrpcTimeout, MaxStreamDuration } from './stream-duration.js';
