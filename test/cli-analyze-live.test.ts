import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { ROOT } from './helpers.js';

const FIXTURES = join(ROOT, 'test/fixtures/describe');

describe('skiff analyze against a live mesh', () => {
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

  it('finds the subsets without a DestinationRule in the running mesh (IST0101, exit 79)', async () => {
    const r = await skiff(['analyze', '-n', 'istioinaction', '--server', api.url]);
    assert.equal(r.code, 79, r.stderr);
    const ist0101 = r.stdout.split('\n').filter((l) => l.startsWith('Error [IST0101]'));
    assert.equal(ist0101.length, 2, r.stdout);
    assert.match(ist0101[0] ?? '', /VirtualService istioinaction\/catalog-v1-v2\)/);
    assert.match(r.stderr, /Error: Analyzers found issues when analyzing namespace: istioinaction\./);
  });

  it('overlays files on the live objects, as istioctl does', async () => {
    const r = await skiff([
      'analyze',
      '-n',
      'istioinaction',
      '--server',
      api.url,
      join(FIXTURES, 'destinationrule.yaml'),
    ]);
    assert.doesNotMatch(r.stdout, /IST0101/);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('analyzes files only with --use-kube=false, and says what to do when there is nothing', async () => {
    const r = await skiff(['analyze', '-n', 'istioinaction', '--use-kube=false', '--server', api.url]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /nothing to analyze: give files, directories or -, or start the mesh with `skiff up`/,
    );
  });
});
