import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSkiff } from './helpers.js';

const VS = 'examples/lab/routing/catalog-virtualservice-v1-v2.yaml';
const DR = 'examples/lab/routing/catalog-destinationrule-v1-v2.yaml';

test('the lab case: subsets without a DestinationRule give two IST0101 errors and exit 79', async () => {
  const run = await runSkiff(['analyze', '--use-kube=false', '-n', 'istioinaction', 'examples/lab/base', VS]);
  assert.equal(
    run.stdout,
    'Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 examples/lab/routing/catalog-virtualservice-v1-v2.yaml:16) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v1"\n' +
      'Error [IST0101] (VirtualService istioinaction/catalog-v1-v2 examples/lab/routing/catalog-virtualservice-v1-v2.yaml:22) Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v2"\n',
  );
  assert.equal(
    run.stderr,
    'Error: Analyzers found issues when analyzing namespace: istioinaction.\n' +
      'See https://istio.io/v1.17/docs/reference/config/analysis for more information about causes and resolutions.\n',
  );
  assert.equal(run.code, 79);
});

test('the lab case: adding the DestinationRule makes the analysis clean', async () => {
  const run = await runSkiff([
    'analyze',
    '--use-kube=false',
    '-n',
    'istioinaction',
    'examples/lab/base',
    VS,
    DR,
  ]);
  assert.equal(run.stdout, '\n');
  assert.match(run.stderr, /^\u2714 No validation issues found when analyzing /);
  assert.match(run.stderr, /catalog-destinationrule-v1-v2\.yaml\.\n$/);
  assert.equal(run.code, 0);
});

test('the seed command on the DestinationRule file alone is clean', async () => {
  const run = await runSkiff(['analyze', DR, '-n', 'istioinaction']);
  assert.equal(run.stderr, `\u2714 No validation issues found when analyzing ${DR}.\n`);
  assert.equal(run.code, 0);
});

test('-o json prints the messages as istioctl does and exits 0 even with errors', async () => {
  const run = await runSkiff(['analyze', '--use-kube=false', '-n', 'istioinaction', '-o', 'json', VS]);
  assert.equal(run.code, 0);
  const parsed = JSON.parse(run.stdout) as Record<string, string>[];
  const subsetMessages = parsed.filter((m) => m['message']?.includes('host+subset'));
  assert.equal(subsetMessages.length, 2);
  assert.deepEqual(Object.keys(subsetMessages[0] ?? {}), [
    'code',
    'documentationUrl',
    'level',
    'message',
    'origin',
    'reference',
  ]);
  assert.deepEqual(subsetMessages[0], {
    code: 'IST0101',
    documentationUrl: 'https://istio.io/v1.17/docs/reference/config/analysis/ist0101/?ref=istioctl-analyze',
    level: 'Error',
    message:
      'Referenced host+subset in destinationrule not found: "catalog.istioinaction.svc.cluster.local+version-v1"',
    origin: 'VirtualService istioinaction/catalog-v1-v2',
    reference: `${VS}:16`,
  });
  assert.match(run.stdout, /^\[\n\t\{\n\t\t"code": "IST0101",/);
});
