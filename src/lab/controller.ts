/**
 * The lab's controller manager, over the embedded store: Deployment → ReplicaSet → Pod (with Kubernetes'
 * names, labels, owner references and status), sidecar injection at pod creation, garbage collection of
 * orphans, Service cluster IPs (127.200.0.0/22) and node ports, and Endpoints following pod readiness.
 *
 * Every pass is idempotent: it reads the store, writes only what differs, and the store drops writes that
 * change nothing, so a pass triggered by its own writes settles at once.
 */
import type { KubeObject, ObjectStore } from '../store/index.js';
import { IpAllocator, SERVICE_SUBNET } from './addresses.js';
import { injectSidecar, wantsSidecar } from './inject.js';
import { podTemplateHash, randomSuffix } from './names.js';
import { admitPodSpec } from './pod-admission.js';
import type { Json } from './objects.js';
import {
  arrayAt,
  isRecord,
  labelsOf,
  mutable,
  numberAt,
  nsOf,
  ownerUid,
  podReady,
  recordAt,
  sameJson,
  selects,
  stringAt,
  stringMap,
  timestamp,
  uidOf,
} from './objects.js';

const NODE_NAME = 'skiff';
const NODE_PORT_MIN = 30000;
const NODE_PORT_MAX = 32767;

export interface ControllerOptions {
  warn?: (message: string) => void;
}

function ownerRef(kind: string, apiVersion: string, o: KubeObject): Json {
  return {
    apiVersion,
    kind,
    name: o.metadata.name,
    uid: uidOf(o),
    controller: true,
    blockOwnerDeletion: true,
  };
}

function condition(
  previous: Json[],
  type: string,
  status: string,
  extra: Json = {},
  now = timestamp(),
): Json {
  const before = previous.find((c) => c['type'] === type);
  const since = before && before['status'] === status ? before['lastTransitionTime'] : now;
  return { type, status, ...extra, lastTransitionTime: since };
}

export class LabController {
  private readonly serviceIps = new IpAllocator(SERVICE_SUBNET);
  private scheduled = false;
  private running = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly store: ObjectStore,
    opts: ControllerOptions = {},
  ) {
    this.warn = opts.warn ?? (() => undefined);
  }

  start(): void {
    for (const svc of this.store.list('/Service').items) {
      const ip = stringAt(svc['spec'], 'clusterIP');
      if (ip) this.serviceIps.reserve(ip);
    }
    this.unsubscribe = this.store.onChange((c) => {
      if (WATCHED.has(c.kindKey)) this.schedule();
    });
    this.reconcile();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
  }

  schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.reconcile();
    });
  }

  /** One pass over everything. */
  reconcile(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      this.store.batch(() => {
        this.step('services', () => this.services());
        this.step('deployments', () => this.deployments());
        this.step('replicasets', () => this.replicaSets());
        this.step('orphans', () => this.collectOrphans());
        this.step('endpoints', () => this.endpoints());
      });
    } finally {
      this.running = false;
    }
  }

  private step(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.warn(`controller ${name}: ${(err as Error).message}`);
    }
  }

  // ---- Services: cluster IPs and node ports ----

  private services(): void {
    const usedNodePorts = new Set<number>();
    const services = this.store.list('/Service').items;
    for (const svc of services)
      for (const p of arrayAt(svc['spec'], 'ports')) {
        const n = numberAt(p, 'nodePort');
        if (n) usedNodePorts.add(n);
      }
    for (const svc of services) {
      const spec = recordAt(svc, 'spec');
      const type = stringAt(spec, 'type') ?? 'ClusterIP';
      const next = mutable(svc);
      const nextSpec = recordAt(next, 'spec');
      let changed = false;
      if (type !== 'ExternalName' && !stringAt(spec, 'clusterIP')) {
        const ip = this.serviceIps.allocate();
        nextSpec['clusterIP'] = ip;
        nextSpec['clusterIPs'] = [ip];
        changed = true;
      }
      if (type === 'NodePort' || type === 'LoadBalancer') {
        for (const p of arrayAt(nextSpec, 'ports')) {
          if (numberAt(p, 'nodePort')) continue;
          let port = NODE_PORT_MIN + Math.floor(Math.random() * (NODE_PORT_MAX - NODE_PORT_MIN));
          while (usedNodePorts.has(port)) port = port >= NODE_PORT_MAX ? NODE_PORT_MIN : port + 1;
          usedNodePorts.add(port);
          p['nodePort'] = port;
          changed = true;
        }
      }
      if (changed) this.store.update(next);
    }
  }

  // ---- Deployments ----

  private deployments(): void {
    const all = this.store.list('apps/ReplicaSet').items;
    for (const d of this.store.list('apps/Deployment').items) {
      const ns = nsOf(d);
      const spec = recordAt(d, 'spec');
      const template = recordAt(spec, 'template');
      const replicas = numberAt(spec, 'replicas') ?? 1;
      const hash = podTemplateHash(template);
      const rsName = `${d.metadata.name}-${hash}`;
      const owned = all.filter((rs) => nsOf(rs) === ns && ownerUid(rs) === uidOf(d));
      const current = owned.find((rs) => rs.metadata.name === rsName);
      const revision = String(
        Math.max(
          0,
          ...owned.map(
            (rs) => Number(stringMap(rs.metadata.annotations)['deployment.kubernetes.io/revision']) || 0,
          ),
        ) + (current ? 0 : 1),
      );
      if (!current) {
        const templateMeta = recordAt(template, 'metadata');
        const podLabels = { ...stringMap(templateMeta['labels']), 'pod-template-hash': hash };
        this.store.create({
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          metadata: {
            name: rsName,
            namespace: ns,
            labels: podLabels,
            annotations: {
              'deployment.kubernetes.io/desired-replicas': String(replicas),
              'deployment.kubernetes.io/max-replicas': String(replicas + Math.ceil(replicas / 4)),
              'deployment.kubernetes.io/revision': revision,
            },
            ownerReferences: [ownerRef('Deployment', 'apps/v1', d)],
          },
          spec: {
            replicas,
            selector: {
              matchLabels: {
                ...stringMap(recordAt(spec['selector'], 'matchLabels')),
                'pod-template-hash': hash,
              },
            },
            template: { ...template, metadata: { ...templateMeta, labels: podLabels } },
          },
        });
      } else if (numberAt(current['spec'], 'replicas') !== replicas) {
        const next = mutable(current);
        recordAt(next, 'spec')['replicas'] = replicas;
        const ann = stringMap(next.metadata.annotations);
        ann['deployment.kubernetes.io/desired-replicas'] = String(replicas);
        next.metadata.annotations = ann;
        this.store.update(next);
      }
      // The new ReplicaSet takes over at once (the old ones scale to zero and stay, as history).
      for (const rs of owned) {
        if (rs.metadata.name === rsName || numberAt(rs['spec'], 'replicas') === 0) continue;
        const next = mutable(rs);
        recordAt(next, 'spec')['replicas'] = 0;
        this.store.update(next);
      }
      this.deploymentStatus(d, rsName, replicas);
    }
  }

  private deploymentStatus(d: KubeObject, rsName: string, desired: number): void {
    const ns = nsOf(d);
    const owned = this.store
      .list('apps/ReplicaSet', { namespace: ns })
      .items.filter((rs) => ownerUid(rs) === uidOf(d));
    let replicas = 0;
    let ready = 0;
    let updated = 0;
    for (const rs of owned) {
      const st = recordAt(rs, 'status');
      replicas += numberAt(st, 'replicas') ?? 0;
      ready += numberAt(st, 'readyReplicas') ?? 0;
      if (rs.metadata.name === rsName) updated = numberAt(st, 'replicas') ?? 0;
    }
    const previous = arrayAt(d['status'], 'conditions');
    const available = ready >= desired;
    const status: Json = { observedGeneration: d.metadata.generation ?? 1 };
    if (replicas) status['replicas'] = replicas;
    if (updated) status['updatedReplicas'] = updated;
    if (ready) status['readyReplicas'] = ready;
    if (ready) status['availableReplicas'] = ready;
    if (replicas - ready > 0) status['unavailableReplicas'] = replicas - ready;
    status['conditions'] = [
      condition(previous, 'Available', available ? 'True' : 'False', {
        reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        message: available
          ? 'Deployment has minimum availability.'
          : 'Deployment does not have minimum availability.',
      }),
      condition(previous, 'Progressing', 'True', {
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "${rsName}" has successfully progressed.`,
      }),
    ];
    this.setStatus(d, status);
  }

  private setStatus(o: KubeObject, status: Json): void {
    if (sameJson(o['status'], status)) return;
    const next = mutable(o);
    next['status'] = status;
    this.store.updateStatus(next);
  }

  // ---- ReplicaSets ----

  private replicaSets(): void {
    const pods = this.store.list('/Pod').items;
    for (const rs of this.store.list('apps/ReplicaSet').items) {
      const ns = nsOf(rs);
      const spec = recordAt(rs, 'spec');
      const desired = numberAt(spec, 'replicas') ?? 1;
      const owned = pods.filter((p) => nsOf(p) === ns && ownerUid(p) === uidOf(rs));
      if (owned.length < desired) {
        for (let i = owned.length; i < desired; i++) this.createPod(rs);
      } else if (owned.length > desired) {
        // Not-ready pods go first, then the newest (Kubernetes' ranking, simplified).
        const victims = [...owned].sort((a, b) => {
          const ra = podReady(a) ? 1 : 0;
          const rb = podReady(b) ? 1 : 0;
          if (ra !== rb) return ra - rb;
          return String(b.metadata.creationTimestamp).localeCompare(String(a.metadata.creationTimestamp));
        });
        for (const p of victims.slice(0, owned.length - desired))
          this.store.delete('/Pod', ns, p.metadata.name);
      }
      const now = this.store.list('/Pod', { namespace: ns }).items.filter((p) => ownerUid(p) === uidOf(rs));
      const ready = now.filter(podReady).length;
      const status: Json = { replicas: now.length };
      if (now.length) status['fullyLabeledReplicas'] = now.length;
      if (ready) status['readyReplicas'] = ready;
      if (ready) status['availableReplicas'] = ready;
      status['observedGeneration'] = rs.metadata.generation ?? 1;
      this.setStatus(rs, status);
    }
  }

  private createPod(rs: KubeObject): void {
    const ns = nsOf(rs);
    const template = recordAt(recordAt(rs, 'spec'), 'template');
    const templateMeta = recordAt(template, 'metadata');
    const deploymentName = rs.metadata.name.replace(/-[a-z0-9]+$/, '');
    let name = `${rs.metadata.name}-${randomSuffix()}`;
    while (this.store.get('/Pod', ns, name)) name = `${rs.metadata.name}-${randomSuffix()}`;
    const spec: Json = structuredClone(recordAt(template, 'spec'));
    spec['nodeName'] = NODE_NAME;
    spec['serviceAccountName'] ??= 'default';
    spec['restartPolicy'] ??= 'Always';
    let pod: Json = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: ns,
        labels: stringMap(templateMeta['labels']),
        ...(isRecord(templateMeta['annotations'])
          ? { annotations: stringMap(templateMeta['annotations']) }
          : {}),
        ownerReferences: [ownerRef('ReplicaSet', 'apps/v1', rs)],
      },
      spec,
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
    const namespace = this.store.get('/Namespace', undefined, ns);
    if (namespace && wantsSidecar(labelsOf(namespace), pod)) pod = injectSidecar(pod, deploymentName);
    pod['spec'] = admitPodSpec(recordAt(pod, 'spec'));
    this.store.create(pod);
  }

  // ---- garbage collection ----

  private collectOrphans(): void {
    const alive = (kindKey: string, ns: string, uid: string): boolean =>
      this.store.list(kindKey, { namespace: ns }).items.some((o) => uidOf(o) === uid);
    for (const rs of this.store.list('apps/ReplicaSet').items) {
      const owner = ownerUid(rs);
      if (owner && !alive('apps/Deployment', nsOf(rs), owner))
        this.store.delete('apps/ReplicaSet', nsOf(rs), rs.metadata.name);
    }
    for (const pod of this.store.list('/Pod').items) {
      const owner = ownerUid(pod);
      if (owner && !alive('apps/ReplicaSet', nsOf(pod), owner))
        this.store.delete('/Pod', nsOf(pod), pod.metadata.name);
    }
  }

  // ---- Endpoints ----

  private endpoints(): void {
    const pods = this.store.list('/Pod').items;
    const services = this.store.list('/Service').items;
    const wanted = new Set<string>();
    for (const svc of services) {
      const ns = nsOf(svc);
      const spec = recordAt(svc, 'spec');
      const selector = stringMap(spec['selector']);
      if (Object.keys(selector).length === 0) continue;
      wanted.add(`${ns}/${svc.metadata.name}`);
      const selected = pods
        .filter((p) => nsOf(p) === ns && selects(selector, labelsOf(p)) && stringAt(p['status'], 'podIP'))
        .sort((a, b) =>
          String(stringAt(a['status'], 'podIP')).localeCompare(String(stringAt(b['status'], 'podIP'))),
        );
      const address = (p: KubeObject): Json => ({
        ip: stringAt(p['status'], 'podIP'),
        nodeName: NODE_NAME,
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: uidOf(p) },
      });
      const ready = selected.filter(podReady).map(address);
      const notReady = selected.filter((p) => !podReady(p)).map(address);
      const ports = arrayAt(spec, 'ports').map((p) => {
        const out: Json = {};
        if (stringAt(p, 'name')) out['name'] = stringAt(p, 'name');
        out['port'] = resolveTargetPort(p, selected);
        out['protocol'] = stringAt(p, 'protocol') ?? 'TCP';
        return out;
      });
      const subset: Json = {};
      if (ready.length) subset['addresses'] = ready;
      if (notReady.length) subset['notReadyAddresses'] = notReady;
      subset['ports'] = ports;
      const object: Json = {
        apiVersion: 'v1',
        kind: 'Endpoints',
        metadata: { name: svc.metadata.name, namespace: ns, labels: labelsOf(svc) },
      };
      if (ready.length || notReady.length) object['subsets'] = [subset];
      const existing = this.store.get('/Endpoints', ns, svc.metadata.name);
      if (!existing) this.store.create(object);
      else if (
        !sameJson(existing['subsets'], object['subsets']) ||
        !sameJson(existing.metadata.labels ?? {}, labelsOf(svc))
      ) {
        const next = mutable(existing);
        next.metadata.labels = labelsOf(svc);
        if (object['subsets']) next['subsets'] = object['subsets'];
        else delete next['subsets'];
        this.store.update(next);
      }
    }
    // Endpoints of Services that are gone go with them.
    for (const ep of this.store.list('/Endpoints').items) {
      const key = `${nsOf(ep)}/${ep.metadata.name}`;
      if (!wanted.has(key) && !services.some((s) => `${nsOf(s)}/${s.metadata.name}` === key))
        this.store.delete('/Endpoints', nsOf(ep), ep.metadata.name);
    }
  }
}

const WATCHED = new Set([
  'apps/Deployment',
  'apps/ReplicaSet',
  '/Pod',
  '/Service',
  '/Namespace',
  '/Endpoints',
]);

/** A service port's target port as a number (a named one resolved against the selected pods' containers). */
export function resolveTargetPort(port: Json, pods: readonly KubeObject[]): number {
  const target = port['targetPort'];
  if (typeof target === 'number') return target;
  if (typeof target === 'string' && /^\d+$/.test(target)) return Number(target);
  if (typeof target === 'string') {
    for (const pod of pods)
      for (const c of arrayAt(pod['spec'], 'containers'))
        for (const p of arrayAt(c, 'ports'))
          if (p['name'] === target && typeof p['containerPort'] === 'number') return p['containerPort'];
  }
  return numberAt(port, 'port') ?? 0;
}
