import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { runCli } from '../src/cli/index.js';
import type { CommandIO } from '../src/cli/index.js';
import { DebugLog, ProxyEngine, startAdmin } from '../src/proxy/index.js';

const POD = 'istio-ingressgateway-6bb8fb6549-2mlk2';
const LOGGERS = 'active loggers:\n  admin: warning\n  http: warning\n';

async function run(args: string[]) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    stdoutIsTTY: false,
    stdinIsTTY: false,
    readStdin: () => Promise.resolve(Buffer.alloc(0)),
    env: {},
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

/** A loopback address of our own, so the Envoy admin port 15000 is free on it. */
function podAddress(): string {
  return `127.94.${process.pid % 250}.${1 + Math.floor(Math.random() * 250)}`;
}

/** An admin API answering /logging, and /server_info only when `nodeId` is given; records requests. */
async function fakeAdmin(host: string, port: number, nodeId?: string) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (req.method === 'POST' && req.url === '/logging') {
      res.end(LOGGERS);
    } else if (req.method === 'POST' && req.url === '/logging?http=debug') {
      res.end(LOGGERS.replace('http: warning', 'http: debug'));
    } else if (req.method === 'GET' && req.url === '/server_info' && nodeId !== undefined) {
      res.end(JSON.stringify({ state: 'LIVE', node: { id: nodeId } }));
    } else {
      res.statusCode = 404;
      res.end('invalid path. admin commands are:\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    address: `${host}:${bound}`,
    port: bound,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('proxy-config log heads its reply with the pod name, as istioctl 1.17', () => {
  it('names the pod behind deploy/<name>, from a running proxy admin API', async () => {
    const host = podAddress();
    const engine = new ProxyEngine({
      bind: () => ({ address: host, port: 0 }),
      debugLog: new DebugLog(() => undefined),
      peer: {
        name: POD,
        namespace: 'istio-system',
        nodeId: `router~${host}~${POD}.istio-system~istio-system.svc.cluster.local`,
      },
    });
    const admin = await startAdmin(engine, { host, port: 15000 });
    try {
      const r = await run([
        'proxy-config',
        'log',
        'deploy/istio-ingressgateway',
        '-n',
        'istio-system',
        '--admin-address',
        `${host}:15000`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`${POD}.istio-system:\nactive loggers:\n`), r.stdout.slice(0, 120));
      assert.match(r.stdout, /^ {2}misc: /m);
    } finally {
      await admin.close();
      await engine.close();
    }
  });

  it('keeps the name given when the proxy does not say which pod it is', async () => {
    const host = podAddress();
    const admin = await fakeAdmin(host, 15000);
    try {
      const r = await run([
        'pc',
        'log',
        'deploy/istio-ingressgateway.istio-system',
        '--admin-address',
        admin.address,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        'istio-ingressgateway.istio-system:\nactive loggers:\n  admin: warning\n  http: warning\n',
      );
    } finally {
      await admin.close();
    }
  });

  it('ignores node ids that are not Istio proxies', async () => {
    const host = podAddress();
    const admin = await fakeAdmin(host, 15000, 'envoy-standalone');
    try {
      const r = await run([
        'pc',
        'log',
        'deploy/istio-ingressgateway',
        '-n',
        'istio-system',
        '--admin-address',
        admin.address,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith('istio-ingressgateway.istio-system:\n'), r.stdout);
      assert.ok(admin.requests.includes('GET /server_info'));
    } finally {
      await admin.close();
    }
  });

  it('names a given pod as given, and asks the proxy who it is when none is named', async () => {
    const admin = await fakeAdmin(
      '127.0.0.1',
      0,
      `router~1.2.3.4~${POD}.istio-system~istio-system.svc.cluster.local`,
    );
    try {
      const named = await run(['pc', 'log', 'sleep-0', '-n', 'shop', '--admin-address', admin.address]);
      assert.ok(named.stdout.startsWith('sleep-0.shop:\n'), named.stdout);
      // With no pod named, the proxy is asked who it is (istioctl's header is the pod).
      const bare = await run(['pc', 'log', '--admin-address', admin.address]);
      assert.ok(bare.stdout.startsWith(`${POD}.istio-system:\n`), bare.stdout);
      assert.deepEqual(admin.requests, ['POST /logging', 'POST /logging', 'GET /server_info']);
    } finally {
      await admin.close();
    }
  });
});

describe('proxy-config log header on any admin port (istioctl 1.17 prints <pod>.<namespace>:)', () => {
  it('a deployment target is named by the pod the proxy reports, whatever its admin port', async () => {
    const admin = await fakeAdmin(
      '127.0.0.1',
      0,
      `router~10.10.0.6~${POD}.istio-system~istio-system.svc.cluster.local`,
    );
    try {
      assert.notEqual(admin.port, 15000);
      const r = await run([
        'proxy-config',
        'log',
        'deploy/istio-ingressgateway',
        '-n',
        'istio-system',
        '--admin-address',
        admin.address,
        '--level',
        'http:debug',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${POD}.istio-system:\n${LOGGERS.replace('http: warning', 'http: debug')}`);
      assert.ok(admin.requests.includes('GET /server_info'));
    } finally {
      await admin.close();
    }
  });

  it('a pod target names itself; the proxy is not asked', async () => {
    const admin = await fakeAdmin('127.0.0.1', 0, `sidecar~10.10.0.9~other-pod.shop~shop.svc.cluster.local`);
    try {
      const r = await run(['pc', 'log', 'sleep-0.shop', '--admin-address', admin.address]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `sleep-0.shop:\n${LOGGERS}`);
      assert.deepEqual(admin.requests, ['POST /logging']);
    } finally {
      await admin.close();
    }
  });

  it('no target: the pod the proxy reports, else the address; a non-Istio node id is not a pod', async () => {
    const istio = await fakeAdmin('127.0.0.1', 0, `sidecar~10.10.0.9~sleep-7f9.shop~shop.svc.cluster.local`);
    const plain = await fakeAdmin('127.0.0.1', 0, 'envoy-standalone');
    try {
      const named = await run(['pc', 'log', '--admin-address', istio.address]);
      assert.equal(named.stdout, `sleep-7f9.shop:\n${LOGGERS}`);
      const bare = await run(['pc', 'log', '--admin-address', plain.address]);
      assert.equal(bare.stdout, `${plain.address}:\n${LOGGERS}`);
      const deploy = await run(['pc', 'log', 'deploy/sleep.shop', '--admin-address', plain.address]);
      assert.equal(
        deploy.stdout,
        `sleep.shop:\n${LOGGERS}`,
        'the deployment as given when the proxy cannot tell',
      );
    } finally {
      await istio.close();
      await plain.close();
    }
  });
});
