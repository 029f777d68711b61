export { AdsServer, goDuration } from './server.js';
export type { AdsServerOptions, ConfigUpdate, ProxyGenerator, PushRequest, SyncStatus } from './server.js';
export { Connection, watchStatus } from './connection.js';
export type { ConfigStatus, StreamKind, WatchState } from './connection.js';
export {
  adsServerDefinition,
  decodeDeltaRequest,
  decodeSotwRequest,
  encodeDeltaResponse,
  encodeSotwResponse,
} from './codec.js';
export type { DeltaRequest, EncodedResource, SotwRequest, XdsErrorDetail, RequestNode } from './codec.js';
export { XdsMetrics } from './metrics.js';
export { ResourceCache, resourceName } from './resource-cache.js';
export { createLogger, formatLogLine, logTimestamp, silentLogger } from './log.js';
export type { LogLevel, LogSink, Logger } from './log.js';
export {
  PUSH_ORDER,
  XDS_TYPE,
  byteCount,
  grpcCodeName,
  isWildcardType,
  metricType,
  shortType,
} from './types.js';
export { CLIENT_CONFIG_TYPE, DEBUG_SYNCZ_TYPE } from './debug-types.js';
export { parseConfigKey, proxyNeedsPush, resolveChanges, triggerReason } from './push-scope.js';
export type { ParsedConfigKey, ScopedRequest } from './push-scope.js';
export { SendBudget } from './send-budget.js';
export {
  DEBUG_CONFIG_DUMP_TYPE,
  DEBUG_TYPE,
  ISTIO_SYSTEM_NAMESPACE,
  answerDebugType,
  buildInfoString,
  connectionDump,
  controlPlaneIdentifier,
  redactSecret,
  setDebugHttpRunner,
  skiffBuildInfo,
} from './debug-types.js';
export type {
  BuildInfo,
  ConnectionDump,
  DebugAnswer,
  DebugHttpReply,
  DebugHttpRunner,
} from './debug-types.js';
export { encodeResourcesField, grpcMessagePrefix, sotwResponseHead } from './codec.js';
export { ResponseBodies } from './response-body.js';
export { MessageWriter, StreamClosedError } from './grpc-frames.js';
