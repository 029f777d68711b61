import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSkiff, tempDir } from './helpers.js';

/** A DestinationRule whose client TLS mode is the given YAML value (line 10 of the file). */
function destinationRule(mode: string): string {
  return `apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata:
  name: reviews
  namespace: bookinfo
spec:
  host: reviews.bookinfo.svc.cluster.local
  trafficPolicy:
    tls:
      mode: ${mode}
`;
}

test('skiff analyze reports a value Istio cannot decode as IST0106 at the field', async () => {
  const dir = tempDir();
  const file = join(dir, 'dr.yaml');
  writeFileSync(file, destinationRule('STRICT'));
  const run = await runSkiff(['analyze', '--use-kube=false', '-A', file]);
  assert.equal(
    run.stdout,
    `Error [IST0106] (DestinationRule bookinfo/reviews ${file}:10) Schema validation error: cannot decode spec.trafficPolicy.tls.mode: unknown value "STRICT" for enum istio.networking.v1alpha3.ClientTLSSettings.TLSmode\n`,
  );
  assert.match(run.stderr, /Error: Analyzers found issues when analyzing all namespaces\./);
  assert.equal(run.code, 79);
});

test('skiff analyze accepts an enum given by its number', async () => {
  const dir = tempDir();
  const file = join(dir, 'dr.yaml');
  // 3 is ISTIO_MUTUAL.
  writeFileSync(file, destinationRule('3'));
  const run = await runSkiff(['analyze', '--use-kube=false', '-A', file]);
  assert.doesNotMatch(run.stdout + run.stderr, /IST0106/);
  assert.match(run.stderr + run.stdout, /No validation issues found/);
  assert.equal(run.code, 0);
});
