import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSkiff, tempDir } from './helpers.js';

const GATEWAY = `apiVersion: networking.istio.io/v1beta1
kind: Gateway
metadata:
  name: gw
  namespace: default
spec:
  selector:
    istio: ingressgateway
  servers:
    - hosts: [a.example.com]
      port: { number: 80, name: http, protocol: HTTP }
`;

function setup(): { dir: string; gw: string } {
  const dir = tempDir();
  const gw = join(dir, 'gw.yaml');
  writeFileSync(gw, GATEWAY);
  return { dir, gw };
}

test('offline, the stand-in ingress gateway pod gives a default-selector Gateway a workload', async () => {
  const { gw } = setup();
  const run = await runSkiff(['analyze', gw]);
  assert.equal(run.code, 0);
  assert.equal(run.stderr, `\u2714 No validation issues found when analyzing ${gw}.\n`);
});

test('--meshConfigFile replaces the defaults: with ingressControllerMode OFF the selector finds nothing', async () => {
  const { dir, gw } = setup();
  const mesh = join(dir, 'mesh.yaml');
  writeFileSync(mesh, 'ingressControllerMode: "OFF"\n');
  const run = await runSkiff(['analyze', `--meshConfigFile=${mesh}`, gw]);
  assert.equal(
    run.stdout,
    `Error [IST0101] (Gateway default/gw ${gw}:8) Referenced selector not found: "istio=ingressgateway"\n`,
  );
  assert.equal(run.code, 79);
});

test('--meshConfigFile also takes the istio ConfigMap, reading its data.mesh', async () => {
  const { dir, gw } = setup();
  const mesh = join(dir, 'istio-cm.yaml');
  writeFileSync(
    mesh,
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\ndata:\n  mesh: |\n    ingressControllerMode: "OFF"\n',
  );
  const run = await runSkiff(['analyze', `--meshConfigFile=${mesh}`, gw]);
  assert.match(run.stdout, /Referenced selector not found/);
  assert.equal(run.code, 79);
});

test('a mesh config file that is not a mapping, or missing, is one clear error', async () => {
  const { dir, gw } = setup();
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, '- not a map\n');
  const invalid = await runSkiff(['analyze', '--meshConfigFile', bad, gw]);
  assert.equal(
    invalid.stderr,
    `Error: invalid mesh config file ${bad}: mesh config must be a YAML mapping\n`,
  );
  assert.equal(invalid.code, 1);
  const missing = await runSkiff(['analyze', '--meshConfigFile', join(dir, 'nope.yaml'), gw]);
  assert.match(missing.stderr, /^Error: failed to read mesh config file .*nope\.yaml: ENOENT/);
  assert.equal(missing.code, 1);
});
