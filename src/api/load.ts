import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Composer, LineCounter, Parser, isMap, isSeq, parseAllDocuments } from 'yaml';
import type { CST, Document } from 'yaml';
import { KINDS, lookupKind, splitApiVersion } from './kinds.js';
import { fastDocumentValue, fastNodeOffset } from './load-yaml.js';
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
  /**
   * Compose every document with the `yaml` composer instead of taking the fast path for plain documents.
   * Slower; the results are the same (test/load-fast-path.test.ts holds the two paths to that).
   */
  fullCompose?: boolean;
}

export interface ParseResult {
  resources: Resource[];
  errors: LoadError[];
}

// logLevel 'error': the composer's warnings would otherwise go to stderr through process.emitWarning.
const COMPOSE_OPTIONS = { prettyErrors: false, strict: false, logLevel: 'error' } as const;

/** Top-level CST tokens the per-document path handles; anything else (directives, `...`, errors) is composed whole. */
const PLAIN_STREAM_TOKENS = new Set(['document', 'space', 'newline', 'comment', 'byte-order-mark']);

/** Parses one file's text: multi-document YAML or JSON, `List` kinds expanded. */
export function parseManifests(text: string, file: string, opts: ParseOptions = {}): ParseResult {
  const out: ParseResult = { resources: [], errors: [] };
  if (!opts.fullCompose && parseFast(text, file, opts, out)) return out;
  out.resources = [];
  out.errors = [];
  let docs: Document.Parsed[];
  const lines = new LineCounter();
  try {
    const parsed = parseAllDocuments(text, { ...COMPOSE_OPTIONS, lineCounter: lines });
    docs = Array.isArray(parsed) ? parsed : [parsed];
  } catch (err) {
    // The composer reports what it finds as document errors; this is for anything it lets escape.
    out.errors.push({
      kind: 'syntax',
      file,
      line: 1,
      message: `invalid YAML: ${describeYamlError(err as Error)}`,
    });
    return out;
  }
  const source = new SourceText(text, lines);
  for (const doc of docs) addComposedDocument(doc, source, file, opts, out);
  return out;
}

/**
 * The per-document path: false when the stream has directives, `...` or stream-level errors (or
 * anything throws), and the caller composes the whole stream instead.
 */
function parseFast(text: string, file: string, opts: ParseOptions, out: ParseResult): boolean {
  try {
    // Documents are handled as the parser yields them: keeping every CST token alive until the end
    // doubles the parse time in garbage collection.
    const source = new SourceText(text);
    let pending: CST.Document | undefined;
    let plain = true;
    for (const token of new Parser().parse(text)) {
      if (!PLAIN_STREAM_TOKENS.has(token.type)) {
        plain = false;
        break;
      }
      if (token.type !== 'document') continue;
      if (pending) parseDocumentToken(pending, token.offset, source, file, opts, out);
      pending = token;
    }
    if (!plain) return false;
    if (pending) parseDocumentToken(pending, text.length, source, file, opts, out);
    return true;
  } catch {
    return false;
  }
}

/** One document of a stream without directives or errors: the fast path, else the composer for this document. */
function parseDocumentToken(
  token: CST.Document,
  end: number,
  source: SourceText,
  file: string,
  opts: ParseOptions,
  out: ParseResult,
): void {
  const fast = fastDocumentValue(token);
  if (!fast) {
    addComposedDocument(composeDocument(token), source, file, opts, out);
    return;
  }
  if (fast.value === null || fast.value === undefined) return;
  const line = token.value ? source.documentStartLine(token.value.offset) : 1;
  const compose = sliceComposer(source, token.offset, end);
  const position: Position = {
    file,
    line,
    base: [],
    lineAt: (path) => {
      const offset = fastNodeOffset(token.value, path);
      return offset === undefined ? undefined : source.lineAt(offset);
    },
    origin: (at) => new LazyOrigin(file, at.line, at.base, compose),
  };
  decodeDocument(fast.value, position, opts, out);
}

/**
 * Composes a document's text once, on demand. Made outside parseDocumentToken so the closure the
 * origins keep does not hold on to the CST token: keeping every token alive doubles the parse time.
 */
function sliceComposer(source: SourceText, start: number, end: number): () => ComposedSlice {
  let composed: ComposedSlice | undefined;
  return () => (composed ??= composeSlice(source, start, end));
}

function composeDocument(token: CST.Document): Document.Parsed {
  const [doc] = new Composer(COMPOSE_OPTIONS).compose([token]);
  return doc as Document.Parsed;
}

interface ComposedSlice {
  doc: Document.Parsed;
  lines: LineCounter;
}

/**
 * Composes the document found at [start, end) of the file on its own, its lines reported in the file's
 * numbering. The text is cut at the start of the document's first line so indentation is kept. If the
 * document does not start a line or does not compose cleanly alone (the document before it was broken),
 * the whole file is composed and the document at `start` taken from it.
 */
function composeSlice(source: SourceText, start: number, end: number): ComposedSlice {
  const text = source.text;
  const lineStart = start === 0 ? 0 : text.lastIndexOf('\n', start - 1) + 1;
  if (text.slice(lineStart, start).trim() === '') {
    const firstLine = source.lineAt(lineStart);
    const local = new LineCounter();
    const docs = parseAllDocuments(text.slice(lineStart, end), { ...COMPOSE_OPTIONS, lineCounter: local });
    const [doc] = docs;
    if (docs.length === 1 && doc && doc.errors.length === 0) {
      const lines = new LineCounter();
      lines.linePos = (offset) => {
        const pos = local.linePos(offset);
        return { line: pos.line + firstLine - 1, col: pos.col };
      };
      return { doc, lines };
    }
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { ...COMPOSE_OPTIONS, lineCounter: lines });
  const doc = (Array.isArray(docs) ? docs : []).find((d) => d.range[0] === start);
  return { doc: doc ?? (docs[0] as Document.Parsed), lines };
}

function addComposedDocument(
  doc: Document.Parsed,
  source: SourceText,
  file: string,
  opts: ParseOptions,
  out: ParseResult,
): void {
  const problem = doc.errors[0];
  if (problem) {
    out.errors.push({
      kind: 'syntax',
      file,
      line: source.errorLine(problem.pos[0]),
      message: `invalid YAML: ${describeYamlError(problem)}`,
    });
    return;
  }
  if (doc.contents === null) return;
  let value: unknown;
  try {
    value = toObject(doc);
  } catch (err) {
    // Alias expansion beyond the limit, or nesting too deep for the stack.
    out.errors.push({
      kind: 'syntax',
      file,
      line: lineOfNode(doc.contents, source.lines()) ?? 1,
      message: `invalid YAML: ${describeYamlError(err as Error)}`,
    });
    return;
  }
  // Empty, comment-only and `null` documents are skipped, as kubectl and istioctl skip them.
  if (value === null || value === undefined) return;
  const lines = source.lines();
  const position: Position = {
    file,
    line: doc.contents?.range ? source.documentStartLine(doc.contents.range[0]) : 1,
    base: [],
    lineAt: (path) => lineOfNode(nodeAt(doc, path), lines),
    origin: (at) => new Origin(file, at.line, doc, lines, at.base),
  };
  decodeDocument(value, position, opts, out);
}

function describeYamlError(err: Error): string {
  if (err instanceof RangeError || /call stack/i.test(err.message)) return 'nesting is too deep';
  return firstLine(err.message);
}

interface Position {
  file: string;
  /** 1-based line of the object. */
  line: number;
  /** Path from the document root to this object (non-empty for items of a `List`). */
  base: (string | number)[];
  /** Line of the node at a path from the document root. */
  lineAt: (path: (string | number)[]) => number | undefined;
  origin: (at: Position) => Origin;
}

/** The text of one file with its line starts, computed once and shared by every object in the file. */
class SourceText {
  constructor(
    readonly text: string,
    private lineCounter?: LineCounter,
  ) {}

  lines(): LineCounter {
    if (!this.lineCounter) {
      const lc = new LineCounter();
      lc.addNewLine(0);
      const text = this.text;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
      this.lineCounter = lc;
    }
    return this.lineCounter;
  }

  lineAt(offset: number): number {
    return this.lines().linePos(offset).line;
  }

  /**
   * The line istioctl gives an object: the first line of its document that is neither blank nor `---`,
   * so a comment heading the document counts. `contentOffset` is where the document's value starts.
   */
  documentStartLine(contentOffset: number): number {
    const lines = this.lines().lineStarts;
    let first = this.lineAt(contentOffset);
    // Walk up over the comments and blank lines above the content, to just below the `---` or the file start.
    while (first > 1) {
      const above = this.lineText(lines, first - 2);
      if (/^---\s*$/.test(above) || !/^\s*(#.*)?$/.test(above)) break;
      first--;
    }
    while (first < this.lineAt(contentOffset) && this.lineText(lines, first - 1).trim() === '') first++;
    return first;
  }

  private lineText(lineStarts: readonly number[], index: number): string {
    const start = lineStarts[index] ?? this.text.length;
    const end = lineStarts[index + 1] ?? this.text.length + 1;
    return this.text.slice(start, end - 1).replace(/\r$/, '');
  }

  /**
   * The line for an error at `offset`. Errors found at the end of the input, or at the marker that
   * starts the next document (an unclosed `[`, a missing quote), point at the last line with content
   * before it rather than at a line past the text.
   */
  errorLine(offset: number): number {
    const text = this.text;
    const lineEnd = text.indexOf('\n', offset);
    const rest = text.slice(offset, lineEnd === -1 ? text.length : lineEnd).trim();
    if (rest === '' || rest === '---' || rest === '...') {
      let i = Math.min(offset, text.length) - 1;
      while (i >= 0 && /\s/.test(text[i] as string)) i--;
      if (i >= 0) return this.lineAt(i);
    }
    return this.lineAt(offset);
  }
}

/** An Origin whose field lines come from composing its document on first use. */
class LazyOrigin extends Origin {
  private resolved: Origin | undefined;

  constructor(
    file: string,
    line: number,
    private readonly basePath: readonly (string | number)[],
    private readonly compose: () => ComposedSlice,
  ) {
    super(file, line);
  }

  override lineOf(path: string | readonly (string | number)[]): number | undefined {
    if (!this.resolved) {
      const { doc, lines } = this.compose();
      this.resolved = new Origin(this.file, this.line, doc, lines, this.basePath);
    }
    return this.resolved.lineOf(path);
  }
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
  if (kind.endsWith('List') && 'items' in value) {
    const items = value['items'];
    if (Array.isArray(items)) decodeList(items, at, opts, out);
    else if (items !== null) fail('invalid', `${kind}: items must be a list, found ${describe(items)}`);
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
  if (meta !== undefined && meta !== null && !isPlainObject(meta)) {
    fail('invalid', `${kind}: metadata must be a mapping, found ${describe(meta)}`);
    return;
  }
  const name = meta?.['name'];
  if (name === undefined || name === null || name === '') {
    fail('invalid', `${kind} has no metadata.name`);
    return;
  }
  if (typeof name !== 'string') {
    fail('invalid', `${kind}: metadata.name must be a string, found ${describe(name)}`);
    return;
  }
  const fields = meta as JsonObject;
  const namespace = fields['namespace'];
  if (namespace !== undefined && namespace !== null && typeof namespace !== 'string') {
    fail('invalid', `${kind} ${name}: metadata.namespace must be a string, found ${describe(namespace)}`);
    return;
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = fields[field];
    if (map !== undefined && map !== null && !isStringMap(map)) {
      fail('invalid', `${kind} ${name}: metadata.${field} must map strings to strings`);
      return;
    }
  }
  const metadata = { ...fields } as ObjectMeta;
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
    origin: at.origin(at),
  });
}

function decodeList(items: unknown[], at: Position, opts: ParseOptions, out: ParseResult): void {
  items.forEach((item, i) => {
    const base = [...at.base, 'items', i];
    const line = at.lineAt(base) ?? at.line;
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
  if (isPlainObject(v)) return v instanceof Uint8Array ? 'binary data' : 'a mapping';
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
  const walk: Walk = { result, opts, visitedDirs: new Set() };
  for (const path of paths) {
    if (path === '-') {
      const read = opts.readStdin ?? readStandardInput;
      addText(result, '-', await read(), opts);
      continue;
    }
    await loadPath(path, walk, false);
  }
  return result;
}

interface Walk {
  result: LoadResult;
  opts: LoadOptions;
  /** `dev:ino` of directories already walked: a symlink back up the tree must not loop. */
  visitedDirs: Set<string>;
}

async function loadPath(path: string, walk: Walk, inDirectory: boolean): Promise<void> {
  const { result, opts } = walk;
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    result.errors.push({ kind: 'syntax', file: path, message: describeFsError(err) });
    return;
  }
  if (info.isDirectory()) {
    const id = `${info.dev}:${info.ino}`;
    if (walk.visitedDirs.has(id)) return;
    walk.visitedDirs.add(id);
    let entries: string[];
    try {
      entries = (await readdir(path)).sort();
    } catch (err) {
      result.errors.push({ kind: 'syntax', file: path, message: describeFsError(err) });
      return;
    }
    for (const entry of entries) await loadPath(join(path, entry), walk, true);
    return;
  }
  if (!(MANIFEST_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase())) {
    result.skippedFiles.push(path);
    return;
  }
  if (inDirectory && !info.isFile()) {
    // A named pipe or device met while walking a directory would block the read or never end.
    result.errors.push({ kind: 'syntax', file: path, message: 'not a regular file' });
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
  // A loop, not push(...items): a file of a few hundred thousand tiny objects would overflow the stack.
  for (const r of parsed.resources) result.resources.push(r);
  for (const e of parsed.errors) result.errors.push(e);
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
