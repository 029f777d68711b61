/**
 * Helpers for the mTLS end-to-end tests:
 *
 * - a pcap reader (libpcap file header + records; Ethernet / Linux cooked / raw IPv4; TCP) and a TLS
 *   ClientHello parser (server_name and ALPN extensions), so a capture of lab traffic can be checked
 *   without tshark;
 * - the private network namespace the lab test runs in, and the check that the tools it needs exist;
 * - the lab driver: run as `node security-e2e-fixtures.js --lab-driver <dir>` inside that namespace, it
 *   brings up ONE lab, runs every scenario against it (captures, plaintext probes, policies, CLI output)
 *   and writes what it saw to `<dir>/result.json` for the test to judge. Everything the driver starts
 *   (the lab's processes, tcpdump) it stops again by pid.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, ROOT } from './helpers.js';

// ---------------------------------------------------------------- pcap

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: number;
  payload: Buffer;
}

const LINKTYPE_NULL = 0;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;
const LINKTYPE_LINUX_SLL = 113;
const LINKTYPE_LINUX_SLL2 = 276;

/** Where the IP header starts in a frame of the given link type (undefined: not IPv4 / unknown). */
function ipOffset(linkType: number, frame: Buffer): number | undefined {
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return frame.length >= 14 && frame.readUInt16BE(12) === 0x0800 ? 14 : undefined;
    case LINKTYPE_LINUX_SLL:
      return frame.length >= 16 && frame.readUInt16BE(14) === 0x0800 ? 16 : undefined;
    case LINKTYPE_LINUX_SLL2:
      return frame.length >= 20 && frame.readUInt16BE(0) === 0x0800 ? 20 : undefined;
    case LINKTYPE_NULL:
      return 4;
    case LINKTYPE_RAW:
      return 0;
    default:
      return undefined;
  }
}

/** Every IPv4/TCP segment in a classic pcap file (either byte order, µs or ns timestamps). */
export function readPcapTcp(file: Buffer): { linkType: number; segments: TcpSegment[] } {
  if (file.length < 24) throw new Error(`pcap too short (${file.length} bytes)`);
  const magic = file.readUInt32LE(0);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else throw new Error(`not a pcap file (magic ${magic.toString(16)})`);
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const linkType = u32(20) & 0x0fffffff;
  const segments: TcpSegment[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const caplen = u32(off + 8);
    const start = off + 16;
    off = start + caplen;
    if (off > file.length) break; // a record cut short when tcpdump stopped
    const frame = file.subarray(start, start + caplen);
    const ip = ipOffset(linkType, frame);
    if (ip === undefined || frame.length < ip + 20 || frame[ip]! >> 4 !== 4) continue;
    const ihl = (frame[ip]! & 0x0f) * 4;
    const total = frame.readUInt16BE(ip + 2);
    if (frame[ip + 9] !== 6) continue; // not TCP
    const tcp = ip + ihl;
    if (frame.length < tcp + 20) continue;
    const dataOff = (frame[tcp + 12]! >> 4) * 4;
    const end = Math.min(frame.length, ip + total);
    const addr = (o: number): string => [...frame.subarray(o, o + 4)].join('.');
    segments.push({
      src: addr(ip + 12),
      dst: addr(ip + 16),
      srcPort: frame.readUInt16BE(tcp),
      dstPort: frame.readUInt16BE(tcp + 2),
      flags: frame[tcp + 13]!,
      payload: Buffer.from(frame.subarray(Math.min(end, tcp + dataOff), end)),
    });
  }
  return { linkType, segments };
}

export interface ClientHello {
  serverName?: string;
  alpn: string[];
}

/**
 * The ClientHello at the start of a TCP payload: TLS record type 22 (handshake), handshake type 1; its
 * server_name (extension 0, host_name) and application_layer_protocol_negotiation (extension 16).
 */
export function parseClientHello(payload: Buffer): ClientHello | undefined {
  if (payload.length < 9 || payload[0] !== 22 || payload[1] !== 3 || payload[5] !== 1) return undefined;
  const recordEnd = Math.min(payload.length, 5 + payload.readUInt16BE(3));
  let p = 9; // record header (5) + handshake type (1) + length (3)
  p += 2 + 32; // legacy_version, random
  if (p >= recordEnd) return undefined;
  p += 1 + payload[p]!; // session id
  if (p + 2 > recordEnd) return undefined;
  p += 2 + payload.readUInt16BE(p); // cipher suites
  if (p >= recordEnd) return undefined;
  p += 1 + payload[p]!; // compression methods
  if (p + 2 > recordEnd) return { alpn: [] };
  const extEnd = Math.min(recordEnd, p + 2 + payload.readUInt16BE(p));
  p += 2;
  const hello: ClientHello = { alpn: [] };
  while (p + 4 <= extEnd) {
    const type = payload.readUInt16BE(p);
    const len = payload.readUInt16BE(p + 2);
    const body = payload.subarray(p + 4, Math.min(extEnd, p + 4 + len));
    p += 4 + len;
    if (type === 0 && body.length >= 5 && body[2] === 0) {
      const nameLen = body.readUInt16BE(3);
      hello.serverName = body.subarray(5, 5 + nameLen).toString('latin1');
    } else if (type === 16 && body.length >= 2) {
      const listEnd = Math.min(body.length, 2 + body.readUInt16BE(0));
      for (let q = 2; q < listEnd;) {
        const n = body[q]!;
        hello.alpn.push(body.subarray(q + 1, q + 1 + n).toString('latin1'));
        q += 1 + n;
      }
    }
  }
  return hello;
}

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'CONNECT', 'TRACE'];

/** Whether a TCP payload starts an HTTP/1.x request (`GET /`, …) or the HTTP/2 preface. */
export function isPlaintextHttp(payload: Buffer): boolean {
  const head = payload.subarray(0, 24).toString('latin1');
  return head.startsWith('PRI * HTTP/2.0') || HTTP_METHODS.some((m) => head.startsWith(`${m} /`));
}

// ---------------------------------------------------------------- the private network namespace

/**
 * The command that runs `sh -c <script>` in a private network namespace with loopback up. `unshare -rn`
 * would map us to root there, and tcpdump, seeing uid 0, insists on dropping privileges (initgroups),
 * which a user namespace with setgroups denied refuses ("Couldn't change to 'tcpdump' …"). Mapping our
 * user to a non-root uid with the capabilities kept as ambient ones (`--keep-caps`) gives tcpdump
 * CAP_NET_RAW without the drop, and the lab CAP_NET_BIND_SERVICE for its port-80 listeners.
 */
export function namespaceCommand(script: string): [string, string[]] {
  return [
    'unshare',
    [
      '--user',
      '--map-user=1000',
      '--map-group=1000',
      '--keep-caps',
      '--net',
      'sh',
      '-c',
      `ip link set lo up && ${script}`,
    ],
  ];
}

/** Why the lab test cannot run here (a missing tool, no namespaces), or undefined when it can. */
export function missingPrerequisite(): string | undefined {
  for (const tool of ['unshare', 'tcpdump', 'ip']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    if (r.status !== 0) return `${tool} is not installed`;
  }
  const [cmd, args] = namespaceCommand('tcpdump -D >/dev/null');
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) return `no private network namespace with tcpdump: ${(r.stderr || '').trim()}`;
  return undefined;
}

// ---------------------------------------------------------------- the lab driver

export const CATALOG_HOST = 'catalog.istioinaction.io';
export const SNI_V1 = 'outbound_.80_.version-v1_.catalog.istioinaction.svc.cluster.local';
export const SNI_V2 = 'outbound_.80_.version-v2_.catalog.istioinaction.svc.cluster.local';
export const V2_CLUSTER = 'outbound|80|version-v2|catalog.istioinaction.svc.cluster.local';
export const SNI_NO_SUBSET = 'outbound_.80_._.catalog.istioinaction.svc.cluster.local';

export interface Probe {
  status?: number;
  body?: string;
  error?: string;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CaptureResult {
  pcap: string;
  tcpdumpLog: string;
  gateway: Probe[];
}

export interface LabResult {
  up: CliResult;
  applyRouting: CliResult;
  podsWide: CliResult;
  /** The catalog pods by version: name and pod IP. */
  pods: { name: string; ip: string; version: string }[];
  /** (a) with the DestinationRule's subsets: every catalog pod captured together. */
  captureSubsets?: CaptureResult;
  /** The gateway's endpoints for the version-v2 subset cluster. */
  gatewayEndpoints?: CliResult;
  /** (b) */
  plainPermissive?: Probe;
  describePermissive?: CliResult;
  applyStrict?: CliResult;
  plainStrict?: Probe;
  gatewayStrict?: Probe;
  describeStrict?: CliResult;
  /** (c) */
  secret?: CliResult;
  /** (a) again under STRICT after a VirtualService without subsets. */
  applyNoSubset?: CliResult;
  captureNoSubset?: CaptureResult;
  /** (d) */
  applyBadPeerAuthentication?: CliResult;
  applyBadAuthorizationPolicy?: CliResult;
  getAfterBad?: CliResult;
  /** (e) */
  applyDeny?: CliResult;
  denyProbes?: Probe[];
  fatal?: string;
}

function skiff(args: string[], cwd: string, stdin?: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ code: -1, stdout, stderr: stderr + String(e) }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function get(address: string, port: number, path: string, host: string): Promise<Probe> {
  return new Promise((resolve) => {
    const req = request(
      { host: address, port, path, headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

const gateway = (path = '/items'): Promise<Probe> => get('127.0.0.1', 30000, path, CATALOG_HOST);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function poll(fn: () => Promise<Probe>, ok: (p: Probe) => boolean, ms: number): Promise<Probe> {
  const deadline = Date.now() + ms;
  let last = await fn();
  while (!ok(last) && Date.now() < deadline) {
    await sleep(200);
    last = await fn();
  }
  return last;
}

/** tcpdump on lo for the given hosts while `traffic` runs; resolves when tcpdump has written the file. */
async function capture(dir: string, name: string, ips: string[], traffic: () => Promise<Probe[]>) {
  const pcap = join(dir, `${name}.pcap`);
  const filter = `tcp and (${ips.map((ip) => `host ${ip}`).join(' or ')})`;
  // --immediate-mode: packets are handed over as they come, so none is left in the ring at SIGTERM.
  const td: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-w', pcap, filter], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  td.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => td.once('close', () => r()));
  const deadline = Date.now() + 10_000;
  while (!log.includes('listening on') && td.exitCode === null && Date.now() < deadline) await sleep(50);
  const probes = td.exitCode === null ? await traffic() : [];
  await sleep(300);
  if (td.exitCode === null && td.pid !== undefined) process.kill(td.pid, 'SIGTERM');
  await exited;
  return { pcap, tcpdumpLog: log, gateway: probes };
}

async function repeat(n: number, fn: () => Promise<Probe>): Promise<Probe[]> {
  const out: Probe[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return out;
}

const STRICT = `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: istioinaction
spec:
  mtls:
    mode: STRICT
`;

const NO_SUBSET_VS = `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: catalog-v1-v2
  namespace: istioinaction
spec:
  hosts:
    - catalog.istioinaction.io
  gateways:
    - catalog-gateway
  http:
    - route:
        - destination:
            host: catalog.istioinaction.svc.cluster.local
            port:
              number: 80
`;

export const BAD_PEER_AUTHENTICATION = `apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: bad-mode
  namespace: istioinaction
spec:
  mtls:
    mode: STRICTEST
`;

export const BAD_AUTHORIZATION_POLICY = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: bad-deny
  namespace: istioinaction
spec:
  action: DENY
`;

const DENY_ITEMS = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-items
  namespace: istioinaction
spec:
  selector:
    matchLabels:
      app: catalog
  action: DENY
  rules:
    - to:
        - operation:
            paths: ["/items"]
`;

/** Parses `skiff get pods -o wide` (NAME READY STATUS RESTARTS AGE IP NODE …) into names and IPs. */
export function podsFromWide(table: string): { name: string; ip: string }[] {
  const lines = table.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift() ?? '';
  const ipCol = header.indexOf('IP');
  if (ipCol < 0) return [];
  return lines.map((l) => ({
    name: l.split(/\s+/)[0] ?? '',
    ip: (l.slice(ipCol).split(/\s+/)[0] ?? '').trim(),
  }));
}

function labPids(cwd: string): number[] {
  const out: number[] = [];
  try {
    out.push(...(JSON.parse(readFileSync(join(cwd, '.skiff', 'pids.json'), 'utf8')) as number[]));
  } catch {
    // none
  }
  try {
    out.push((JSON.parse(readFileSync(join(cwd, '.skiff', 'lab.json'), 'utf8')) as { pid: number }).pid);
  } catch {
    // none
  }
  return out;
}

async function drive(dir: string, r: LabResult): Promise<void> {
  r.up = await skiff(['up', '--example', 'lab', '--timeout', '120s'], dir);
  if (r.up.code !== 0) throw new Error('skiff up failed');
  r.applyRouting = await skiff(['apply', '-f', join(ROOT, 'examples/lab/routing')], dir);
  r.podsWide = await skiff(['get', 'pods', '-n', 'istioinaction', '-o', 'wide'], dir);
  for (const version of ['v1', 'v2']) {
    const names = await skiff(
      [
        'get',
        'pods',
        '-n',
        'istioinaction',
        '-l',
        `version=${version}`,
        '-o',
        'jsonpath={.items..metadata.name}',
      ],
      dir,
    );
    for (const name of names.stdout.split(/\s+/).filter((n) => n !== '')) {
      const ip = podsFromWide(r.podsWide.stdout).find((p) => p.name === name)?.ip ?? '';
      r.pods.push({ name, ip, version });
    }
  }
  const v1 = r.pods.find((p) => p.version === 'v1');
  const v2 = r.pods.find((p) => p.version === 'v2');
  if (!v1 || !v2 || !v1.ip || !v2.ip) throw new Error('catalog pods or their IPs not found');
  // (a) gateway → catalog with the DestinationRule's subsets. The capture starts before the gateway's
  // first request to the catalog, so its (kept-alive) upstream connections are all opened on camera.
  const ips = r.pods.map((p) => p.ip);
  r.captureSubsets = await capture(dir, 'subsets', ips, async () => {
    await poll(gateway, (p) => p.status === 200, 20_000);
    return repeat(30, () => gateway());
  });
  const gatewayPod = await skiff(
    ['get', 'pods', '-n', 'istio-system', '-o', 'jsonpath={.items[0].metadata.name}'],
    dir,
  );
  r.gatewayEndpoints = await skiff(
    ['proxy-config', 'endpoints', gatewayPod.stdout.trim(), '-n', 'istio-system', '--cluster', V2_CLUSTER],
    dir,
  );

  // (b) plaintext straight to the catalog pod's sidecar, PERMISSIVE then STRICT.
  r.plainPermissive = await get(v2.ip, 3000, '/items', 'catalog');
  r.describePermissive = await skiff(['x', 'describe', 'pod', v2.name, '-n', 'istioinaction'], dir);
  // (c) the workload certificate the agent got from the CA.
  r.secret = await skiff(['proxy-config', 'secret', v2.name, '-n', 'istioinaction'], dir);
  r.applyStrict = await skiff(['apply', '-f', '-'], dir, STRICT);
  r.plainStrict = await poll(
    () => get(v2.ip, 3000, '/items', 'catalog'),
    (p) => p.error !== undefined,
    15_000,
  );
  r.gatewayStrict = await poll(gateway, (p) => p.status === 200, 10_000);
  r.describeStrict = await skiff(['x', 'describe', 'pod', v2.name, '-n', 'istioinaction'], dir);

  // (a) without subsets: the route goes to the service's default cluster.
  r.applyNoSubset = await skiff(['apply', '-f', '-'], dir, NO_SUBSET_VS);
  await sleep(1500);
  await poll(gateway, (p) => p.status === 200, 10_000);
  r.captureNoSubset = await capture(dir, 'nosubset', ips, () => repeat(20, () => gateway()));

  // (d) malformed policies are refused at apply time and nothing is stored.
  r.applyBadPeerAuthentication = await skiff(['apply', '-f', '-'], dir, BAD_PEER_AUTHENTICATION);
  r.applyBadAuthorizationPolicy = await skiff(['apply', '-f', '-'], dir, BAD_AUTHORIZATION_POLICY);
  r.getAfterBad = await skiff(
    ['get', 'peerauthentications,authorizationpolicies', '-n', 'istioinaction'],
    dir,
  );

  // (e) a DENY on /items for the catalog, if the data plane enforces RBAC by now.
  r.applyDeny = await skiff(['apply', '-f', '-'], dir, DENY_ITEMS);
  const denied = await poll(gateway, (p) => p.status === 403, 8000);
  r.denyProbes = [denied, await gateway('/items/1')];
}

/** Runs inside the namespace: one lab, every scenario, the result as JSON in `<dir>/result.json`. */
export async function runLabDriver(dir: string): Promise<void> {
  const r: LabResult = {
    up: { code: null, stdout: '', stderr: '' },
    applyRouting: { code: null, stdout: '', stderr: '' },
    podsWide: { code: null, stdout: '', stderr: '' },
    pods: [],
  };
  try {
    await drive(dir, r);
  } catch (e) {
    r.fatal = (e as Error).stack ?? String(e);
  } finally {
    const pids = labPids(dir);
    await skiff(['down'], dir);
    for (const pid of new Set([...pids, ...labPids(dir)])) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    writeFileSync(join(dir, 'result.json'), JSON.stringify(r, null, 2));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--lab-driver') {
  await runLabDriver(process.argv[3] ?? process.cwd());
}
