import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ALL_ANALYZERS } from '../src/analyze/index.js';
import type { CliRun } from './helpers.js';
import { ROOT, runSkiff, tempDir } from './helpers.js';

// End-to-end robustness of `skiff analyze` input handling: every bad input ends in a clear message
// naming the file (and line), the right exit code, the other inputs still analyzed, and no stack trace.

const BASE = 'examples/lab/base';
const VS = 'examples/lab/routing/catalog-virtualservice-v1-v2.yaml';
const DR = 'examples/lab/routing/catalog-destinationrule-v1-v2.yaml';
const VS_TEXT = readFileSync(join(ROOT, VS), 'utf8');
const lab = (name: string) => readFileSync(join(ROOT, BASE, name));
const FILES_ONLY = '--use-kube=false';
const DR_ANALYZER = 'virtualservice.DestinationRuleAnalyzer';

const ISSUES_IN = (target: string) =>
  `Error: Analyzers found issues when analyzing ${target}.\n` +
  'See https://istio.io/v1.17/docs/reference/config/analysis for more information about causes and resolutions.\n';
const UNPARSED = (target: string, files = 1) =>
  `No validation issues found when analyzing ${target} (but ${files} ${files === 1 ? 'file' : 'files'} could not be parsed).\n` +
  "Error: Some files couldn't be parsed.\n";
/** istioctl prints parse errors as `Error(s) adding files: ` and a hashicorp multierror. */
const ADDING_FILES = (...errors: string[]) =>
  `Error(s) adding files: ${errors.length === 1 ? '1 error occurred' : `${errors.length} errors occurred`}:\n` +
  errors.map((e) => `\t* ${e}\n`).join('') +
  '\n';
const SUBSET_ERRORS = (file: string, lines: [number, number] = [16, 22]) =>
  `Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 ${file}:${lines[0]}) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v1"\n` +
  `Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 ${file}:${lines[1]}) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v2"\n`;
const YAML_ENTRY = (n: 1 | 2, line: number) =>
  '- code: IST0101\n' +
  '  documentationUrl: https://istio.io/v1.17/docs/reference/config/analysis/ist0101/?ref=istioctl-analyze\n' +
  '  level: Error\n' +
  `  message: 'Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v${n}"'\n` +
  '  origin: VirtualService istioinaction/catalog-v1-v2\n' +
  `  reference: ${VS}:${line}\n`;
const YAML_MESSAGES = YAML_ENTRY(1, 16) + YAML_ENTRY(2, 22);
const CLEAN = (what: string) => `\u2714 No validation issues found when analyzing ${what}.\n`;

function write(dir: string, name: string, content: string | Buffer): string {
  const file = join(dir, name);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, content);
  return file;
}

/** No run may end in an uncaught exception: Node's stack frames start with four spaces and `at `. */
function assertNoStackTrace(run: CliRun): void {
  assert.ok(!run.stderr.includes('    at '), `stack trace on stderr:\n${run.stderr}`);
  assert.ok(!run.stdout.includes('    at '), `stack trace on stdout:\n${run.stdout}`);
}

async function analyze(args: string[], stdin?: string | Buffer): Promise<CliRun> {
  const run = await runSkiff(['analyze', ...args], { stdin });
  assertNoStackTrace(run);
  return run;
}

/** The lab's VirtualService with a suppression annotation after its namespace (two lines longer). */
function annotatedVs(codes: string): string {
  return VS_TEXT.replace(
    '  namespace: istioinaction\n',
    `  namespace: istioinaction\n  annotations:\n    galley.istio.io/analyze-suppress: '${codes}'\n`,
  );
}

const GOOD_SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: ok
  namespace: istioinaction
spec:
  selector:
    app: ok
  ports:
    - name: http
      port: 80
`;

describe('skiff analyze: bad input', { concurrency: 4 }, () => {
  test('malformed YAML names file:line and exits 65', async () => {
    const dir = tempDir();
    const bad = write(dir, 'bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: [x\n');
    const run = await analyze([FILES_ONLY, bad]);
    assert.equal(run.stdout, '\n');
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${bad}:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ) + UNPARSED('namespace: default'),
    );
    assert.equal(run.code, 65);
  });

  test('malformed YAML: the other files are still analyzed and their issues (exit 79) take precedence over 65', async () => {
    const dir = tempDir();
    const bad = write(dir, 'bad.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: [x\n');
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, bad, VS]);
    assert.equal(run.stdout, SUBSET_ERRORS(VS));
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${bad}:5: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]`,
      ) + ISSUES_IN('namespace: istioinaction'),
    );
    assert.equal(run.code, 79);
  });

  test('a broken document does not hide the documents after it in the same file', async () => {
    const dir = tempDir();
    const mixed = write(
      dir,
      'mixed.yaml',
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: [x\n---\n' + VS_TEXT,
    );
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, mixed]);
    // The VirtualService starts on line 7: its messages keep the file's own line numbers.
    assert.equal(run.stdout, SUBSET_ERRORS(mixed, [22, 28]));
    assert.match(run.stderr, new RegExp(`\\t\\* ${escape(mixed)}:5: invalid YAML: `));
    assert.equal(run.code, 79);
  });

  test('YAML errors inside documents: tabs, bad indentation, duplicate keys, unclosed quotes', async () => {
    const dir = tempDir();
    const tab = write(dir, 'a-tab.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n\tname: a\n');
    const indent = write(
      dir,
      'b-indent.yaml',
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n namespace: b\n',
    );
    const dup = write(dir, 'c-dup.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n');
    const quote = write(dir, 'd-quote.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: "a\n');
    const run = await analyze([FILES_ONLY, dir]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${tab}:4: invalid YAML: Tabs are not allowed as indentation`,
        `${indent}:5: invalid YAML: All mapping items must start at the same column`,
        `${dup}:5: invalid YAML: Map keys must be unique`,
        `${quote}:4: invalid YAML: Missing closing "quote`,
      ) + UNPARSED('namespace: default', 4),
    );
    assert.equal(run.code, 65);
  });

  test('the parse-failure count is the number of files that failed (istioctl 1.17 always says 1)', async () => {
    // Deliberate difference: istioctl counts one failed AddReaderKubeSource call; skiff counts files.
    const dir = tempDir();
    const a = write(dir, 'a.yaml', 'kind: Service\n');
    const b = write(dir, 'b.yaml', 'kind: Service\n');
    const run = await analyze([FILES_ONLY, dir]);
    assert.equal(
      run.stderr,
      ADDING_FILES(`${a}:1: Service has no "apiVersion"`, `${b}:1: Service has no "apiVersion"`) +
        'No validation issues found when analyzing namespace: default (but 2 files could not be parsed).\n' +
        "Error: Some files couldn't be parsed.\n",
    );
    assert.equal(run.code, 65);
  });

  test('a wrong apiVersion for an Istio kind is a parse error naming the served versions', async () => {
    const dir = tempDir();
    const file = write(
      dir,
      'v2.yaml',
      GOOD_SERVICE +
        '---\napiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts: [reviews]\n',
    );
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', file]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${file}:13: no matches for kind "VirtualService" in version "networking.istio.io/v2" (served: networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1)`,
      ) + UNPARSED('namespace: istioinaction'),
    );
    assert.equal(run.code, 65);
  });

  test('an unknown kind in an Istio group is a parse error (a typo must not make the object vanish)', async () => {
    const dir = tempDir();
    const file = write(
      dir,
      'typo.yaml',
      'apiVersion: networking.istio.io/v1beta1\nkind: VirtualServce\nmetadata:\n  name: reviews\n',
    );
    const run = await analyze([FILES_ONLY, file]);
    assert.equal(
      run.stderr,
      ADDING_FILES(`${file}:1: unknown kind "VirtualServce" in group "networking.istio.io"`) +
        UNPARSED('namespace: default'),
    );
    assert.equal(run.code, 65);
  });

  test('metadata problems: missing name, name or namespace of the wrong type, metadata not a mapping', async () => {
    const dir = tempDir();
    const file = write(
      dir,
      'meta.yaml',
      [
        'apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n  namespace: istioinaction\n',
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: 42\n',
        'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: [a]\n',
        'apiVersion: v1\nkind: Service\nmetadata: just-a-string\n',
        'apiVersion: v1\nkind: Service\n',
      ].join('---\n'),
    );
    const run = await analyze([FILES_ONLY, file]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${file}:1: Gateway has no metadata.name`,
        `${file}:6: Service: metadata.name must be a string, found a number`,
        `${file}:11: Service s: metadata.namespace must be a string, found a list`,
        `${file}:17: Service: metadata must be a mapping, found a string`,
        `${file}:21: Service has no metadata.name`,
      ) + UNPARSED('namespace: default'),
    );
    assert.equal(run.code, 65);
  });

  test('documents that are not objects, or lack kind or apiVersion, are parse errors', async () => {
    const dir = tempDir();
    const file = write(
      dir,
      'shapes.yaml',
      [
        'just text\n',
        '- a\n- b\n',
        'kind: Service\nmetadata:\n  name: a\n',
        'apiVersion: v1\nmetadata:\n  name: a\n',
      ].join('---\n'),
    );
    const run = await analyze([FILES_ONLY, file]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${file}:1: expected a Kubernetes object (a mapping with apiVersion and kind), found a string`,
        `${file}:3: expected a Kubernetes object (a mapping with apiVersion and kind), found a list`,
        `${file}:6: Service has no "apiVersion"`,
        `${file}:10: object has no "kind"`,
      ) + UNPARSED('namespace: default'),
    );
    assert.equal(run.code, 65);
  });

  test('empty, comment-only and null documents are skipped, as kubectl skips them', async () => {
    const dir = tempDir();
    const file = write(dir, 'sparse.yaml', `---\n# nothing here\n---\n${GOOD_SERVICE}---\n---\nnull\n---\n`);
    const empty = write(dir, 'empty.yaml', '');
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', file, empty]);
    assert.equal(run.stdout, '\n');
    assert.equal(run.stderr, CLEAN(`${file}\n${empty}`));
    assert.equal(run.code, 0);
  });

  test('a 50 MB file is refused with a clear message', async () => {
    const dir = tempDir();
    const big = write(dir, 'big.yaml', Buffer.alloc(50 * 1024 * 1024, 'a'));
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', big, DR]);
    rmSync(big);
    assert.equal(
      run.stderr,
      ADDING_FILES(`${big}: file is too large to be a manifest (52428800 bytes, limit 33554432)`) +
        UNPARSED('namespace: istioinaction'),
    );
    assert.equal(run.code, 65);
  });

  test('stdin larger than --max-file-size is refused too', async () => {
    const run = await analyze([FILES_ONLY, '--max-file-size', '1000', '-'], 'a'.repeat(2000));
    assert.equal(
      run.stderr,
      ADDING_FILES('-: input is too large to be a manifest (2000 bytes, limit 1000)') +
        UNPARSED('namespace: default'),
    );
    assert.equal(run.code, 65);
  });

  test('binary files with a manifest extension are refused: NUL bytes, or bytes that are not UTF-8', async () => {
    const dir = tempDir();
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 256;
    const nul = write(dir, 'a-random.yaml', random);
    const latin1 = write(
      dir,
      'b-latin1.yaml',
      Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n', 'latin1'),
    );
    const run = await analyze([FILES_ONLY, dir]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${nul}: binary content: not UTF-8 text YAML or JSON`,
        `${latin1}: binary content: not UTF-8 text YAML or JSON`,
      ) + UNPARSED('namespace: default', 2),
    );
    assert.equal(run.code, 65);
  });

  test('a missing path names the path and fails without a stack trace', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nope.yaml');
    const run = await analyze([FILES_ONLY, missing]);
    assert.match(run.stderr, new RegExp(`${escape(missing)}: no such file or directory`));
    assert.notEqual(run.code, 0);
  });

  test('resource-exhaustion YAML (alias bomb, deep nesting) is a parse error, not a crash', async () => {
    const dir = tempDir();
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const bomb = write(
      dir,
      'a-bomb.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n  ${levels.join('\n  ')}\n`,
    );
    const deep = write(
      dir,
      'b-deep.yaml',
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  a: ${'['.repeat(50000)}${']'.repeat(50000)}\n`,
    );
    const run = await analyze([FILES_ONLY, dir]);
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${bomb}:1: invalid YAML: Excessive alias count indicates a resource exhaustion attack`,
        `${deep}:6: invalid YAML: nesting is too deep`,
      ) + UNPARSED('namespace: default', 2),
    );
    assert.equal(run.code, 65);
  });

  test('--ignore-unknown turns the parse-error exit 65 into 0, but not found issues (79)', async () => {
    const dir = tempDir();
    const bad = write(
      dir,
      'bad.yaml',
      'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata:\n  name: a\n',
    );
    const alone = await analyze([FILES_ONLY, '--ignore-unknown', bad]);
    assert.equal(
      alone.stderr,
      ADDING_FILES(
        `${bad}:1: no matches for kind "VirtualService" in version "networking.istio.io/v2" (served: networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1)`,
      ) + 'No validation issues found when analyzing namespace: default (but 1 file could not be parsed).\n',
    );
    assert.equal(alone.code, 0);
    const withIssues = await analyze([FILES_ONLY, '--ignore-unknown', '-n', 'istioinaction', BASE, bad, VS]);
    assert.equal(withIssues.stdout, SUBSET_ERRORS(VS));
    assert.equal(withIssues.code, 79);
  });
});

describe('skiff analyze: inputs', { concurrency: 4 }, () => {
  test("files with other extensions are skipped with istioctl's message, in arguments and in directories", async () => {
    const dir = tempDir();
    const notes = write(dir, 'notes.txt', 'not yaml at all: [');
    const readme = write(dir, 'docs/README.md', '# hello');
    const svc = write(dir, 'docs/svc.yml', GOOD_SERVICE);
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', notes, join(dir, 'docs')]);
    assert.equal(
      run.stderr,
      `Skipping file ${notes}, recognized file extensions are: [.json .yaml .yml]\n` +
        `Skipping file ${readme}, recognized file extensions are: [.json .yaml .yml]\n` +
        CLEAN(svc),
    );
    assert.equal(run.code, 0);
    const only = await analyze([FILES_ONLY, notes]);
    assert.equal(
      only.stderr,
      `Skipping file ${notes}, recognized file extensions are: [.json .yaml .yml]\n` +
        CLEAN('namespace: default'),
    );
    assert.equal(only.code, 0);
  });

  test('directories are walked recursively in lexical order', async () => {
    const dir = tempDir();
    const files = [
      write(dir, 'a/base/namespaces.yaml', lab('namespaces.yaml')),
      write(dir, 'a/base/z/catalog.yaml', lab('catalog.yaml')),
      write(dir, 'b/deep/er/still/vs.yaml', VS_TEXT),
      write(dir, 'b/gw.yaml', lab('catalog-gateway.yaml')),
      write(dir, 'b/ingress.yaml', lab('ingress-gateway.yaml')),
    ];
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', dir]);
    assert.equal(run.stdout, SUBSET_ERRORS(files[2] as string));
    assert.equal(run.code, 79);
    const dr = write(dir, 'c/d/e/dr.yaml', readFileSync(join(ROOT, DR)));
    const clean = await analyze([FILES_ONLY, '-n', 'istioinaction', dir]);
    assert.equal(clean.stderr, CLEAN([...files, dr].join('\n')));
    assert.equal(clean.code, 0);
  });

  test('a symlink loop in a directory is walked once and ends', async () => {
    const dir = tempDir();
    const vs = write(dir, 'sub/vs.yaml', VS_TEXT);
    symlinkSync('..', join(dir, 'sub', 'up'));
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', '--analyzer', DR_ANALYZER, dir]);
    assert.equal(run.stdout, SUBSET_ERRORS(vs));
    assert.equal(run.stderr, ISSUES_IN('namespace: istioinaction'));
    assert.equal(run.code, 79);
  });

  test('a named pipe met while walking a directory is reported, not read forever', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'pipe.yaml');
    const made = spawnSync('mkfifo', [fifo]);
    if (made.status !== 0) return; // no mkfifo here: nothing to check
    const run = await analyze([FILES_ONLY, dir]);
    assert.equal(run.stderr, ADDING_FILES(`${fifo}: not a regular file`) + UNPARSED('namespace: default'));
    assert.equal(run.code, 65);
  });

  test('stdin via - is analyzed with the other inputs and named - in references', async () => {
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, '-'], VS_TEXT);
    assert.equal(run.stdout, SUBSET_ERRORS('-'));
    assert.equal(run.code, 79);
    const broken = await analyze([FILES_ONLY, '-'], 'apiVersion: v1\nkind: Service\nmetadata: {name: [}\n');
    assert.equal(
      broken.stderr,
      ADDING_FILES(
        '-:3: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
      ) + UNPARSED('namespace: default'),
    );
    assert.equal(broken.code, 65);
  });

  test('CRLF line endings keep the same lines', async () => {
    const dir = tempDir();
    const vs = write(dir, 'vs.yaml', VS_TEXT.replace(/\n/g, '\r\n'));
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, vs]);
    assert.equal(run.stdout, SUBSET_ERRORS(vs));
    assert.equal(run.code, 79);
  });

  test('JSON input is analyzed; istioctl gives .json references no line', async () => {
    const dir = tempDir();
    const vs = {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'catalog-v1-v2', namespace: 'istioinaction' },
      spec: {
        hosts: ['catalog.istioinaction.io'],
        gateways: ['catalog-gateway'],
        http: [
          {
            route: [
              {
                destination: {
                  host: 'catalog.istioinaction.svc.cluster.local',
                  subset: 'version-v1',
                  port: { number: 80 },
                },
                weight: 20,
              },
              {
                destination: {
                  host: 'catalog.istioinaction.svc.cluster.local',
                  subset: 'version-v2',
                  port: { number: 80 },
                },
                weight: 80,
              },
            ],
          },
        ],
      },
    };
    const file = write(dir, 'vs.json', JSON.stringify(vs, null, 2));
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, file]);
    assert.equal(
      run.stdout,
      `Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 ${file}) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v1"\n` +
        `Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 ${file}) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v2"\n`,
    );
    assert.equal(run.code, 79);
  });

  test('List kinds are expanded and each item keeps the line of its own fields', async () => {
    const dir = tempDir();
    const list = write(
      dir,
      'list.yaml',
      `apiVersion: v1
kind: List
items:
  - apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata:
      name: reviews
      namespace: istioinaction
    spec:
      hosts: [reviews]
      http:
        - route:
            - destination:
                host: reviews
                subset: v9
  - apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata:
      name: ratings
      namespace: istioinaction
    spec:
      hosts: [ratings]
      http:
        - route:
            - destination:
                host: ratings
                subset: v7
`,
    );
    const run = await analyze([FILES_ONLY, '-A', '--analyzer', DR_ANALYZER, list]);
    assert.equal(
      run.stdout,
      `Error [IST0101] (VirtualService istioinaction/ratings ${list}:26) Referenced host+subset in destinationrule not found: "ratings+v7"\n` +
        `Error [IST0101] (VirtualService istioinaction/reviews ${list}:14) Referenced host+subset in destinationrule not found: "reviews+v9"\n`,
    );
    assert.equal(run.code, 79);
  });

  test('a JSON List (kubectl get -o json) is expanded too, and a bad item is reported alone', async () => {
    const dir = tempDir();
    const item = (name: string, subset: string) => ({
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name, namespace: 'istioinaction' },
      spec: { hosts: [name], http: [{ route: [{ destination: { host: name, subset } }] }] },
    });
    const text = JSON.stringify(
      { apiVersion: 'v1', kind: 'List', items: [item('reviews', 'v9'), 42, item('ratings', 'v7')] },
      null,
      2,
    );
    const file = write(dir, 'list.json', text);
    const line42 = text.split('\n').findIndex((l) => l.trim() === '42,') + 1;
    assert.ok(line42 > 1);
    const run = await analyze([FILES_ONLY, '-A', '--analyzer', DR_ANALYZER, file]);
    assert.equal(
      run.stdout,
      `Error [IST0101] (VirtualService istioinaction/ratings ${file}) Referenced host+subset in destinationrule not found: "ratings+v7"\n` +
        `Error [IST0101] (VirtualService istioinaction/reviews ${file}) Referenced host+subset in destinationrule not found: "reviews+v9"\n`,
    );
    assert.equal(
      run.stderr,
      ADDING_FILES(
        `${file}:${line42}: expected a Kubernetes object (a mapping with apiVersion and kind), found a number`,
      ) + ISSUES_IN('all namespaces'),
    );
    assert.equal(run.code, 79);
  });

  test('kinds from groups skiff does not serve (ClusterRole, CRDs, cert-manager) are skipped silently', async () => {
    const dir = tempDir();
    const file = write(
      dir,
      'other.yaml',
      [
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\nrules: []\n',
        'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n',
        'apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: cert\n',
        GOOD_SERVICE,
      ].join('---\n'),
    );
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', file]);
    assert.equal(run.stdout, '\n');
    assert.equal(run.stderr, CLEAN(file));
    assert.equal(run.code, 0);
  });
});

describe('skiff analyze: output and thresholds', { concurrency: 4 }, () => {
  test('-o yaml prints the messages as sigs.k8s.io/yaml would and exits 0 even with errors', async () => {
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', '-o', 'yaml', BASE, VS]);
    // The trailing newlines are checked by the next test.
    assert.equal(run.stdout.replace(/\n+$/, '\n'), YAML_MESSAGES);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    const clean = await analyze([FILES_ONLY, '-n', 'istioinaction', '-o', 'yaml', DR]);
    assert.equal(clean.stdout.replace(/\n+$/, '\n'), '[]\n');
    assert.equal(clean.stderr, CLEAN(DR));
    assert.equal(clean.code, 0);
  });

  test('-o yaml ends with a blank line, as istioctl Fprintln()s yaml.Marshal text that already ends in a newline', async () => {
    // istioctl/pkg/util/formatting formatter_test.go: Print(empty, YAMLFormat) == "[]\n"; analyze.go then fmt.Fprintln(output).
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', '-o', 'yaml', BASE, VS]);
    assert.equal(run.stdout, `${YAML_MESSAGES}\n`);
    const clean = await analyze([FILES_ONLY, '-n', 'istioinaction', '-o', 'yaml', DR]);
    assert.equal(clean.stdout, '[]\n\n');
  });

  test('-o json on a clean run prints [] and the success line', async () => {
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', '-o', 'json', DR]);
    assert.equal(run.stdout, '[]\n');
    assert.equal(run.stderr, CLEAN(DR));
    assert.equal(run.code, 0);
  });

  test('--output-threshold hides messages below it; the exit code still counts them', async () => {
    const dir = tempDir();
    // A host the Gateway does not serve: a Warning (IST0132), no Error.
    const vs = write(
      dir,
      'vs.yaml',
      VS_TEXT.replace('    - catalog.istioinaction.io\n', '    - other.istioinaction.io\n'),
    );
    const args = [FILES_ONLY, '-n', 'istioinaction', BASE, DR, vs];
    const all = await analyze(args);
    assert.match(
      all.stdout,
      new RegExp(`^Warning \\[IST0132\\] \\(VirtualService istioinaction/catalog-v1-v2 ${escape(vs)}:12\\) `),
    );
    assert.doesNotMatch(all.stdout, /^Error /m);
    assert.equal(all.stderr, '');
    assert.equal(all.code, 0);

    const errorsOnly = await analyze([...args, '--output-threshold', 'Error']);
    assert.equal(errorsOnly.stdout, '\n');
    assert.equal(errorsOnly.stderr, CLEAN(`${fileList(BASE)}${DR}\n${vs}`));
    assert.equal(errorsOnly.code, 0);

    const hiddenButFailing = await analyze([
      ...args,
      '--output-threshold',
      'error',
      '--failure-threshold',
      'Warning',
    ]);
    assert.equal(hiddenButFailing.stdout, '\n');
    assert.match(
      hiddenButFailing.stderr,
      /Error: Analyzers found issues when analyzing namespace: istioinaction\.\n/,
    );
    assert.equal(hiddenButFailing.code, 79);
  });

  test('--failure-threshold Warning and Info fail on lower levels; the default (Error) does not', async () => {
    const dir = tempDir();
    // The namespace without the injection label: an Info (IST0102), nothing worse.
    const ns = write(dir, 'ns.yaml', 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: plain\n');
    const base = [FILES_ONLY, '-n', 'plain', ns];
    const info = await analyze(base);
    assert.match(info.stdout, new RegExp(`^Info \\[IST0102\\] \\(Namespace plain ${escape(ns)}:\\d+\\) `));
    assert.equal(info.code, 0);
    assert.equal((await analyze([...base, '--failure-threshold', 'Warning'])).code, 0);
    const failing = await analyze([...base, '--failure-threshold', 'Info']);
    assert.equal(failing.stderr, ISSUES_IN('namespace: plain'));
    assert.equal(failing.code, 79);
    const warningFails = await analyze([
      FILES_ONLY,
      '-n',
      'istioinaction',
      '--failure-threshold',
      'warning',
      BASE,
      VS,
    ]);
    assert.equal(warningFails.code, 79);
  });

  test('an invalid threshold level is a usage error (exit 64)', async () => {
    const run = await analyze([FILES_ONLY, '--failure-threshold', 'Severe', DR]);
    assert.match(run.stderr, /^Error: .*invalid level option/);
    assert.equal(run.stdout, '');
    assert.equal(run.code, 64);
  });

  test('--fix-hints adds a Fix line under each message', async () => {
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', '--fix-hints', BASE, VS]);
    const lines = SUBSET_ERRORS(VS).trimEnd().split('\n');
    assert.equal(
      run.stdout,
      `${lines[0]}\n    Fix: add subset "version-v1" to a DestinationRule whose host is catalog.istioinaction.svc.cluster.local (or route without the subset)\n` +
        `${lines[1]}\n    Fix: add subset "version-v2" to a DestinationRule whose host is catalog.istioinaction.svc.cluster.local (or route without the subset)\n`,
    );
    assert.equal(run.code, 79);
  });
});

describe('skiff analyze: suppression', { concurrency: 4 }, () => {
  test('-S <code>=<Kind ns/name glob> suppresses matching messages only', async () => {
    const hit = await analyze([
      FILES_ONLY,
      '-n',
      'istioinaction',
      '-S',
      'IST0101=VirtualService istioinaction/*',
      BASE,
      VS,
    ]);
    assert.equal(hit.stdout, '\n');
    assert.match(hit.stderr, /^\u2714 No validation issues found when analyzing /);
    assert.equal(hit.code, 0);
    const miss = await analyze([
      FILES_ONLY,
      '-n',
      'istioinaction',
      '-S',
      'IST0101=VirtualService default/*',
      BASE,
      VS,
    ]);
    assert.equal(miss.stdout, SUBSET_ERRORS(VS));
    assert.equal(miss.code, 79);
    const otherCode = await analyze([
      FILES_ONLY,
      '-n',
      'istioinaction',
      '-S',
      'IST0102=VirtualService *',
      BASE,
      VS,
    ]);
    assert.equal(otherCode.stdout, SUBSET_ERRORS(VS));
  });

  test('the galley.istio.io/analyze-suppress annotation suppresses the listed codes on that object', async () => {
    const dir = tempDir();
    const suppressed = write(dir, 'a/vs.yaml', annotatedVs('IST0132,IST0101'));
    const run = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, suppressed]);
    assert.equal(run.stdout, '\n');
    assert.equal(run.code, 0);
    const star = write(dir, 'b/vs.yaml', annotatedVs('*'));
    assert.equal((await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, star])).code, 0);
    const other = write(dir, 'c/vs.yaml', annotatedVs('IST0102'));
    const kept = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, other]);
    assert.equal(kept.stdout, SUBSET_ERRORS(other, [18, 24]));
    assert.equal(kept.code, 79);
  });

  test('an unknown -S code warns and the analysis still runs', async () => {
    const run = await analyze([
      FILES_ONLY,
      '-n',
      'istioinaction',
      '-S',
      'IST9999=VirtualService *',
      BASE,
      VS,
    ]);
    assert.equal(
      run.stderr,
      "Warning: Supplied message code 'IST9999' is an unknown message code and will not have any effect.\n" +
        ISSUES_IN('namespace: istioinaction'),
    );
    assert.equal(run.stdout, SUBSET_ERRORS(VS));
    assert.equal(run.code, 79);
  });

  test('an -S value without = is refused before analysis (exit 1, as istioctl)', async () => {
    const run = await analyze([FILES_ONLY, '-S', 'IST0101', VS]);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      'Error: IST0101 is not a valid suppression value. See istioctl analyze --help\n',
    );
    assert.equal(run.code, 1);
  });

  test('an -S value with two = is invalid, as istioctl splits on every =', async () => {
    // istioctl: parts := strings.Split(s, "="); if len(parts) != 2 -> "... is not a valid suppression value".
    const run = await analyze([FILES_ONLY, '-S', 'IST0101=VirtualService a=b', VS]);
    assert.equal(
      run.stderr,
      'Error: IST0101=VirtualService a=b is not a valid suppression value. See istioctl analyze --help\n',
    );
    assert.equal(run.code, 1);
  });
});

describe('skiff analyze: command line', { concurrency: 4 }, () => {
  test('-L lists every analyzer as istioctl does: sorted, name then indented description', async () => {
    const run = await analyze(['-L']);
    const expected = [...ALL_ANALYZERS]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((a) => `* ${a.name}:\n${a.description ? `    ${a.description}\n` : ''}`)
      .join('');
    assert.equal(run.stdout, expected);
    assert.ok(
      run.stdout.includes(
        `* ${DR_ANALYZER}:\n    Checks the destination rules associated with each virtual service\n`,
      ),
    );
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
  });

  test('--analyzer runs only the named analyzer', async () => {
    const dir = tempDir();
    const vs = write(
      dir,
      'vs.yaml',
      VS_TEXT.replace('    - catalog.istioinaction.io\n', '    - other.istioinaction.io\n'),
    );
    const all = await analyze([FILES_ONLY, '-n', 'istioinaction', BASE, vs]);
    assert.match(all.stdout, /^Warning \[IST0132\]/m);
    const one = await analyze([FILES_ONLY, '-n', 'istioinaction', '-v', '--analyzer', DR_ANALYZER, BASE, vs]);
    assert.equal(one.stdout, SUBSET_ERRORS(vs));
    const others = ALL_ANALYZERS.map((a) => a.name)
      .filter((n) => n !== DR_ANALYZER)
      .sort();
    assert.ok(
      one.stderr.startsWith(
        'Analyzed resources in namespace: istioinaction\n' +
          (others.length > 0 ? `Skipped analyzers:\n${others.map((n) => `\t ${n}\n`).join('')}` : '') +
          `Executed analyzers:\n\t ${DR_ANALYZER}\n`,
      ),
      one.stderr,
    );
    assert.equal(one.code, 79);
  });

  test('a bad -o value is a usage error (exit 64)', async () => {
    const run = await analyze([FILES_ONLY, '-o', 'table', DR]);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'Error: table not a valid option for format. See istioctl analyze --help\n');
    assert.equal(run.code, 64);
  });

  test('a bad -o value is echoed lower-cased, as istioctl lower-cases it first', async () => {
    const run = await analyze([FILES_ONLY, '-o', 'TABLE', DR]);
    assert.equal(run.stderr, 'Error: table not a valid option for format. See istioctl analyze --help\n');
    assert.equal(run.code, 64);
  });

  test("an unknown flag is a usage error (exit 64) in cobra's words", async () => {
    const run = await analyze([FILES_ONLY, '--frobnicate', DR]);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'Error: unknown flag: --frobnicate\n');
    assert.equal(run.code, 64);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The lab base files as the success line lists them, one per line, in walk order. */
function fileList(dir: string): string {
  return ['catalog-gateway.yaml', 'catalog.yaml', 'ingress-gateway.yaml', 'namespaces.yaml']
    .map((f) => `${dir}/${f}\n`)
    .join('');
}
