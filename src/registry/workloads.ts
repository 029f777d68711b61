/**
 * Workload instances: running Pods, WorkloadEntries, and, for offline use, stand-ins for the replicas of
 * Deployments that have no Pod in the config.
 */
import type { Resource } from '../api/index.js';
import { KIND } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import { compileLabelSelector } from './selectors.js';
import { spiffeIdentity } from './services.js';
import type { Labels } from './values.js';
import { asArray, asLabels, asNumber, asRecord, asString } from './values.js';

export type WorkloadKind = 'Pod' | 'WorkloadEntry' | 'Deployment';

export interface ContainerPortInfo {
  name: string;
  port: number;
  /** TCP when absent. */
  protocol: string;
}

export interface Workload {
  /** `Deployment` marks a stand-in for a replica of a Deployment that has no Pod in the config. */
  kind: WorkloadKind;
  /** Pod or WorkloadEntry name; `<deployment>-offline-<i>` for stand-ins. */
  name: string;
  namespace: string;
  source: Resource;
  /** Pod IP or WorkloadEntry address (IP, DNS name or `unix://` path); undefined when unknown. */
  address?: string;
  labels: Labels;
  /** The Kubernetes service account name; '' for a WorkloadEntry without one. */
  serviceAccount: string;
  /** The SPIFFE identity of `serviceAccount`, or '' when there is none. */
  identity: string;
  /** Pod `Ready` condition; a WorkloadEntry's `Healthy` condition (healthy when absent); true for stand-ins. */
  ready: boolean;
  /** `istio` when the workload has a sidecar (or says so with `security.istio.io/tlsMode`), else `disabled`. */
  tlsMode: string;
  /** `region/zone/subzone` as Istio writes it, or ''. */
  locality: string;
  /** The owning workload's name (Deployment, WorkloadEntry), used in telemetry metadata. */
  workloadName: string;
  /** Pods and stand-ins: every container's ports. */
  containerPorts: ContainerPortInfo[];
  /** Port name to number: a WorkloadEntry's `ports`, or a Pod's named container ports. */
  portMap: Record<string, number>;
  network: string;
  /** WorkloadEntry load-balancing weight (0: unset). */
  weight: number;
  /** True for Deployment stand-ins: they have no address and exist only so offline config is complete. */
  synthetic: boolean;
}

export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
export const TLS_MODE_ISTIO = 'istio';
export const TLS_MODE_DISABLED = 'disabled';
const LOCALITY_LABEL = 'istio-locality';
const REGION_LABEL = 'topology.kubernetes.io/region';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const SUBZONE_LABEL = 'topology.istio.io/subzone';
const SIDECAR_CONTAINER = 'istio-proxy';
const INJECT_LABEL = 'sidecar.istio.io/inject';
/** Stand-ins per Deployment are capped so that a mistyped `replicas: 1000000` cannot exhaust memory. */
export const MAX_SYNTHETIC_REPLICAS = 100;

export interface WorkloadOptions {
  trustDomain: string;
  /** Namespaces whose objects are visible (discoverySelectors). */
  isNamespaceVisible: (namespace: string) => boolean;
}

/** Every workload of the visible namespaces, sorted by namespace, then name. */
export function collectWorkloads(snapshot: ConfigSnapshot, opts: WorkloadOptions): Workload[] {
  const out: Workload[] = [];
  const pods = snapshot.list(KIND.Pod).filter((p) => opts.isNamespaceVisible(namespaceOf(p)));
  for (const pod of pods) {
    const w = workloadFromPod(pod, opts.trustDomain);
    if (w) out.push(w);
  }
  for (const d of snapshot.list(KIND.Deployment)) {
    if (!opts.isNamespaceVisible(namespaceOf(d))) continue;
    out.push(...standInsForDeployment(d, pods, namespaceLabels(snapshot, namespaceOf(d)), opts.trustDomain));
  }
  for (const we of snapshot.list(KIND.WorkloadEntry)) {
    if (opts.isNamespaceVisible(namespaceOf(we))) out.push(workloadFromWorkloadEntry(we, opts.trustDomain));
  }
  return out.sort((a, b) => cmp(a.namespace, b.namespace) || cmp(a.name, b.name) || cmp(a.kind, b.kind));
}

/**
 * A Pod as a workload; undefined for Pods that finished (Succeeded/Failed), which serve nothing and
 * which Kubernetes leaves out of endpoints. A Pod being deleted is kept but not ready.
 */
export function workloadFromPod(pod: Resource, trustDomain: string): Workload | undefined {
  const spec = asRecord(pod.object['spec']) ?? {};
  const status = asRecord(pod.object['status']) ?? {};
  const phase = asString(status['phase']);
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const namespace = namespaceOf(pod);
  const labels = asLabels(pod.metadata.labels);
  const sa = serviceAccountOf(spec);
  const containerPorts = containerPortsOf(spec);
  const readyCondition = asArray(status['conditions'])
    .map(asRecord)
    .find((c) => c?.['type'] === 'Ready');
  const terminating = pod.metadata['deletionTimestamp'] !== undefined;
  const w: Workload = {
    kind: 'Pod',
    name: pod.metadata.name,
    namespace,
    source: pod,
    labels,
    serviceAccount: sa,
    identity: spiffeIdentity(trustDomain, namespace, sa),
    ready: readyCondition?.['status'] === 'True' && !terminating,
    tlsMode: labels[TLS_MODE_LABEL] ?? (hasSidecar(spec) ? TLS_MODE_ISTIO : TLS_MODE_DISABLED),
    locality: podLocality(labels),
    workloadName: podWorkloadName(pod, labels),
    containerPorts,
    portMap: namedPorts(containerPorts),
    network: labels['topology.istio.io/network'] ?? '',
    weight: 0,
    synthetic: false,
  };
  const ip = asString(status['podIP']);
  if (ip) w.address = ip;
  return w;
}

/**
 * Stand-ins for a Deployment's replicas when no Pod in its namespace matches its selector, so that an
 * offline config (manifests without Pods) still has workloads and endpoints. They are named
 * `<deployment>-offline-<i>`, have no address, are taken as ready, and are marked `synthetic`; the sidecar
 * is predicted from the namespace's injection labels and the template's `sidecar.istio.io/inject`.
 */
export function standInsForDeployment(
  deployment: Resource,
  pods: readonly Resource[],
  nsLabels: Labels,
  trustDomain: string,
): Workload[] {
  const spec = asRecord(deployment.object['spec']) ?? {};
  const namespace = namespaceOf(deployment);
  const selects = compileLabelSelector(spec['selector']);
  // The API server rejects a Deployment without a valid selector, so such a Deployment never has pods.
  if (!selects || !asRecord(spec['selector'])) return [];
  const hasPod = pods.some((p) => namespaceOf(p) === namespace && selects(asLabels(p.metadata.labels)));
  if (hasPod) return [];
  const template = asRecord(spec['template']) ?? {};
  const meta = asRecord(template['metadata']) ?? {};
  const podSpec = asRecord(template['spec']) ?? {};
  const labels = asLabels(meta['labels']);
  const annotations = asLabels(meta['annotations']);
  const sa = serviceAccountOf(podSpec);
  const containerPorts = containerPortsOf(podSpec);
  const injected = hasSidecar(podSpec) || willBeInjected(nsLabels, labels, annotations);
  const rawReplicas = asNumber(spec['replicas']) ?? 1;
  const replicas = Math.min(Math.max(0, Math.floor(rawReplicas)), MAX_SYNTHETIC_REPLICAS);
  const out: Workload[] = [];
  for (let i = 0; i < replicas; i++) {
    out.push({
      kind: 'Deployment',
      name: `${deployment.metadata.name}-offline-${i}`,
      namespace,
      source: deployment,
      labels: { ...labels },
      serviceAccount: sa,
      identity: spiffeIdentity(trustDomain, namespace, sa),
      ready: true,
      tlsMode: labels[TLS_MODE_LABEL] ?? (injected ? TLS_MODE_ISTIO : TLS_MODE_DISABLED),
      locality: podLocality(labels),
      workloadName: deployment.metadata.name,
      containerPorts: containerPorts.map((p) => ({ ...p })),
      portMap: namedPorts(containerPorts),
      network: labels['topology.istio.io/network'] ?? '',
      weight: 0,
      synthetic: true,
    });
  }
  return out;
}

/** A WorkloadEntry as a workload (its `spec.labels`, not its metadata labels, select it). */
export function workloadFromWorkloadEntry(we: Resource, trustDomain: string): Workload {
  const spec = asRecord(we.object['spec']) ?? {};
  const namespace = namespaceOf(we);
  const labels = asLabels(spec['labels']);
  const sa = asString(spec['serviceAccount']) ?? '';
  const portMap: Record<string, number> = {};
  for (const [name, port] of Object.entries(asRecord(spec['ports']) ?? {})) {
    const n = asNumber(port);
    if (n !== undefined) portMap[name] = n;
  }
  const healthy = asArray(asRecord(we.object['status'])?.['conditions'])
    .map(asRecord)
    .find((c) => c?.['type'] === 'Healthy');
  const w: Workload = {
    kind: 'WorkloadEntry',
    name: we.metadata.name,
    namespace,
    source: we,
    labels,
    serviceAccount: sa,
    identity: sa ? spiffeIdentity(trustDomain, namespace, sa) : '',
    ready: healthy?.['status'] !== 'False',
    tlsMode: workloadEntryTlsMode(labels, sa),
    locality: asString(spec['locality']) ?? '',
    workloadName: we.metadata.name,
    containerPorts: [],
    portMap,
    network: asString(spec['network']) ?? '',
    weight: asNumber(spec['weight']) ?? 0,
    synthetic: false,
  };
  const address = asString(spec['address']);
  if (address) w.address = address;
  return w;
}

/** The tlsMode label when present; otherwise a WorkloadEntry with a service account is taken to run a sidecar. */
export function workloadEntryTlsMode(labels: Labels, serviceAccount: string): string {
  return labels[TLS_MODE_LABEL] ?? (serviceAccount ? TLS_MODE_ISTIO : TLS_MODE_DISABLED);
}

/**
 * Istio reads locality from the `istio-locality` label (`.` separating the parts) or else from the
 * node's topology labels. Nodes are not part of the config, so the Pod's own topology labels stand in.
 */
export function podLocality(labels: Labels): string {
  const explicit = labels[LOCALITY_LABEL];
  if (explicit) return explicit.replaceAll('.', '/');
  const region = labels[REGION_LABEL] ?? '';
  const zone = labels[ZONE_LABEL] ?? '';
  const subzone = labels[SUBZONE_LABEL] ?? '';
  return region || zone || subzone ? `${region}/${zone}/${subzone}` : '';
}

function willBeInjected(nsLabels: Labels, labels: Labels, annotations: Labels): boolean {
  const podSays = labels[INJECT_LABEL] ?? annotations[INJECT_LABEL];
  if (podSays === 'false') return false;
  if (nsLabels['istio-injection'] === 'disabled') return false;
  if (nsLabels['istio-injection'] === 'enabled' || nsLabels['istio.io/rev'] !== undefined) return true;
  return podSays === 'true';
}

function hasSidecar(podSpec: Record<string, unknown>): boolean {
  return asArray(podSpec['containers']).some((c) => asRecord(c)?.['name'] === SIDECAR_CONTAINER);
}

/** The API server fills in `default`; the deprecated `serviceAccount` field is its older name. */
function serviceAccountOf(podSpec: Record<string, unknown>): string {
  return asString(podSpec['serviceAccountName']) || asString(podSpec['serviceAccount']) || 'default';
}

function containerPortsOf(podSpec: Record<string, unknown>): ContainerPortInfo[] {
  const out: ContainerPortInfo[] = [];
  for (const c of asArray(podSpec['containers'])) {
    for (const p of asArray(asRecord(c)?.['ports'])) {
      const rec = asRecord(p);
      const port = asNumber(rec?.['containerPort']);
      if (!rec || port === undefined) continue;
      out.push({ name: asString(rec['name']) ?? '', port, protocol: asString(rec['protocol']) ?? 'TCP' });
    }
  }
  return out;
}

function namedPorts(ports: readonly ContainerPortInfo[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of ports) if (p.name && out[p.name] === undefined) out[p.name] = p.port;
  return out;
}

/** The Deployment name behind a Pod: its ReplicaSet owner without the pod-template-hash suffix. */
function podWorkloadName(pod: Resource, labels: Labels): string {
  const owners = asArray(pod.metadata['ownerReferences']).map(asRecord);
  const owner = owners.find((o) => o?.['controller'] === true) ?? owners[0];
  const ownerName = asString(owner?.['name']);
  if (!owner || !ownerName) return pod.metadata.name;
  const hash = labels['pod-template-hash'];
  if (owner['kind'] === 'ReplicaSet' && hash && ownerName.endsWith(`-${hash}`)) {
    return ownerName.slice(0, -hash.length - 1);
  }
  return ownerName;
}

export function namespaceOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

export function namespaceLabels(snapshot: ConfigSnapshot, namespace: string): Labels {
  const ns = snapshot.get(KIND.Namespace, undefined, namespace);
  return asLabels(ns?.metadata.labels);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
