// JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386), as the API server applies them to an object's JSON.
// A patch document that cannot be read is a 400; one that reads but does not apply is a 422, as in
// k8s.io/apiserver's patch handler.
import { badRequest, unprocessable } from './status.js';

export type PatchType = 'json' | 'merge';

export const PATCH_CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Sets a key as an own property, so `__proto__` from JSON is data, never the prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** RFC 7386: objects merge key by key, `null` removes a key, anything else replaces. Returns a new value. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else setOwn(out, key, applyMergePatch(out[key], value));
  }
  return out;
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

const OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

/** Checks a JSON Patch document's shape (400 on anything malformed). */
export function decodeJsonPatch(patch: unknown): Operation[] {
  if (!Array.isArray(patch))
    throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  return patch.map((raw, i) => {
    if (!isObject(raw)) throw badRequest(`invalid JSON Patch: operation ${i} is not an object`);
    const op = raw['op'];
    if (typeof op !== 'string' || !OPS.has(op)) {
      throw badRequest(`Unexpected kind: ${typeof op === 'string' ? op : 'unknown'}`);
    }
    const path = raw['path'];
    if (typeof path !== 'string')
      throw badRequest(`invalid JSON Patch: operation ${i} (${op}) is missing path`);
    parsePointer(path);
    if ((op === 'move' || op === 'copy') && typeof raw['from'] !== 'string') {
      throw badRequest(`invalid JSON Patch: operation ${i} (${op}) is missing from`);
    }
    if ((op === 'add' || op === 'replace' || op === 'test') && !Object.hasOwn(raw, 'value')) {
      throw badRequest(`invalid JSON Patch: operation ${i} (${op}) is missing value`);
    }
    const operation: Operation = { op: op as Operation['op'], path };
    if (typeof raw['from'] === 'string') {
      parsePointer(raw['from']);
      operation.from = raw['from'];
    }
    if (Object.hasOwn(raw, 'value')) operation.value = raw['value'];
    return operation;
  });
}

/** RFC 6901: `/a/b~1c/0` → ['a', 'b/c', '0']. */
function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw badRequest(`invalid JSON Patch: path "${pointer}" must start with "/"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies a JSON Patch to a copy of the document; the first failing operation fails the whole patch (422). */
export function applyJsonPatch(document: unknown, patch: unknown): unknown {
  const operations = decodeJsonPatch(patch);
  let doc = clone(document) as Json;
  for (const op of operations) doc = applyOperation(doc, op);
  return doc;
}

function applyOperation(doc: Json, op: Operation): Json {
  switch (op.op) {
    case 'add':
      return addAt(doc, op.path, clone(op.value) as Json);
    case 'remove':
      return removeAt(doc, op.path).doc;
    case 'replace': {
      const removed = removeAt(doc, op.path, 'replace');
      return addAt(removed.doc, op.path, clone(op.value) as Json, removed.index);
    }
    case 'move': {
      const from = op.from as string;
      if (op.path.startsWith(`${from}/`)) {
        throw unprocessable(
          `jsonpatch move operation does not apply: "from" ${from} is a prefix of "path" ${op.path}`,
        );
      }
      if (from === op.path) return doc;
      const value = getAt(doc, from, 'move');
      return addAt(removeAt(doc, from).doc, op.path, value);
    }
    case 'copy':
      return addAt(doc, op.path, clone(getAt(doc, op.from as string, 'copy')));
    case 'test': {
      let actual: Json;
      try {
        actual = getAt(doc, op.path, 'test');
      } catch {
        throw unprocessable(`testing value ${op.path} failed: test failed`);
      }
      if (!deepEqual(actual, op.value)) throw unprocessable(`testing value ${op.path} failed: test failed`);
      return doc;
    }
  }
}

function missing(op: string, path: string): Error {
  return unprocessable(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
}

function arrayIndex(seg: string, length: number, allowEnd: boolean, op: string, path: string): number {
  if (allowEnd && seg === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(seg)) throw missing(op, path);
  const i = Number(seg);
  if (i > length || (!allowEnd && i === length)) {
    throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": index out of range`);
  }
  return i;
}

function getAt(doc: Json, path: string, op: string): Json {
  let node: Json = doc;
  for (const seg of parsePointer(path)) {
    if (Array.isArray(node)) node = node[arrayIndex(seg, node.length, false, op, path)] as Json;
    else if (isObject(node) && Object.hasOwn(node, seg)) node = node[seg] as Json;
    else throw missing(op, path);
  }
  return node;
}

/** The container holding the path's last segment, and that segment. */
function parentOf(doc: Json, path: string, op: string): { parent: Json; key: string } {
  const segs = parsePointer(path);
  const key = segs.pop() as string;
  let parent: Json = doc;
  for (const seg of segs) {
    if (Array.isArray(parent)) parent = parent[arrayIndex(seg, parent.length, false, op, path)] as Json;
    else if (isObject(parent) && Object.hasOwn(parent, seg)) parent = parent[seg] as Json;
    else throw missing(op, path);
  }
  return { parent, key };
}

function addAt(doc: Json, path: string, value: Json, atIndex?: number): Json {
  if (path === '') return value;
  const { parent, key } = parentOf(doc, path, 'add');
  if (Array.isArray(parent)) {
    const i = atIndex ?? arrayIndex(key, parent.length, true, 'add', path);
    parent.splice(i, 0, value);
  } else if (isObject(parent)) {
    setOwn(parent, key, value);
  } else {
    throw missing('add', path);
  }
  return doc;
}

function removeAt(doc: Json, path: string, op = 'remove'): { doc: Json; index?: number } {
  if (path === '') return { doc: null };
  const { parent, key } = parentOf(doc, path, op);
  if (Array.isArray(parent)) {
    const i = arrayIndex(key, parent.length, false, op, path);
    parent.splice(i, 1);
    return { doc, index: i };
  }
  if (isObject(parent) && Object.hasOwn(parent, key)) {
    delete (parent as Record<string, Json>)[key];
    return { doc };
  }
  throw missing(op, path);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Applies a patch of either type to an object's JSON. */
export function applyPatch(type: PatchType, document: unknown, patch: unknown): unknown {
  return type === 'json' ? applyJsonPatch(document, patch) : applyMergePatch(document, patch);
}
