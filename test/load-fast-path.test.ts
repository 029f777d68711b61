import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Origin, parseManifests } from '../src/api/index.js';
import type { ParseResult } from '../src/api/index.js';
import { ROOT } from './helpers.js';

// parseManifests turns plain documents into values straight from the YAML CST and composes only the
// rest. These tests hold that fast path to the full `yaml` composer (`fullCompose: true`): the same
// objects, lines, field lines and errors, on real manifests and on thousands of mutated ones.

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return yamlFiles(p);
    return p.endsWith('.yaml') ? [p] : [];
  });
}

const VARIETY = `apiVersion: v1
kind: ConfigMap
metadata:
  name: cm   # trailing comment
  annotations: {a: "1", b: 'two', "c": x}
data:
  block: |
    line1
      indented
    line3
  folded: >-
    a
    b

  plain: multi
    line plain
  quoted: "esc\\t\\u00e9 \\"q\\""
  single: 'it''s'
  nums: [1, -2, 0x1F, 0o17, 1.5, 1e3, .inf, -.Inf, .nan, +3, 007]
  bools: [true, False, TRUE, null, ~, Null, yes, no, on]
  empty:
  emptyflow: {}
  emptyseq: []
  nested: [[1, 2], {a: [3]}, "x"]
  list:
  - a
  -   b
  - # comment
    c
  -
  - - x
    - y
  - k: v
    k2: v2
  "quoted key": 1
  'single key': 2
  key with spaces: 3
  url: http://example.com:80/path#frag
  colon: a:b
  dash: -x
  hash: a#b
---
# leading comment
--- # doc comment
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: "s", namespace: ns}
  spec: {ports: [{port: 80, name: http}, {port: 443,
    name: https}]}
- apiVersion: networking.istio.io/v1beta1
  kind: VirtualService
  metadata:
    name: vs
  spec:
    http:
    - route:
      - destination:
          host: reviews
`;

const JSON_LIST = JSON.stringify(
  {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'a', namespace: 'n' },
        spec: { ports: [{ port: 80 }] },
      },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' }, data: { k: 'v\n"q"' } },
    ],
  },
  null,
  2,
);

const CORPUS = [...yamlFiles(join(ROOT, 'examples')).map((f) => readFileSync(f, 'utf8')), VARIETY, JSON_LIST];

/** What a caller can observe of a parse: objects, origins, field lines (which compose lazily) and errors. */
function observe(r: ParseResult): unknown {
  return {
    resources: r.resources.map((x) => ({
      kind: x.kind,
      apiVersion: x.apiVersion,
      metadata: x.metadata,
      object: x.object,
      file: x.origin.file,
      line: x.origin.line,
      fieldLines: [
        x.origin.lineOf('{.metadata.name}'),
        x.origin.lineOf('{.spec.http[0].route[0].destination.host}'),
        x.origin.lineOf('{.data}'),
        x.origin.lineOf(['spec', 'ports', 1, 'name']),
      ],
    })),
    errors: r.errors,
  };
}

function assertSameAsComposer(text: string): void {
  const fast = observe(parseManifests(text, 'f.yaml', { defaultNamespace: 'dflt' }));
  const full = observe(parseManifests(text, 'f.yaml', { defaultNamespace: 'dflt', fullCompose: true }));
  assert.deepStrictEqual(fast, full, `fast path and composer differ on:\n${JSON.stringify(text)}`);
}

test('the fast path gives the same results as the composer on the example manifests and YAML variety', () => {
  for (const text of CORPUS) assertSameAsComposer(text);
});

test('the fast path is actually taken for plain documents (its origins compose lazily)', () => {
  const r = parseManifests(VARIETY, 'f.yaml');
  assert.equal(r.errors.length, 0);
  assert.equal(r.resources.length, 3);
  for (const res of r.resources) assert.notEqual(Object.getPrototypeOf(res.origin), Origin.prototype);
  // A document with an anchor is composed, so its origin is a plain Origin.
  const anchored = parseManifests('apiVersion: v1\nkind: Service\nmetadata:\n  name: &n a\n', 'f.yaml');
  assert.equal(Object.getPrototypeOf(anchored.resources[0]?.origin), Origin.prototype);
  assert.equal(anchored.resources[0]?.metadata.name, 'a');
});

test('the fast path resolves scalars as the YAML 1.2 core schema does', () => {
  const [cm] = parseManifests(VARIETY, 'f.yaml').resources;
  const data = cm?.object['data'] as Record<string, unknown>;
  assert.deepEqual(data['nums'], [1, -2, 31, 15, 1.5, 1000, Infinity, -Infinity, NaN, 3, 7]);
  assert.deepEqual(data['bools'], [true, false, true, null, null, null, 'yes', 'no', 'on']);
  assert.equal(data['block'], 'line1\n  indented\nline3\n');
  assert.equal(data['folded'], 'a b');
  assert.equal(data['plain'], 'multi line plain');
  assert.equal(data['quoted'], 'esc\t\u00e9 "q"');
  assert.equal(data['single'], "it's");
  assert.equal(data['empty'], null);
  assert.deepEqual(data['list'], ['a', 'b', 'c', null, ['x', 'y'], { k: 'v', k2: 'v2' }]);
  assert.equal(data['url'], 'http://example.com:80/path#frag');
});

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

const INSERTS = [
  ' ',
  '  ',
  '\t',
  ':',
  ': ',
  '-',
  '- ',
  '#',
  ' #',
  '"',
  "'",
  '[',
  ']',
  '{',
  '}',
  ',',
  '\n',
  '&a ',
  '*a',
  '!!str ',
  '|',
  '>',
  '?',
  '%',
  '@',
  '`',
  '---\n',
  '...\n',
  'x',
  '0',
  '\\',
  '\r\n',
  'null',
  '<<: ',
  '__proto__: ',
];

function mutate(text: string, rand: () => number): string {
  let t = text;
  const edits = 1 + Math.floor(rand() * 3);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rand() * (t.length + 1));
    const r = rand();
    if (r < 0.3) {
      t = t.slice(0, at) + t.slice(at + 1 + Math.floor(rand() * 3));
    } else if (r < 0.7) {
      t = t.slice(0, at) + (INSERTS[Math.floor(rand() * INSERTS.length)] as string) + t.slice(at);
    } else {
      const lines = t.split('\n');
      const j = Math.floor(rand() * lines.length);
      const rr = rand();
      if (rr < 0.3) lines[j] = ` ${lines[j]}`;
      else if (rr < 0.6) lines[j] = (lines[j] as string).replace(/^ /, '');
      else if (rr < 0.8) lines.splice(j, 0, lines[j] as string);
      else lines.splice(j, 1);
      t = lines.join('\n');
    }
  }
  return t;
}

test('on 1,500 mutated manifests the fast path and the composer agree (objects, lines, errors)', () => {
  const rand = random(20250117);
  for (let i = 0; i < 1500; i++) {
    const base = CORPUS[Math.floor(rand() * CORPUS.length)] as string;
    assertSameAsComposer(mutate(base, rand));
  }
});
