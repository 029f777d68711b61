import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KIND } from '../src/api/index.js';
import type { KubeObject, WatchEvent } from '../src/store/index.js';
import {
  ObjectStore,
  StoreError,
  StoreOrigin,
  parseFieldSelector,
  parseLabelSelector,
} from '../src/store/index.js';

function memoryStore(): ObjectStore {
  return ObjectStore.open({ stateDir: null });
}

function vs(name: string, host = 'catalog', extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'istioinaction', labels: { app: 'catalog' }, ...extra },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

function pod(name: string, labels: Record<string, string>, status: Record<string, unknown> = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'istioinaction', labels },
    spec: { containers: [{ name: 'app', image: 'catalog:latest' }] },
    status,
  };
}

function storeError(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to throw');
}

describe('ObjectStore CRUD', () => {
  it('creates objects with uid, resourceVersion, generation and creationTimestamp', () => {
    const store = memoryStore();
    const a = store.create(vs('a'));
    const b = store.create(vs('b'));
    assert.match(
      a.metadata.uid as string,
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    assert.equal(a.metadata.resourceVersion, '1');
    assert.equal(b.metadata.resourceVersion, '2');
    assert.equal(a.metadata.generation, 1);
    assert.match(a.metadata.creationTimestamp as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.notEqual(a.metadata.uid, b.metadata.uid);
    assert.equal(store.resourceVersion, '2');
    assert.deepEqual(Object.keys(a).slice(0, 3), ['apiVersion', 'kind', 'metadata']);
    assert.equal(store.get(KIND.VirtualService, 'istioinaction', 'a'), a);
    assert.equal(store.get(KIND.VirtualService, 'default', 'a'), undefined);
  });

  it('ignores server fields a client sends and defaults the namespace', () => {
    const store = memoryStore();
    const created = store.create({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm', uid: 'mine', resourceVersion: '99', generation: 7 },
      data: { a: '1' },
    });
    assert.notEqual(created.metadata.uid, 'mine');
    assert.equal(created.metadata.resourceVersion, '1');
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.metadata.namespace, 'default');
  });

  it('refuses a second object with the same name (409 AlreadyExists) without a new resourceVersion', () => {
    const store = memoryStore();
    store.create(vs('a'));
    const err = storeError(() => store.create(vs('a')));
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'AlreadyExists');
    assert.equal(err.message, 'virtualservices.networking.istio.io "a" already exists');
    assert.equal(store.resourceVersion, '1');
  });

  it('bumps generation only when the spec changes, and keeps uid and creationTimestamp', () => {
    const store = memoryStore();
    const created = store.create(vs('a'));
    const relabeled = store.update({
      ...vs('a'),
      metadata: { ...(vs('a').metadata as object), labels: { x: 'y' } },
    });
    assert.equal(relabeled.metadata.generation, 1);
    assert.equal(relabeled.metadata.resourceVersion, '2');
    assert.equal(relabeled.metadata.uid, created.metadata.uid);
    assert.equal(relabeled.metadata.creationTimestamp, created.metadata.creationTimestamp);
    const rehosted = store.update(vs('a', 'catalog2'));
    assert.equal(rehosted.metadata.generation, 2);
    assert.equal(rehosted.metadata.resourceVersion, '3');
  });

  it('treats an update that changes nothing as no write', () => {
    const store = memoryStore();
    const created = store.create(vs('a'));
    const same = store.update(vs('a'));
    assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.equal(store.resourceVersion, '1');
  });

  it('rejects an update with a stale resourceVersion (409 Conflict) and changes nothing', () => {
    const store = memoryStore();
    store.create(vs('a'));
    store.update(vs('a', 'other'));
    const stale = {
      ...vs('a', 'third'),
      metadata: { name: 'a', namespace: 'istioinaction', resourceVersion: '1' },
    };
    const err = storeError(() => store.update(stale));
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
    assert.match(
      err.message,
      /^Operation cannot be fulfilled on virtualservices\.networking\.istio\.io "a": the object has been modified/,
    );
    const spec = store.get(KIND.VirtualService, 'istioinaction', 'a')?.['spec'] as { hosts: string[] };
    assert.deepEqual(spec.hosts, ['other']);
    // The current version is accepted.
    const ok = store.update({
      ...vs('a', 'third'),
      metadata: { name: 'a', namespace: 'istioinaction', resourceVersion: '2' },
    });
    assert.equal(ok.metadata.resourceVersion, '3');
  });

  it('returns 404 NotFound for updates, patches and deletes of missing objects', () => {
    const store = memoryStore();
    for (const fn of [
      () => store.update(vs('nope')),
      () => store.patch(KIND.VirtualService, 'istioinaction', 'nope', 'merge', { spec: {} }),
      () => store.delete(KIND.VirtualService, 'istioinaction', 'nope'),
    ]) {
      const err = storeError(fn);
      assert.equal(err.code, 404);
      assert.equal(err.message, 'virtualservices.networking.istio.io "nope" not found');
    }
    assert.equal(storeError(() => store.delete(KIND.Pod, 'x', 'p')).message, 'pods "p" not found');
  });

  it('keeps status on a main update and changes only status through updateStatus', () => {
    const store = memoryStore();
    store.create(pod('p1', { app: 'a' }, { phase: 'Pending' }));
    const updated = store.update(pod('p1', { app: 'b' }, { phase: 'Running' }));
    assert.deepEqual(updated['status'], { phase: 'Pending' });
    assert.deepEqual(updated.metadata.labels, { app: 'b' });
    const statusOnly = store.updateStatus({
      ...pod('p1', { app: 'ignored' }),
      status: { phase: 'Running', podIP: '127.10.0.5' },
    });
    assert.deepEqual(statusOnly['status'], { phase: 'Running', podIP: '127.10.0.5' });
    assert.deepEqual(statusOnly.metadata.labels, { app: 'b' });
    assert.equal(statusOnly.metadata.generation, 1);
  });

  it('deletes objects with a new resourceVersion, honouring preconditions', () => {
    const store = memoryStore();
    const created = store.create(vs('a'));
    const err = storeError(() =>
      store.delete(KIND.VirtualService, 'istioinaction', 'a', { preconditions: { uid: 'other' } }),
    );
    assert.equal(err.code, 409);
    const deleted = store.delete(KIND.VirtualService, 'istioinaction', 'a', {
      preconditions: { resourceVersion: created.metadata.resourceVersion },
    });
    assert.equal(deleted.metadata.resourceVersion, '2');
    assert.equal(store.get(KIND.VirtualService, 'istioinaction', 'a'), undefined);
  });

  it('deleting a namespace deletes what is in it', () => {
    const store = memoryStore();
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istioinaction' } });
    store.create(vs('a'));
    store.create({ ...vs('b'), metadata: { name: 'b', namespace: 'other' } });
    const ns = store.get(KIND.Namespace, undefined, 'istioinaction');
    assert.deepEqual(ns?.['status'], { phase: 'Active' });
    assert.equal(ns?.metadata.namespace, undefined);
    store.delete(KIND.Namespace, undefined, 'istioinaction');
    assert.equal(store.get(KIND.VirtualService, 'istioinaction', 'a'), undefined);
    assert.ok(store.get(KIND.VirtualService, 'other', 'b'));
  });

  it('generates names from generateName', () => {
    const store = memoryStore();
    const p = store.create({
      ...pod('', { app: 'a' }),
      metadata: { generateName: 'catalog-6cf4b97d-', namespace: 'istioinaction' },
    });
    assert.match(p.metadata.name, /^catalog-6cf4b97d-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  it('hands out frozen objects, so readers cannot change the store behind its back', () => {
    const store = memoryStore();
    const a = store.create(vs('a'));
    assert.throws(() => {
      (a.metadata as Record<string, unknown>)['name'] = 'b';
    }, TypeError);
  });

  it('refuses objects of unknown kinds and malformed objects with Status errors', () => {
    const store = memoryStore();
    assert.equal(
      storeError(() => store.create({ apiVersion: 'v1', kind: 'Nope', metadata: { name: 'x' } })).code,
      404,
    );
    assert.equal(storeError(() => store.create('text')).code, 400);
    const err = storeError(() =>
      store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: { a: 1 } } }),
    );
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.equal(
      storeError(() => store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } }))
        .code,
      422,
    );
    assert.equal(store.size, 0);
  });
});

describe('ObjectStore selectors', () => {
  const store = memoryStore();
  store.create(pod('p1', { app: 'catalog', version: 'v1' }, { phase: 'Running', podIP: '127.10.0.1' }));
  store.create(pod('p2', { app: 'catalog', version: 'v2' }, { phase: 'Running', podIP: '127.10.0.2' }));
  store.create(pod('p3', { app: 'webapp' }, { phase: 'Pending' }));
  const names = (labelSelector?: string, fieldSelector?: string) =>
    store.list(KIND.Pod, { labelSelector, fieldSelector }).items.map((o) => o.metadata.name);

  it('selects by labels: equality, inequality, sets, existence', () => {
    assert.deepEqual(names('app=catalog'), ['p1', 'p2']);
    assert.deepEqual(names('app==catalog,version!=v1'), ['p2']);
    assert.deepEqual(names('version in (v1, v3)'), ['p1']);
    assert.deepEqual(names('version notin (v1)'), ['p2', 'p3']);
    assert.deepEqual(names('version'), ['p1', 'p2']);
    assert.deepEqual(names('!version'), ['p3']);
    assert.deepEqual(names('app=catalog,!version'), []);
    assert.deepEqual(names(''), ['p1', 'p2', 'p3']);
  });

  it('selects by fields such as status.podIP and metadata.name', () => {
    assert.deepEqual(names(undefined, 'status.podIP=127.10.0.2'), ['p2']);
    assert.deepEqual(names(undefined, 'status.phase!=Running'), ['p3']);
    assert.deepEqual(names(undefined, 'metadata.name=p1,metadata.namespace=istioinaction'), ['p1']);
    assert.deepEqual(names('app=catalog', 'status.phase=Running,metadata.name!=p1'), ['p2']);
  });

  it('rejects bad selectors with 400', () => {
    for (const bad of ['app in v1', 'app=(', '!', 'a b', 'x notin ()']) {
      const err = storeError(() => parseLabelSelector(bad));
      assert.equal(err.code, 400, bad);
      assert.match(err.message, /unable to parse requirement/);
    }
    assert.equal(
      storeError(() => parseFieldSelector('spec.whatever=1', KIND.Pod)).message,
      'field label not supported: spec.whatever',
    );
    assert.equal(storeError(() => parseFieldSelector('novalue', KIND.Pod)).code, 400);
  });

  it('lists one namespace or all of them', () => {
    const s = memoryStore();
    s.create(vs('a'));
    s.create({ ...vs('b'), metadata: { name: 'b', namespace: 'other' } });
    assert.equal(s.list(KIND.VirtualService).items.length, 2);
    assert.deepEqual(
      s.list(KIND.VirtualService, { namespace: 'other' }).items.map((o) => o.metadata.name),
      ['b'],
    );
    assert.equal(s.list(KIND.VirtualService).resourceVersion, '2');
  });
});

describe('ObjectStore patches', () => {
  it('applies a JSON patch (RFC 6902) and bumps generation', () => {
    const store = memoryStore();
    store.create(vs('a'));
    const patched = store.patch(KIND.VirtualService, 'istioinaction', 'a', 'json', [
      { op: 'test', path: '/spec/hosts/0', value: 'catalog' },
      { op: 'add', path: '/spec/http/0/timeout', value: '0.5s' },
      { op: 'replace', path: '/metadata/labels/app', value: 'other' },
      { op: 'add', path: '/spec/hosts/-', value: 'extra' },
      { op: 'copy', from: '/spec/hosts/0', path: '/spec/gateways' },
      { op: 'remove', path: '/spec/gateways' },
      { op: 'move', from: '/spec/hosts/1', path: '/spec/hosts/0' },
    ]);
    const spec = patched['spec'] as { hosts: string[]; http: { timeout?: string }[] };
    assert.equal(spec.http[0]?.timeout, '0.5s');
    assert.deepEqual(spec.hosts, ['extra', 'catalog']);
    assert.equal(patched.metadata.labels?.['app'], 'other');
    assert.equal(patched.metadata.generation, 2);
  });

  it('fails a JSON patch whose test fails (422) or that is malformed (400), changing nothing', () => {
    const store = memoryStore();
    store.create(vs('a'));
    const failed = storeError(() =>
      store.patch(KIND.VirtualService, 'istioinaction', 'a', 'json', [
        { op: 'replace', path: '/spec/hosts/0', value: 'x' },
        { op: 'test', path: '/spec/hosts/0', value: 'catalog' },
      ]),
    );
    assert.equal(failed.code, 422);
    assert.equal(
      storeError(() => store.patch(KIND.VirtualService, 'istioinaction', 'a', 'json', { op: 'add' })).code,
      400,
    );
    assert.equal(
      storeError(() =>
        store.patch(KIND.VirtualService, 'istioinaction', 'a', 'json', [
          { op: 'remove', path: '/spec/nope' },
        ]),
      ).code,
      422,
    );
    assert.equal(
      storeError(() =>
        store.patch(KIND.VirtualService, 'istioinaction', 'a', 'json', [{ op: 'jump', path: '/' }]),
      ).code,
      400,
    );
    assert.equal(store.resourceVersion, '1');
  });

  it('applies a merge patch (RFC 7386): objects merge, null deletes, lists replace', () => {
    const store = memoryStore();
    store.create(vs('a', 'catalog', { annotations: { keep: 'yes', drop: 'me' } }));
    const patched = store.patch(KIND.VirtualService, 'istioinaction', 'a', 'merge', {
      metadata: { annotations: { drop: null, added: 'new' } },
      spec: { hosts: ['x', 'y'] },
    });
    assert.deepEqual(patched.metadata.annotations, { keep: 'yes', added: 'new' });
    assert.deepEqual((patched['spec'] as { hosts: string[] }).hosts, ['x', 'y']);
    assert.ok((patched['spec'] as { http?: unknown }).http, 'untouched fields stay');
  });

  it('keeps a __proto__ key in a patch as data, never as a prototype', () => {
    const store = memoryStore();
    store.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: '1' } });
    const patched = store.patch(
      KIND.ConfigMap,
      'default',
      'cm',
      'merge',
      JSON.parse('{"data": {"__proto__": {"polluted": "yes"}}}'),
    );
    const data = patched['data'] as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(data), Object.prototype);
    assert.equal((data as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it('uses a resourceVersion a patch sets as a precondition', () => {
    const store = memoryStore();
    store.create(vs('a'));
    store.update(vs('a', 'b'));
    const err = storeError(() =>
      store.patch(KIND.VirtualService, 'istioinaction', 'a', 'merge', {
        metadata: { resourceVersion: '1' },
        spec: { hosts: ['c'] },
      }),
    );
    assert.equal(err.code, 409);
  });

  it('refuses a patch that renames the object', () => {
    const store = memoryStore();
    store.create(vs('a'));
    const err = storeError(() =>
      store.patch(KIND.VirtualService, 'istioinaction', 'a', 'merge', { metadata: { name: 'b' } }),
    );
    assert.equal(err.code, 400);
    assert.ok(store.get(KIND.VirtualService, 'istioinaction', 'a'));
  });
});

describe('ObjectStore watches', () => {
  it('starts with ADDED for current objects, then streams changes', () => {
    const store = memoryStore();
    store.create(vs('a'));
    const events: WatchEvent[] = [];
    const w = store.watch({ kindKey: KIND.VirtualService }, (e) => events.push(e));
    store.update(vs('a', 'b'));
    store.create(pod('p', {}));
    store.delete(KIND.VirtualService, 'istioinaction', 'a');
    w.close();
    store.create(vs('after-close'));
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
      [
        ['ADDED', 'a', '1'],
        ['MODIFIED', 'a', '2'],
        ['DELETED', 'a', '4'],
      ],
    );
  });

  it('resumes from a resourceVersion, replaying only later events', () => {
    const store = memoryStore();
    store.create(vs('a'));
    store.create(vs('b'));
    store.update(vs('a', 'x'));
    const events: WatchEvent[] = [];
    store.watch({ kindKey: KIND.VirtualService, resourceVersion: '2' }, (e) => events.push(e));
    store.delete(KIND.VirtualService, 'istioinaction', 'b');
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name]),
      [
        ['MODIFIED', 'a'],
        ['DELETED', 'b'],
      ],
    );
  });

  it('says 410 Gone for a resourceVersion older than the history it keeps', () => {
    const store = ObjectStore.open({ stateDir: null, historyLimit: 2 });
    for (const n of ['a', 'b', 'c', 'd']) store.create(vs(n));
    const err = storeError(() => store.watch({ resourceVersion: '1' }, () => undefined));
    assert.equal(err.code, 410);
    assert.match(err.message, /^too old resource version: 1 \(2\)$/);
    const events: WatchEvent[] = [];
    store.watch({ resourceVersion: '2' }, (e) => events.push(e));
    assert.deepEqual(
      events.map((e) => e.object.metadata.name),
      ['c', 'd'],
    );
  });

  it('turns objects leaving or entering a label selection into DELETED and ADDED', () => {
    const store = memoryStore();
    store.create(pod('p', { app: 'catalog' }));
    const events: WatchEvent[] = [];
    store.watch({ kindKey: KIND.Pod, labelSelector: 'app=catalog', resourceVersion: '1' }, (e) =>
      events.push(e),
    );
    store.update(pod('p', { app: 'webapp' }));
    store.update(pod('p', { app: 'catalog' }));
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.resourceVersion]),
      [
        ['DELETED', '2'],
        ['ADDED', '3'],
      ],
    );
  });

  it('tells change listeners about every commit and survives a listener that throws', () => {
    const warnings: string[] = [];
    const store = ObjectStore.open({ stateDir: null, warn: (m) => warnings.push(m) });
    const seen: string[] = [];
    store.onChange(() => {
      throw new Error('boom');
    });
    const off = store.onChange((c) =>
      seen.push(`${c.type} ${c.kindKey} ${c.object.metadata.name} ${c.resourceVersion}`),
    );
    store.create(vs('a'));
    off();
    store.create(vs('b'));
    assert.deepEqual(seen, ['ADDED networking.istio.io/VirtualService a 1']);
    assert.equal(warnings.length, 2);
  });
});

describe('ObjectStore snapshot', () => {
  it('gives a ConfigSnapshot of Resources with store origins, cached until the next write', () => {
    const store = memoryStore();
    store.create(vs('a'));
    store.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istioinaction' } });
    const snap = store.snapshot();
    assert.equal(store.snapshot(), snap);
    const r = snap.get(KIND.VirtualService, 'istioinaction', 'a');
    assert.ok(r);
    assert.equal(r.kind, 'VirtualService');
    assert.equal(r.version, 'v1beta1');
    assert.ok(r.origin instanceof StoreOrigin);
    assert.equal((r.origin as StoreOrigin).source, 'store:VirtualService/istioinaction/a');
    assert.equal(r.origin.reference(), undefined);
    assert.ok(snap.namespaces().has('istioinaction'));
    store.delete(KIND.VirtualService, 'istioinaction', 'a');
    const next = store.snapshot();
    assert.notEqual(next, snap);
    assert.equal(next.get(KIND.VirtualService, 'istioinaction', 'a'), undefined);
  });
});

describe('ObjectStore admission', () => {
  const badVs = () => ({
    ...vs('bad'),
    spec: { hosts: ['catalog'], http: [{ route: [{ destination: { host: 'catalog' }, weight: -5 }] }] },
  });

  it('refuses invalid Istio config with the webhook denial and the validator message, changing nothing', () => {
    const store = memoryStore();
    const seen: unknown[] = [];
    store.onChange((c) => seen.push(c));
    const err = storeError(() => store.create(badVs()));
    assert.equal(err.code, 400);
    const status = err.toStatus();
    assert.equal(status.status, 'Failure');
    assert.equal(status.kind, 'Status');
    assert.match(
      status.message,
      /^admission webhook "validation\.istio\.io" denied the request: configuration is invalid: /,
    );
    assert.match(status.message, /weight -5 < 0/);
    assert.equal(store.size, 0);
    assert.equal(store.resourceVersion, '0');
    assert.deepEqual(seen, []);
  });

  it('refuses an update or patch that would make config invalid and keeps the old object', () => {
    const store = memoryStore();
    const created = store.create(vs('bad'));
    const err = storeError(() => store.update(badVs()));
    assert.match(err.message, /denied the request: configuration is invalid/);
    const viaPatch = storeError(() =>
      store.patch(KIND.VirtualService, 'istioinaction', 'bad', 'json', [
        { op: 'add', path: '/spec/http/0/timeout', value: 'soon' },
      ]),
    );
    assert.equal(viaPatch.code, 400);
    assert.match(
      viaPatch.message,
      /^admission webhook "validation\.istio\.io" denied the request: error decoding configuration: /,
    );
    assert.equal(store.get(KIND.VirtualService, 'istioinaction', 'bad'), created);
  });

  it('lists several errors in go-multierror form', () => {
    const store = memoryStore();
    const err = storeError(() =>
      store.create({
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'DestinationRule',
        metadata: { name: 'dr', namespace: 'istioinaction' },
        spec: { host: '', subsets: [{ name: '' }] },
      }),
    );
    assert.match(err.message, /configuration is invalid: \d+ errors occurred:\n\t\* /);
  });

  it('passes warnings of valid config back', () => {
    const store = memoryStore();
    const warnings: string[] = [];
    store.create(
      {
        apiVersion: 'networking.istio.io/v1beta1',
        kind: 'VirtualService',
        metadata: { name: 'w', namespace: 'istioinaction' },
        spec: {
          hosts: ['catalog'],
          http: [
            { match: [{ uri: { prefix: '/x' } }], route: [{ destination: { host: 'catalog' } }] },
            { match: [{ uri: { prefix: '/x' } }], route: [{ destination: { host: 'catalog' } }] },
          ],
        },
      },
      { warnings },
    );
    assert.deepEqual(warnings, [
      'virtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0)',
      'virtualService rule #1 not used (all matches used by prior rules)',
    ]);
    assert.ok(store.get(KIND.VirtualService, 'istioinaction', 'w'));
  });

  it('refuses invalid Kubernetes objects with a 422 Invalid in the API server wording', () => {
    const store = memoryStore();
    const err = storeError(() =>
      store.create({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'catalog', namespace: 'istioinaction' },
        spec: { ports: [{ port: 0 }] },
      }),
    );
    assert.equal(err.code, 422);
    assert.equal(err.reason, 'Invalid');
    assert.match(err.message, /^Service "catalog" is invalid: spec\.ports\[0\]\.port: /);
  });

  it('does not validate in dry-run only mode, but checks', () => {
    const store = memoryStore();
    const dry = store.create(vs('a'), { dryRun: true });
    assert.equal(dry.metadata.name, 'a');
    assert.equal(store.size, 0);
    assert.equal(storeError(() => store.create(badVs(), { dryRun: true })).code, 400);
    const noAdmission = ObjectStore.open({ stateDir: null, admission: false });
    assert.equal((noAdmission.create(badVs()) as KubeObject).metadata.name, 'bad');
  });
});
