import type { Document, LineCounter } from 'yaml';
import { isMap, isSeq } from 'yaml';
import type { KindInfo } from './kinds.js';

export type JsonObject = Record<string, unknown>;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  [key: string]: unknown;
}

/**
 * Where an object came from. Line numbers are resolved lazily from the parsed YAML document so that
 * loading thousands of objects does not pay for positions nobody asks for.
 */
export class Origin {
  constructor(
    readonly file: string | undefined,
    /** 1-based line of the object's first key. */
    readonly line: number,
    private readonly doc?: Document.Parsed,
    private readonly lines?: LineCounter,
    /** Path from the document root to this object (non-empty for items of a `List`). */
    private readonly base: readonly (string | number)[] = [],
  ) {}

  /** `file:line` as istioctl prints it, or undefined for objects that did not come from a file. */
  reference(line = this.line): string | undefined {
    if (this.file === undefined) return undefined;
    // istiod's Position.String never adds a line to .json files.
    return this.file.toLowerCase().endsWith('.json') || line <= 0 ? this.file : `${this.file}:${line}`;
  }

  /**
   * The line of a field, addressed by an Istio-style path such as `{.spec.http[0].route[1].destination.host}`
   * or by segments. Undefined when the field is absent.
   */
  lineOf(path: string | readonly (string | number)[]): number | undefined {
    if (!this.doc || !this.lines) return undefined;
    const segments = typeof path === 'string' ? parseFieldPath(path) : path;
    const all = [...this.base, ...segments];
    let node: unknown = this.doc.contents;
    for (const [i, seg] of all.entries()) {
      if (isMap(node)) {
        const pair = node.items.find((p) => keyText(p.key) === String(seg));
        if (!pair) return undefined;
        // For the last segment, the key's line is where a reader looks, even for a multi-line value.
        node = i === all.length - 1 ? pair.key : pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else {
        return undefined;
      }
    }
    if (!hasRange(node)) return undefined;
    return this.lines.linePos(node.range[0]).line;
  }
}

function keyText(key: unknown): string | undefined {
  if (key && typeof key === 'object' && 'value' in key) return String((key as { value: unknown }).value);
  return key === null || key === undefined ? undefined : String(key);
}

function hasRange(node: unknown): node is { range: [number, number, number] } {
  return !!node && typeof node === 'object' && Array.isArray((node as { range?: unknown }).range);
}

/** Parses `{.spec.http[0].route}` / `spec.http[0].route` into `['spec','http',0,'route']`. */
export function parseFieldPath(path: string): (string | number)[] {
  const trimmed = path.replace(/^\{/, '').replace(/\}$/, '').replace(/^\./, '');
  const out: (string | number)[] = [];
  for (const part of trimmed.split('.')) {
    if (part === '') continue;
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

/** One Kubernetes-style object with its kind information and origin. */
export interface Resource {
  apiVersion: string;
  kind: string;
  info: KindInfo;
  /** The served version from apiVersion. */
  version: string;
  metadata: ObjectMeta;
  /** The object as decoded (spec, status, data, ...). */
  object: JsonObject;
  origin: Origin;
}

export function specOf(r: Resource): JsonObject {
  const spec = r.object['spec'];
  return spec && typeof spec === 'object' && !Array.isArray(spec) ? (spec as JsonObject) : {};
}

/** `Kind namespace/name` (or `Kind name` when cluster scoped), as istioctl's message origins read. */
export function friendlyName(r: Resource): string {
  const ns = r.metadata.namespace;
  return ns ? `${r.kind} ${ns}/${r.metadata.name}` : `${r.kind} ${r.metadata.name}`;
}

export function fullName(r: Resource): string {
  return r.metadata.namespace ? `${r.metadata.namespace}/${r.metadata.name}` : r.metadata.name;
}
