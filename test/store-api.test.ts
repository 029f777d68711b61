import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeStatus, StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';

const VS_PATH = '/apis/networking.istio.io/v1beta1/namespaces/istioinaction/virtualservices';
const POD_PATH = '/api/v1/namespaces/istioinaction/pods';

function vs(name: string, host = 'catalog', rv?: string) {
  return {
    apiVersion: 'networking.istio.io/v1beta1',
    kind: 'VirtualService',
    metadata: { name, namespace: 'istioinaction', ...(rv ? { resourceVersion: rv } : {}) },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

describe('store REST API', () => {
  let store: ObjectStore;
  let api: StoreApiServer;

  async function call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<Reply> {
    const init: RequestInit = { method, headers: { 'Content-Type': contentType } };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await fetch(`${api.url}${path}`, init);
    const text = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  function assertStatus(reply: Reply, code: number, message?: RegExp): KubeStatus {
    assert.equal(reply.status, code, JSON.stringify(reply.body));
    const status = reply.body as unknown as KubeStatus;
    assert.equal(status.kind, 'Status');
    assert.equal(status.apiVersion, 'v1');
    assert.equal(status.status, 'Failure');
    assert.equal(status.code, code);
    if (message) assert.match(status.message, message);
    return status;
  }

  before(async () => {
    store = ObjectStore.open({ stateDir: null, historyLimit: 50 });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it('serves discovery documents', async () => {
    const core = await call('GET', '/api');
    assert.deepEqual(core.body['versions'], ['v1']);
    const groups = await call('GET', '/apis');
    const networking = (
      groups.body['groups'] as {
        name: string;
        preferredVersion: { version: string };
        versions: { version: string }[];
      }[]
    ).find((g) => g.name === 'networking.istio.io');
    assert.ok(networking);
    assert.deepEqual(
      networking.versions.map((v) => v.version),
      ['v1', 'v1beta1', 'v1alpha3'],
    );
    assert.equal(networking.preferredVersion.version, 'v1');
    const resources = await call('GET', '/apis/networking.istio.io/v1beta1');
    assert.equal(resources.body['kind'], 'APIResourceList');
    const list = resources.body['resources'] as {
      name: string;
      kind: string;
      namespaced: boolean;
      shortNames?: string[];
    }[];
    const vsResource = list.find((r) => r.name === 'virtualservices');
    assert.deepEqual(vsResource && [vsResource.kind, vsResource.namespaced, vsResource.shortNames], [
      'VirtualService',
      true,
      ['vs'],
    ]);
    const v1 = (await call('GET', '/api/v1')).body['resources'] as { name: string; namespaced: boolean }[];
    assert.equal(v1.find((r) => r.name === 'namespaces')?.namespaced, false);
    assert.ok(v1.some((r) => r.name === 'pods/status'));
    assert.equal((await call('GET', '/apis/apps')).body['kind'], 'APIGroup');
    assert.equal((await call('GET', '/version')).body['major'], '1');
    assertStatus(await call('GET', '/apis/nope.example.com/v1'), 404);
  });

  it('creates, reads, lists, updates and deletes objects', async () => {
    const ns = await call('POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'istioinaction' },
    });
    assert.equal(ns.status, 201);
    assert.equal((await call('GET', '/api/v1/namespaces/istioinaction')).status, 200);

    const created = await call('POST', VS_PATH, vs('catalog-vs'));
    assert.equal(created.status, 201);
    const meta = created.body['metadata'] as Record<string, unknown>;
    assert.equal(meta['generation'], 1);
    assert.match(String(meta['uid']), /^[0-9a-f-]{36}$/);
    const rv = String(meta['resourceVersion']);

    const got = await call('GET', `${VS_PATH}/catalog-vs`);
    assert.deepEqual(got.body, created.body);
    const older = await call(
      'GET',
      '/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/virtualservices/catalog-vs',
    );
    assert.equal(older.body['apiVersion'], 'networking.istio.io/v1alpha3');

    const list = await call('GET', VS_PATH);
    assert.equal(list.body['kind'], 'VirtualServiceList');
    assert.equal(list.body['apiVersion'], 'networking.istio.io/v1beta1');
    assert.equal(
      (list.body['metadata'] as Record<string, unknown>)['resourceVersion'],
      store.resourceVersion,
    );
    assert.deepEqual(
      (list.body['items'] as { metadata: { name: string } }[]).map((i) => i.metadata.name),
      ['catalog-vs'],
    );
    const everywhere = await call('GET', '/apis/networking.istio.io/v1beta1/virtualservices');
    assert.equal((everywhere.body['items'] as unknown[]).length, 1);

    const updated = await call('PUT', `${VS_PATH}/catalog-vs`, vs('catalog-vs', 'catalog2', rv));
    assert.equal(updated.status, 200);
    assert.equal((updated.body['metadata'] as Record<string, unknown>)['generation'], 2);
    assertStatus(
      await call('PUT', `${VS_PATH}/catalog-vs`, vs('catalog-vs', 'catalog3', rv)),
      409,
      /the object has been modified/,
    );
    assertStatus(
      await call('PUT', `${VS_PATH}/other-name`, vs('catalog-vs')),
      400,
      /does not match the name on the URL/,
    );

    const deleted = await call('DELETE', `${VS_PATH}/catalog-vs`);
    assert.equal(deleted.status, 200);
    const gone = assertStatus(await call('GET', `${VS_PATH}/catalog-vs`), 404);
    assert.equal(gone.message, 'virtualservices.networking.istio.io "catalog-vs" not found');
    assert.equal(gone.reason, 'NotFound');
  });

  it('patches with JSON patch and merge patch, and refuses other patch types', async () => {
    await call('POST', VS_PATH, vs('patched'));
    const merged = await call(
      'PATCH',
      `${VS_PATH}/patched`,
      { metadata: { labels: { app: 'catalog' } } },
      'application/merge-patch+json',
    );
    assert.equal(merged.status, 200);
    assert.deepEqual((merged.body['metadata'] as Record<string, unknown>)['labels'], { app: 'catalog' });
    const jsonPatched = await call(
      'PATCH',
      `${VS_PATH}/patched`,
      [{ op: 'add', path: '/spec/http/0/timeout', value: '0.5s' }],
      'application/json-patch+json',
    );
    assert.equal(jsonPatched.status, 200);
    assert.equal(
      ((jsonPatched.body['spec'] as { http: { timeout: string }[] }).http[0] as { timeout: string }).timeout,
      '0.5s',
    );
    assertStatus(
      await call('PATCH', `${VS_PATH}/patched`, {}, 'application/strategic-merge-patch+json'),
      415,
    );
    assertStatus(
      await call(
        'PATCH',
        `${VS_PATH}/patched`,
        [{ op: 'test', path: '/spec/hosts/0', value: 'nope' }],
        'application/json-patch+json',
      ),
      422,
    );
    assertStatus(await call('PATCH', `${VS_PATH}/missing`, {}, 'application/merge-patch+json'), 404);
  });

  it('refuses invalid config with the webhook message and stores nothing', async () => {
    const rvBefore = store.resourceVersion;
    const bad = vs('bad');
    (bad.spec.http[0] as Record<string, unknown>)['timeout'] = 'soon';
    const reply = await call('POST', VS_PATH, bad);
    const status = assertStatus(reply, 400);
    assert.equal(
      status.message,
      'admission webhook "validation.istio.io" denied the request: error decoding configuration: bad Duration: time: invalid duration "soon"',
    );
    assert.equal(status.reason, undefined);
    assertStatus(await call('GET', `${VS_PATH}/bad`), 404);
    assert.equal(store.resourceVersion, rvBefore);
  });

  it('filters lists by label and field selectors', async () => {
    const pod = (name: string, app: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { app } },
      spec: { containers: [{ name: 'app', image: 'x' }] },
    });
    for (const [name, app, ip] of [
      ['catalog-1', 'catalog', '127.10.0.1'],
      ['catalog-2', 'catalog', '127.10.0.2'],
      ['webapp-1', 'webapp', '127.10.0.3'],
    ] as const) {
      assert.equal((await call('POST', POD_PATH, pod(name, app))).status, 201);
      const status = await call('PUT', `${POD_PATH}/${name}/status`, {
        ...pod(name, app),
        status: { phase: 'Running', podIP: ip },
      });
      assert.equal((status.body['status'] as Record<string, unknown>)['podIP'], ip);
    }
    const names = async (query: string) =>
      ((await call('GET', `${POD_PATH}?${query}`)).body['items'] as { metadata: { name: string } }[]).map(
        (i) => i.metadata.name,
      );
    assert.deepEqual(await names(`labelSelector=${encodeURIComponent('app in (catalog)')}`), [
      'catalog-1',
      'catalog-2',
    ]);
    assert.deepEqual(await names(`fieldSelector=${encodeURIComponent('status.podIP=127.10.0.3')}`), [
      'webapp-1',
    ]);
    assert.deepEqual(await names(`labelSelector=app%3Dcatalog&fieldSelector=metadata.name%21%3Dcatalog-1`), [
      'catalog-2',
    ]);
    assertStatus(await call('GET', `${POD_PATH}?labelSelector=${encodeURIComponent('app in catalog')}`), 400);
    assertStatus(
      await call('GET', `${POD_PATH}?fieldSelector=spec.secret%3Dx`),
      400,
      /field label not supported/,
    );
  });

  it('streams watch events from a resourceVersion', async () => {
    const from = store.resourceVersion;
    const controller = new AbortController();
    const res = await fetch(`${api.url}${VS_PATH}?watch=true&resourceVersion=${from}`, {
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const events: { type: string; object: { metadata: { name: string; resourceVersion: string } } }[] = [];
    const next = async () => {
      while (!buffer.includes('\n')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('watch stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
      const line = buffer.slice(0, buffer.indexOf('\n'));
      buffer = buffer.slice(buffer.indexOf('\n') + 1);
      events.push(JSON.parse(line) as (typeof events)[number]);
    };
    await call('POST', VS_PATH, vs('watched'));
    await call('PATCH', `${VS_PATH}/watched`, { spec: { hosts: ['x'] } }, 'application/merge-patch+json');
    await call('POST', POD_PATH, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'not-a-vs' },
      spec: { containers: [{ name: 'a', image: 'b' }] },
    });
    await call('DELETE', `${VS_PATH}/watched`);
    for (let i = 0; i < 3; i++) await next();
    controller.abort();
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'watched'],
        ['MODIFIED', 'watched'],
        ['DELETED', 'watched'],
      ],
    );
    assert.ok(Number(events[2]?.object.metadata.resourceVersion) > Number(from));
  });

  it('answers a watch from an expired resourceVersion with a 410 ERROR event', async () => {
    for (let i = 0; i < 60; i++)
      await call('POST', '/api/v1/namespaces/default/configmaps', {
        metadata: { name: `cm-${i}` },
        data: {},
      });
    const res = await fetch(`${api.url}/api/v1/configmaps?watch=1&resourceVersion=1`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const event = JSON.parse(text.trim()) as { type: string; object: KubeStatus };
    assert.equal(event.type, 'ERROR');
    assert.equal(event.object.code, 410);
    assert.match(event.object.message, /^too old resource version: 1 \(\d+\)$/);
  });

  it('answers bad input with Status errors and keeps serving', async () => {
    assertStatus(await call('POST', VS_PATH, '{"apiVersion": '), 400, /json parse error/);
    assertStatus(await call('POST', VS_PATH, '[1,2]'), 400);
    assertStatus(await call('POST', VS_PATH, ''), 400);
    assertStatus(await call('GET', '/apis/networking.istio.io/v1beta1/namespaces/x/virtualservicez'), 404);
    assertStatus(await call('GET', '/nothing/here'), 404, /could not find the requested resource/);
    assertStatus(await call('GET', '/api/v1/pods/name-without-namespace'), 404);
    assertStatus(await call('GET', `${VS_PATH}/a/b/c`), 404);
    assertStatus(await call('GET', '/api/v1/namespaces/%E0%A4%A/pods'), 404);
    assertStatus(await call('PUT', VS_PATH, vs('x')), 405);
    assertStatus(
      await call('POST', VS_PATH, { ...vs('x'), kind: 'DestinationRule' }),
      400,
      /does not match the expected kind/,
    );
    assertStatus(
      await call('POST', VS_PATH, { ...vs('x'), apiVersion: 'networking.istio.io/v1alpha3' }),
      400,
      /API version/,
    );
    assertStatus(
      await call('POST', VS_PATH, { ...vs('x'), metadata: { name: 'x', namespace: 'elsewhere' } }),
      400,
      /namespace/,
    );
    assertStatus(await call('POST', VS_PATH, vs('x'), 'text/plain'), 415);
    const huge = JSON.stringify({
      ...vs('huge'),
      metadata: { name: 'huge', annotations: { a: 'x'.repeat(4 * 1024 * 1024) } },
    });
    assertStatus(await call('POST', VS_PATH, huge), 413, /Request entity too large: limit is 3145728/);
    // YAML bodies are accepted, as the API server accepts them.
    const yaml = await call(
      'POST',
      VS_PATH,
      [
        'apiVersion: networking.istio.io/v1beta1',
        'kind: VirtualService',
        'metadata:',
        '  name: from-yaml',
        'spec:',
        '  hosts: [catalog]',
        '  http:',
        '  - route:',
        '    - destination: {host: catalog}',
      ].join('\n'),
      'application/yaml',
    );
    assert.equal(yaml.status, 201, JSON.stringify(yaml.body));
    assertStatus(await call('POST', VS_PATH, 'a: [', 'application/yaml'), 400);
    const deep = `{"apiVersion":"networking.istio.io/v1beta1","kind":"VirtualService","metadata":{"name":"deep"},"spec":${'['.repeat(100000)}${']'.repeat(100000)}}`;
    assertStatus(await call('POST', VS_PATH, deep), 400, /nested more than 1000 levels/);
    // A doubled slash is not read as a host name.
    assert.equal((await call('GET', '//api/v1/pods')).body['kind'], 'PodList');
    const health = await fetch(`${api.url}/healthz`);
    assert.equal(await health.text(), 'ok');
  });
});
