// `skiff edit` against the REST API with $EDITOR set to small scripts, as kubectl edit behaves: edited,
// cancelled (unchanged, emptied), a syntax error or an Invalid answer reopening the file, and giving up
// with the file kept when it comes back unchanged.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { tempDir } from './helpers.js';

const MESH = `apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    accessLogFile: /dev/stdout
    rootNamespace: istio-system
---
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: istio-system}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: 80, targetPort: 3000}]
`;

describe('skiff edit', () => {
  let store: ObjectStore;
  let api: StoreApiServer;
  let dir = '';

  /** An editor script: a shell body run with the file as $1. */
  function editor(name: string, body: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  const edit = (args: string[], editorPath: string) =>
    skiff(['edit', ...args, '--server', api.url], { EDITOR: editorPath, PATH: process.env['PATH'] ?? '' });

  before(async () => {
    dir = tempDir('skiff-edit-');
    store = ObjectStore.open({ stateDir: null });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    seedStore(store, MESH);
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it("applies what the editor saved: configmap/istio edited (the notes' accessLogEncoding: JSON)", async () => {
    const seen = join(dir, 'seen.yaml');
    const ed = editor(
      'json.sh',
      `cp "$1" ${seen}\nsed -i 's/^    accessLogFile: \\/dev\\/stdout$/    accessLogEncoding: JSON\\n    accessLogFile: \\/dev\\/stdout/' "$1"`,
    );
    const r = await edit(['-n', 'istio-system', 'cm', 'istio'], ed);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'configmap/istio edited\n');
    assert.equal(r.code, 0);
    const cm = store.get('/ConfigMap', 'istio-system', 'istio') as unknown as { data: { mesh: string } };
    assert.equal(
      cm.data.mesh,
      'accessLogEncoding: JSON\naccessLogFile: /dev/stdout\nrootNamespace: istio-system',
    );
    // What the editor was given: kubectl's header, then the object as YAML.
    const text = readFileSync(seen, 'utf8');
    assert.ok(
      text.startsWith(
        "# Please edit the object below. Lines beginning with a '#' will be ignored,\n" +
          '# and an empty file will abort the edit. If an error occurs while saving this file will be\n' +
          '# reopened with the relevant failures.\n#\napiVersion: v1\ndata:\n  mesh: |-\n',
      ),
      text,
    );
  });

  it('says Edit cancelled when nothing changed, or the file was emptied', async () => {
    const same = await edit(['configmap/istio', '-n', 'istio-system'], editor('same.sh', 'true'));
    assert.deepEqual([same.code, same.stdout, same.stderr], [0, '', 'Edit cancelled, no changes made.\n']);
    const empty = await edit(['configmap/istio', '-n', 'istio-system'], editor('empty.sh', ': > "$1"'));
    assert.deepEqual(
      [empty.code, empty.stdout, empty.stderr],
      [0, '', 'Edit cancelled, saved file was empty.\n'],
    );
  });

  it('reopens the file on a syntax error, and keeps it when saved again unchanged', async () => {
    const ed = editor('broken.sh', `grep -q 'syntax error' "$1" || echo 'data: [unclosed' >> "$1"`);
    const r = await edit(['cm', 'istio', '-n', 'istio-system'], ed);
    assert.equal(r.code, 1);
    const kept = /^A copy of your changes has been stored to "([^"]+)"$/m.exec(r.stderr)?.[1];
    assert.ok(kept && existsSync(kept), r.stderr);
    assert.match(r.stderr, /\nerror: Edit cancelled, no valid changes were saved\.\n$/);
    assert.match(readFileSync(kept, 'utf8'), /^# The edited file had a syntax error: /m);
    assert.equal(store.get('/ConfigMap', 'istio-system', 'istio')?.['metadata'] !== undefined, true);
  });

  it('shows an Invalid answer, reopens with the causes, and a fixed file goes through', async () => {
    // First pass: an invalid port; second pass (the header now names the cause): fix it.
    const ed = editor(
      'invalid.sh',
      `if grep -q 'was not valid' "$1"; then sed -i 's/port: 70000/port: 8080/' "$1"; else sed -i 's/port: 80$/port: 70000/' "$1"; fi`,
    );
    const r = await edit(['svc', 'catalog', '-n', 'istio-system'], ed);
    assert.equal(r.stderr, 'error: services "catalog" is invalid\n');
    assert.equal(r.stdout, 'service/catalog edited\n');
    const svc = store.get('/Service', 'istio-system', 'catalog') as unknown as {
      spec: { ports: { port: number }[] };
    };
    assert.equal(svc.spec.ports[0]?.port, 8080);
  });

  it('reports a missing object as kubectl does', async () => {
    const r = await edit(['cm', 'nothing', '-n', 'istio-system'], editor('never.sh', 'exit 3'));
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error from server (NotFound): configmaps "nothing" not found\n');
  });
});
