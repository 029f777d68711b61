/**
 * `skiff exec <pod|TYPE/name> [-c container] [-i] [-t] -- cmd args...`: runs the command on this machine
 * "inside" the pod — with the container's declared environment (values, `$(VAR)`, field refs, ConfigMap and
 * Secret keys read through the REST API), `HOSTNAME`/`POD_IP`, and, for an application container of a pod
 * with a sidecar, the sidecar's outbound capture (`http://<podIP>:15001`) as `HTTP_PROXY`/`http_proxy`, so
 * `curl http://catalog.istioinaction/items` goes through the mesh as iptables would make it.
 *
 * The lab has no network namespaces, so `localhost` is not the pod: arguments naming `localhost:<port>` or
 * `127.0.0.1:<port>` are rewritten to where that port listens in the pod — the pod IP for the sidecar's
 * ports (15000 admin, 15004, 15020, 15021, 15090), the application's address for its declared ports.
 * The exit code is the command's; a non-zero one is noted as kubectl does (`command terminated with exit code N`).
 */
import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Command } from 'commander';
import { CliError, EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import { kubectlFailure, apiRequest, objectPath, resolveKind, resolveServer } from './kubectl-client.js';
import { serverOption } from './kubectl-get.js';
import type { Json } from './kubectl-pod-target.js';
import {
  SIDECAR,
  containersOf,
  defaultContainer,
  hasSidecar,
  isRecord,
  metaOf,
  podIP,
  podName,
  podNamespace,
  resolvePod,
} from './kubectl-pod-target.js';

export interface ExecFlags {
  namespace?: string;
  container?: string;
  stdin?: boolean;
  tty?: boolean;
  server?: string;
  stateDir?: string;
}

/** The sidecar's own listeners on the pod IP (admin, agent debug, status, readiness, Prometheus). */
export const SIDECAR_PORTS = [15000, 15004, 15020, 15021, 15090];

/** The sidecar's outbound capture front, which applications use as their HTTP proxy. */
export const OUTBOUND_PORT = 15001;

/** Where a sidecar-injected pod's application binds: the 127.11.x.y twin of its 127.10.x.y pod IP. */
export function appAddress(pod: KubeObject, ip: string): string {
  if (!hasSidecar(pod)) return ip;
  const o = ip.split('.');
  return o.length === 4 && o[0] === '127' ? `127.11.${o[2]}.${o[3]}` : ip;
}

/** `localhost:15000/...` → `<podIP>:15000/...`: localhost in the pod, as this machine can reach it. */
export function rewriteLocalhost(args: readonly string[], pod: KubeObject): string[] {
  const ip = podIP(pod);
  if (ip === undefined) return [...args];
  const appPorts = new Set<number>();
  for (const c of containersOf(pod))
    if (c['name'] !== SIDECAR)
      for (const p of Array.isArray(c['ports']) ? c['ports'] : [])
        if (isRecord(p) && typeof p['containerPort'] === 'number') appPorts.add(p['containerPort']);
  const sidecar = hasSidecar(pod);
  return args.map((arg) =>
    arg.replace(/\b(localhost|127\.0\.0\.1):(\d{1,5})\b/g, (whole, _host: string, portText: string) => {
      const port = Number(portText);
      if (sidecar && (SIDECAR_PORTS.includes(port) || port === OUTBOUND_PORT)) return `${ip}:${port}`;
      if (appPorts.has(port)) return `${appAddress(pod, ip)}:${port}`;
      return whole;
    }),
  );
}

function expandVars(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && name in vars ? (vars[name] ?? '') : whole;
  });
}

function fieldValue(pod: KubeObject, path: string): string {
  const meta = metaOf(pod);
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (m) {
    const map = meta[m[1] ?? ''];
    const v = isRecord(map) ? map[m[2] ?? ''] : undefined;
    return typeof v === 'string' ? v : '';
  }
  const spec = isRecord(pod['spec']) ? pod['spec'] : {};
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v : d);
  switch (path) {
    case 'metadata.name':
      return podName(pod);
    case 'metadata.namespace':
      return podNamespace(pod);
    case 'metadata.uid':
      return str(meta['uid'], '');
    case 'spec.nodeName':
      return str(spec['nodeName'], 'skiff');
    case 'spec.serviceAccountName':
      return str(spec['serviceAccountName'], 'default');
    case 'status.podIP':
    case 'status.podIPs':
      return podIP(pod) ?? '';
    case 'status.hostIP':
      return '127.0.0.1';
    default:
      return '';
  }
}

async function keyRef(server: string, kind: string, ns: string, ref: Json): Promise<string> {
  const name = ref['name'];
  const key = ref['key'];
  if (typeof name !== 'string' || typeof key !== 'string') return '';
  try {
    const object = await apiRequest(server, objectPath(resolveKind(kind), ns, name));
    const data = isRecord(object['data']) ? object['data'] : {};
    const raw = typeof data[key] === 'string' ? data[key] : '';
    return kind === 'secrets' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  } catch {
    return ''; // kubelet would refuse to start the container; exec has nothing better to offer
  }
}

/** The container's declared `env`, resolved as the kubelet resolves it. */
export async function declaredEnv(
  server: string,
  pod: KubeObject,
  container: Json,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const ns = podNamespace(pod);
  for (const e of Array.isArray(container['env']) ? container['env'] : []) {
    if (!isRecord(e) || typeof e['name'] !== 'string' || e['name'] === '') continue;
    const name = e['name'];
    if (typeof e['value'] === 'string') {
      out[name] = expandVars(e['value'], out);
      continue;
    }
    const from = isRecord(e['valueFrom']) ? e['valueFrom'] : {};
    if (isRecord(from['fieldRef']))
      out[name] = fieldValue(
        pod,
        typeof from['fieldRef']['fieldPath'] === 'string' ? from['fieldRef']['fieldPath'] : '',
      );
    else if (isRecord(from['configMapKeyRef']))
      out[name] = await keyRef(server, 'configmaps', ns, from['configMapKeyRef']);
    else if (isRecord(from['secretKeyRef']))
      out[name] = await keyRef(server, 'secrets', ns, from['secretKeyRef']);
    else out[name] = '';
  }
  return out;
}

/** What the lab adds to a container's process, as seen from a command exec'd into it. */
export function labEnv(pod: KubeObject, container: Json): Record<string, string> {
  const ip = podIP(pod) ?? '';
  const env: Record<string, string> = {
    HOSTNAME: podName(pod),
    POD_IP: ip,
    POD_NAME: podName(pod),
    POD_NAMESPACE: podNamespace(pod),
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
  };
  if (container['name'] === SIDECAR) {
    env['INSTANCE_IP'] = ip;
  } else if (hasSidecar(pod) && ip !== '') {
    // The proxy's own traffic is not captured (its uid is excluded from iptables); the app's is.
    const proxy = `http://${ip}:${OUTBOUND_PORT}`;
    env['HTTP_PROXY'] = proxy;
    env['http_proxy'] = proxy;
    env['HTTP_PROXY_ADDR'] = `${ip}:${OUTBOUND_PORT}`;
    // Traffic to the pod itself never passes the sidecar's outbound side.
    const direct = `localhost,127.0.0.1,::1,${ip},${appAddress(pod, ip)}`;
    env['NO_PROXY'] = direct;
    env['no_proxy'] = direct;
  }
  return env;
}

export async function execCommand(
  target: string,
  command: string[],
  flags: ExecFlags,
  io: CommandIO,
): Promise<number> {
  if (command.length === 0) throw usageError('you must specify at least one command for the container');
  const server = await resolveServer(flags, io);
  let pod: KubeObject;
  let container: Json;
  try {
    pod = await resolvePod(server, flags.namespace ?? 'default', target, io);
    if (flags.container !== undefined) {
      const found = containersOf(pod).find((c) => c['name'] === flags.container);
      if (!found)
        throw new CliError(`container ${flags.container} not found in pod ${podName(pod)}`, EXIT.unknown);
      container = found;
    } else container = defaultContainer(pod, io);
    if (podIP(pod) === undefined)
      throw new CliError(
        `unable to upgrade connection: pod ${podName(pod)} has no IP yet (is it running?)`,
        EXIT.unknown,
      );
  } catch (err) {
    return kubectlFailure(err, io);
  }
  const env: NodeJS.ProcessEnv = {
    ...io.env,
    ...labEnv(pod, container),
    ...(await declaredEnv(server, pod, container)),
  };
  const [program, ...args] = rewriteLocalhost(command, pod);
  return new Promise<number>((resolveCode) => {
    // -t hands the terminal over (an interactive shell); otherwise output goes through the command's streams.
    const child = spawn(program ?? '', args, {
      env,
      stdio: flags.tty ? 'inherit' : [flags.stdin ? 'inherit' : 'ignore', 'pipe', 'pipe'],
    });
    const out = new StringDecoder('utf8');
    const errOut = new StringDecoder('utf8');
    child.stdout?.on('data', (b: Buffer) => io.stdout(out.write(b)));
    child.stderr?.on('data', (b: Buffer) => io.stderr(errOut.write(b)));
    let spawnError: NodeJS.ErrnoException | undefined;
    child.on('error', (err: NodeJS.ErrnoException) => (spawnError = err));
    child.on('close', (code, signal) => {
      io.stdout(out.end());
      io.stderr(errOut.end());
      if (spawnError) {
        // What a container runtime says for a missing binary, and its exit code.
        const why = spawnError.code === 'ENOENT' ? 'executable file not found in $PATH' : spawnError.message;
        io.stderr(`error: exec: "${program ?? ''}": ${why}\ncommand terminated with exit code 126\n`);
        resolveCode(126);
        return;
      }
      const exit = code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15);
      if (exit !== 0) io.stderr(`command terminated with exit code ${exit}\n`);
      resolveCode(exit);
    });
  });
}

export function registerExec(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('exec')
      .description("Run a command with a pod's environment, through its sidecar (kubectl exec)")
      .argument('<target>', 'POD or TYPE/NAME (e.g. deploy/sleep)')
      .argument('[command...]', 'the command and its arguments, after --')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('-c, --container <container>', "the container (default: the pod's default container)")
      .option('-i, --stdin', 'pass stdin to the command')
      .option('-t, --tty', 'hand the terminal to the command'),
  ).action(async (target: string, command: string[], flags: ExecFlags) => {
    setExit(await execCommand(target, command, flags, io));
  });
}
