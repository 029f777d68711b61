// End to end with real processes on loopback: `skiff up` in a fresh directory, the chapter 10 routing
// break and fix through the ingress gateway on 127.0.0.1:30000, admission, a crashed pod process, and
// `skiff down` / `skiff up` resuming the same mesh.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, runSkiff, tempDir } from './helpers.js';

interface Reply {
  status: number;
  body: string;
}

function get(port: number, path: string, host: string, address = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address, port, path, headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const catalog = (): Promise<Reply> => get(30000, '/items', 'catalog.istioinaction.io');

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  let error: unknown;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      error = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: last ${JSON.stringify(last)} ${error ? String(error) : ''}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Every process the lab in `cwd` started (supervisor and pods). */
function labPids(cwd: string): number[] {
  const dir = join(cwd, '.skiff');
  const out: number[] = [];
  try {
    out.push(...(JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as number[]));
  } catch {
    // none
  }
  try {
    out.push((JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { pid: number }).pid);
  } catch {
    // none
  }
  return out;
}

function apiUrl(cwd: string): string {
  return (JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as { endpoints: { api: string } })
    .endpoints.api;
}

interface PodView {
  name: string;
  containers: { name: string; restartCount: number; ready: boolean; containerID?: string }[];
}

async function catalogPods(cwd: string): Promise<PodView[]> {
  const res = await fetch(`${apiUrl(cwd)}/api/v1/namespaces/istioinaction/pods`);
  const list = (await res.json()) as { items: Record<string, unknown>[] };
  return list.items.map((p) => ({
    name: String((p['metadata'] as { name: string }).name),
    containers: ((p['status'] as { containerStatuses?: PodView['containers'] }).containerStatuses ?? []).map(
      (c) => c,
    ),
  }));
}

describe('skiff up: the embedded lab with real processes', { timeout: 120_000 }, () => {
  let cwd = '';
  let seen: number[] = [];

  before(async () => {
    cwd = tempDir('skiff-lab-');
    const up = await runSkiff(['up'], { cwd });
    seen = labPids(cwd);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout, /ingress gateway http2: 127\.0\.0\.1:30000/);
    assert.match(up.stdout, /istioinaction\s+catalog-[a-z0-9]+-[a-z0-9]{5}\s+2\/2\s+Running/);
    assert.match(up.stdout, /istio-system\s+istio-ingressgateway-[a-z0-9]+-[a-z0-9]{5}\s+1\/1\s+Running/);
  });

  after(async () => {
    seen.push(...labPids(cwd));
    await runSkiff(['down'], { cwd });
    for (const pid of new Set(seen)) {
      if (!alive(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });

  it('runs every pod ready: three catalog pods with sidecars and the gateway', async () => {
    const pods = await catalogPods(cwd);
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.deepEqual(
        p.containers.map((c) => [c.name, c.ready, c.restartCount]),
        [
          ['catalog', true, 0],
          ['istio-proxy', true, 0],
        ],
      );
    }
    assert.ok(labPids(cwd).length >= 8, 'one process per container plus the supervisor');
  });

  it('answers 404 NR through the gateway before any VirtualService binds the host', async () => {
    const r = await catalog();
    assert.equal(r.status, 404);
  });

  it('routes to subsets without a DestinationRule: 503 and an NC cluster_not_found access-log line', async () => {
    const applied = await runSkiff(
      ['apply', '-f', join(ROOT, 'examples/lab/routing/catalog-virtualservice-v1-v2.yaml')],
      { cwd },
    );
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, 'virtualservice.networking.istio.io/catalog-v1-v2 created\n');
    await until('503 from the gateway', catalog, (r) => r.status === 503);
    const logs = readdirSync(join(cwd, '.skiff', 'logs')).filter((f) =>
      f.startsWith('istio-system_istio-ingressgateway-'),
    );
    assert.equal(logs.length, 1);
    const text = await until(
      'NC line in the gateway log',
      async () => readFileSync(join(cwd, '.skiff', 'logs', logs[0] as string), 'utf8'),
      (t) => t.includes('cluster_not_found'),
    );
    assert.match(
      text,
      /"GET \/items HTTP\/1\.1" 503 NC cluster_not_found - "-" 0 0 \d+ - "127\.0\.0\.1" "-" "[0-9a-f-]+" "catalog\.istioinaction\.io" "-" - - 127\.10\.\d+\.\d+:8080 127\.0\.0\.1:\d+ - -/,
    );
  });

  it('refuses invalid config with the webhook message and changes nothing', async () => {
    const bad = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: broken, namespace: istioinaction}
spec: {host: catalog, subsets: [{name: "Not_A_Name", labels: {version: v1}}]}
`;
    const r = await runSkiff(['apply', '-f', '-'], { cwd, stdin: bad });
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Error from server.*: error when creating "-": admission webhook "validation\.istio\.io" denied the request/m,
    );
    const res = await fetch(
      `${apiUrl(cwd)}/apis/networking.istio.io/v1beta1/namespaces/istioinaction/destinationrules/broken`,
    );
    assert.equal(res.status, 404);
  });

  it('answers 200 with the catalog items once the DestinationRule defines the subsets', async () => {
    const applied = await runSkiff(['apply', '-f', join(ROOT, 'examples/lab/routing')], { cwd });
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /destinationrule\.networking\.istio\.io\/catalog created/);
    assert.match(applied.stdout, /virtualservice\.networking\.istio\.io\/catalog-v1-v2 unchanged/);
    const r = await until('200 from the gateway', catalog, (x) => x.status === 200);
    const items = JSON.parse(r.body) as { id: number; name: string; imageUrl?: string }[];
    assert.deepEqual(
      items.map((i) => i.name),
      ['Elinor Glasses', 'Atlas Shirt', 'Small Metal Shoes', 'Red Dragon Watch'],
    );
    assert.ok(items.every((i) => i.imageUrl === undefined));
    // Traffic reached both versions through their sidecars (kube-proxy's cluster IP path works too).
    for (let i = 0; i < 10; i++) assert.equal((await catalog()).status, 200);
  });

  it('restarts a crashed pod process and traffic recovers', async () => {
    const pods = await catalogPods(cwd);
    const victim = pods[0];
    const app = victim?.containers.find((c) => c.name === 'catalog');
    const pid = Number(app?.containerID?.replace('skiff://', ''));
    assert.ok(pid > 0, JSON.stringify(victim));
    process.kill(pid, 'SIGKILL');
    seen.push(pid);
    await until(
      'restartCount 1 and ready again',
      () => catalogPods(cwd),
      (list) => {
        const c = list.find((p) => p.name === victim?.name)?.containers.find((x) => x.name === 'catalog');
        return c?.restartCount === 1 && c.ready;
      },
    );
    await until('200 after the restart', catalog, (r) => r.status === 200);
    seen.push(...labPids(cwd));
  });

  it('stops everything with skiff down, and skiff up resumes the same mesh', async () => {
    const before = labPids(cwd);
    seen.push(...before);
    const down = await runSkiff(['down'], { cwd });
    assert.equal(down.code, 0);
    assert.match(down.stdout, /^skiff stopped/);
    assert.deepEqual(before.filter(alive), [], 'no process of the lab is left');
    assert.ok(!existsSync(join(cwd, '.skiff', 'lab.json')));
    await assert.rejects(catalog());
    const status = await runSkiff(['status'], { cwd });
    assert.equal(status.code, 1);
    const up = await runSkiff(['up'], { cwd });
    seen.push(...labPids(cwd));
    assert.equal(up.code, 0, up.stdout + up.stderr);
    // The VirtualService and DestinationRule applied before are still there: 200 at once.
    const r = await until('200 after resuming', catalog, (x) => x.status === 200);
    assert.match(r.body, /Red Dragon Watch/);
  });
});
