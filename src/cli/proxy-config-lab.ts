/**
 * `proxy-config <pod>` with neither `--file` nor `--admin-address`: when the embedded lab runs from this
 * directory, the pod is looked up in its store and its proxy's admin API (`<podIP>:15000`) is read, as
 * istioctl reaches a pod's Envoy through the Kubernetes API.
 */
import { buildRegistry } from '../registry/index.js';
import { fetchSnapshot, resolveServer } from './kubectl-client.js';
import type { CommandIO } from './io.js';
import { parseAdminAddress } from './proxy-config-admin.js';
import type { AdminAddress } from './proxy-config-admin.js';
import { parseTargetRef, resolveTarget } from './proxy-config-target.js';
import { dumpError } from './configdump-common.js';

const ENVOY_ADMIN_PORT = 15000;

/** The running lab's REST API, or undefined when no lab runs here. */
async function labServer(io: CommandIO): Promise<string | undefined> {
  try {
    return await resolveServer({}, io);
  } catch {
    return undefined;
  }
}

/**
 * The admin address of a lab pod's proxy; undefined when no lab runs (the caller then explains the
 * alternatives). Unknown pods and pods without an address are errors naming the pod.
 */
export async function labAdminAddress(
  target: string,
  namespace: string,
  io: CommandIO,
): Promise<AdminAddress | undefined> {
  return (await labProxyTarget(target, namespace, io))?.address;
}

/** A lab pod's proxy: its admin address and the pod the target resolved to (`<pod>.<namespace>`). */
export interface LabProxy {
  address: AdminAddress;
  pod: string;
}

/**
 * The lab pod a target names (`<pod>`, `deploy/<name>`, ...) with its proxy's admin address, as istioctl
 * resolves the target to pods; undefined when no lab runs here.
 */
export async function labProxyTarget(
  target: string,
  namespace: string,
  io: CommandIO,
): Promise<LabProxy | undefined> {
  const server = await labServer(io);
  if (server === undefined) return undefined;
  const ref = parseTargetRef(target, namespace);
  const snapshot = await fetchSnapshot(server);
  const workload = resolveTarget(ref, snapshot, buildRegistry(snapshot));
  if (!workload.address) throw dumpError(`pod ${workload.name}.${workload.namespace} has no IP address yet`);
  return {
    address: parseAdminAddress(`${workload.address}:${ENVOY_ADMIN_PORT}`),
    pod: `${workload.name}.${workload.namespace}`,
  };
}

/** The running lab's control-plane debug address (`host:port`), or undefined when no lab runs here. */
export async function labPilotDebugAddress(): Promise<string | undefined> {
  const lab = await import('../lab/index.js');
  const state = lab.readLabState(lab.stateDirPath());
  const debug = state?.endpoints?.debug;
  if (!state || !debug || state.status === 'failed' || !lab.processAlive(state.pid)) return undefined;
  return debug.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}
