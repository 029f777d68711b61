/**
 * Defensive readers for proto3-JSON config: every field may be missing or of the wrong type, and a bad
 * value must never crash the proxy.
 */
export type JsonObject = Record<string, unknown>;

export function isRecord(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function records(v: unknown): JsonObject[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export function record(v: unknown): JsonObject | undefined {
  return isRecord(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
}

/** A number, or a proto3-JSON 64-bit integer written as a decimal string. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return undefined;
}

/** A google.protobuf.UInt32Value / BoolValue may arrive wrapped as `{value: x}`. */
export function unwrap(v: unknown): unknown {
  return isRecord(v) && 'value' in v ? v['value'] : v;
}

export function bool(v: unknown): boolean | undefined {
  const u = unwrap(v);
  return typeof u === 'boolean' ? u : undefined;
}

/** A google.protobuf.Duration in proto3 JSON (`"1.5s"`) or object form, as milliseconds. */
export function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v.trim());
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  if (isRecord(v)) {
    const seconds = num(v['seconds']) ?? 0;
    const nanos = num(v['nanos']) ?? 0;
    return Math.round(seconds * 1000 + nanos / 1e6);
  }
  return undefined;
}

/** The `@type` of an Any, without its `type.googleapis.com/` prefix. */
export function anyType(v: unknown): string {
  const t = isRecord(v) ? v['@type'] : undefined;
  if (typeof t !== 'string') return '';
  const slash = t.lastIndexOf('/');
  return slash >= 0 ? t.slice(slash + 1) : t;
}
