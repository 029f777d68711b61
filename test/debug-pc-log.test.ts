import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { runCli } from '../src/cli/index.js';
import type { CommandIO } from '../src/cli/index.js';

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

/** An Envoy admin API on a free port (never 15000): /logging, and /server_info when `nodeId` is given. */
async function fakeAdmin(nodeId?: string) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (req.method === 'POST' && req.url === '/logging') res.end(LOGGERS);
    else if (req.method === 'POST' && req.url === '/logging?http=debug')
      res.end(LOGGERS.replace('http: warning', 'http: debug'));
    else if (req.method === 'GET' && req.url === '/server_info' && nodeId !== undefined) {
      res.end(JSON.stringify({ state: 'LIVE', node: { id: nodeId } }));
    } else {
      res.statusCode = 404;
      res.end('invalid path. admin commands are:\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('proxy-config log header on any admin port (istioctl 1.17 prints <pod>.<namespace>:)', () => {
  it('a deployment target is named by the pod the proxy reports, whatever its admin port', async () => {
    const admin = await fakeAdmin(`router~10.10.0.6~${POD}.istio-system~istio-system.svc.cluster.local`);
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
    const admin = await fakeAdmin(`sidecar~10.10.0.9~other-pod.shop~shop.svc.cluster.local`);
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
    const istio = await fakeAdmin(`sidecar~10.10.0.9~sleep-7f9.shop~shop.svc.cluster.local`);
    const plain = await fakeAdmin('envoy-standalone');
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
