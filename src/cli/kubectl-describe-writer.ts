/**
 * The pieces every `skiff describe` page is built from, as kubectl's pkg/describe has them: a prefix writer
 * (two spaces per level) into Go's tabwriter set up as `Init(buf, 0, 8, 2, ' ', 0)`, sorted multi-line
 * label and annotation blocks (long annotations folded under their key and cut at 140 characters), Go's
 * RFC1123Z timestamps, and the `Events:` block.
 */
import type { TabWriterOptions } from './tabwriter.js';
import { tabulate } from './tabwriter.js';

/** kubectl describe's tabwriter (tabbedString in pkg/describe). */
export const DESCRIBE_TABLE: TabWriterOptions = { minwidth: 0, tabwidth: 8, padding: 2, padchar: ' ' };

/** Annotations `kubectl describe` never shows. */
const SKIPPED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

const MAX_ANNOTATION_LEN = 140;

export type Json = Record<string, unknown>;

export function isJson(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function at(o: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isJson(cur) ? cur[p] : undefined;
  }
  return cur;
}

export function str(o: unknown, ...path: (string | number)[]): string {
  const v = at(o, ...path);
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

export function num(o: unknown, ...path: (string | number)[]): number | undefined {
  const v = at(o, ...path);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function list(o: unknown, ...path: (string | number)[]): Json[] {
  const v = at(o, ...path);
  return Array.isArray(v) ? v.filter(isJson) : [];
}

/** A string map (labels, annotations, selectors); values of other types are dropped. */
export function stringMap(v: unknown): Record<string, string> {
  if (!isJson(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Go's byte-wise string order, which sort.Strings uses. */
export function goCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `k1=v1,k2=v2` in key order (labels.FormatLabels); `<none>` when empty. */
export function formatLabels(labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort(goCompare);
  return keys.length === 0 ? '<none>' : keys.map((k) => `${k}=${labels[k] ?? ''}`).join(',');
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123Z in the local zone: `Sat, 17 May 2025 12:35:49 +0900`; '' for a bad timestamp. */
export function rfc1123z(timestamp: unknown): string {
  if (typeof timestamp !== 'string') return '';
  const t = new Date(timestamp);
  if (Number.isNaN(t.getTime())) return '';
  const two = (n: number): string => String(n).padStart(2, '0');
  const offset = -t.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    `${DAYS[t.getDay()] ?? ''}, ${two(t.getDate())} ${MONTHS[t.getMonth()] ?? ''} ${t.getFullYear()} ` +
    `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())} ${sign}${two(Math.trunc(abs / 60))}${two(abs % 60)}`
  );
}

/** kubectl's PrefixWriter over a tabwriter: `write(level, text)` indents by two spaces per level. */
export class DescribeWriter {
  private text = '';
  private done = '';

  write(level: number, text: string): void {
    this.text += '  '.repeat(level) + text;
  }

  /** Aligns what was written so far on its own (DescribeEvents flushes before its table). */
  flush(): void {
    this.done += tabulate(this.text, DESCRIBE_TABLE);
    this.text = '';
  }

  toString(): string {
    this.flush();
    return this.done;
  }
}

/** printLabelsMultilineWithIndent: `Title:\tk=v` then one `\tk=v` line per further label, or `<none>`. */
export function writeLabels(
  w: DescribeWriter,
  title: string,
  labels: Record<string, string>,
  initialIndent = '',
  innerIndent = '\t',
): void {
  w.write(0, `${initialIndent}${title}:${innerIndent}`);
  const keys = Object.keys(labels).sort(goCompare);
  if (keys.length === 0) {
    w.write(0, '<none>\n');
    return;
  }
  keys.forEach((k, i) => {
    if (i !== 0) w.write(0, `${initialIndent}${innerIndent}`);
    w.write(0, `${k}=${labels[k] ?? ''}\n`);
  });
}

function shorten(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}...` : s;
}

/** printAnnotationsMultiline: long or multi-line values go under their key, indented and cut. */
export function writeAnnotations(
  w: DescribeWriter,
  title: string,
  annotations: Record<string, string>,
): void {
  w.write(0, `${title}:\t`);
  const keys = Object.keys(annotations)
    .filter((k) => !SKIPPED_ANNOTATIONS.has(k))
    .sort(goCompare);
  if (keys.length === 0) {
    w.write(0, '<none>\n');
    return;
  }
  const indent = '\t';
  keys.forEach((key, i) => {
    if (i !== 0) w.write(0, indent);
    const value = (annotations[key] ?? '').replace(/\n$/, '');
    if (value.length + key.length + 2 > MAX_ANNOTATION_LEN || value.includes('\n')) {
      w.write(0, `${key}:\n`);
      for (const line of value.split('\n'))
        w.write(0, `${indent}  ${shorten(line, MAX_ANNOTATION_LEN - 2)}\n`);
    } else {
      w.write(0, `${key}: ${value}\n`);
    }
  });
}

/** The `Events:` block. The lab records no Events, so this is kubectl's empty form. */
export function writeEvents(w: DescribeWriter, events: readonly Json[]): void {
  if (events.length === 0) {
    w.write(0, 'Events:\t<none>\n');
    return;
  }
  w.flush();
  w.write(0, 'Events:\n  Type\tReason\tAge\tFrom\tMessage\n');
  w.write(1, '----\t------\t----\t----\t-------\n');
  for (const e of events)
    w.write(
      1,
      `${str(e, 'type')}\t${str(e, 'reason')}\t${str(e, 'age')}\t${str(e, 'source', 'component')}\t${str(e, 'message').trim()}\n`,
    );
}
