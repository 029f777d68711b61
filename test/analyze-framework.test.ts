import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KIND, parseManifests } from '../src/api/index.js';
import type { Analyzer } from '../src/analyze/index.js';
import {
  MESSAGE_TYPES,
  goSprintf,
  messageString,
  parseSuppression,
  runAnalysis,
} from '../src/analyze/index.js';
import { ConfigSnapshot } from '../src/model/index.js';

const MANIFESTS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: b
  namespace: ns1
spec:
  hosts: [b]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: a
  namespace: ns2
spec:
  hosts: [a]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: quiet
  namespace: ns1
  annotations:
    galley.istio.io/analyze-suppress: IST0108,IST0101
spec:
  hosts: [quiet]
---
apiVersion: v1
kind: Namespace
metadata:
  name: ns1
`;

function snapshot(): ConfigSnapshot {
  const parsed = parseManifests(MANIFESTS, 'm.yaml');
  assert.deepEqual(parsed.errors, []);
  return new ConfigSnapshot(parsed.resources);
}

/** Reports one message of each level on every VirtualService, and throws when asked to. */
const probe: Analyzer = {
  name: 'test.Probe',
  description: 'probe',
  inputs: [KIND.VirtualService],
  analyze(ctx) {
    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      ctx.report(MESSAGE_TYPES.NamespaceNotInjected, vs, ['x', 'x']);
      ctx.report(
        MESSAGE_TYPES.ReferencedResourceNotFound,
        vs,
        ['host', vs.metadata.name],
        '{.spec.hosts[0]}',
      );
      ctx.report(
        MESSAGE_TYPES.ReferencedResourceNotFound,
        vs,
        ['host', vs.metadata.name],
        '{.spec.hosts[0]}',
      );
      ctx.report(MESSAGE_TYPES.UnknownAnnotation, vs, ['foo']);
    }
  },
};

const broken: Analyzer = {
  name: 'test.Broken',
  description: 'throws',
  inputs: [],
  analyze() {
    throw new Error('boom');
  },
};

test('Go format verbs render as istiod renders them', () => {
  assert.equal(
    goSprintf('Referenced %s not found: %q', ['host', 'a"b']),
    'Referenced host not found: "a\\"b"',
  );
  assert.equal(goSprintf('%v and %d', [['a', 'b'], 7]), '[a b] and 7');
  assert.equal(goSprintf('%v %v', ['only']), 'only %!v(MISSING)');
  assert.equal(goSprintf('100%%', []), '100%');
});

test('messages sort Error, Warning, Info, then by code and Kind/name/namespace; exact repeats collapse', () => {
  const result = runAnalysis(snapshot(), { available: [probe] });
  assert.deepEqual(result.messages.map(messageString), [
    'Error [IST0101] (VirtualService ns2/a m.yaml:15) Referenced host not found: "a"',
    'Error [IST0101] (VirtualService ns1/b m.yaml:7) Referenced host not found: "b"',
    'Warning [IST0108] (VirtualService ns2/a m.yaml:9) Unknown annotation: foo',
    'Warning [IST0108] (VirtualService ns1/b m.yaml:1) Unknown annotation: foo',
    "Info [IST0102] (VirtualService ns2/a m.yaml:9) The namespace is not enabled for Istio injection. Run 'kubectl label namespace x istio-injection=enabled' to enable it, or 'kubectl label namespace x istio-injection=disabled' to explicitly mark it as not needing injection.",
    "Info [IST0102] (VirtualService ns1/b m.yaml:1) The namespace is not enabled for Istio injection. Run 'kubectl label namespace x istio-injection=enabled' to enable it, or 'kubectl label namespace x istio-injection=disabled' to explicitly mark it as not needing injection.",
    "Info [IST0102] (VirtualService ns1/quiet m.yaml:17) The namespace is not enabled for Istio injection. Run 'kubectl label namespace x istio-injection=enabled' to enable it, or 'kubectl label namespace x istio-injection=disabled' to explicitly mark it as not needing injection.",
  ]);
});

test('the namespace filter keeps only the selected namespace', () => {
  const result = runAnalysis(snapshot(), { available: [probe], namespace: 'ns1' });
  assert.ok(result.messages.length > 0);
  assert.ok(result.messages.every((m) => m.resource?.metadata.namespace === 'ns1'));
});

test('-S globs match "Kind namespace/name"; the annotation suppresses listed codes only', () => {
  const suppression = parseSuppression('IST0101=VirtualService ns2/*');
  assert.ok(suppression);
  const result = runAnalysis(snapshot(), { available: [probe], suppressions: [suppression] });
  const lines = result.messages.map(messageString);
  assert.ok(!lines.some((l) => l.includes('[IST0101] (VirtualService ns2/a')));
  assert.ok(lines.some((l) => l.includes('[IST0101] (VirtualService ns1/b')));
  // The annotated object keeps IST0102 (not listed) and loses IST0101 and IST0108 (listed).
  const quiet = lines.filter((l) => l.includes('ns1/quiet'));
  assert.equal(quiet.length, 1);
  assert.match(quiet[0] ?? '', /^Info \[IST0102\]/);
  assert.equal(parseSuppression('IST0101'), undefined);
  assert.equal(parseSuppression('IST0101=a=b'), undefined);
  assert.deepEqual(parseSuppression('=x'), { code: '', resource: 'x' });
});

test('an analyzer that throws becomes IST0001 and the others still run', () => {
  const result = runAnalysis(snapshot(), { available: [broken, probe] });
  const lines = result.messages.map(messageString);
  assert.ok(lines.includes('Error [IST0001] Internal error: test.Broken: boom'));
  assert.ok(lines.some((l) => l.startsWith('Error [IST0101]')));
});

test('--analyzer selects by name and falls back to all for unknown names', () => {
  assert.deepEqual(
    runAnalysis(snapshot(), { available: [broken, probe], analyzers: ['test.Probe'] }).executed,
    ['test.Probe'],
  );
  assert.deepEqual(runAnalysis(snapshot(), { available: [broken, probe], analyzers: ['nope'] }).executed, [
    'test.Broken',
    'test.Probe',
  ]);
});
