/**
 * `skiff top pod`: kubectl's `top pod` against the lab's metrics.k8s.io/v1beta1 API — the same checks in
 * the same order (flags, then discovery: "Metrics API not available"; then the metrics; when none came
 * back, the pods behind the query decide between "No resources found", "metrics not available yet" and
 * "Metrics not available for pod ns/name, age: ..."), the same table, the same error text.
 */
import type { Command } from 'commander';
import { ApiError, apiRequest, resolveServer } from './kubectl-client.js';
import type { KubeObject } from './kubectl-client.js';
import { EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import type { PodUsage } from './top-format.js';
import { podUsage, renderTopPods } from './top-format.js';

/** kubectl waits this long after a pod's creation before a missing metric is an error. */
const METRICS_CREATION_DELAY_MS = 2 * 60 * 1000;
const METRICS_GROUP = 'metrics.k8s.io';
const METRICS_VERSIONS = ['v1beta1'];

export interface TopPodFlags {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  containers?: boolean;
  noHeaders?: boolean;
  sortBy?: string;
  server?: string;
  stateDir?: string;
}

/** A problem kubectl reports as `error: <text>`. */
class TopError extends Error {}

/** Go's time.Duration.String() for a positive number of milliseconds: `2m3.5s`, `1h0m0.25s`. */
export function goDurationString(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = Number((total % 60).toFixed(9));
  const s = `${seconds}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

function metricsApiAvailable(groups: KubeObject): boolean {
  const list = Array.isArray(groups['groups']) ? (groups['groups'] as unknown[]) : [];
  return list.some((g) => {
    if (typeof g !== 'object' || g === null) return false;
    const group = g as Record<string, unknown>;
    if (group['name'] !== METRICS_GROUP) return false;
    const versions = Array.isArray(group['versions']) ? (group['versions'] as unknown[]) : [];
    return versions.some(
      (v) =>
        typeof v === 'object' &&
        v !== null &&
        METRICS_VERSIONS.includes(String((v as Record<string, unknown>)['version'])),
    );
  });
}

function podsPath(namespace: string | undefined, name?: string): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `/api/v1${ns}/pods${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

function metricsPath(namespace: string | undefined, name?: string): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `/apis/${METRICS_GROUP}/v1beta1${ns}/pods${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** kubectl's checkPodAge: an error once the pod is old enough that its metrics should exist. */
function checkPodAge(pod: KubeObject, now: number): void {
  const meta = (pod['metadata'] ?? {}) as Record<string, unknown>;
  const created = Date.parse(String(meta['creationTimestamp'] ?? ''));
  if (!Number.isFinite(created)) return;
  const age = now - created;
  if (age > METRICS_CREATION_DELAY_MS)
    throw new TopError(
      `Metrics not available for pod ${String(meta['namespace'] ?? '')}/${String(meta['name'] ?? '')}, age: ${goDurationString(age)}`,
    );
}

export async function topPodCommand(
  name: string | undefined,
  flags: TopPodFlags,
  io: CommandIO,
): Promise<number> {
  try {
    if (flags.sortBy !== undefined && flags.sortBy !== '' && !['cpu', 'memory'].includes(flags.sortBy))
      throw new TopError('--sort-by accepts only cpu or memory');
    if (name !== undefined && name !== '' && flags.selector)
      throw new TopError('only one of NAME or --selector can be provided');
    const server = await resolveServer(flags, io);
    const namespace = flags.namespace || 'default';
    const listNamespace = flags.allNamespaces ? undefined : namespace;
    if (!metricsApiAvailable(await apiRequest(server, '/apis')))
      throw new TopError('Metrics API not available');
    let items: unknown[];
    if (name) {
      items = [await apiRequest(server, metricsPath(listNamespace ?? namespace, name))];
    } else {
      const list = await apiRequest(server, metricsPath(listNamespace), {
        query: { labelSelector: flags.selector },
      });
      items = Array.isArray(list['items']) ? (list['items'] as unknown[]) : [];
    }
    const pods = items.map(podUsage).filter((p): p is PodUsage => p !== undefined);
    if (pods.length === 0) {
      // kubectl asks about the pods in the command's namespace, even with -A.
      const now = Date.now();
      if (name) {
        checkPodAge(await apiRequest(server, podsPath(namespace, name)), now);
        throw new TopError('metrics not available yet');
      }
      const podList = await apiRequest(server, podsPath(namespace), {
        query: { labelSelector: flags.selector },
      });
      const found = Array.isArray(podList['items']) ? (podList['items'] as KubeObject[]) : [];
      if (found.length > 0) {
        for (const p of found) checkPodAge(p, now);
        throw new TopError('metrics not available yet');
      }
      io.stderr(
        flags.allNamespaces ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`,
      );
    }
    io.stdout(
      renderTopPods(pods, {
        containers: flags.containers === true,
        withNamespace: flags.allNamespaces === true,
        noHeaders: flags.noHeaders === true,
        ...(flags.sortBy ? { sortBy: flags.sortBy } : {}),
      }),
    );
    return EXIT.ok;
  } catch (err) {
    // kubectl prints API errors as they are and its own with `error: `.
    if (err instanceof ApiError) io.stderr(`${err.message}\n`);
    else if (err instanceof TopError) io.stderr(`error: ${err.message}\n`);
    else throw err;
    return EXIT.unknown;
  }
}

export function registerTop(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  const top = program.command('top').description('Display resource (CPU/memory) usage (kubectl top)');
  top
    .command('pod')
    .aliases(['pods', 'po'])
    .description('Display resource (CPU/memory) usage of pods')
    .argument('[name]', 'a pod name')
    .option('-n, --namespace <namespace>', 'namespace (default "default")')
    .option('-A, --all-namespaces', 'list across all namespaces')
    .option('-l, --selector <selector>', "label selector, supports '=', '==', and '!=' (e.g. -l key1=value1)")
    .option('--containers', 'print usage of containers within a pod')
    .option('--no-containers', 'print usage of pods (the default)')
    .option('--no-headers', 'print output without headers')
    .option('--sort-by <field>', "sort pods by 'cpu' or 'memory'")
    .option('--server <url>', 'the lab REST API address (default: $SKIFF_SERVER, else the running lab)')
    .option('--state-dir <dir>', 'the lab state dir to find the running lab in', '.skiff')
    .action(async (name: string | undefined, flags: TopPodFlags & { headers?: boolean }) => {
      setExit(await topPodCommand(name, { ...flags, noHeaders: flags.headers === false }, io));
    });
}
