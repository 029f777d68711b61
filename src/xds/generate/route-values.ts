/**
 * Small readers the route generators share: config arrives as decoded YAML/JSON, so every field may be
 * missing or of the wrong type, and these turn it into typed values without throwing.
 */

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object members of a list (anything else is dropped). */
export function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** The string members of a list. */
export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** The string-valued entries of a map. */
export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

export function stringField(v: Record<string, unknown> | undefined, key: string): string {
  const s = v?.[key];
  return typeof s === 'string' ? s : '';
}

/** A non-negative integer field (proto uint32), or 0 when absent or malformed. */
export function uintField(v: Record<string, unknown> | undefined, key: string): number {
  const n = v?.[key];
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0;
}

export function recordField(
  v: Record<string, unknown> | undefined,
  key: string,
): Record<string, unknown> | undefined {
  const r = v?.[key];
  return isRecord(r) ? r : undefined;
}

/** Byte-wise string order, as Go's `<` compares strings (callers only pass ASCII-ish config names). */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `/apis/<group>/<version>/namespaces/<ns>/<kebab-kind>/<name>` (util.AddConfigInfoMetadata). */
export function configInfoPath(
  group: string,
  version: string,
  kind: string,
  namespace: string,
  name: string,
): string {
  const kebab = kind.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  return `/apis/${group}/${version}/namespaces/${namespace}/${kebab}/${name}`;
}

function timeValue(ts: string): number {
  const t = ts === '' ? 0 : Date.parse(ts);
  return Number.isFinite(t) ? t : 0;
}

/** sortConfigByCreationTime: oldest first; equal times by `name.namespace`. */
export function sortByCreation<T extends { creationTimestamp: string; name: string; namespace: string }>(
  configs: T[],
): T[] {
  return configs.sort((a, b) => {
    const ta = timeValue(a.creationTimestamp);
    const tb = timeValue(b.creationTimestamp);
    if (ta !== tb) return ta - tb;
    return compareStrings(`${a.name}.${a.namespace}`, `${b.name}.${b.namespace}`);
  });
}
