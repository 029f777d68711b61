/** The control plane: config sources, the pilot process wiring, debug HTTP and tuning settings. */
export { startPilot } from './pilot.js';
export type { PilotHandle, PilotOptions } from './pilot.js';
export { DirectoryConfigSource, ENDPOINT_KINDS, configKeyString, diffSnapshots } from './config-source.js';
export type { ConfigChange, ConfigKey, ConfigSource, DirectoryConfigSourceOptions } from './config-source.js';
export { authorizationDebug, endpointz, pushStatus, pushStatusJson } from './debug-status.js';
export type { ProxyPushStatus, PushStatus } from './debug-status.js';
export {
  PILOT_ID_HEADER,
  PILOT_VERSION_STRING,
  configDump,
  connectionStatuses,
  debugRequestHandler,
  goJson,
} from './debug-http.js';
export type { DebugContext } from './debug-http.js';
export {
  DEFAULT_TUNING,
  SettingError,
  parseDurationFlag,
  parseGoDuration,
  parseIntFlag,
  parseListenAddress,
  tuningSettings,
} from './options.js';
export type { TuningSettings } from './options.js';
export { LightProxy, SharedResponses, parseResponseEnvelope } from './bench-light-proxy.js';
export { ChunkedMessage } from './bench-chunked-message.js';
export { GrpcBidiStream, requestHeaderBlock } from './bench-grpc-stream.js';
export { SlabPool } from './bench-slab-pool.js';
export type { SimulatedProxy } from './bench-light-proxy.js';
export { KubeConfigSource } from './kube-source.js';
export type { KindState, KubeConfigSourceOptions, KubeSourceStatus } from './kube-source.js';
export { KubeConfigError, KubeRequestError, kubeGetJson, loadKubeConfig } from './kube-config.js';
export type { KubeConfigOptions, LoadedKubeConfig } from './kube-config.js';
export { MESH_CONFIGMAP, collectionPath, watchedKinds } from './kube-kinds.js';
export type { KubeKind } from './kube-kinds.js';
