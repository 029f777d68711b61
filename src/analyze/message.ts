import { friendlyName } from '../api/index.js';
import type { Message } from './analyzer.js';
import { goSprintf } from './goformat.js';
import { levelRank } from './level.js';

export function messageText(m: Message): string {
  return goSprintf(m.type.template, m.args);
}

/** `file:line` of the message: the field's line when known, else the resource's. */
export function messageReference(m: Message): string | undefined {
  return m.resource?.origin.reference(m.line ?? m.resource.origin.line);
}

export function messageOrigin(m: Message): string | undefined {
  return m.resource ? friendlyName(m.resource) : undefined;
}

/** The log line istioctl prints: `Error [IST0101] (VirtualService ns/name file:line) text`. */
export function messageString(m: Message): string {
  let origin = '';
  if (m.resource) {
    const ref = messageReference(m);
    origin = ` (${friendlyName(m.resource)}${ref ? ` ${ref}` : ''})`;
  }
  return `${m.type.level} [${m.type.code}]${origin} ${messageText(m)}`;
}

/** Orders by severity (errors first), code, origin, then text; drops exact repeats. */
export function sortAndDedupe(messages: readonly Message[]): Message[] {
  const keyed = messages.map((m) => ({ m, text: messageString(m), origin: originComparator(m) }));
  keyed.sort((a, b) => {
    const byLevel = levelRank(b.m.type.level) - levelRank(a.m.type.level);
    if (byLevel !== 0) return byLevel;
    if (a.m.type.code !== b.m.type.code) return a.m.type.code < b.m.type.code ? -1 : 1;
    if (!a.m.resource !== !b.m.resource) return a.m.resource ? 1 : -1;
    if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
    return a.text < b.text ? -1 : a.text > b.text ? 1 : 0;
  });
  const out: Message[] = [];
  let previous: string | undefined;
  for (const { m, text } of keyed) {
    if (text === previous) continue;
    previous = text;
    out.push(m);
  }
  return out;
}

/** istiod's kube origin comparator: `Kind/name/namespace` (name before namespace). */
function originComparator(m: Message): string {
  const r = m.resource;
  if (!r) return '';
  return `${r.kind}/${r.metadata.name}/${r.metadata.namespace ?? ''}`;
}
