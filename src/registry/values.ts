/**
 * Defensive readers: registry input comes from manifests that may have failed validation, so every
 * field may be missing or of the wrong type. These return a typed value or undefined, never throw.
 */

export type Labels = Record<string, string>;

export function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function asNumber(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

export function asArray(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

/** A string map, keeping only string values (YAML `version: 2` would be a number and never match). */
export function asLabels(v: unknown): Labels {
  const out: Labels = {};
  const rec = asRecord(v);
  if (!rec) return out;
  for (const [k, val] of Object.entries(rec)) if (typeof val === 'string') out[k] = val;
  return out;
}

export function asStringList(v: unknown): string[] {
  return asArray(v).filter((x): x is string => typeof x === 'string');
}
