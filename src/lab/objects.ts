/** Small readers over stored Kubernetes objects (any field may be missing or of the wrong type). */
import type { KubeObject } from '../store/index.js';

export type Json = Record<string, unknown>;

export function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function recordAt(o: unknown, key: string): Json {
  const v = isRecord(o) ? o[key] : undefined;
  return isRecord(v) ? v : {};
}

export function arrayAt(o: unknown, key: string): Json[] {
  const v = isRecord(o) ? o[key] : undefined;
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export function stringAt(o: unknown, key: string): string | undefined {
  const v = isRecord(o) ? o[key] : undefined;
  return typeof v === 'string' ? v : undefined;
}

export function numberAt(o: unknown, key: string): number | undefined {
  const v = isRecord(o) ? o[key] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

export function labelsOf(o: KubeObject): Record<string, string> {
  return stringMap(o.metadata.labels);
}

export function nsOf(o: KubeObject): string {
  return o.metadata.namespace ?? 'default';
}

export function uidOf(o: KubeObject): string {
  return typeof o.metadata.uid === 'string' ? o.metadata.uid : '';
}

/** The uid of the object's controlling owner (ownerReferences with controller: true, else the first). */
export function ownerUid(o: KubeObject): string | undefined {
  const refs = Array.isArray(o.metadata['ownerReferences']) ? o.metadata['ownerReferences'] : [];
  const list = refs.filter(isRecord);
  const ref = list.find((r) => r['controller'] === true) ?? list[0];
  return ref ? stringAt(ref, 'uid') : undefined;
}

/** Whether every `matchLabels` pair is among `labels` (an empty selector selects nothing here). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** A mutable deep copy of a stored (frozen) object. */
export function mutable(o: KubeObject): KubeObject {
  return structuredClone(o) as KubeObject;
}

/** RFC 3339 to the second, as Kubernetes writes timestamps. */
export function timestamp(d = new Date()): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** Whether a pod's Ready condition is True. */
export function podReady(pod: KubeObject): boolean {
  return arrayAt(pod['status'], 'conditions').some((c) => c['type'] === 'Ready' && c['status'] === 'True');
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
