/**
 * What `skiff logs` and `skiff exec` act on: a pod named on the command line (`name`, `pod/name`, or a
 * workload `deploy/x` whose first pod is used, as kubectl does), and which of its containers (`-c`, else
 * the `kubectl.kubernetes.io/default-container` annotation Istio's injector sets, else the first container
 * that is not the sidecar, with kubectl's `Defaulted container` note).
 */
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import { apiRequest, listObjects, objectPath, resolveKind } from './kubectl-client.js';

export const SIDECAR = 'istio-proxy';
const DEFAULT_CONTAINER_ANNOTATION = 'kubectl.kubernetes.io/default-container';

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export function metaOf(o: KubeObject): Json {
  return isRecord(o['metadata']) ? o['metadata'] : {};
}

export function podName(pod: KubeObject): string {
  const n = metaOf(pod)['name'];
  return typeof n === 'string' ? n : '';
}

export function podNamespace(pod: KubeObject): string {
  const n = metaOf(pod)['namespace'];
  return typeof n === 'string' ? n : 'default';
}

export function podIP(pod: KubeObject): string | undefined {
  const status = isRecord(pod['status']) ? pod['status'] : {};
  const ip = status['podIP'];
  return typeof ip === 'string' && ip !== '' ? ip : undefined;
}

export function containersOf(pod: KubeObject, field = 'containers'): Json[] {
  const spec = isRecord(pod['spec']) ? pod['spec'] : {};
  return records(spec[field]).filter((c) => typeof c['name'] === 'string');
}

export function containerNames(pod: KubeObject): string[] {
  return containersOf(pod).map((c) => c['name'] as string);
}

export function hasSidecar(pod: KubeObject): boolean {
  return containerNames(pod).includes(SIDECAR);
}

/** kubectl's list of a pod's containers: `app, istio-proxy, istio-init (init)`. */
export function allContainerNames(pod: KubeObject): string {
  return [
    ...containerNames(pod),
    ...containersOf(pod, 'initContainers').map((c) => `${c['name'] as string} (init)`),
    ...containersOf(pod, 'ephemeralContainers').map((c) => `${c['name'] as string} (ephem)`),
  ].join(', ');
}

/**
 * The container a command without `-c` uses. The annotation wins silently (as kubectl); otherwise the first
 * container that is not the sidecar, noted on stderr when there was a choice.
 */
export function defaultContainer(pod: KubeObject, io: CommandIO, quiet = false): Json {
  const all = containersOf(pod);
  if (all.length === 0)
    throw new CliError(`pod ${podNamespace(pod)}/${podName(pod)} does not have any containers`, EXIT.unknown);
  const annotations = isRecord(metaOf(pod)['annotations']) ? (metaOf(pod)['annotations'] as Json) : {};
  const wanted = annotations[DEFAULT_CONTAINER_ANNOTATION];
  const annotated = all.find((c) => c['name'] === wanted);
  if (annotated) return annotated;
  const chosen = all.find((c) => c['name'] !== SIDECAR) ?? (all[0] as Json);
  const others = all.length > 1 || containersOf(pod, 'initContainers').length > 0;
  if (!quiet && others)
    io.stderr(`Defaulted container "${chosen['name'] as string}" out of: ${allContainerNames(pod)}\n`);
  return chosen;
}

/** `app=catalog,version=v1` from a Deployment's (or ReplicaSet's) `spec.selector.matchLabels`. */
export function selectorString(workload: KubeObject): string {
  const spec = isRecord(workload['spec']) ? workload['spec'] : {};
  const selector = isRecord(spec['selector']) ? spec['selector'] : {};
  const labels = isRecord(selector['matchLabels']) ? selector['matchLabels'] : {};
  return Object.entries(labels)
    .filter(([, v]) => typeof v === 'string')
    .map(([k, v]) => `${k}=${v as string}`)
    .join(',');
}

function isRunning(pod: KubeObject): boolean {
  const status = isRecord(pod['status']) ? pod['status'] : {};
  return status['phase'] === 'Running';
}

/** Running pods first, then by name: the pod kubectl's `deploy/x` picks. */
export function sortPods(pods: KubeObject[]): KubeObject[] {
  return [...pods].sort((a, b) => {
    const r = Number(isRunning(b)) - Number(isRunning(a));
    if (r !== 0) return r;
    const na = podName(a);
    const nb = podName(b);
    return na < nb ? -1 : na > nb ? 1 : 0;
  });
}

/** The pods a label selector matches in a namespace, in kubectl's preference order. */
export async function podsBySelector(
  server: string,
  namespace: string,
  selector: string,
): Promise<KubeObject[]> {
  const info = resolveKind('pods');
  return sortPods(await listObjects(server, info, { namespace, labelSelector: selector }));
}

/**
 * The pod `target` names: `name`, `pod/name`, or `<workload kind>/name` (first pod of its selector; kubectl
 * notes `Found N pods, using pod/x` when there are several). Not found is an ApiError with kubectl's text.
 */
export async function resolvePod(
  server: string,
  namespace: string,
  target: string,
  io: CommandIO,
): Promise<KubeObject> {
  const slash = target.indexOf('/');
  const kindName = slash < 0 ? 'pods' : target.slice(0, slash);
  const name = slash < 0 ? target : target.slice(slash + 1);
  if (name === '')
    throw new CliError(`arguments in resource/name form must have a single resource and name`, EXIT.usage);
  const info = resolveKind(kindName);
  const object = await apiRequest(server, objectPath(info, namespace, name));
  if (info.kind === 'Pod') return object;
  const selector = selectorString(object);
  if (selector === '')
    throw new CliError(
      `cannot attach to ${info.kind.toLowerCase()}/${name}: selector is empty`,
      EXIT.unknown,
    );
  const pods = await podsBySelector(server, namespace, selector);
  const first = pods[0];
  if (!first) throw new CliError(`timed out waiting for the condition`, EXIT.unknown);
  if (pods.length > 1) io.stderr(`Found ${pods.length} pods, using pod/${podName(first)}\n`);
  return first;
}
