/**
 * `proxy-config log`: reads and sets an Envoy's logger levels through its admin `/logging` endpoint, as
 * istioctl 1.17 does (`POST logging`, then `logging?level=<l>` and `logging?<logger>=<l>`).
 */
import { dumpError } from './configdump-common.js';
import type { AdminAddress } from './proxy-config-admin.js';
import { adminFetch, adminRequest } from './proxy-config-admin.js';

/** Envoy's levels by istioctl's names (`warning`, not `warn`). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'critical', 'off'] as const;
/** The level `--reset` restores: istioctl's default when the injector ConfigMap does not say. */
export const DEFAULT_LOG_LEVEL = 'warning';
/** The pseudo-logger that sets every logger at once. */
const ALL_LOGGERS = 'level';

export interface LogFlags {
  level?: string;
  reset?: boolean;
}

const isLevel = (s: string) => (LOG_LEVELS as readonly string[]).includes(s);

/**
 * The levels to set, in the order to set them (`level` first), from `--level` / `--reset`. `loggers`
 * is Envoy's current `/logging` listing: a logger name must occur in it.
 */
export function plannedLogLevels(flags: LogFlags, loggers: string): [string, string][] {
  if (flags.reset) return [[ALL_LOGGERS, DEFAULT_LOG_LEVEL]];
  if (!flags.level) return [];
  const planned = new Map<string, string>();
  for (const item of flags.level.split(',')) {
    if (!item.includes(':') && !item.includes('=')) {
      if (!isLevel(item)) throw dumpError(`unrecognized logging level: ${item}`);
      // As in istioctl, a bare level replaces everything planned so far.
      planned.clear();
      planned.set(ALL_LOGGERS, item);
      continue;
    }
    const sep = item.search(/[:=]/);
    const logger = item.slice(0, sep);
    const level = item.slice(sep + 1);
    if (!loggers.includes(logger)) throw dumpError(`unrecognized logger name: ${logger}`);
    if (!isLevel(level)) throw dumpError(`unrecognized logging level: ${level}`);
    planned.set(logger, level);
  }
  const all = planned.get(ALL_LOGGERS);
  const rest = [...planned].filter(([name]) => name !== ALL_LOGGERS);
  return all === undefined ? rest : [[ALL_LOGGERS, all], ...rest];
}

/**
 * The `<pod>.<namespace>` an Istio proxy's xDS node id names (`sidecar~10.1.2.3~<pod>.<ns>~<ns>.svc.cluster.local`,
 * `router~...` for gateways); undefined for anything else.
 */
export function podFromNodeId(id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined;
  const parts = id.split('~');
  const name = parts.length === 4 ? parts[2] : undefined;
  return name && /^[^.\s]+\.[^.\s]+$/.test(name) ? name : undefined;
}

/** Who the proxy is, for the header: its pod when known, else what to fall back on. */
export interface LogHeader {
  /** `<pod>.<namespace>` from a pod argument or the lab's resolution of the target (istioctl's getPodNames). */
  pod?: string;
  /** What to print when neither the target nor the proxy names a pod (the target as given, or the address). */
  fallback: string;
}

/** The `<pod>.<namespace>` an Envoy's `/server_info` node id names, on any admin port; undefined if none. */
export async function serverInfoPod(address: AdminAddress): Promise<string | undefined> {
  try {
    const res = await adminRequest(address, 'GET', 'server_info');
    if (res.status !== 200) return undefined;
    const info: unknown = JSON.parse(res.body);
    const node =
      typeof info === 'object' && info !== null ? (info as Record<string, unknown>)['node'] : undefined;
    const id =
      typeof node === 'object' && node !== null ? (node as Record<string, unknown>)['id'] : undefined;
    return podFromNodeId(id);
  } catch {
    return undefined;
  }
}

/**
 * The name istioctl heads the reply with: the pod it resolved the target to
 * (`istio-ingressgateway-6bb8fb6549-2mlk2.istio-system`, also for `deploy/istio-ingressgateway`). When
 * only an admin address is known (a deployment or no target given), the proxy says which pod it is in
 * `/server_info`, whatever port its admin API listens on.
 */
async function headerName(address: AdminAddress, header: LogHeader): Promise<string> {
  if (header.pod) return header.pod;
  return (await serverInfoPod(address)) ?? header.fallback;
}

/**
 * Runs `proxy-config log` against one admin address; returns istioctl's `<pod>.<namespace>:\n<reply>` text.
 */
export async function runProxyLog(
  address: AdminAddress,
  header: LogHeader,
  flags: LogFlags,
): Promise<string> {
  if (flags.reset && flags.level) throw dumpError('--level cannot be combined with --reset');
  const loggers = await adminFetch(address, 'POST', 'logging');
  let reply = loggers;
  for (const [logger, level] of plannedLogLevels(flags, loggers)) {
    reply = await adminFetch(address, 'POST', `logging?${logger}=${level}`);
  }
  return `${await headerName(address, header)}:\n${reply}`;
}
