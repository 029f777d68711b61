/**
 * xDS type URLs the server knows, Istio's push order and its short names (pilot/pkg/xds/v3/model.go
 * GetShortType / GetMetricType), and which types are wildcard (pkg/xds/server.go IsWildcardTypeURL).
 */
import { TYPE } from '../protos.js';

export const XDS_TYPE = {
  cluster: TYPE.Cluster,
  endpoint: TYPE.ClusterLoadAssignment,
  listener: TYPE.Listener,
  route: TYPE.RouteConfiguration,
  secret: TYPE.Secret,
  extensionConfig: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',
} as const;

/** istiod's PushOrder: make-before-break (xds-protocol.md §2.8). */
export const PUSH_ORDER: readonly string[] = [
  XDS_TYPE.cluster,
  XDS_TYPE.endpoint,
  XDS_TYPE.listener,
  XDS_TYPE.route,
  XDS_TYPE.secret,
];

const SHORT: Record<string, string> = {
  [XDS_TYPE.cluster]: 'CDS',
  [XDS_TYPE.listener]: 'LDS',
  [XDS_TYPE.route]: 'RDS',
  [XDS_TYPE.endpoint]: 'EDS',
  [XDS_TYPE.secret]: 'SDS',
  [XDS_TYPE.extensionConfig]: 'ECDS',
  'type.googleapis.com/istio.networking.nds.v1.NameTable': 'NDS',
  'type.googleapis.com/istio.mesh.v1alpha1.ProxyConfig': 'PCDS',
};

/** `CDS`, `EDS`, ... or the type URL itself for anything else (GetShortType). */
export function shortType(typeUrl: string): string {
  return SHORT[typeUrl] ?? typeUrl;
}

/** `cds`, `eds`, ... or the type URL (GetMetricType), the `type` label of pilot_xds_pushes and rejects. */
export function metricType(typeUrl: string): string {
  const s = SHORT[typeUrl];
  return s ? s.toLowerCase() : typeUrl;
}

/** Types where an empty name list means "everything" (istiod: CDS and LDS). */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === XDS_TYPE.cluster || typeUrl === XDS_TYPE.listener;
}

/** Sort key of a type in push order; unknown types go last, by URL. */
export function pushOrderIndex(typeUrl: string): number {
  const i = PUSH_ORDER.indexOf(typeUrl);
  return i >= 0 ? i : PUSH_ORDER.length;
}

/** Go's codes.Code.String(), the `err` label of pilot_xds_<type>_reject. */
const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `Code(${code})`;
}

/** istiod's util.ByteCount: `512B`, `4.0kB`, `1.3MB` (decimal units). */
export function byteCount(b: number): string {
  if (b < 1000) return `${b}B`;
  let div = 1000;
  let exp = 0;
  for (let n = Math.floor(b / 1000); n >= 1000; n = Math.floor(n / 1000)) {
    div *= 1000;
    exp++;
  }
  return `${(b / div).toFixed(1)}${'kMGTPE'[exp]}B`;
}
