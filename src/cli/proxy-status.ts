/**
 * `skiff proxy-status` (`ps`), as istioctl 1.17's `proxy-status` (istioctl/cmd/proxystatus.go,
 * istioctl/pkg/writer/pilot/status.go):
 *
 * - Without a proxy: reads the control plane's `/debug/syncz` (debug HTTP, `--pilot-addr`, repeatable
 *   for several control planes) and prints `NAME CLUSTER CDS LDS EDS RDS ECDS ISTIOD VERSION`, tabwriter
 *   (0, 9, 5, ' ', 0), rows sorted by cluster then proxy. Per type: `NOT SENT` when nothing was sent,
 *   `SYNCED` when the last nonce sent was acknowledged, `STALE (Never Acknowledged)` when nothing was ever
 *   acknowledged, else `STALE`. skiff adds `ERROR` for a type whose last response the proxy rejected
 *   (1.17 shows that as STALE; skiff's control plane reports the held NACK in syncz's `resources`, the shape
 *   later istiod releases use). ISTIOD is the control plane's id, VERSION the proxy's Istio version (its
 *   proxy version with `*` when missing).
 * - With a proxy (`<pod>.<namespace>`, or `<pod>` with `-n`): compares the control plane's
 *   `/debug/config_dump?proxyID=<pod>.<ns>` with the proxy's own config dump, read from its Envoy admin
 *   (`--admin-address`, a skiff addition: istioctl port-forwards to the pod) or from `--file`.
 */
import { request } from 'node:http';
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { describeNetError } from './proxy-config-admin.js';
import { labAdminAddress, labPilotDebugAddress } from './proxy-config-lab.js';
import { ConfigDumpError, compareConfigDumps, parseConfigDump } from './proxy-status-diff.js';
import { tabulate } from './tabwriter.js';

export interface ProxyStatusFlags {
  pilotAddr?: string[];
  namespace?: string;
  istioNamespace?: string;
  file?: string;
  adminAddress?: string;
}

const DEFAULT_PILOT = '127.0.0.1:8080';
const PILOT_ID_HEADER = 'x-skiff-pilot-id';
const TIMEOUT_MS = 30_000;

const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
const ROUTE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
const ENDPOINT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const ECDS = 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig';

interface HttpReply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

interface Address {
  host: string;
  port: number;
  authority: string;
}

function parseAddress(text: string, flag: string): Address {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s]+)):(\d{1,5})$/.exec(text.trim().replace(/^http:\/\//, ''));
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || !host || port < 1 || port > 65535) {
    throw new CliError(`invalid ${flag} "${text}": want <host>:<port>, e.g. ${DEFAULT_PILOT}`, EXIT.usage);
  }
  return { host, port, authority: `${host.includes(':') ? `[${host}]` : host}:${port}` };
}

function httpGet(address: Address, path: string, what: string): Promise<HttpReply> {
  const url = `http://${address.authority}${path}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: address.host, port: address.port, path, timeout: TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        }),
      );
      res.on('error', (err) => reject(new CliError(`${what}: Get "${url}": ${err.message}`, EXIT.unknown)));
    });
    req.on('timeout', () => req.destroy(new Error('timeout awaiting response headers')));
    req.on('error', (err) =>
      reject(
        new CliError(
          `${what} at ${address.authority}: Get "${url}": ${describeNetError(address, err)}`,
          EXIT.unknown,
        ),
      ),
    );
    req.end();
  });
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

// ---- the table ----

interface SyncRow {
  cluster_id?: unknown;
  proxy?: unknown;
  proxy_version?: unknown;
  istio_version?: unknown;
  [key: string]: unknown;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** istioctl 1.17's xdsStatus, plus ERROR for a held NACK. */
export function syncStatus(sent: string, acked: string, lastError: string): string {
  if (lastError !== '') return 'ERROR';
  if (sent === '') return 'NOT SENT';
  if (sent === acked) return 'SYNCED';
  // acked is empty when nothing was ever acknowledged.
  if (acked === '') return 'STALE (Never Acknowledged)';
  return 'STALE';
}

function cell(row: SyncRow, prefix: string, typeUrl: string): string {
  const resources = row['resources'];
  const entry =
    typeof resources === 'object' && resources !== null
      ? (resources as Record<string, unknown>)[typeUrl]
      : undefined;
  const lastError =
    typeof entry === 'object' && entry !== null ? text((entry as Record<string, unknown>)['lastError']) : '';
  return syncStatus(text(row[`${prefix}_sent`]), text(row[`${prefix}_acked`]), lastError);
}

/** The proxy-status table for syncz rows by control-plane id. */
export function statusTable(byPilot: ReadonlyMap<string, readonly SyncRow[]>): string {
  const rows: { pilot: string; row: SyncRow }[] = [];
  for (const [pilot, list] of byPilot) for (const row of list) rows.push({ pilot, row });
  rows.sort((a, b) => {
    const ca = text(a.row.cluster_id);
    const cb = text(b.row.cluster_id);
    if (ca !== cb) return ca < cb ? -1 : 1;
    const pa = text(a.row.proxy);
    const pb = text(b.row.proxy);
    return pa < pb ? -1 : pa > pb ? 1 : 0;
  });
  let out = 'NAME\tCLUSTER\tCDS\tLDS\tEDS\tRDS\tECDS\tISTIOD\tVERSION\n';
  for (const { pilot, row } of rows) {
    let version = text(row.istio_version);
    // Without an Istio version (a 1.1 pilot) istioctl falls back to the proxy version, marked.
    if (version === '') version = `${text(row.proxy_version)}*`;
    out += [
      text(row.proxy),
      text(row.cluster_id),
      cell(row, 'cluster', CLUSTER),
      cell(row, 'listener', LISTENER),
      cell(row, 'endpoint', ENDPOINT),
      cell(row, 'route', ROUTE),
      cell(row, 'extensionconfig', ECDS),
      pilot,
      version,
    ].join('\t');
    out += '\n';
  }
  return tabulate(out, { minwidth: 0, tabwidth: 9, padding: 5, padchar: ' ' });
}

async function readSyncz(address: Address): Promise<{ pilot: string; rows: SyncRow[] }> {
  const reply = await httpGet(address, '/debug/syncz', 'failed to reach the control plane');
  if (reply.status !== 200) {
    throw new CliError(
      `control plane at ${address.authority} answered /debug/syncz with HTTP ${reply.status}: ${firstLine(reply.body)}`,
      EXIT.unknown,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.body);
  } catch (err) {
    throw new CliError(
      `control plane at ${address.authority}: invalid /debug/syncz: ${(err as Error).message}`,
      EXIT.unknown,
    );
  }
  const rows = Array.isArray(parsed)
    ? parsed.filter((r): r is SyncRow => typeof r === 'object' && r !== null && !Array.isArray(r))
    : [];
  const header = reply.headers[PILOT_ID_HEADER];
  const pilot = typeof header === 'string' && header !== '' ? header : address.authority;
  return { pilot, rows };
}

// ---- the diff ----

/** istioctl's InferPodInfo: `[pod/]name[.namespace]`, the namespace after the last dot. */
export function proxyName(arg: string, namespace: string): { pod: string; namespace: string } {
  let name = arg;
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const type = name.slice(0, slash).toLowerCase();
    if (type !== 'pod' && type !== 'pods' && type !== 'po') {
      throw new CliError(
        `${arg}: resolving a ${type} to its pods needs a Kubernetes cluster, which is not available: name the pod as <pod>.<namespace>`,
        EXIT.unknown,
      );
    }
    name = name.slice(slash + 1);
  }
  const dot = name.lastIndexOf('.');
  if (dot < 0) return { pod: name, namespace };
  return { pod: name.slice(0, dot), namespace: name.slice(dot + 1) };
}

async function envoyDump(
  flags: ProxyStatusFlags,
  io: CommandIO,
  target: { pod: string; namespace: string },
): Promise<string> {
  if (flags.file !== undefined) {
    if (flags.adminAddress !== undefined)
      throw new CliError('--admin-address and --file cannot be used together', EXIT.usage);
    try {
      return flags.file === '-'
        ? (await io.readStdin()).toString('utf8')
        : await readFile(flags.file, 'utf8');
    } catch (err) {
      throw new CliError(`could not read ${flags.file}: ${(err as Error).message}`, EXIT.unknown);
    }
  }
  const labAddress =
    flags.adminAddress === undefined
      ? await labAdminAddress(`${target.pod}.${target.namespace}`, target.namespace, io)
      : undefined;
  if (flags.adminAddress === undefined && labAddress === undefined) {
    throw new CliError(
      'could not contact sidecar: reaching a pod needs a Kubernetes cluster, which is not available: use --admin-address <host:port> of the proxy, or --file <config dump>',
      EXIT.unknown,
    );
  }
  const address = labAddress ?? parseAddress(flags.adminAddress ?? '', '--admin-address');
  let reply: HttpReply;
  try {
    reply = await httpGet(address, '/config_dump', 'failed to reach the proxy admin');
  } catch (err) {
    throw new CliError(`could not contact sidecar: ${(err as Error).message}`, EXIT.unknown);
  }
  if (reply.status !== 200) {
    throw new CliError(
      `could not contact sidecar: ${address.authority}/config_dump answered HTTP ${reply.status}: ${firstLine(reply.body)}`,
      EXIT.unknown,
    );
  }
  return reply.body;
}

async function istiodDump(addresses: readonly Address[], proxyId: string): Promise<string> {
  const reasons: string[] = [];
  for (const address of addresses) {
    const reply = await httpGet(
      address,
      `/debug/config_dump?proxyID=${encodeURIComponent(proxyId)}`,
      'failed to reach the control plane',
    );
    if (reply.status === 200) {
      try {
        JSON.parse(reply.body);
        return reply.body;
      } catch {
        reasons.push(`${address.authority}: invalid JSON`);
        continue;
      }
    }
    reasons.push(`${address.authority}: ${firstLine(reply.body) || `HTTP ${reply.status}`}`);
  }
  throw new CliError(`unable to find config dump in Istiod responses (${reasons.join('; ')})`, EXIT.unknown);
}

export async function proxyStatusCommand(
  proxy: string | undefined,
  flags: ProxyStatusFlags,
  io: CommandIO,
): Promise<number> {
  // Without --pilot-addr, the lab running from this directory, else istiod's usual debug port.
  const defaultPilot = (await labPilotDebugAddress()) ?? DEFAULT_PILOT;
  const addresses = (flags.pilotAddr && flags.pilotAddr.length > 0 ? flags.pilotAddr : [defaultPilot]).map(
    (a) => parseAddress(a, '--pilot-addr'),
  );
  if (proxy === undefined) {
    if (flags.file !== undefined)
      throw new CliError('--file can only be used when pod-name is specified', EXIT.usage);
    const byPilot = new Map<string, SyncRow[]>();
    for (const address of addresses) {
      const { pilot, rows } = await readSyncz(address);
      byPilot.set(pilot, [...(byPilot.get(pilot) ?? []), ...rows]);
    }
    io.stdout(statusTable(byPilot));
    return EXIT.ok;
  }
  const { pod, namespace } = proxyName(proxy, flags.namespace || 'default');
  const envoy = await envoyDump(flags, io, { pod, namespace });
  const istiod = await istiodDump(addresses, `${pod}.${namespace}`);
  try {
    compareConfigDumps(parseConfigDump(istiod), parseConfigDump(envoy), io.stdout);
  } catch (err) {
    if (err instanceof ConfigDumpError) throw new CliError(err.message, EXIT.unknown);
    throw err;
  }
  return EXIT.ok;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerProxyStatus(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('proxy-status')
    .alias('ps')
    .description(
      'Retrieves the synchronization status of each proxy from the control plane, or the diff of one proxy against it',
    )
    .argument('[proxy]', '<pod>.<namespace> (or <pod> with -n) to compare with the control plane')
    .option(
      '--pilot-addr <host:port>',
      `control plane debug HTTP address (default ${DEFAULT_PILOT}; repeatable)`,
      collect,
    )
    .option('-n, --namespace <namespace>', 'namespace of the proxy named without one', 'default')
    .option('-i, --istioNamespace <namespace>', 'Istio system namespace', 'istio-system')
    .option('-f, --file <file>', 'Envoy config dump JSON file to compare (- for stdin)')
    .option('--admin-address <host:port>', "the proxy's Envoy admin address (skiff addition)")
    .action(async (proxy: string | undefined, opts: ProxyStatusFlags) => {
      setExit(await proxyStatusCommand(proxy, opts, io));
    });
}
