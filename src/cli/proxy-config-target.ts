/**
 * Which proxy `skiff proxy-config <sub> <target> -f <manifests>` simulates: istioctl's
 * `[<type>/]<name>[.<namespace>]` argument resolved against the workloads of the manifests (Pods, and
 * the stand-ins the registry makes for Deployments without Pods).
 */
import { KIND } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { ServiceRegistry, Workload } from '../registry/index.js';
import { compileLabelSelector } from '../registry/index.js';
import { dumpError } from './configdump-common.js';

export interface TargetRef {
  kind: 'pod' | 'deployment';
  /** The argument as given, for messages. */
  text: string;
  /** The argument without its namespace (`deploy/catalog`), as istioctl names it in messages. */
  resource: string;
  name: string;
  namespace: string;
}

const POD_TYPES = new Set(['', 'pod', 'pods', 'po']);
const DEPLOYMENT_TYPES = new Set([
  'deploy',
  'deployment',
  'deployments',
  'deployment.apps',
  'deployments.apps',
]);

/**
 * istioctl's `inferNsInfo`: the namespace follows the last `.` of the name (after the `/` when a type
 * is given), else it is `defaultNamespace`.
 */
export function parseTargetRef(text: string, defaultNamespace: string): TargetRef {
  const slash = text.lastIndexOf('/');
  const type = slash > 0 ? text.slice(0, slash).toLowerCase() : '';
  const rest = slash > 0 ? text.slice(slash + 1) : text;
  const dot = rest.lastIndexOf('.');
  const name = dot >= 0 ? rest.slice(0, dot) : rest;
  const namespace = dot >= 0 ? rest.slice(dot + 1) : defaultNamespace;
  let kind: TargetRef['kind'];
  if (POD_TYPES.has(type)) kind = 'pod';
  else if (DEPLOYMENT_TYPES.has(type)) kind = 'deployment';
  else {
    throw dumpError(
      `"${text}": simulating from manifests finds pods (<pod>[.<namespace>]) and deployments (deploy/<name>[.<namespace>]) only`,
    );
  }
  if (name === '' || namespace === '') throw dumpError(`"${text}" is not [<type>/]<name>[.<namespace>]`);
  const resource = slash > 0 ? `${text.slice(0, slash)}/${name}` : name;
  return { kind, text, resource, name, namespace };
}

const readyFirst = (a: Workload, b: Workload) => Number(b.ready) - Number(a.ready);

/** The workload a target names; an error saying what is missing when there is none. */
export function resolveTarget(ref: TargetRef, snapshot: ConfigSnapshot, registry: ServiceRegistry): Workload {
  const inNamespace = registry.workloads().filter((w) => w.namespace === ref.namespace);
  if (ref.kind === 'pod') {
    // Deployment stand-ins (`<deployment>-offline-<i>`) are the pods of an offline config.
    const found = inNamespace.find((w) => w.name === ref.name && w.kind !== 'WorkloadEntry');
    if (found) return found;
    throw missingPod(ref, snapshot, registry);
  }
  const deployment = snapshot.get(KIND.Deployment, ref.namespace, ref.name);
  if (!deployment) {
    throw dumpError(
      `deployment "${ref.name}" not found in namespace "${ref.namespace}" (in the -f manifests)`,
    );
  }
  const spec = deployment.object['spec'];
  const selector =
    typeof spec === 'object' && spec !== null ? (spec as Record<string, unknown>)['selector'] : undefined;
  const selects = compileLabelSelector(selector);
  const pods = inNamespace.filter(
    (w) =>
      (w.kind === 'Deployment' && w.source === deployment) ||
      (w.kind === 'Pod' && (w.workloadName === ref.name || (selects !== undefined && selects(w.labels)))),
  );
  const first = [...pods].sort(readyFirst)[0];
  // istioctl's wording when a Deployment has no pods.
  if (!first) throw dumpError(`no pods match "${ref.resource}"`);
  return first;
}

function missingPod(ref: TargetRef, snapshot: ConfigSnapshot, registry: ServiceRegistry): Error {
  const pod = snapshot.get(KIND.Pod, ref.namespace, ref.name);
  if (pod) {
    if (!registry.isNamespaceVisible(ref.namespace)) {
      return dumpError(
        `pod "${ref.name}" is in namespace "${ref.namespace}", which the mesh's discoverySelectors leave out`,
      );
    }
    const status = pod.object['status'];
    const phase =
      typeof status === 'object' && status !== null
        ? (status as Record<string, unknown>)['phase']
        : undefined;
    // The text istioctl's port-forwarder gives for a finished pod.
    return dumpError(`pod is not running. Status=${typeof phase === 'string' ? phase : ''}`);
  }
  return dumpError(`pod "${ref.name}" not found in namespace "${ref.namespace}" (in the -f manifests)`);
}
