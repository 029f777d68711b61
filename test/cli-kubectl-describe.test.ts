import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/describe');

describe('skiff x describe against the REST API and files', () => {
  let store: ObjectStore;
  let api: StoreApiServer;

  before(async () => {
    store = ObjectStore.open({ stateDir: null });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    seedStore(store, readFileSync(join(FIXTURES, 'lab-pods.yaml'), 'utf8'));
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it('reproduces the seed before and after the DestinationRule is applied', async () => {
    const before = await skiff([
      'x',
      'des',
      'pod',
      '-n',
      'istioinaction',
      'catalog-6cf4b97d-7d6gb',
      '--server',
      api.url,
    ]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(
      before.stdout,
      /\nExposed on Ingress Gateway http:\/\/172\.18\.0\.2\nVirtualService: catalog-v1-v2\n {3}WARNING: No destinations match pod subsets \(checked 1 HTTP routes\)\n {6}Warning: Route to subset version-v1 but NO DESTINATION RULE defining subsets!\n {6}Warning: Route to subset version-v2 but NO DESTINATION RULE defining subsets!\n$/,
    );
    seedStore(store, readFileSync(join(FIXTURES, 'destinationrule.yaml'), 'utf8'));
    const afterDr = await skiff([
      'experimental',
      'describe',
      'pod',
      'catalog-6cf4b97d-7d6gb.istioinaction',
      '-n',
      'istioinaction',
      '--server',
      api.url,
    ]);
    assert.match(
      afterDr.stdout,
      /DestinationRule: catalog for "catalog\.istioinaction\.svc\.cluster\.local"\n {3}Matching subsets: version-v1\n {6}\(Non-matching subsets version-v2\)\n {3}No Traffic Policy\n/,
    );
    assert.match(afterDr.stdout, /VirtualService: catalog-v1-v2\n {3}Weight 20%\n$/);
  });

  it('describes a service', async () => {
    const r = await skiff(['x', 'describe', 'svc', 'catalog', '-n', 'istioinaction', '--server', api.url]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Service: catalog\n {3}Port: http 80\/HTTP targets pod port 3000\n/);
  });

  it('fails with istioctl errors for missing objects and arguments', async () => {
    const missing = await skiff(['x', 'des', 'pod', 'nope', '-n', 'istioinaction', '--server', api.url]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error: pods "nope" not found\n');
    const none = await skiff(['x', 'des', 'pod', '--server', api.url]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, 'Error: expecting pod name\n');
  });

  it('describes manifests given with -f, without a lab', async () => {
    const r = await skiff([
      'x',
      'des',
      'pod',
      'catalog-v2-56c97f6db-8wnq6',
      '-n',
      'istioinaction',
      '-f',
      join(FIXTURES, 'lab-pods.yaml'),
      '-f',
      join(FIXTURES, 'destinationrule.yaml'),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Pod: catalog-v2-56c97f6db-8wnq6\n/);
    assert.match(r.stdout, /VirtualService: catalog-v1-v2\n {3}Weight 80%\n$/);
    const bad = await skiff(['x', 'des', 'pod', 'x', '-f', join(FIXTURES, 'missing.yaml')]);
    assert.equal(bad.code, 65);
  });
});
