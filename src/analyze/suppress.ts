import { friendlyName } from '../api/index.js';
import type { Message } from './analyzer.js';

export const SUPPRESS_ANNOTATION = 'galley.istio.io/analyze-suppress';

export interface Suppression {
  code: string;
  /** Glob over `Kind namespace/name`; `*` matches any run of characters. */
  resource: string;
}

/** Parses a `-S` value `<code>=<resource glob>`; undefined unless it splits on `=` into exactly two parts, as istioctl requires. */
export function parseSuppression(value: string): Suppression | undefined {
  const parts = value.split('=');
  if (parts.length !== 2) return undefined;
  return { code: parts[0] ?? '', resource: parts[1] ?? '' };
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** True when a CLI suppression or the resource's own annotation silences the message. */
export function isSuppressed(m: Message, suppressions: readonly Suppression[]): boolean {
  const r = m.resource;
  if (!r) return false;
  const annotation = r.metadata.annotations?.[SUPPRESS_ANNOTATION];
  if (annotation !== undefined) {
    const codes = annotation.split(',').map((c) => c.trim());
    if (codes.includes('*') || codes.includes(m.type.code)) return true;
  }
  const name = friendlyName(r);
  return suppressions.some((s) => s.code === m.type.code && globToRegExp(s.resource).test(name));
}
