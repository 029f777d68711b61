// Turns stored JSON objects into the project's `Resource`s, with the checks load.ts makes on manifests, and
// an Origin that names the store instead of a file (so analyzer messages carry no file:line, as istioctl's
// do for objects read from a cluster).
import type { JsonObject, KindInfo, ObjectMeta, Resource } from '../api/index.js';
import { Origin, lookupKind, splitApiVersion } from '../api/index.js';

/** The origin of an object read from the store: `store:<Kind>/<namespace>/<name>`. */
export class StoreOrigin extends Origin {
  constructor(readonly source: string) {
    super(undefined, 0);
  }
}

export function storeSource(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `store:${kind}/${namespace}/${name}` : `store:${kind}/${name}`;
}

export type DecodedObject =
  | { ok: true; resource: Resource }
  | { ok: false; reason: 'unknown-kind' | 'invalid'; message: string; field?: string };

export function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

/**
 * Decodes a JSON object into a Resource. Namespaced kinds without a namespace get `defaultNamespace`;
 * cluster-scoped kinds lose theirs. The Resource shares the object: callers hand in frozen objects.
 */
export function resourceFromObject(value: unknown, defaultNamespace = 'default'): DecodedObject {
  if (!isPlainObject(value))
    return { ok: false, reason: 'invalid', message: 'the object is not a JSON object' };
  const apiVersion = value['apiVersion'];
  const kind = value['kind'];
  if (typeof kind !== 'string' || kind === '') {
    return { ok: false, reason: 'invalid', message: "Object 'Kind' is missing", field: 'kind' };
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    return { ok: false, reason: 'invalid', message: "Object 'apiVersion' is missing", field: 'apiVersion' };
  }
  const found = lookupKind(apiVersion, kind);
  if (!found.ok) {
    const { group, version } = splitApiVersion(apiVersion);
    return {
      ok: false,
      reason: 'unknown-kind',
      message: `no matches for kind "${kind}" in version "${group ? `${group}/` : ''}${version}"`,
    };
  }
  const meta = value['metadata'];
  if (!isPlainObject(meta)) {
    return { ok: false, reason: 'invalid', message: 'metadata must be an object', field: 'metadata' };
  }
  const name = meta['name'];
  if (typeof name !== 'string' || name === '') {
    return {
      ok: false,
      reason: 'invalid',
      message: 'name or generateName is required',
      field: 'metadata.name',
    };
  }
  const namespace = meta['namespace'];
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    return {
      ok: false,
      reason: 'invalid',
      message: 'namespace must be a string',
      field: 'metadata.namespace',
    };
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map !== undefined && map !== null && !isStringMap(map)) {
      return {
        ok: false,
        reason: 'invalid',
        message: `${field} must map strings to strings`,
        field: `metadata.${field}`,
      };
    }
  }
  const metadata = { ...meta } as ObjectMeta;
  if (found.info.namespaced) {
    if (typeof metadata.namespace !== 'string' || metadata.namespace === '')
      metadata.namespace = defaultNamespace;
  } else {
    delete metadata.namespace;
  }
  return {
    ok: true,
    resource: {
      apiVersion,
      kind,
      info: found.info,
      version: found.version,
      metadata,
      object: value,
      origin: new StoreOrigin(storeSource(kind, metadata.namespace, name)),
    },
  };
}

/** The key objects are stored under: `group/Kind|namespace|name`. */
export function objectKey(
  info: Pick<KindInfo, 'group' | 'kind'>,
  namespace: string | undefined,
  name: string,
): string {
  return `${info.group}/${info.kind}|${namespace ?? ''}|${name}`;
}
