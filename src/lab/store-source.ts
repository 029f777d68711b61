/**
 * The embedded store as the control plane's config source: a snapshot of every stored object with the mesh
 * config read from the `istio` ConfigMap, and one change event per burst of writes (a controller's status
 * updates in one turn of the event loop arrive as one event, which pilot then debounces).
 */
import type { ConfigChange, ConfigKey, ConfigSource } from '../pilot/index.js';
import { ENDPOINT_KINDS } from '../pilot/index.js';
import type { MeshConfig } from '../model/index.js';
import { defaultMeshConfig } from '../model/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { ObjectStore, StoreChange } from '../store/index.js';
import { MESH_CONFIGMAP_NAME, MESH_CONFIGMAP_NAMESPACE, meshFromConfigMap } from './mesh-config.js';

/** Workload controllers' kinds whose status-only writes change nothing the proxies see. */
const STATUS_ONLY_IGNORED = new Set([
  'apps/Deployment',
  'apps/ReplicaSet',
  'apps/StatefulSet',
  'apps/DaemonSet',
]);

function isMeshConfigMap(c: StoreChange): boolean {
  return (
    c.kindKey === '/ConfigMap' &&
    c.object.metadata.namespace === MESH_CONFIGMAP_NAMESPACE &&
    c.object.metadata.name === MESH_CONFIGMAP_NAME
  );
}

export class StoreConfigSource implements ConfigSource {
  private mesh: MeshConfig = defaultMeshConfig();
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private pending = new Map<string, ConfigKey>();
  private scheduled = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  snapshot(): ConfigSnapshot {
    return this.store.snapshot(this.mesh);
  }

  /** The mesh config in force. */
  meshConfig(): MeshConfig {
    return this.mesh;
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): Promise<void> {
    const cm = this.store.get('/ConfigMap', MESH_CONFIGMAP_NAMESPACE, MESH_CONFIGMAP_NAME);
    this.mesh = (cm ? meshFromConfigMap(cm) : undefined) ?? defaultMeshConfig();
    this.unsubscribe ??= this.store.onChange((c) => this.record(c));
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.listeners.clear();
    return Promise.resolve();
  }

  private record(c: StoreChange): void {
    if (isMeshConfigMap(c)) {
      const next = c.type === 'DELETED' ? defaultMeshConfig() : meshFromConfigMap(c.object);
      if (next) this.mesh = next;
      else this.warn('istio-system/istio: data.mesh does not parse; keeping the last good mesh config');
    }
    if (
      c.type === 'MODIFIED' &&
      STATUS_ONLY_IGNORED.has(c.kindKey) &&
      c.previous?.metadata.generation === c.object.metadata.generation
    )
      return;
    const key: ConfigKey = {
      kind: c.info.kind,
      namespace: c.object.metadata.namespace ?? '',
      name: c.object.metadata.name ?? '',
    };
    this.pending.set(`${c.kindKey}|${key.namespace}|${key.name}`, key);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const changed = [...this.pending.values()];
    this.pending = new Map();
    if (changed.length === 0 || !this.unsubscribe) return;
    const change: ConfigChange = {
      snapshot: this.snapshot(),
      changed,
      endpointsOnly: changed.every((k) => ENDPOINT_KINDS.has(k.kind)),
    };
    for (const l of this.listeners) l(change);
  }
}
