import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { LineCounter, isMap, isSeq, parseAllDocuments } from 'yaml';
import type { Document } from 'yaml';
import { KINDS, lookupKind, splitApiVersion } from './kinds.js';
import { Origin } from './resource.js';
import type { JsonObject, ObjectMeta, Resource } from './resource.js';

/** Only these extensions are read from directories and argument lists, as istioctl does. */
export const MANIFEST_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;

/** Files above this size are refused rather than parsed: no Kubernetes object comes near it (etcd caps at 1.5 MiB). */
export const DEFAULT_MAX_FILE_BYTES = 32 * 1024 * 1024;

export type LoadErrorKind =
  /** The text is not YAML/JSON, is binary, too large or unreadable. */
  | 'syntax'
  /** The document decodes but is not a well-formed object (no kind, no name, unknown version ...). */
  | 'invalid'
  /** A kind from a group skiff does not serve (ClusterRole, CRDs ...): skipped, as istioctl skips it. */
  | 'unknown-kind';

export interface LoadError {
  kind: LoadErrorKind;
  file: string;
  line?: number;
  message: string;
}

export function formatLoadError(e: LoadError): string {
  return e.line === undefined ? `${e.file}: ${e.message}` : `${e.file}:${e.line}: ${e.message}`;
}

export interface ParseOptions {
  /** Namespace given to namespaced objects that have none (istioctl uses `-n` or the context's default). */
  defaultNamespace?: string;
}

export interface ParseResult {
  resources: Resource[];
  errors: LoadError[];
}

/** Parses one file's text: multi-document YAML or JSON, `List` kinds expanded. */
export function parseManifests(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  const lines = new LineCounter();
  const out: ParseResult = { resources: [], errors: [] };
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, strict: false });
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const problem = doc.errors[0];
    if (problem) {
      const line = problem.linePos?.[0]?.line ?? lines.linePos(problem.pos[0]).line;
      out.errors.push({ kind: 'syntax', file, line, message: `invalid YAML: ${firstLine(problem.message)}` });
      continue;
    }
    if (doc.contents === null) continue;
    const value = toObject(doc);
    const line = lineOfNode(doc.contents, lines) ?? 1;
    decodeDocument(value, { file, line, doc, lines, base: [] }, opts, out);
  }
  return out;
}

interface Position {
  file: string;
  line: number;
  doc: Document.Parsed;
  lines: LineCounter;
  base: (string | number)[];
}

function toObject(doc: Document.Parsed): unknown {
  // maxAliasCount guards against alias-expansion bombs ("billion laughs").
  return doc.toJS({ maxAliasCount: 1000 });
}

function lineOfNode(node: unknown, lines: LineCounter): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lines.linePos(range[0]).line : undefined;
}

function decodeDocument(value: unknown, at: Position, opts: ParseOptions, out: ParseResult): void {
  const fail = (kind: LoadErrorKind, message: string) =>
    out.errors.push({ kind, file: at.file, line: at.line, message });
  if (!isPlainObject(value)) {
    fail(
      'invalid',
      `expected a Kubernetes object (a mapping with apiVersion and kind), found ${describe(value)}`,
    );
    return;
  }
  const apiVersion = value['apiVersion'];
  const kind = value['kind'];
  if (typeof kind !== 'string' || kind === '') {
    fail('invalid', 'object has no "kind"');
    return;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    fail('invalid', `${kind} has no "apiVersion"`);
    return;
  }
  if (kind.endsWith('List') && Array.isArray(value['items'])) {
    decodeList(value['items'], at, opts, out);
    return;
  }
  const found = lookupKind(apiVersion, kind);
  if (!found.ok) {
    if (found.reason === 'unknown-version') {
      const served = found.info?.versions.map(
        (v) => `${found.info?.group ? `${found.info.group}/` : ''}${v}`,
      );
      fail(
        'invalid',
        `no matches for kind "${kind}" in version "${apiVersion}" (served: ${served?.join(', ')})`,
      );
    } else if (isKnownGroup(splitApiVersion(apiVersion).group)) {
      // A typo in a kind of a group skiff serves would otherwise make the object silently vanish.
      fail('invalid', `unknown kind "${kind}" in group "${splitApiVersion(apiVersion).group}"`);
    } else {
      fail('unknown-kind', `unknown kind "${kind}" in version "${apiVersion}"`);
    }
    return;
  }
  const meta = value['metadata'];
  if (!isPlainObject(meta) || typeof meta['name'] !== 'string' || meta['name'] === '') {
    fail('invalid', `${kind} has no metadata.name`);
    return;
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = meta[field];
    if (map !== undefined && map !== null && !isStringMap(map)) {
      fail('invalid', `${kind} ${meta['name']}: metadata.${field} must map strings to strings`);
      return;
    }
  }
  const metadata: ObjectMeta = { ...(meta as ObjectMeta) };
  if (found.info.namespaced) {
    if (typeof metadata.namespace !== 'string' || metadata.namespace === '') {
      metadata.namespace = opts.defaultNamespace ?? 'default';
    }
  } else {
    delete metadata.namespace;
  }
  out.resources.push({
    apiVersion,
    kind,
    info: found.info,
    version: found.version,
    metadata,
    object: value,
    origin: new Origin(at.file, at.line, at.doc, at.lines, at.base),
  });
}

function decodeList(items: unknown[], at: Position, opts: ParseOptions, out: ParseResult): void {
  items.forEach((item, i) => {
    const base = [...at.base, 'items', i];
    const node = nodeAt(at.doc, base);
    const line = lineOfNode(node, at.lines) ?? at.line;
    decodeDocument(item, { ...at, line, base }, opts, out);
  });
}

function nodeAt(doc: Document.Parsed, path: (string | number)[]): unknown {
  let node: unknown = doc.contents;
  for (const seg of path) {
    if (isMap(node)) node = node.get(seg, true);
    else if (isSeq(node) && typeof seg === 'number') node = node.items[seg];
    else return undefined;
  }
  return node;
}

const KNOWN_GROUPS = new Set(KINDS.filter((k) => k.istio).map((k) => k.group));

function isKnownGroup(group: string): boolean {
  return KNOWN_GROUPS.has(group);
}

function isPlainObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

export interface LoadOptions extends ParseOptions {
  maxFileBytes?: number;
  /** Reads standard input when a path is `-`. */
  readStdin?: () => Promise<Buffer>;
}

export interface LoadResult extends ParseResult {
  /** Files read, in the order read. */
  files: string[];
  /** Files passed over because of their extension. */
  skippedFiles: string[];
}

/** Loads files, directories (recursively, in lexical order) and `-` (stdin). One bad file never stops the others. */
export async function loadPaths(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const result: LoadResult = { resources: [], errors: [], files: [], skippedFiles: [] };
  for (const path of paths) {
    if (path === '-') {
      const read = opts.readStdin ?? readStandardInput;
      addText(result, '-', await read(), opts);
      continue;
    }
    await loadPath(path, result, opts);
  }
  return result;
}

async function loadPath(path: string, result: LoadResult, opts: LoadOptions): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    result.errors.push({ kind: 'syntax', file: path, message: describeFsError(err) });
    return;
  }
  if (info.isDirectory()) {
    let entries: string[];
    try {
      entries = (await readdir(path)).sort();
    } catch (err) {
      result.errors.push({ kind: 'syntax', file: path, message: describeFsError(err) });
      return;
    }
    for (const entry of entries) await loadPath(join(path, entry), result, opts);
    return;
  }
  if (!(MANIFEST_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase())) {
    result.skippedFiles.push(path);
    return;
  }
  const limit = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (info.size > limit) {
    result.errors.push({
      kind: 'syntax',
      file: path,
      message: `file is too large to be a manifest (${info.size} bytes, limit ${limit})`,
    });
    return;
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    result.errors.push({ kind: 'syntax', file: path, message: describeFsError(err) });
    return;
  }
  addText(result, path, bytes, opts);
}

function addText(result: LoadResult, file: string, bytes: Buffer, opts: LoadOptions): void {
  result.files.push(file);
  const limit = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (bytes.length > limit) {
    result.errors.push({
      kind: 'syntax',
      file,
      message: `input is too large to be a manifest (${bytes.length} bytes, limit ${limit})`,
    });
    return;
  }
  const text = decodeText(bytes);
  if (text === undefined) {
    result.errors.push({ kind: 'syntax', file, message: 'binary content: not UTF-8 text YAML or JSON' });
    return;
  }
  const parsed = parseManifests(text, file, opts);
  result.resources.push(...parsed.resources);
  result.errors.push(...parsed.errors);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeText(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8192).includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES') return 'permission denied';
  return e.message ?? String(err);
}

async function readStandardInput(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
