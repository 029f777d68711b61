// Label and field selectors with the syntax of k8s.io/apimachinery's labels.Parse and fields.ParseSelector:
// `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1` and `metadata.name=x,status.podIP!=`.
import { badRequest } from './status.js';

export type LabelOperator = '=' | '!=' | 'in' | 'notin' | 'exists' | '!' | 'gt' | 'lt';

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

/** A parsed label selector; an empty one matches everything. */
export class LabelSelector {
  constructor(readonly requirements: readonly LabelRequirement[]) {}

  static readonly everything = new LabelSelector([]);

  matches(labels: Record<string, unknown> | undefined): boolean {
    return this.requirements.every((r) => requirementMatches(r, labels ?? {}));
  }

  get empty(): boolean {
    return this.requirements.length === 0;
  }
}

function requirementMatches(r: LabelRequirement, labels: Record<string, unknown>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const raw = has ? labels[r.key] : undefined;
  const value = typeof raw === 'string' ? raw : raw === undefined ? undefined : String(raw);
  switch (r.operator) {
    case '=':
      return value !== undefined && value === r.values[0];
    case '!=':
      return value === undefined || value !== r.values[0];
    case 'in':
      return value !== undefined && r.values.includes(value);
    case 'notin':
      return value === undefined || !r.values.includes(value);
    case 'exists':
      return value !== undefined;
    case '!':
      return value === undefined;
    case 'gt':
    case 'lt': {
      if (value === undefined || !/^-?\d+$/.test(value)) return false;
      const have = Number(value);
      const want = Number(r.values[0]);
      return r.operator === 'gt' ? have > want : have < want;
    }
  }
}

type Token =
  | { t: 'id'; v: string }
  | { t: 'op'; v: '=' | '==' | '!=' | '!' | '>' | '<' | '(' | ')' | ',' }
  | { t: 'end' };

const ID_CHAR = /[A-Za-z0-9._/\-~]/;

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '=' && text[i + 1] === '=') {
      out.push({ t: 'op', v: '==' });
      i += 2;
    } else if (c === '!' && text[i + 1] === '=') {
      out.push({ t: 'op', v: '!=' });
      i += 2;
    } else if ('=!><(),'.includes(c)) {
      out.push({ t: 'op', v: c as '=' });
      i++;
    } else if (ID_CHAR.test(c)) {
      let j = i;
      while (j < text.length && ID_CHAR.test(text[j] as string)) j++;
      out.push({ t: 'id', v: text.slice(i, j) });
      i = j;
    } else {
      throw badRequest(`unable to parse requirement: found '${c}', expected: identifier`);
    }
  }
  out.push({ t: 'end' });
  return out;
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): void {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  if (!LABEL_KEY.test(key) || name.length > 63 || key.length > 253 + 1 + 63) {
    throw badRequest(`unable to parse requirement: invalid label key "${key}"`);
  }
}

function checkValue(value: string): void {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    throw badRequest(`unable to parse requirement: invalid label value: "${value}"`);
  }
}

/** Parses a `labelSelector` query value. Throws a 400 StoreError on bad syntax. */
export function parseLabelSelector(text: string | undefined | null): LabelSelector {
  if (text === undefined || text === null || text.trim() === '') return LabelSelector.everything;
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos] as Token;
  const next = (): Token => tokens[pos++] as Token;
  const describe = (t: Token) => (t.t === 'end' ? 'end of string' : t.v);
  const requirements: LabelRequirement[] = [];
  for (;;) {
    let negate = false;
    if (peek().t === 'op' && (peek() as { v: string }).v === '!') {
      negate = true;
      next();
    }
    const keyTok = next();
    if (keyTok.t !== 'id') {
      throw badRequest(`unable to parse requirement: found '${describe(keyTok)}', expected: identifier`);
    }
    checkKey(keyTok.v);
    const after = peek();
    if (negate || after.t === 'end' || (after.t === 'op' && after.v === ',')) {
      if (negate && !(after.t === 'end' || (after.t === 'op' && after.v === ','))) {
        throw badRequest(
          `unable to parse requirement: found '${describe(after)}', expected: ',' or 'end of string'`,
        );
      }
      requirements.push({ key: keyTok.v, operator: negate ? '!' : 'exists', values: [] });
    } else if (after.t === 'op' && ['=', '==', '!=', '>', '<'].includes(after.v)) {
      next();
      const valueTok = peek();
      let value = '';
      // An empty value (`a=`) is allowed and means the empty string.
      if (valueTok.t === 'id') {
        value = valueTok.v;
        next();
      }
      checkValue(value);
      const operator: LabelOperator =
        after.v === '!=' ? '!=' : after.v === '>' ? 'gt' : after.v === '<' ? 'lt' : '=';
      if ((operator === 'gt' || operator === 'lt') && !/^-?\d+$/.test(value)) {
        throw badRequest(
          `unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
      requirements.push({ key: keyTok.v, operator, values: [value] });
    } else if (after.t === 'id' && (after.v === 'in' || after.v === 'notin')) {
      next();
      const open = next();
      if (!(open.t === 'op' && open.v === '(')) {
        throw badRequest(`unable to parse requirement: found '${describe(open)}', expected: '('`);
      }
      const values: string[] = [];
      for (;;) {
        const v = next();
        if (v.t === 'id') {
          checkValue(v.v);
          values.push(v.v);
          const sep = next();
          if (sep.t === 'op' && sep.v === ')') break;
          if (!(sep.t === 'op' && sep.v === ',')) {
            throw badRequest(`unable to parse requirement: found '${describe(sep)}', expected: ',' or ')'`);
          }
        } else if (v.t === 'op' && v.v === ')' && values.length === 0) {
          throw badRequest(
            `unable to parse requirement: for 'in', 'notin' operators, values set can't be empty`,
          );
        } else {
          throw badRequest(`unable to parse requirement: found '${describe(v)}', expected: identifier`);
        }
      }
      requirements.push({ key: keyTok.v, operator: after.v, values });
    } else {
      throw badRequest(
        `unable to parse requirement: found '${describe(after)}', expected: in, notin, =, ==, !=, gt, lt`,
      );
    }
    const sep = next();
    if (sep.t === 'end') break;
    if (!(sep.t === 'op' && sep.v === ',')) {
      throw badRequest(
        `unable to parse requirement: found '${describe(sep)}', expected: ',' or 'end of string'`,
      );
    }
  }
  return new LabelSelector(requirements);
}

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

/** A parsed field selector; an empty one matches everything. */
export class FieldSelector {
  constructor(readonly requirements: readonly FieldRequirement[]) {}

  static readonly everything = new FieldSelector([]);

  matches(object: Record<string, unknown>): boolean {
    return this.requirements.every((r) => {
      const have = fieldValue(object, r.field);
      return r.operator === '=' ? have === r.value : have !== r.value;
    });
  }
}

/** The fields the API server lets each kind be selected by (pkg/registry/<kind>/strategy.go ToSelectableFields). */
const SELECTABLE_FIELDS: Record<string, readonly string[]> = {
  '/Pod': [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'spec.hostNetwork',
    'status.phase',
    'status.podIP',
    'status.podIPs',
    'status.nominatedNodeName',
  ],
  '/Secret': ['type'],
  '/Namespace': ['status.phase'],
  '/Service': ['spec.clusterIP', 'spec.type'],
  'apps/ReplicaSet': ['status.replicas'],
};

/** Parses a `fieldSelector` for a kind (group/kind key). Throws a 400 StoreError on bad syntax or unknown fields. */
export function parseFieldSelector(text: string | undefined | null, kindKey?: string): FieldSelector {
  if (text === undefined || text === null || text.trim() === '') return FieldSelector.everything;
  const requirements: FieldRequirement[] = [];
  for (const term of splitTerms(text)) {
    const opAt = findOperatorIndex(term);
    if (opAt.index < 0) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const field = unescape(term.slice(0, opAt.index)).trim();
    const value = unescape(term.slice(opAt.index + opAt.op.length));
    const allowed = ['metadata.name', 'metadata.namespace', ...(SELECTABLE_FIELDS[kindKey ?? ''] ?? [])];
    if (kindKey !== undefined && !allowed.includes(field)) {
      throw badRequest(`field label not supported: ${field}`);
    }
    requirements.push({ field, operator: opAt.op === '!=' ? '!=' : '=', value });
  }
  return new FieldSelector(requirements);
}

/** Splits on commas not escaped with a backslash. */
function splitTerms(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      current += c + (text[i + 1] as string);
      i++;
    } else if (c === ',') {
      out.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current);
  return out.filter((t) => t.trim() !== '');
}

/** Where the term's operator is; escaped characters are masked so `\\=` is not taken for one. */
function findOperatorIndex(term: string): { index: number; op: string } {
  const masked = term.replace(/\\./g, '__');
  for (let i = 0; i < masked.length; i++) {
    if (masked.startsWith('!=', i)) return { index: i, op: '!=' };
    if (masked.startsWith('==', i)) return { index: i, op: '==' };
    if (masked[i] === '=') return { index: i, op: '=' };
  }
  return { index: -1, op: '' };
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

/** A field's value as the API server's selectable-field sets render it: missing fields are the empty string. */
export function fieldValue(object: Record<string, unknown>, field: string): string {
  let node: unknown = object;
  for (const part of field.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return '';
    node = (node as Record<string, unknown>)[part];
  }
  if (field === 'status.podIPs' && Array.isArray(node)) {
    // The API server selects on the first (primary) pod IP.
    const first = node[0] as { ip?: unknown } | undefined;
    return typeof first?.ip === 'string' ? first.ip : '';
  }
  if (node === undefined || node === null) return '';
  if (typeof node === 'object') return '';
  return String(node);
}
