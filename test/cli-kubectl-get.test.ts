import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/describe');
const AGE_MS = (3 * 60 + 50) * 60 * 1000; // every object was created 3h50m ago

describe('skiff get / delete / patch / label against the REST API', () => {
  let store: ObjectStore;
  let api: StoreApiServer;
  const server = () => ['--server', api.url];

  before(async () => {
    store = ObjectStore.open({ stateDir: null, now: () => new Date(Date.now() - AGE_MS) });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    seedStore(store, readFileSync(join(FIXTURES, 'lab-pods.yaml'), 'utf8'));
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it('prints pods with kubectl columns, widths and humanized ages', async () => {
    const r = await skiff(['get', 'pods', '-n', 'istioinaction', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `NAME                         READY   STATUS    RESTARTS   AGE
catalog-6cf4b97d-7d6gb       2/2     Running   0          3h50m
catalog-v2-56c97f6db-8wnq6   2/2     Running   0          3h50m
`,
    );
  });

  it('adds the wide columns and the field selector of the seed', async () => {
    const r = await skiff([
      'get',
      'pod',
      '-n',
      'istioinaction',
      '--field-selector',
      'status.podIP=10.10.0.12',
      '-o',
      'wide',
      ...server(),
    ]);
    assert.equal(
      r.stdout,
      `NAME                     READY   STATUS    RESTARTS   AGE     IP           NODE     NOMINATED NODE   READINESS GATES
catalog-6cf4b97d-7d6gb   2/2     Running   0          3h50m   10.10.0.12   <none>   <none>           <none>
`,
    );
  });

  it('prefixes names with the kind when several kinds are asked for', async () => {
    const r = await skiff(['get', 'svc,gw,vs', '-n', 'istioinaction', ...server()]);
    assert.equal(
      r.stdout,
      `NAME              TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE
service/catalog   ClusterIP   10.200.3.2   <none>        80/TCP    3h50m

NAME                                          AGE
gateway.networking.istio.io/catalog-gateway   3h50m

NAME                                               GATEWAYS              HOSTS                          AGE
virtualservice.networking.istio.io/catalog-v1-v2   ["catalog-gateway"]   ["catalog.istioinaction.io"]   3h50m
`,
    );
  });

  it('shows node ports, and a NAMESPACE column with -A', async () => {
    const r = await skiff(['get', 'services', '-A', ...server()]);
    assert.equal(
      r.stdout,
      `NAMESPACE       NAME                   TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)                                AGE
istio-system    istio-ingressgateway   NodePort    10.200.0.6   <none>        15021/TCP,80:30000/TCP,443:30005/TCP   3h50m
istioinaction   catalog                ClusterIP   10.200.3.2   <none>        80/TCP                                 3h50m
`,
    );
  });

  it('says there is nothing in an empty namespace, on stderr', async () => {
    const r = await skiff(['get', 'destinationrules', '-n', 'istioinaction', ...server()]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'No resources found in istioinaction namespace.\n');
  });

  it('prints jsonpath, name, json and yaml output', async () => {
    const first = await skiff([
      'get',
      'pod',
      '-n',
      'istioinaction',
      '-l',
      'app=catalog',
      '-o',
      'jsonpath={.items[0].metadata.name}',
      ...server(),
    ]);
    assert.equal(first.stdout, 'catalog-6cf4b97d-7d6gb');
    const v2 = await skiff([
      'get',
      'pods',
      '-l',
      'version=v2',
      '-n',
      'istioinaction',
      '-o',
      'jsonpath={.items..metadata.name}',
      ...server(),
    ]);
    assert.equal(v2.stdout, 'catalog-v2-56c97f6db-8wnq6');
    const names = await skiff(['get', 'pods', '-n', 'istioinaction', '-o', 'name', ...server()]);
    assert.equal(names.stdout, 'pod/catalog-6cf4b97d-7d6gb\npod/catalog-v2-56c97f6db-8wnq6\n');
    const json = await skiff([
      'get',
      'vs',
      'catalog-v1-v2',
      '-n',
      'istioinaction',
      '-o',
      'json',
      ...server(),
    ]);
    const parsed = JSON.parse(json.stdout) as { kind: string; spec: { hosts: string[] } };
    assert.equal(parsed.kind, 'VirtualService');
    assert.deepEqual(parsed.spec.hosts, ['catalog.istioinaction.io']);
    assert.match(json.stdout, /^\{\n {4}"apiVersion": "networking\.istio\.io\/v1/);
    const yaml = await skiff(['get', 'svc', 'catalog', '-n', 'istioinaction', '-o', 'yaml', ...server()]);
    assert.match(yaml.stdout, /^apiVersion: v1\nkind: Service\nmetadata:\n/);
    assert.match(yaml.stdout, /\n {2}ports:\n {2}- name: http\n/);
  });

  it('fails on unknown objects and kinds as kubectl does', async () => {
    const missing = await skiff(['get', 'pod', 'nope', '-n', 'istioinaction', ...server()]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
    const kind = await skiff(['get', 'widgets', ...server()]);
    assert.equal(kind.code, 1);
    assert.equal(kind.stderr, 'Error: the server doesn\'t have a resource type "widgets"\n');
    const format = await skiff(['get', 'pods', '-o', 'table', ...server()]);
    assert.equal(format.code, 64);
  });

  it('patches with a JSON patch and reads the change back through a jsonpath filter', async () => {
    const r = await skiff([
      'patch',
      'vs',
      'catalog-v1-v2',
      '-n',
      'istioinaction',
      '--type',
      'json',
      '-p',
      '[{"op": "add", "path": "/spec/http/0/timeout", "value": "0.5s"}]',
      ...server(),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'virtualservice.networking.istio.io/catalog-v1-v2 patched\n');
    const got = await skiff([
      'get',
      'vs',
      'catalog-v1-v2',
      '-n',
      'istioinaction',
      '-o',
      'jsonpath={.spec.http[?(@.timeout=="0.5s")].timeout}',
      ...server(),
    ]);
    assert.equal(got.stdout, '0.5s');
    const again = await skiff([
      'patch',
      'vs',
      'catalog-v1-v2',
      '-n',
      'istioinaction',
      '--type',
      'merge',
      '-p',
      '{"spec":{"hosts":["catalog.istioinaction.io"]}}',
      ...server(),
    ]);
    assert.equal(again.stdout, 'virtualservice.networking.istio.io/catalog-v1-v2 patched (no change)\n');
  });

  it('merges service ports by port number on a strategic patch, and refuses one for Istio kinds', async () => {
    const r = await skiff([
      'patch',
      'svc',
      'istio-ingressgateway',
      '-n',
      'istio-system',
      '-p',
      '{"spec": {"ports": [{"port": 443, "targetPort": 8443, "nodePort": 30006}]}}',
      ...server(),
    ]);
    assert.equal(r.stdout, 'service/istio-ingressgateway patched\n', r.stderr);
    const ports = await skiff([
      'get',
      'svc',
      'istio-ingressgateway',
      '-n',
      'istio-system',
      '-o',
      'jsonpath={.spec.ports[*].nodePort}',
      ...server(),
    ]);
    assert.equal(ports.stdout, '30000 30006');
    const refused = await skiff([
      'patch',
      'gw',
      'catalog-gateway',
      '-n',
      'istioinaction',
      '-p',
      '{"spec":{}}',
      ...server(),
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: Error from server \(UnsupportedMediaType\): /);
  });

  it('labels and unlabels, refusing to overwrite without --overwrite', async () => {
    const add = await skiff(['label', 'ns', 'istioinaction', 'team=mesh', ...server()]);
    assert.equal(add.stdout, 'namespace/istioinaction labeled\n', add.stderr);
    const clash = await skiff(['label', 'ns', 'istioinaction', 'team=other', ...server()]);
    assert.equal(clash.code, 1);
    assert.equal(clash.stderr, "Error: 'team' already has a value (mesh), and --overwrite is false\n");
    const remove = await skiff(['label', 'ns', 'istioinaction', 'team-', ...server()]);
    assert.equal(remove.stdout, 'namespace/istioinaction unlabeled\n');
    const shown = await skiff(['get', 'ns', 'istioinaction', '--show-labels', ...server()]);
    assert.match(
      shown.stdout,
      /NAME {12}STATUS {3}AGE {5}LABELS\nistioinaction {3}Active {3}3h50m {3}istio-injection=enabled\n/,
    );
  });

  it('deletes by name and from a file, with kubectl result lines', async () => {
    seedStore(store, readFileSync(join(FIXTURES, 'destinationrule.yaml'), 'utf8'));
    const file = join(FIXTURES, 'destinationrule.yaml');
    const r = await skiff(['delete', '-f', file, ...server()]);
    assert.equal(r.stdout, 'destinationrule.networking.istio.io "catalog" deleted\n', r.stderr);
    const again = await skiff(['delete', '-f', file, ...server()]);
    assert.equal(again.code, 1);
    assert.equal(
      again.stderr,
      `Error from server (NotFound): error when deleting "${file}": destinationrules.networking.istio.io "catalog" not found\n`,
    );
    const gone = await skiff(['delete', 'pod', 'nope', '-n', 'istioinaction', ...server()]);
    assert.equal(gone.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  });

  it('explains how to reach a lab when none is running', async () => {
    const r = await skiff(['get', 'pods', '--state-dir', join(ROOT, 'test/fixtures/describe/no-lab')]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error: skiff is not running in .*no-lab: start it with `skiff up` \(or pass --server\)\n$/,
    );
    const viaEnv = await skiff(['get', 'ns', 'istioinaction'], { SKIFF_SERVER: api.url });
    assert.match(viaEnv.stdout, /^NAME {12}STATUS {3}AGE\n/);
  });
});
