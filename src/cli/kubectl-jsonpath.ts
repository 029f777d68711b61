/**
 * kubectl's `-o jsonpath=TEMPLATE` (k8s.io/client-go/util/jsonpath, with kubectl's relaxed form and missing
 * keys allowed): literal text and `{...}` expressions; `.field`, `['field']`, `[n]`, `[a:b]`, `[*]`, `..field`,
 * `[?(@.path op value)]` filters, `{range ...}{end}` and `{"text"}` literals. Several results of one expression
 * are joined by spaces; objects and arrays print as compact JSON, scalars as text.
 */
import { CliError, EXIT } from './errors.js';

type Segment =
  | { type: 'field'; name: string }
  | { type: 'wildcard' }
  | { type: 'index'; index: number }
  | { type: 'slice'; start?: number; end?: number }
  | { type: 'recursive'; name: string | '*' }
  | { type: 'filter'; left: Segment[]; op?: string; right?: unknown };

type Node =
  | { type: 'text'; text: string }
  | { type: 'expr'; path: Segment[] }
  | { type: 'range'; path: Segment[]; body: Node[] };

function fail(template: string, why: string): never {
  throw new CliError(`error parsing jsonpath ${template}, ${why}`, EXIT.unknown);
}

/** kubectl's RelaxedJSONPathExpression: `.a.b` and `a.b` become `{.a.b}`. */
export function relaxTemplate(template: string): string {
  if (template.includes('{')) return template;
  const t = template.trim();
  return `{${t.startsWith('.') || t.startsWith('$') ? t : `.${t}`}}`;
}

function parseLiteral(text: string, template: string): unknown {
  const t = text.trim();
  if (/^".*"$/.test(t) || /^'.*'$/.test(t)) return t.slice(1, -1);
  if (t === 'true' || t === 'false') return t === 'true';
  const n = Number(t);
  if (t !== '' && Number.isFinite(n)) return n;
  return fail(template, `unrecognized literal ${t}`);
}

function parsePath(expr: string, template: string): Segment[] {
  const segs: Segment[] = [];
  let i = 0;
  const s = expr.trim();
  if (s.startsWith('$') || s.startsWith('@')) i = 1;
  const readName = (): string => {
    let name = '';
    while (i < s.length && s[i] !== '.' && s[i] !== '[') {
      if (s[i] === '\\' && i + 1 < s.length) i++;
      name += s[i];
      i++;
    }
    return name;
  };
  while (i < s.length) {
    const c = s[i];
    if (c === '.') {
      if (s[i + 1] === '.') {
        i += 2;
        if (s[i] === '[') {
          segs.push({ type: 'recursive', name: '*' });
          continue;
        }
        const name = readName();
        segs.push({ type: 'recursive', name: name === '*' || name === '' ? '*' : name });
        continue;
      }
      i++;
      const name = readName();
      if (name === '*') segs.push({ type: 'wildcard' });
      else if (name !== '') segs.push({ type: 'field', name });
      continue;
    }
    if (c === '[') {
      const close = findClose(s, i, template);
      const inner = s.slice(i + 1, close).trim();
      i = close + 1;
      if (inner === '*') segs.push({ type: 'wildcard' });
      else if (/^'.*'$|^".*"$/.test(inner)) segs.push({ type: 'field', name: inner.slice(1, -1) });
      else if (inner.startsWith('?(') && inner.endsWith(')'))
        segs.push(parseFilter(inner.slice(2, -1), template));
      else if (/^-?\d+$/.test(inner)) segs.push({ type: 'index', index: Number(inner) });
      else if (/^(-?\d+)?:(-?\d+)?(:\d+)?$/.test(inner)) {
        const [a, b] = inner.split(':');
        segs.push({
          type: 'slice',
          ...(a ? { start: Number(a) } : {}),
          ...(b ? { end: Number(b) } : {}),
        });
      } else fail(template, `invalid array index ${inner}`);
      continue;
    }
    // A bare name at the start (`items[0]`).
    const name = readName();
    if (name === '') fail(template, `unexpected ${c ?? ''}`);
    segs.push({ type: 'field', name });
  }
  return segs;
}

function findClose(s: string, open: number, template: string): number {
  let depth = 0;
  let quote = '';
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return fail(template, 'unclosed array expect ]');
}

function parseFilter(text: string, template: string): Segment {
  const m = /^(.*?)\s*(==|!=|<=|>=|<|>)\s*(.*)$/.exec(text);
  if (!m) return { type: 'filter', left: parsePath(text, template) };
  return {
    type: 'filter',
    left: parsePath(m[1] ?? '', template),
    op: m[2] as string,
    right: parseLiteral(m[3] ?? '', template),
  };
}

/** Splits a template into text, expressions and range blocks. */
export function parseTemplate(template: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  const current = () => stack[stack.length - 1] as Node[];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      current().push({ type: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) current().push({ type: 'text', text: template.slice(i, open) });
    let close = -1;
    let quote = '';
    for (let j = open + 1; j < template.length; j++) {
      const c = template[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = '';
      } else if (c === '"') quote = c;
      else if (c === '}') {
        close = j;
        break;
      }
    }
    if (close < 0) fail(template, 'unclosed action');
    const inner = template.slice(open + 1, close).trim();
    i = close + 1;
    if (inner.startsWith('"')) {
      current().push({ type: 'text', text: JSON.parse(inner) as string });
    } else if (inner.startsWith('range ')) {
      const node: Node = { type: 'range', path: parsePath(inner.slice(6), template), body: [] };
      current().push(node);
      stack.push(node.body);
    } else if (inner === 'end') {
      if (stack.length === 1) fail(template, 'not in range, nothing to end');
      stack.pop();
    } else {
      current().push({ type: 'expr', path: parsePath(inner, template) });
    }
  }
  return root;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function children(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (isObj(v)) return Object.keys(v).map((k) => v[k]);
  return [];
}

function descend(v: unknown, name: string, out: unknown[]): void {
  if (name === '*') out.push(...children(v));
  else if (isObj(v) && name in v) out.push(v[name]);
  for (const c of children(v)) if (typeof c === 'object' && c !== null) descend(c, name, out);
}

function compare(a: unknown, op: string, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return op === '=='
      ? a === b
      : op === '!='
        ? a !== b
        : op === '<'
          ? a < b
          : op === '>'
            ? a > b
            : op === '<='
              ? a <= b
              : a >= b;
  }
  if (op === '==') return a === b;
  if (op === '!=') return a !== b;
  if (typeof a === 'string' && typeof b === 'string') {
    return op === '<' ? a < b : op === '>' ? a > b : op === '<=' ? a <= b : a >= b;
  }
  return false;
}

function evalPath(values: unknown[], path: Segment[]): unknown[] {
  let cur = values;
  for (const seg of path) {
    const next: unknown[] = [];
    for (const v of cur) {
      switch (seg.type) {
        case 'field':
          if (isObj(v) && seg.name in v) next.push(v[seg.name]);
          break;
        case 'wildcard':
          next.push(...children(v));
          break;
        case 'index':
          if (Array.isArray(v)) {
            const idx = seg.index < 0 ? v.length + seg.index : seg.index;
            if (idx >= 0 && idx < v.length) next.push(v[idx]);
          }
          break;
        case 'slice':
          if (Array.isArray(v)) next.push(...v.slice(seg.start ?? 0, seg.end ?? v.length));
          break;
        case 'recursive':
          descend(v, seg.name, next);
          break;
        case 'filter':
          for (const item of Array.isArray(v) ? v : [v]) {
            const found = evalPath([item], seg.left);
            if (
              seg.op === undefined
                ? found.length > 0
                : found.some((f) => compare(f, seg.op as string, seg.right))
            )
              next.push(item);
          }
          break;
      }
    }
    cur = next;
  }
  return cur;
}

/** Go's json.Marshal: sorted keys, HTML characters escaped. */
export function goJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (isObj(x))
      return Object.fromEntries(
        Object.keys(x)
          .sort()
          .map((k) => [k, sort(x[k])]),
      );
    return x;
  };
  return JSON.stringify(sort(v)).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return goJson(v);
  return String(v);
}

function run(nodes: Node[], data: unknown): string {
  let out = '';
  for (const node of nodes) {
    if (node.type === 'text') out += node.text;
    else if (node.type === 'expr') out += evalPath([data], node.path).map(text).join(' ');
    else for (const item of evalPath([data], node.path)) out += run(node.body, item);
  }
  return out;
}

/** Runs a jsonpath template over a value (`kubectl get -o jsonpath=...`). */
export function executeJsonPath(template: string, data: unknown): string {
  return run(parseTemplate(relaxTemplate(template)), data);
}
