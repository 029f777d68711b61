/**
 * What the performance test touches in the running lab: where it is (the state dir's `lab.json`, as
 * `skiff get` finds it), its REST API (create and delete objects), pilot's `/metrics`, the proxies (pods
 * with an `istio-proxy` container; admin API on `<podIP>:15000`), the ingress gateway's published port,
 * and the supervisor process's peak RSS (VmHWM, reset through `/proc/<pid>/clear_refs` before a run).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { readLabState, stateDirPath, processAlive } from '../lab/index.js';
import { CliError, EXIT } from './errors.js';
import { ApiError, apiRequest, collectionPath, objectPath, resolveKind } from './kubectl-client.js';
import type { KubeObject } from './kubectl-client.js';
import { pilotReading } from './bench-controlplane-metrics.js';
import type { PilotReading } from './bench-controlplane-metrics.js';
import type { KubeBody } from './bench-controlplane-sets.js';

export interface LabTarget {
  stateDir: string;
  api: string;
  monitoring: string;
  supervisorPid: number;
  /** `host:port` of the ingress gateway's HTTP port. */
  gateway: string;
}

export interface ProxyPod {
  name: string;
  namespace: string;
  ip: string;
  router: boolean;
  labels: Record<string, string>;
}

const ADMIN_PORT = 15000;
const GATEWAY_HTTP_PORT = 8080;

const record = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** The running lab of the state dir, or a CliError saying how to start one. */
export async function findLab(opts: { stateDir?: string; gateway?: string }): Promise<LabTarget> {
  const stateDir = stateDirPath(opts.stateDir);
  const state = readLabState(stateDir);
  const e = state?.endpoints;
  if (!state || !e || state.status === 'failed' || !processAlive(state.pid))
    throw new CliError(
      `skiff is not running in ${stateDir}: start it with \`skiff up\` (or \`skiff up --example ch11\`)`,
      EXIT.unknown,
    );
  const api = e.api.replace(/\/+$/, '');
  let gateway = opts.gateway;
  if (!gateway) {
    const published = (state.published ?? []).find(
      (p) => p.service === 'istio-system/istio-ingressgateway' && p.port === 30000 && !p.error,
    );
    if (published) gateway = `${published.address}:${published.port}`;
  }
  if (!gateway) {
    // Node port 30000 was taken (another lab, say): talk to the gateway pod's own HTTP port.
    const gw = (await listProxies(api)).find((p) => p.router);
    if (gw) gateway = `${gw.ip}:${GATEWAY_HTTP_PORT}`;
  }
  if (!gateway) throw new CliError('the lab has no ingress gateway pod with an address', EXIT.unknown);
  return {
    stateDir,
    api,
    monitoring: e.monitoring.replace(/\/+$/, ''),
    supervisorPid: state.pid,
    gateway,
  };
}

/** The REST path of an object's collection, from its apiVersion and kind. */
function kindInfo(body: KubeBody) {
  const apiVersion = String(body['apiVersion'] ?? 'v1');
  const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
  const kind = String(body['kind'] ?? '').toLowerCase();
  const info = resolveKind(group ? `${kind}.${group}` : kind);
  const version = apiVersion.includes('/') ? apiVersion.split('/')[1] : apiVersion;
  return { info, version: version ?? 'v1' };
}

function metaOf(body: KubeBody): { name: string; namespace: string | undefined } {
  const meta = record(body['metadata']);
  return {
    name: String(meta['name'] ?? ''),
    namespace: typeof meta['namespace'] === 'string' ? meta['namespace'] : undefined,
  };
}

function versionedPath(path: string, info: { group: string }, version: string): string {
  // kubectl-client asks for the preferred version; the book's objects name theirs (v1alpha3).
  return info.group ? path.replace(/^\/apis\/[^/]+\/[^/]+/, `/apis/${info.group}/${version}`) : path;
}

/** Creates an object; `exists` when it was there already. Returns when the store has accepted it. */
export async function createObject(api: string, body: KubeBody): Promise<'created' | 'exists'> {
  const { info, version } = kindInfo(body);
  const { namespace } = metaOf(body);
  try {
    await apiRequest(api, versionedPath(collectionPath(info, namespace), info, version), {
      method: 'POST',
      body,
    });
    return 'created';
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return 'exists';
    throw err;
  }
}

/** Deletes an object; a missing one is not an error. */
export async function deleteObject(api: string, body: KubeBody): Promise<void> {
  const { info } = kindInfo(body);
  const { name, namespace } = metaOf(body);
  try {
    await apiRequest(api, objectPath(info, namespace, name), { method: 'DELETE' });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
}

export async function getObject(api: string, body: KubeBody): Promise<KubeObject | undefined> {
  const { info } = kindInfo(body);
  const { name, namespace } = metaOf(body);
  try {
    return await apiRequest(api, objectPath(info, namespace, name));
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** A merge patch (`application/merge-patch+json`). */
export async function patchObject(api: string, body: KubeBody, patch: KubeBody): Promise<void> {
  const { info } = kindInfo(body);
  const { name, namespace } = metaOf(body);
  await apiRequest(api, objectPath(info, namespace, name), {
    method: 'PATCH',
    body: patch,
    contentType: 'application/merge-patch+json',
  });
}

/** Every running pod with a proxy (a sidecar, or a gateway running `proxy router`) and an address. */
export async function listProxies(api: string): Promise<ProxyPod[]> {
  const body = await apiRequest(api, '/api/v1/pods');
  const out: ProxyPod[] = [];
  for (const item of list(body['items'])) {
    const meta = record(record(item)['metadata']);
    const spec = record(record(item)['spec']);
    const status = record(record(item)['status']);
    const proxy = list(spec['containers'])
      .map(record)
      .find((c) => c['name'] === 'istio-proxy');
    const ip = status['podIP'];
    if (!proxy || typeof ip !== 'string' || ip === '' || status['phase'] !== 'Running') continue;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(record(meta['labels']))) if (typeof v === 'string') labels[k] = v;
    out.push({
      name: String(meta['name'] ?? ''),
      namespace: String(meta['namespace'] ?? ''),
      ip,
      router: list(proxy['args']).includes('router'),
      labels,
    });
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}

/** Whether every pod is Running with all containers ready. */
export async function allPodsReady(api: string): Promise<boolean> {
  const body = await apiRequest(api, '/api/v1/pods');
  return list(body['items']).every((item) => {
    const status = record(record(item)['status']);
    const cs = list(status['containerStatuses']).map(record);
    return status['phase'] === 'Running' && cs.length > 0 && cs.every((c) => c['ready'] === true);
  });
}

export async function readPilot(target: Pick<LabTarget, 'monitoring'>): Promise<PilotReading> {
  const res = await fetch(`${target.monitoring}/metrics`);
  if (!res.ok) throw new CliError(`pilot /metrics answered HTTP ${res.status}`, EXIT.unknown);
  return pilotReading(await res.text());
}

/** GET on a proxy's admin API; the body text, or undefined when the proxy does not answer. */
export async function adminGet(ip: string, path: string, timeoutMs = 3000): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${ip}:${ADMIN_PORT}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** One plain HTTP GET with a Host header (curl -H 'Host: ...'); the status, 0 when it failed. */
export function httpStatus(address: string, path: string, host: string, timeoutMs = 500): Promise<number> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const req = request(
      {
        host: address.slice(0, i),
        port: Number(address.slice(i + 1)),
        path,
        headers: { host },
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Resets the process's peak RSS (Linux: writing 5 to clear_refs sets VmHWM to the current RSS), so a
 * later read gives the peak of the run. False when the kernel or permissions do not allow it.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** VmHWM of a process in bytes; undefined where /proc is not readable. */
export function peakRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
