import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { StoreApiServer } from '../src/store/index.js';
import { ObjectStore, createStoreApiServer } from '../src/store/index.js';
import { seedStore, skiff } from './cli-kubectl-fixtures.js';
import { CLI, tempDir } from './helpers.js';

const PODS = `
apiVersion: v1
kind: Namespace
metadata: {name: istioinaction}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: sleep, namespace: istioinaction}
spec:
  selector: {matchLabels: {app: sleep}}
  template:
    metadata: {labels: {app: sleep}}
    spec: {containers: [{name: sleep, image: skiff/sleep}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: sleep-5d7b8c9f-abcde
  namespace: istioinaction
  labels: {app: sleep}
  annotations: {kubectl.kubernetes.io/default-container: sleep}
spec:
  containers:
  - name: sleep
    image: skiff/sleep
    ports: [{containerPort: 8080}]
    env:
    - {name: GREETING, value: hello}
    - {name: FULL, value: "$(GREETING) world"}
    - name: MY_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: FROM_CM
      valueFrom: {configMapKeyRef: {name: settings, key: color}}
  - name: istio-proxy
    image: skiff/proxy
status: {phase: Running, podIP: 127.10.0.7}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: istioinaction}
data: {color: blue}
---
apiVersion: v1
kind: Pod
metadata:
  name: plain
  namespace: default
  labels: {app: plain}
spec:
  containers:
  - {name: istio-proxy, image: skiff/proxy}
  - {name: web, image: skiff/catalog}
status: {phase: Running, podIP: 127.10.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: default, labels: {app: plain}}
spec:
  containers: [{name: app, image: skiff/catalog}]
status: {phase: Pending}
`;

describe('skiff logs / exec against the REST API and a state dir', () => {
  let store: ObjectStore;
  let api: StoreApiServer;
  let stateDir: string;
  const server = () => ['--server', api.url, '--state-dir', stateDir];
  const logFile = (ns: string, pod: string, c: string) => join(stateDir, 'logs', `${ns}_${pod}_${c}.log`);

  before(async () => {
    store = ObjectStore.open({ stateDir: null });
    api = await createStoreApiServer(store, { host: '127.0.0.1', port: 0 });
    seedStore(store, PODS);
    stateDir = tempDir();
    mkdirSync(join(stateDir, 'logs'), { recursive: true });
    writeFileSync(logFile('istioinaction', 'sleep-5d7b8c9f-abcde', 'sleep'), 'one\ntwo\nthree\n');
    writeFileSync(logFile('istioinaction', 'sleep-5d7b8c9f-abcde', 'istio-proxy'), 'envoy ready\n');
    writeFileSync(logFile('default', 'plain', 'web'), 'web 1\nweb 2\n');
    writeFileSync(logFile('default', 'plain', 'istio-proxy'), 'proxy of plain\n');
  });

  after(async () => {
    await api.close();
    store.close();
  });

  it('prints the annotated default container silently, and --tail', async () => {
    const r = await skiff(['logs', 'sleep-5d7b8c9f-abcde', '-n', 'istioinaction', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'one\ntwo\nthree\n');
    assert.equal(r.stderr, '');
    const t = await skiff([
      'logs',
      'sleep-5d7b8c9f-abcde',
      '-n',
      'istioinaction',
      '--tail',
      '2',
      ...server(),
    ]);
    assert.equal(t.stdout, 'two\nthree\n');
  });

  it("defaults to the app container with kubectl's note when there is no annotation", async () => {
    const r = await skiff(['logs', 'plain', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'web 1\nweb 2\n');
    assert.equal(r.stderr, 'Defaulted container "web" out of: istio-proxy, web\n');
  });

  it('reads -c istio-proxy and resolves deploy/x to its pod', async () => {
    const r = await skiff(['logs', 'deploy/sleep', '-n', 'istioinaction', '-c', 'istio-proxy', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'envoy ready\n');
  });

  it('prints each selected pod with --prefix', async () => {
    const r = await skiff(['logs', '-l', 'app=plain', '--prefix', ...server()]);
    // "lonely" has no log file yet: kubectl's waiting message, and the others still print.
    assert.equal(r.stdout, '[pod/plain/web] web 1\n[pod/plain/web] web 2\n');
    assert.match(r.stderr, /container "app" in pod "lonely" is waiting to start: ContainerCreating/);
  });

  it('fails as kubectl does for a missing pod or container', async () => {
    const missing = await skiff(['logs', 'nope', '-n', 'istioinaction', ...server()]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'Error from server (NotFound): pods "nope" not found\n');
    const bad = await skiff(['logs', 'plain', '-c', 'y', ...server()]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'error: container y is not valid for pod plain\n');
    const prev = await skiff(['logs', 'plain', '-c', 'web', '-p', ...server()]);
    assert.equal(prev.code, 1);
    assert.match(prev.stderr, /previous terminated container "web" in pod "plain" not found/);
  });

  it('-f prints what is appended until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, 'logs', '-f', 'plain', '-c', 'web', ...server()]);
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const seen = async (text: string) => {
      const deadline = Date.now() + 5000;
      while (!out.includes(text)) {
        if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    try {
      await seen('web 2\n');
      appendFileSync(logFile('default', 'plain', 'web'), 'web 3\n');
      await seen('web 3\n');
      assert.equal(out, 'web 1\nweb 2\nweb 3\n');
    } finally {
      child.kill('SIGINT');
    }
  });

  it('exec runs with the pod env, the sidecar as HTTP proxy, and passes the exit code through', async () => {
    const script =
      'const e=process.env;console.log([e.HTTP_PROXY,e.http_proxy,e.HOSTNAME,e.POD_IP,e.FULL,e.MY_NS,e.FROM_CM].join("|"));process.exit(3)';
    const r = await skiff([
      'exec',
      'deploy/sleep',
      '-n',
      'istioinaction',
      ...server(),
      '--',
      process.execPath,
      '-e',
      script,
    ]);
    assert.equal(r.code, 3);
    assert.equal(
      r.stdout,
      'http://127.10.0.7:15001|http://127.10.0.7:15001|sleep-5d7b8c9f-abcde|127.10.0.7|hello world|istioinaction|blue\n',
    );
    assert.equal(r.stderr, 'command terminated with exit code 3\n');
  });

  it('exec in istio-proxy has no HTTP proxy and reaches localhost:15000 at the pod IP', async () => {
    const r = await skiff([
      'exec',
      'sleep-5d7b8c9f-abcde',
      '-n',
      'istioinaction',
      '-c',
      'istio-proxy',
      ...server(),
      '--',
      process.execPath,
      '-e',
      'console.log(String(process.env.HTTP_PROXY), process.argv[1], process.argv[2])',
      'localhost:15000/clusters',
      'localhost:8080/items',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'undefined 127.10.0.7:15000/clusters 127.11.0.7:8080/items\n');
  });

  it('exec refuses unknown containers, pods without an IP and missing programs', async () => {
    const c = await skiff(['exec', 'plain', '-c', 'nope', ...server(), '--', 'true']);
    assert.equal(c.code, 1);
    assert.equal(c.stderr, 'error: container nope not found in pod plain\n');
    const pending = await skiff(['exec', 'lonely', ...server(), '--', 'true']);
    assert.equal(pending.code, 1);
    assert.match(pending.stderr, /has no IP yet/);
    const missing = await skiff(['exec', 'plain', '-c', 'web', ...server(), '--', 'no-such-program-xyz']);
    assert.equal(missing.code, 126);
    assert.match(missing.stderr, /executable file not found in \$PATH/);
  });
});
