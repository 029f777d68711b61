// mTLS end to end on one real lab (`skiff up --example lab` + the routing examples), run in a private
// network namespace so its loopback addresses and port 30000 cannot clash with another lab: a tcpdump
// capture of gateway → catalog shows TLS ClientHellos with Istio's SNI and ALPN and no plaintext HTTP;
// a plaintext client is served under PERMISSIVE and refused under STRICT while the gateway keeps working;
// `x describe` and `proxy-config secret` show the mode and the workload certificate; malformed policies
// are refused at apply time. The driver (security-e2e-fixtures.ts) does the lab work inside the namespace
// and this file judges what it recorded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { CaptureResult, LabResult } from './security-e2e-fixtures.js';
import {
  isPlaintextHttp,
  missingPrerequisite,
  namespaceCommand,
  parseClientHello,
  readPcapTcp,
  SNI_NO_SUBSET,
  SNI_V1,
  SNI_V2,
} from './security-e2e-fixtures.js';
import { ROOT, tempDir } from './helpers.js';

const DRIVER = join(ROOT, 'dist/test/security-e2e-fixtures.js');
const missing = missingPrerequisite();
// Under CI the tools are installed by .ci/run: their absence is a failure, not a reason to skip.
const skip = missing !== undefined && process.env['CI'] !== 'true' ? missing : false;

function runDriver(dir: string): Promise<string> {
  const [cmd, args] = namespaceCommand(`"${process.execPath}" "${DRIVER}" --lab-driver "${dir}"`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Per catalog pod address: the ClientHellos sent to its port 3000, and payloads that were plaintext HTTP. */
function analyse(c: CaptureResult | undefined, ips: string[]) {
  assert.ok(c, 'no capture');
  const { linkType, segments } = readPcapTcp(readFileSync(c.pcap));
  const toPods = segments.filter((s) => ips.includes(s.dst) && s.dstPort === 3000 && s.payload.length > 0);
  const hellos = toPods
    .map((s) => ({ dst: s.dst, hello: parseClientHello(s.payload) }))
    .filter((h) => h.hello !== undefined);
  const plaintext = toPods.filter((s) => isPlaintextHttp(s.payload));
  return { linkType, segments, toPods, hellos, plaintext };
}

describe('mTLS end to end on one lab', { skip, timeout: 420_000 }, () => {
  let r: LabResult;
  let output = '';

  before(async () => {
    if (missing) assert.fail(`CI=true and the lab test cannot run: ${missing}`);
    const dir = tempDir('skiff-security-e2e-');
    output = await runDriver(dir);
    try {
      r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as LabResult;
    } catch {
      assert.fail(`the lab driver wrote no result:\n${output}`);
    }
    assert.equal(r.fatal, undefined, `${r.fatal}\n${r.up.stdout}${r.up.stderr}\n${output}`);
    assert.equal(r.up.code, 0);
    assert.equal(r.applyRouting.code, 0, r.applyRouting.stderr);
  });

  it('gateway → catalog is TLS with the subset SNI and Istio ALPN, never plaintext HTTP', () => {
    const v1 = r.pods.filter((p) => p.version === 'v1').map((p) => p.ip);
    const v2 = r.pods.filter((p) => p.version === 'v2').map((p) => p.ip);
    assert.ok(v1.length === 1 && v2.length === 2, JSON.stringify(r.pods));
    assert.match(r.captureSubsets?.tcpdumpLog ?? '', /listening on lo/);
    assert.ok(
      r.captureSubsets?.gateway.every((p) => p.status === 200),
      JSON.stringify(r.captureSubsets?.gateway),
    );
    const a = analyse(r.captureSubsets, [...v1, ...v2]);
    assert.equal(a.linkType, 1, 'Ethernet frames on lo');
    assert.ok(a.toPods.length > 0, `no payload to a catalog pod in ${a.segments.length} segments`);
    assert.ok(a.hellos.length > 0, 'a TLS ClientHello to a catalog pod');
    for (const { dst, hello } of a.hellos) {
      assert.equal(hello?.serverName, v1.includes(dst) ? SNI_V1 : SNI_V2, `SNI to ${dst}`);
      assert.ok(
        hello?.alpn.includes('istio-peer-exchange') || hello?.alpn.includes('istio'),
        `ALPN ${hello?.alpn.join(',')}`,
      );
    }
    // The 80/20 split shows on the wire: both subsets were dialled over TLS.
    assert.ok(
      a.hellos.some((h) => h.hello?.serverName === SNI_V2),
      'a ClientHello to a v2 pod',
    );
    assert.ok(
      a.hellos.some((h) => h.hello?.serverName === SNI_V1),
      'a ClientHello to the v1 pod',
    );
    // Both v2 pods are endpoints of the gateway's subset cluster.
    for (const ip of v2)
      assert.match(
        r.gatewayEndpoints?.stdout ?? '',
        new RegExp(`${ip.replace(/\./g, '\\.')}:3000\\s+HEALTHY`),
      );
    assert.deepEqual(
      a.plaintext.map((s) => s.payload.subarray(0, 40).toString('latin1')),
      [],
      'no plaintext HTTP to the catalog pods',
    );
    // Every payload to port 3000 is a TLS record (handshake 22, change cipher spec 20, application data 23, alert 21).
    assert.deepEqual(
      a.toPods.filter((s) => ![20, 21, 22, 23].includes(s.payload[0] ?? 0) || s.payload[1] !== 3).length,
      0,
    );
  });

  it('without subsets the SNI is outbound_.80_._.catalog…, still TLS only (under STRICT)', () => {
    assert.equal(r.applyNoSubset?.code, 0, r.applyNoSubset?.stderr);
    const ips = r.pods.map((p) => p.ip);
    const a = analyse(r.captureNoSubset, ips);
    assert.ok(
      r.captureNoSubset?.gateway.every((p) => p.status === 200),
      JSON.stringify(r.captureNoSubset?.gateway),
    );
    assert.ok(a.hellos.length > 0, 'a TLS ClientHello to a catalog pod');
    assert.deepEqual([...new Set(a.hellos.map((h) => h.hello?.serverName))], [SNI_NO_SUBSET]);
    assert.equal(a.plaintext.length, 0);
  });

  it('a plaintext client is served under PERMISSIVE and refused under STRICT; the gateway (mTLS) still works', () => {
    assert.equal(r.plainPermissive?.status, 200, JSON.stringify(r.plainPermissive));
    assert.match(r.plainPermissive?.body ?? '', /"name"/);
    assert.equal(r.applyStrict?.code, 0, r.applyStrict?.stderr);
    assert.match(r.applyStrict?.stdout ?? '', /peerauthentication\.security\.istio\.io\/default created/);
    assert.equal(r.plainStrict?.status, undefined, JSON.stringify(r.plainStrict));
    assert.match(r.plainStrict?.error ?? '', /ECONNRESET|socket hang up|EPIPE/);
    assert.equal(r.gatewayStrict?.status, 200, JSON.stringify(r.gatewayStrict));
  });

  it('x describe pod shows the effective mTLS mode before and after the STRICT policy', () => {
    assert.equal(r.describePermissive?.code, 0, r.describePermissive?.stderr);
    assert.match(
      r.describePermissive?.stdout ?? '',
      /\nEffective PeerAuthentication:\n {3}Workload mTLS mode: PERMISSIVE\n/,
    );
    assert.equal(r.describeStrict?.code, 0, r.describeStrict?.stderr);
    assert.match(
      r.describeStrict?.stdout ?? '',
      /\nEffective PeerAuthentication:\n {3}Workload mTLS mode: STRICT\n/,
    );
    assert.match(r.describeStrict?.stdout ?? '', /Applied PeerAuthentication:\n {3}default\.istioinaction\n/);
  });

  it('proxy-config secret: default and ROOTCA are ACTIVE with valid certificates', () => {
    assert.equal(r.secret?.code, 0, r.secret?.stderr);
    const lines = (r.secret?.stdout ?? '').trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^RESOURCE NAME\s+TYPE\s+STATUS\s+VALID CERT\s+SERIAL NUMBER\s+NOT AFTER\s+NOT BEFORE$/,
    );
    const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s{2,}/) ?? [];
    const def = row('default');
    const root = row('ROOTCA');
    assert.deepEqual(def.slice(0, 4), ['default', 'Cert Chain', 'ACTIVE', 'true'], lines.join('\n'));
    assert.deepEqual(root.slice(0, 4), ['ROOTCA', 'CA', 'ACTIVE', 'true'], lines.join('\n'));
    assert.match(def[4] ?? '', /^\d+$/);
    assert.notEqual(def[4], root[4]);
    // The workload certificate lives 24 h (SECRET_TTL); the self-signed root ten years.
    const hours = (Date.parse(def[5] ?? '') - Date.parse(def[6] ?? '')) / 3600_000;
    assert.ok(hours > 23 && hours < 25.5, `default lifetime ${hours} h`);
    assert.ok(Date.parse(root[5] ?? '') - Date.now() > 365 * 24 * 3600_000);
  });

  it('malformed PeerAuthentication / AuthorizationPolicy are refused at apply time with the webhook message', () => {
    const pa = r.applyBadPeerAuthentication;
    assert.equal(pa?.code, 1, JSON.stringify(pa));
    assert.match(
      pa?.stderr ?? '',
      /admission webhook "validation\.istio\.io" denied the request: .*unknown value "STRICTEST" for enum istio\.security\.v1beta1\.PeerAuthentication\.MutualTLS\.Mode/,
    );
    const ap = r.applyBadAuthorizationPolicy;
    assert.equal(ap?.code, 1, JSON.stringify(ap));
    assert.match(
      ap?.stderr ?? '',
      /denied the request: configuration is invalid: invalid policy bad-deny\.istioinaction: DENY action without `rules` is meaningless/,
    );
    assert.doesNotMatch(r.getAfterBad?.stdout ?? '', /bad-mode|bad-deny/);
    assert.match(r.getAfterBad?.stdout ?? '', /default/, 'the valid STRICT policy is still there');
  });

  it('AuthorizationPolicy DENY on /items: 403 RBAC: access denied; other paths pass', () => {
    assert.equal(r.applyDeny?.code, 0, r.applyDeny?.stderr);
    const [items, other] = r.denyProbes ?? [];
    assert.equal(items?.status, 403, JSON.stringify(items).slice(0, 200));
    assert.equal(items?.body, 'RBAC: access denied');
    assert.equal(other?.status, 200, 'a path the rule does not name is allowed');
  });
});
