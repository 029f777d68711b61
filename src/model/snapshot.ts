import type { KindKey, Resource } from '../api/index.js';
import { groupKindKey } from '../api/index.js';
import { defaultMeshConfig } from './mesh.js';
import type { MeshConfig } from './mesh.js';

/** An immutable view of the config at one moment, indexed for the lookups generators and analyzers make. */
export class ConfigSnapshot {
  private readonly byKind = new Map<string, Resource[]>();
  private readonly byName = new Map<string, Resource>();

  readonly resources: readonly Resource[];

  constructor(
    resources: readonly Resource[],
    readonly mesh: MeshConfig = defaultMeshConfig(),
  ) {
    // The last object under a name wins, as a later `kubectl apply` of the same object would.
    for (const r of resources) {
      this.byName.set(nameKey(groupKindKey(r.info), r.metadata.namespace, r.metadata.name), r);
    }
    this.resources = resources.filter(
      (r) => this.byName.get(nameKey(groupKindKey(r.info), r.metadata.namespace, r.metadata.name)) === r,
    );
    for (const r of this.resources) {
      const key = groupKindKey(r.info);
      let list = this.byKind.get(key);
      if (!list) this.byKind.set(key, (list = []));
      list.push(r);
    }
  }

  list(kind: KindKey): readonly Resource[] {
    return this.byKind.get(kind) ?? [];
  }

  get(kind: KindKey, namespace: string | undefined, name: string): Resource | undefined {
    return this.byName.get(nameKey(kind, namespace, name));
  }

  namespaces(): Set<string> {
    const out = new Set<string>();
    for (const r of this.resources) if (r.metadata.namespace) out.add(r.metadata.namespace);
    for (const ns of this.list('/Namespace')) out.add(ns.metadata.name);
    return out;
  }
}

function nameKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}|${namespace ?? ''}|${name}`;
}
