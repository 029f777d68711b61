import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { KIND } from '../src/api/index.js';
import { ObjectStore, StateDirInUseError } from '../src/store/index.js';
import { tempDir } from './helpers.js';

function configMap(name: string, data: Record<string, string> = { a: '1' }) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'istio-system' }, data };
}

function vs(name: string, host: string) {
  return {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'VirtualService',
    metadata: { name, namespace: 'istioinaction' },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

function quiet(): { warn: (m: string) => void; warnings: string[] } {
  const warnings: string[] = [];
  return { warn: (m) => warnings.push(m), warnings };
}

describe('store persistence', () => {
  it('restores every object and the resourceVersion counter after reopening', () => {
    const dir = tempDir();
    const first = ObjectStore.open({ stateDir: dir });
    first.create(configMap('istio'));
    first.create(vs('a', 'catalog'));
    first.create(vs('b', 'webapp'));
    first.update(vs('a', 'catalog2'));
    first.delete(KIND.VirtualService, 'istioinaction', 'b');
    const before = first.all();
    first.close();

    const log = quiet();
    const second = ObjectStore.open({ stateDir: dir, warn: log.warn });
    assert.deepEqual(log.warnings, []);
    assert.equal(second.resourceVersion, '5');
    assert.deepEqual(
      second.all().sort((x, y) => x.metadata.name.localeCompare(y.metadata.name)),
      [...before].sort((x, y) => x.metadata.name.localeCompare(y.metadata.name)),
    );
    assert.equal(second.get(KIND.VirtualService, 'istioinaction', 'b'), undefined);
    const a = second.get(KIND.VirtualService, 'istioinaction', 'a');
    assert.equal(a?.metadata.generation, 2);
    assert.equal(second.create(configMap('next')).metadata.resourceVersion, '6');
    // The recovered objects are frozen like any other.
    assert.throws(() => {
      (a?.metadata as Record<string, unknown>)['name'] = 'x';
    }, TypeError);
    second.close();
  });

  it('ignores a torn last log line with a warning and keeps everything before it', () => {
    const dir = tempDir();
    const store = ObjectStore.open({ stateDir: dir });
    store.create(configMap('one'));
    store.create(configMap('two'));
    store.close();
    const wal = join(dir, 'store', 'wal.jsonl');
    assert.equal(readFileSync(wal, 'utf8').trim().split('\n').length, 2, 'both writes are in the log');
    appendFileSync(wal, '{"rv":3,"op":"put","object":{"apiVersion":"v1","kind":"Conf');

    const log = quiet();
    const reopened = ObjectStore.open({ stateDir: dir, warn: log.warn });
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0] as string, /wal\.jsonl:3: ignoring a torn last record/);
    assert.deepEqual(
      reopened.list(KIND.ConfigMap).items.map((o) => o.metadata.name),
      ['one', 'two'],
    );
    assert.equal(reopened.resourceVersion, '2');
    assert.equal(reopened.create(configMap('three')).metadata.resourceVersion, '3');
    reopened.close();
    // Startup compaction dropped the torn line for good.
    const again = quiet();
    const third = ObjectStore.open({ stateDir: dir, warn: again.warn });
    assert.deepEqual(again.warnings, []);
    assert.equal(third.list(KIND.ConfigMap).items.length, 3);
    third.close();
  });

  it('compacts the log into the snapshot once it reaches the threshold', () => {
    const dir = tempDir();
    const store = ObjectStore.open({ stateDir: dir, compactAfter: 3 });
    for (let i = 0; i < 7; i++) store.create(configMap(`cm-${i}`));
    const wal = readFileSync(join(dir, 'store', 'wal.jsonl'), 'utf8');
    assert.equal(wal.trim().split('\n').filter(Boolean).length, 1, 'six records were compacted away');
    const snapshot = JSON.parse(readFileSync(join(dir, 'store', 'snapshot.json'), 'utf8')) as {
      resourceVersion: string;
      objects: unknown[];
    };
    assert.equal(snapshot.resourceVersion, '6');
    assert.equal(snapshot.objects.length, 6);
    store.close();
    const reopened = ObjectStore.open({ stateDir: dir });
    assert.equal(reopened.size, 7);
    assert.equal(reopened.resourceVersion, '7');
    reopened.close();
  });

  it('makes a batch of writes durable with one sync, keeping writes made before a failure', () => {
    const dir = tempDir();
    const store = ObjectStore.open({ stateDir: dir });
    const seen: string[] = [];
    store.onChange((c) => seen.push(c.object.metadata.name));
    const count = store.batch(() => {
      for (let i = 0; i < 50; i++) store.create(configMap(`cm-${i}`));
      return store.size;
    });
    assert.equal(count, 50);
    assert.equal(seen.length, 50);
    assert.throws(() =>
      store.batch(() => {
        store.create(configMap('kept'));
        store.create(configMap('cm-0'));
      }),
    );
    store.close();
    const reopened = ObjectStore.open({ stateDir: dir });
    assert.equal(reopened.size, 51);
    assert.ok(reopened.get(KIND.ConfigMap, 'istio-system', 'kept'));
    reopened.close();
  });

  it('refuses a second store on a state dir that is in use', () => {
    const dir = tempDir();
    const store = ObjectStore.open({ stateDir: dir });
    assert.throws(() => ObjectStore.open({ stateDir: dir }), StateDirInUseError);
    store.close();
    ObjectStore.open({ stateDir: dir }).close();
  });

  it('refuses to guess when the snapshot is damaged', () => {
    const dir = tempDir();
    ObjectStore.open({ stateDir: dir }).close();
    writeFileSync(join(dir, 'store', 'snapshot.json'), '{"objects": [');
    assert.throws(() => ObjectStore.open({ stateDir: dir }), /cannot read store snapshot/);
    // The failed open released the directory.
    writeFileSync(join(dir, 'store', 'snapshot.json'), '{"resourceVersion":"0","objects":[]}');
    ObjectStore.open({ stateDir: dir }).close();
  });

  it('loses no acknowledged write when the process is killed mid-stream', async () => {
    const dir = tempDir();
    const storeModule = fileURLToPath(new URL('../src/store/index.js', import.meta.url));
    const script = `
      import { ObjectStore } from ${JSON.stringify(storeModule)};
      const store = ObjectStore.open({ stateDir: ${JSON.stringify(dir)}, compactAfter: 25 });
      for (let i = 0; ; i++) {
        store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-' + i, namespace: 'default' }, data: { i: String(i) } });
        process.stdout.write('acked cm-' + i + '\\n');
      }
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked: string[] = [];
    await new Promise<void>((resolve) => {
      let buffer = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) if (line.startsWith('acked ')) acked.push(line.slice(6));
        if (acked.length >= 60 && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    assert.ok(acked.length >= 60);
    const log = quiet();
    const store = ObjectStore.open({ stateDir: dir, warn: log.warn });
    for (const name of acked)
      assert.ok(store.get(KIND.ConfigMap, 'default', name), `${name} was acknowledged`);
    // Names are written in order: everything present is a prefix, with no gaps.
    const names = new Set(store.list(KIND.ConfigMap).items.map((o) => o.metadata.name));
    for (let i = 0; i < names.size; i++) assert.ok(names.has(`cm-${i}`));
    assert.equal(store.resourceVersion, String(names.size));
    store.close();
  });
});
