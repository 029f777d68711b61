import { CST, Schema, isScalar } from 'yaml';
import type { ScalarTag } from 'yaml';

/**
 * A fast path from the `yaml` package's CST straight to plain JavaScript values.
 *
 * Composing every document into `yaml` nodes costs about three times as much as tokenizing it, and the
 * nodes are only needed for the few objects a message points into. So documents in the everyday subset
 * of YAML that manifests use (block and flow collections, plain, quoted and block scalars, comments)
 * are turned into values here, with the same scalar resolution the composer applies (YAML 1.2 core
 * schema). Anything outside that subset, or anything the composer might report as an error (anchors,
 * aliases, tags, explicit keys, non-string or duplicate keys, tabs in indentation, misaligned keys ...),
 * returns `undefined` and the caller composes the document with `yaml` itself, so errors and edge
 * cases keep exactly the composer's behaviour. test/load-fast-path.test.ts checks both paths agree.
 */

const UNSUPPORTED: unique symbol = Symbol('unsupported');
const CORE_TAGS = new Schema({}).tags.filter(
  (t): t is ScalarTag => !('collection' in t && t.collection) && t.default === true && !!t.test,
);

/** The value of a document, or undefined when the document needs the full composer. */
export function fastDocumentValue(doc: CST.Document): { value: unknown } | undefined {
  if (!plainSeparators(doc.start, 'doc-start', true)) return undefined;
  const hasDocStart = doc.start.some((t) => t.type === 'doc-start');
  if (
    hasDocStart &&
    (doc.value?.type === 'block-map' || doc.value?.type === 'block-seq') &&
    !doc.start.some((t) => t.type === 'newline')
  ) {
    return undefined;
  }
  if (!endTokensOk(doc.end)) return undefined;
  const value = doc.value ? build(doc.value, 0) : null;
  return value === UNSUPPORTED ? undefined : { value };
}

/** Deeper documents go to the composer, which reports nesting it cannot handle; no manifest comes close. */
const MAX_DEPTH = 100;

/**
 * The source offset of the node at `path` below `token` (keys and indexes as in the built value),
 * or undefined. Used for the lines of `List` items without composing the document.
 */
export function fastNodeOffset(
  token: CST.Token | undefined,
  path: readonly (string | number)[],
): number | undefined {
  let node = token;
  for (const seg of path) {
    if (!node) return undefined;
    let entries = childrenSeen.get(node);
    if (!entries) childrenSeen.set(node, (entries = new Map(children(node) ?? [])));
    node = entries.get(seg);
  }
  return node && 'offset' in node ? node.offset : undefined;
}

/** Entries of collections already looked into: the items of a long `List` are looked up one by one. */
const childrenSeen = new WeakMap<CST.Token, Map<string | number, CST.Token | undefined>>();

function build(token: CST.Token, depth: number): unknown {
  if (depth > MAX_DEPTH) return UNSUPPORTED;
  switch (token.type) {
    case 'scalar':
    case 'single-quoted-scalar':
    case 'double-quoted-scalar':
    case 'block-scalar':
      return scalarValue(token, false);
    case 'block-map':
    case 'block-seq':
    case 'flow-collection': {
      const entries = children(token);
      if (!entries) return UNSUPPORTED;
      const isMapping =
        token.type === 'block-map' || (token.type === 'flow-collection' && token.start.source === '{');
      if (isMapping) {
        const obj: Record<string, unknown> = {};
        for (const [key, valueToken] of entries) {
          const v = valueToken ? build(valueToken, depth + 1) : null;
          if (v === UNSUPPORTED) return UNSUPPORTED;
          obj[key as string] = v;
        }
        return obj;
      }
      const arr: unknown[] = [];
      for (const [, valueToken] of entries) {
        const v = valueToken ? build(valueToken, depth + 1) : null;
        if (v === UNSUPPORTED) return UNSUPPORTED;
        arr.push(v);
      }
      return arr;
    }
    default:
      return UNSUPPORTED;
  }
}

type Entry = [string | number, CST.Token | undefined];

/**
 * The entries of a collection token as [key or index, value token], or undefined when the collection
 * leaves the supported subset. Map keys are resolved and checked (string, unique, not `__proto__`).
 */
function children(token: CST.Token): Entry[] | undefined {
  if (token.type === 'block-map') return blockMapEntries(token);
  if (token.type === 'block-seq') return blockSeqEntries(token);
  if (token.type === 'flow-collection') return flowEntries(token);
  return undefined;
}

function blockMapEntries(bm: CST.BlockMap): Entry[] | undefined {
  const out: Entry[] = [];
  const seen = new Set<string>();
  const items = bm.items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i] as CST.CollectionItem & { explicitKey?: true };
    if (item.explicitKey) return undefined;
    if (!plainSeparators(item.start, undefined, true)) return undefined;
    if (!item.key && !item.sep) {
      // Comments after the last pair; anywhere else the composer reports trailing content.
      if (item.value || i !== items.length - 1) return undefined;
      continue;
    }
    const key = item.key;
    if (!key || !item.sep) return undefined;
    if (!isFlowScalar(key) || key.indent !== bm.indent || containsNewline(key)) return undefined;
    const name = keyName(key, seen);
    if (name === undefined) return undefined;
    if (!valueSeparatorOk(item.sep, false)) return undefined;
    const value = item.value;
    if (
      (value?.type === 'block-map' || value?.type === 'block-seq') &&
      !item.sep.some((t) => t.type === 'newline')
    ) {
      return undefined;
    }
    out.push([name, value]);
  }
  return out;
}

function blockSeqEntries(bs: CST.BlockSequence): Entry[] | undefined {
  const out: Entry[] = [];
  for (const item of bs.items) {
    if (!plainSeparators(item.start, 'seq-item-ind', true)) return undefined;
    const found = item.start.some((t) => t.type === 'seq-item-ind');
    if (!found) {
      if (item.value) return undefined;
      continue;
    }
    out.push([out.length, item.value]);
  }
  return out;
}

function flowEntries(fc: CST.FlowCollection): Entry[] | undefined {
  const isMapping = fc.start.source === '{';
  const [close, ...rest] = fc.end;
  if (close?.source !== (isMapping ? '}' : ']') || !endTokensOk(rest)) return undefined;
  const out: Entry[] = [];
  const seen = new Set<string>();
  const items = fc.items;
  for (let i = 0; i < items.length; i++) {
    const { start, key, sep, value } = items[i] as CST.CollectionItem;
    let commas = 0;
    for (const t of start) {
      if (t.type === 'comma') commas++;
      else if (t.type !== 'space' && t.type !== 'newline') return undefined;
    }
    if (commas > 1) return undefined;
    if (!key && !sep && !value) {
      // `[]`, or a trailing comma after the last item.
      if (i < items.length - 1 || (i === 0 && commas > 0)) return undefined;
      continue;
    }
    if ((i === 0) !== (commas === 0)) return undefined;
    if (value && !isFlowScalar(value) && value.type !== 'flow-collection') return undefined;
    if (!isMapping) {
      if (key || sep || !value) return undefined;
      out.push([out.length, value]);
      continue;
    }
    if (!key || !sep || !isFlowScalar(key) || containsNewline(key)) return undefined;
    if (!valueSeparatorOk(sep, true)) return undefined;
    const name = keyName(key, seen);
    if (name === undefined) return undefined;
    out.push([name, value]);
  }
  return out;
}

function isFlowScalar(t: CST.Token): t is CST.FlowScalar {
  return t.type === 'scalar' || t.type === 'single-quoted-scalar' || t.type === 'double-quoted-scalar';
}

/** A map key as a string; undefined for keys the composer would treat differently or reject. */
function keyName(key: CST.FlowScalar, seen: Set<string>): string | undefined {
  const v = scalarValue(key, true);
  if (typeof v !== 'string' || v === '__proto__' || seen.has(v)) return undefined;
  seen.add(v);
  return v;
}

function containsNewline(t: CST.FlowScalar): boolean {
  return t.source.includes('\n') || !!t.end?.some((e) => e.type === 'newline');
}

/**
 * Whitespace, newlines and comments, with at most one `indicator` and no tab that could be
 * indentation. A comment must follow white space (or open the list when `startOnNewline`).
 */
function plainSeparators(
  tokens: readonly CST.SourceToken[],
  indicator: CST.SourceToken['type'] | undefined,
  startOnNewline: boolean,
): boolean {
  let spaced = startOnNewline;
  let found = false;
  for (const t of tokens) {
    switch (t.type) {
      case 'space':
        if (t.source.includes('\t')) return false;
        spaced = true;
        break;
      case 'newline':
        spaced = true;
        break;
      case 'comment':
        if (!spaced) return false;
        spaced = false;
        break;
      default:
        if (t.type !== indicator || found) return false;
        found = true;
        spaced = false;
    }
  }
  return true;
}

/** `:` once, spaces (and in flow collections nothing else) before it, whitespace and comments after. */
function valueSeparatorOk(sep: readonly CST.SourceToken[], flow: boolean): boolean {
  let found = false;
  let spaced = false;
  for (const t of sep) {
    if (t.type === 'map-value-ind') {
      if (found) return false;
      found = true;
      spaced = false;
      continue;
    }
    if (t.type === 'space') {
      if (t.source.includes('\t')) return false;
      spaced = true;
      continue;
    }
    if (!found) return false;
    if (t.type === 'newline') spaced = true;
    else if (t.type !== 'comment' || flow || !spaced) return false;
  }
  return found;
}

function endTokensOk(end: readonly CST.SourceToken[] | undefined): boolean {
  return !end || end.every((t) => t.type === 'space' || t.type === 'newline' || t.type === 'comment');
}

let scalarProblem = false;
const noteProblem = () => {
  scalarProblem = true;
};

/** A scalar's value as the composer resolves it with the core schema and no tag. */
function scalarValue(token: CST.FlowScalar | CST.BlockScalar, atKey: boolean): unknown {
  if (token.type === 'block-scalar' && atKey) return UNSUPPORTED;
  scalarProblem = false;
  const resolved = CST.resolveAsScalar(token, false, noteProblem);
  if (!resolved || scalarProblem) return UNSUPPORTED;
  if (token.type !== 'scalar') return resolved.value;
  return plainValue(resolved.value);
}

function plainValue(text: string): unknown {
  // Plain scalars starting with any other letter are strings in the core schema: skip the regexes.
  const c = text.charCodeAt(0);
  const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (letter && !'nNtTfF'.includes(text[0] as string)) return text;
  const tag = CORE_TAGS.find((t) => t.test?.test(text));
  if (!tag) return text;
  let failed = false;
  const res = tag.resolve(text, () => (failed = true), {});
  if (failed) return UNSUPPORTED;
  const value: unknown = isScalar(res) ? res.value : res;
  return typeof value === 'bigint' ? Number(value) : value;
}
