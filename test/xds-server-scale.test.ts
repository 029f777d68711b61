import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseManifests } from '../src/api/index.js';
import { ConfigSnapshot } from '../src/model/index.js';
import { DirectoryConfigSource } from '../src/pilot/index.js';
import type { ConfigChange } from '../src/pilot/index.js';
import {
  DecodeCache,
  ResourceCache,
  TYPE,
  XDS_TYPE,
  buildPushContext,
  decodeResources,
  encodeAny,
  encodeSotwResponse,
  envoyRoot,
  proxyFromNode,
  sidecarNode,
  sidecarScopeFor,
} from '../src/xds/index.js';
import { tempDir } from './helpers.js';

test('DecodeCache tells apart resources of equal length that differ past the sampled bytes', () => {
  const cache = new DecodeCache();
  // Two clusters whose bytes differ only deep inside a long field: same length, same head and tail.
  const long = (c: string) => `${'a'.repeat(5000)}${c}${'b'.repeat(5000)}`;
  const a = encodeAny(TYPE.Cluster, { name: 'c', altStatName: long('x') });
  const b = encodeAny(TYPE.Cluster, { name: 'c', altStatName: long('y') });
  assert.equal(a.value.length, b.value.length);
  const [da] = decodeResources(TYPE.Cluster, [a], cache);
  const [db] = decodeResources(TYPE.Cluster, [b], cache);
  assert.notEqual(da?.digest, db?.digest);
  assert.equal((db?.resource['altStatName'] as string)[5000], 'y');
  // A copy of a's bytes (another buffer) finds a's entry.
  const [again] = decodeResources(
    TYPE.Cluster,
    [{ type_url: a.type_url, value: Uint8Array.from(a.value) }],
    cache,
  );
  assert.equal(again?.resource, da?.resource);
  assert.equal(cache.size, 2);
});

test('encodeSotwResponse writes the DiscoveryResponse protobufjs decodes back field for field', () => {
  const cache = new ResourceCache();
  const resources = [0, 1, 2].map((i) =>
    cache.encode(XDS_TYPE.cluster, {
      name: `c${i}-é`,
      connectTimeout: '1s',
      altStatName: 'x'.repeat(i * 200),
    }),
  );
  const bytes = encodeSotwResponse({
    versionInfo: 'v1',
    typeUrl: XDS_TYPE.cluster,
    nonce: 'n-1',
    resources,
    controlPlane: '{"Component":"istiod"}',
  });
  const type = envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const m = type.toObject(type.decode(bytes)) as {
    version_info: string;
    type_url: string;
    nonce: string;
    resources: { type_url: string; value: Uint8Array }[];
    control_plane: { identifier: string };
  };
  assert.equal(m.version_info, 'v1');
  assert.equal(m.type_url, XDS_TYPE.cluster);
  assert.equal(m.nonce, 'n-1');
  assert.equal(m.control_plane.identifier, '{"Component":"istiod"}');
  assert.deepEqual(
    decodeResources(TYPE.Cluster, m.resources).map((r) => r.name),
    ['c0-é', 'c1-é', 'c2-é'],
  );
  // No version: the field is left out, as before.
  const bare = type.decode(encodeSotwResponse({ versionInfo: '', typeUrl: 't', nonce: '', resources: [] }));
  assert.equal((bare as unknown as { version_info: string }).version_info, '');
});

test('the directory source re-parses only changed files and still reports exactly what changed', async () => {
  const dir = tempDir('skiff-scale-source-');
  const service = (name: string, port: number) =>
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: a}\nspec:\n  ports: [{name: http, port: ${port}}]\n`;
  writeFileSync(join(dir, 'one.yaml'), service('one', 80));
  writeFileSync(join(dir, 'two.yaml'), service('two', 80));
  const source = new DirectoryConfigSource(dir, { settleMs: 5 });
  await source.start();
  try {
    const changes: ConfigChange[] = [];
    source.onChange((c) => changes.push(c));
    const before = source.snapshot();
    writeFileSync(join(dir, 'two.yaml'), service('two', 81));
    await source.reload();
    assert.equal(changes.length, 1);
    assert.deepEqual(changes[0]?.changed, [{ kind: 'Service', namespace: 'a', name: 'two' }]);
    const after = source.snapshot();
    // The unchanged file's object is the very same one (not parsed again); the changed one is new.
    const find = (s: ConfigSnapshot, n: string) => s.resources.find((r) => r.metadata.name === n);
    assert.equal(find(after, 'one'), find(before, 'one'));
    assert.notEqual(find(after, 'two'), find(before, 'two'));
    // Same bytes rewritten: nothing changed, no event.
    writeFileSync(join(dir, 'two.yaml'), service('two', 81));
    await source.reload();
    assert.equal(changes.length, 1);
    // A broken file keeps the last good config.
    writeFileSync(join(dir, 'one.yaml'), 'kind: [');
    await source.reload();
    assert.equal(changes.length, 1);
    assert.equal(source.snapshot(), after);
  } finally {
    await source.close();
  }
});

test("a root-namespace Sidecar's `./*` imports each proxy's own namespace, as Istio's ConvertToSidecarScope", () => {
  const yaml = [
    'apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}',
    ...['a', 'b'].map(
      (ns) =>
        `apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: ${ns}}\nspec:\n  ports: [{name: http, port: 80}]`,
    ),
    `apiVersion: networking.istio.io/v1beta1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec:
  egress:
    - hosts: ["./*", "istio-system/*"]`,
  ].join('\n---\n');
  const push = buildPushContext(new ConfigSnapshot(parseManifests(yaml, 'mesh.yaml').resources));
  const proxyIn = (ns: string) => {
    const node = sidecarNode({ ip: '10.0.0.1', podName: 'p', namespace: ns });
    return proxyFromNode(node.id, node.metadata);
  };
  assert.deepEqual(
    sidecarScopeFor(push, proxyIn('a')).services.map((s) => s.hostname),
    ['svc.a.svc.cluster.local'],
  );
  assert.deepEqual(
    sidecarScopeFor(push, proxyIn('b')).services.map((s) => s.hostname),
    ['svc.b.svc.cluster.local'],
  );
});
