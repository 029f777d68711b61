/**
 * What one HTTP stream leaves behind for access logs, stats and debug logs (Envoy's StreamInfo):
 * timings, bytes, response code, flags and details, upstream and downstream addresses.
 */
import type { HeaderBag } from './matchers.js';

/** Response flags in Envoy's enum order: %RESPONSE_FLAGS% prints the set ones in this order. */
export const RESPONSE_FLAGS = [
  ['LH', 'FailedLocalHealthCheck'],
  ['UH', 'NoHealthyUpstream'],
  ['UT', 'UpstreamRequestTimeout'],
  ['LR', 'LocalReset'],
  ['UR', 'UpstreamRemoteReset'],
  ['UF', 'UpstreamConnectionFailure'],
  ['UC', 'UpstreamConnectionTermination'],
  ['UO', 'UpstreamOverflow'],
  ['NR', 'NoRouteFound'],
  ['DI', 'DelayInjected'],
  ['FI', 'FaultInjected'],
  ['RL', 'RateLimited'],
  ['UAEX', 'UnauthorizedExternalService'],
  ['RLSE', 'RateLimitServiceError'],
  ['DC', 'DownstreamConnectionTermination'],
  ['URX', 'UpstreamRetryLimitExceeded'],
  ['SI', 'StreamIdleTimeout'],
  ['IH', 'InvalidEnvoyRequestHeaders'],
  ['DPE', 'DownstreamProtocolError'],
  ['UMSDR', 'UpstreamMaxStreamDurationReached'],
  ['RFCF', 'ResponseFromCacheFilter'],
  ['NFCF', 'NoFilterConfigFound'],
  ['DT', 'DurationTimeout'],
  ['UPE', 'UpstreamProtocolError'],
  ['NC', 'NoClusterFound'],
  ['OM', 'OverloadManagerTerminated'],
  ['DF', 'DnsResolutionFailed'],
  ['DO', 'DropOverload'],
] as const;

export type ResponseFlag = (typeof RESPONSE_FLAGS)[number][0];

const FLAG_BIT = new Map<string, number>(RESPONSE_FLAGS.map(([short], i) => [short, 1 << i]));

export function flagBit(flag: ResponseFlag): number {
  return FLAG_BIT.get(flag) ?? 0;
}

/** `UF,URX` style short codes, or undefined when none is set. */
export function flagsShort(flags: number): string | undefined {
  if (flags === 0) return undefined;
  const out: string[] = [];
  RESPONSE_FLAGS.forEach(([short], i) => {
    if (flags & (1 << i)) out.push(short);
  });
  return out.join(',');
}

export function flagsLong(flags: number): string | undefined {
  if (flags === 0) return undefined;
  const out: string[] = [];
  RESPONSE_FLAGS.forEach(([, long], i) => {
    if (flags & (1 << i)) out.push(long);
  });
  return out.join(',');
}

export interface StreamInfo {
  connectionId: number;
  streamId: string;
  /** Wall-clock start (ms since epoch) and monotonic start (performance.now()). */
  startTime: number;
  startMono: number;
  /** Monotonic time the last response byte was written (or the stream ended). */
  endMono?: number;
  /** Monotonic time the first upstream response byte arrived. */
  firstUpstreamByteMono?: number;
  protocol: string;
  method?: string;
  /** The `:path` as forwarded (after any rewrite). */
  path?: string;
  /** The downstream path when a rewrite changed it (x-envoy-original-path). */
  originalPath?: string;
  authority?: string;
  scheme: string;
  /** Request headers as the router forwards them (lower-case names). */
  requestHeaders: HeaderBag;
  /** Response headers as sent downstream. */
  responseHeaders?: HeaderBag;
  responseCode: number;
  flags: number;
  details?: string;
  connectionTerminationDetails?: string;
  upstreamTransportFailureReason?: string;
  bytesReceived: number;
  bytesSent: number;
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamClusterStatName?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress: string;
  downstreamRemoteAddress: string;
  requestedServerName?: string;
  /** The downstream TLS connection: peer and own URI SANs (comma-joined) and the negotiated version. */
  downstreamPeerUriSan?: string;
  downstreamLocalUriSan?: string;
  downstreamTlsVersion?: string;
  /** The upstream TLS connection's URI SANs (Istio's principals on the source side). */
  upstreamPeerUriSan?: string;
  upstreamLocalUriSan?: string;
  routeName?: string;
  attemptCount: number;
}

export function newStreamInfo(
  connectionId: number,
  streamId: string,
  downstreamLocalAddress: string,
  downstreamRemoteAddress: string,
): StreamInfo {
  return {
    connectionId,
    streamId,
    startTime: Date.now(),
    startMono: performance.now(),
    protocol: 'HTTP/1.1',
    scheme: 'http',
    requestHeaders: {},
    responseCode: 0,
    flags: 0,
    bytesReceived: 0,
    bytesSent: 0,
    downstreamLocalAddress,
    downstreamRemoteAddress,
    attemptCount: 0,
  };
}

export function setFlag(info: StreamInfo, flag: ResponseFlag): void {
  info.flags |= flagBit(flag);
}

export function hasFlag(info: StreamInfo, flag: ResponseFlag): boolean {
  return (info.flags & flagBit(flag)) !== 0;
}

/** `host:port` with IPv6 hosts in brackets. */
export function joinHostPort(host: string | undefined, port: number | undefined): string {
  if (host === undefined) return '';
  const h = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return h.includes(':') ? `[${h}]:${port ?? 0}` : `${h}:${port ?? 0}`;
}
