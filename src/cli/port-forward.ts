/**
 * `skiff port-forward <pod | TYPE/NAME> [LOCAL:]REMOTE... [-n ns] [--address a,b]` (kubectl port-forward):
 * listens on 127.0.0.1 (and [::1] when it can) and splices each connection to where the pod's port listens
 * in the lab — the pod IP for the sidecar's own ports (15000 admin, 15004, 15020, 15021, 15090) and for
 * pods without a sidecar, the application's address for an injected pod's application ports. `svc/x`
 * picks a pod of the Service and maps the service port to its target port, as kubectl does. The lab's
 * control plane runs inside the supervisor rather than in a pod, so `deploy/istiod -n istio-system`
 * forwards 8080 (debug), 15014 (monitoring) and 15010 (xDS) to it. Prints kubectl's
 * `Forwarding from 127.0.0.1:LOCAL -> REMOTE` lines and `Handling connection for LOCAL`; runs until
 * interrupted.
 */
import type { Command } from 'commander';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { CliError, EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import {
  ApiError,
  kubectlFailure,
  apiRequest,
  objectPath,
  resolveKind,
  resolveServer,
} from './kubectl-client.js';
import { OUTBOUND_PORT, SIDECAR_PORTS, appAddress } from './kubectl-exec.js';
import { serverOption } from './kubectl-get.js';
import {
  SIDECAR,
  containersOf,
  hasSidecar,
  isRecord,
  podIP,
  podName,
  podsBySelector,
  resolvePod,
} from './kubectl-pod-target.js';
import { untilSignal } from './signals.js';

export interface PortForwardFlags {
  namespace?: string;
  address?: string;
  server?: string;
  stateDir?: string;
}

export interface PortPair {
  local: number;
  remote: number;
  /** The remote as written (a number, or a container port's name). */
  remoteText: string;
}

function parsePort(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw usageError(`${what} "${text}" is not a valid port number`);
  const n = Number(text);
  if (n < 0 || n > 65535) throw usageError(`${what} "${text}" is not a valid port number`);
  return n;
}

/** `8080`, `15000:15000`, `:80` (any free local port), `5000:http` (a named port, resolved later). */
export function parsePortSpec(spec: string): { local: number | undefined; remoteText: string } {
  const parts = spec.split(':');
  if (parts.length > 2 || parts.some((p, i) => p === '' && i === 1))
    throw usageError(`invalid port format '${spec}'`);
  if (parts.length === 1) return { local: undefined, remoteText: parts[0] ?? '' };
  const [localText = '', remoteText = ''] = parts;
  return { local: localText === '' ? 0 : parsePort(localText, 'Local port'), remoteText };
}

function declaredPorts(pod: KubeObject): { name: string; port: number; container: string }[] {
  return containersOf(pod).flatMap((c) =>
    (Array.isArray(c['ports']) ? c['ports'] : [])
      .filter(isRecord)
      .filter((p) => typeof p['containerPort'] === 'number')
      .map((p) => ({
        name: typeof p['name'] === 'string' ? p['name'] : '',
        port: p['containerPort'] as number,
        container: String(c['name']),
      })),
  );
}

/** Where a pod's port listens on this machine. */
export function podPortAddress(pod: KubeObject, port: number): { host: string; port: number } {
  const ip = podIP(pod);
  if (ip === undefined)
    throw new CliError(`pod ${podName(pod)} has no IP yet (is it running?)`, EXIT.unknown);
  if (!hasSidecar(pod)) return { host: ip, port };
  if (SIDECAR_PORTS.includes(port) || port === OUTBOUND_PORT || port === 15006) return { host: ip, port };
  const owner = declaredPorts(pod).find((p) => p.port === port)?.container;
  return { host: owner === SIDECAR ? ip : appAddress(pod, ip), port };
}

/** The port a Service port (number or name) leads to in a pod (its targetPort, numeric or named). */
function serviceTargetPort(svc: KubeObject, pod: KubeObject, remoteText: string): number {
  const spec = isRecord(svc['spec']) ? svc['spec'] : {};
  const ports = (Array.isArray(spec['ports']) ? spec['ports'] : []).filter(isRecord);
  const match = ports.find((p) => String(p['port']) === remoteText || p['name'] === remoteText);
  if (!match)
    throw new CliError(
      `Service ${String((svc['metadata'] as Record<string, unknown> | undefined)?.['name'] ?? '')} does not have a service port ${remoteText}`,
      EXIT.unknown,
    );
  const target = match['targetPort'] ?? match['port'];
  if (typeof target === 'number') return target;
  const named = declaredPorts(pod).find((p) => p.name === target);
  if (!named)
    throw new CliError(`Pod '${podName(pod)}' does not have a named port '${String(target)}'`, EXIT.unknown);
  return named.port;
}

function podRemotePort(pod: KubeObject, remoteText: string): number {
  if (/^\d+$/.test(remoteText)) return parsePort(remoteText, 'Remote port');
  const named = declaredPorts(pod).find((p) => p.name === remoteText);
  if (!named)
    throw new CliError(`Pod '${podName(pod)}' does not have a named port '${remoteText}'`, EXIT.unknown);
  return named.port;
}

/** The control plane's addresses in the running lab, for `deploy/istiod` (istiod's ports → supervisor ports). */
async function controlPlaneTargets(
  flags: PortForwardFlags,
): Promise<Map<number, { host: string; port: number }>> {
  const lab = await import('../lab/index.js');
  const state = lab.readLabState(lab.stateDirPath(flags.stateDir));
  const out = new Map<number, { host: string; port: number }>();
  const e = state?.endpoints;
  if (!e) return out;
  const hostPort = (text: string): { host: string; port: number } | undefined => {
    const m = /^(?:https?:\/\/)?([^:/]+):(\d+)/.exec(text);
    return m ? { host: m[1] ?? '127.0.0.1', port: Number(m[2]) } : undefined;
  };
  for (const [port, text] of [
    [8080, e.debug],
    [15014, e.monitoring],
    [15010, e.xds],
  ] as const) {
    const hp = hostPort(text);
    if (hp) out.set(port, hp);
  }
  return out;
}

function isIstiod(target: string, namespace: string): boolean {
  return (
    namespace === 'istio-system' &&
    /^(deploy|deployment|deployments|deployment\.apps|pod|pods|po)\/istiod(-.*)?$|^istiod-/.test(target)
  );
}

interface Listener {
  address: string;
  server: Server;
  sockets: Set<Socket>;
}

function listen(
  address: string,
  port: number,
  target: { host: string; port: number },
  onConnection: () => void,
): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server = createServer((downstream) => {
    onConnection();
    sockets.add(downstream);
    const upstream = connect(target);
    sockets.add(upstream);
    const drop = (): void => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', () => sockets.delete(downstream));
    upstream.on('close', () => sockets.delete(upstream));
    downstream.on('error', drop);
    upstream.on('error', drop);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => {
      server.off('error', reject);
      resolve({ address, server, sockets });
    });
  });
}

function hostText(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export async function portForwardCommand(
  target: string,
  specs: string[],
  flags: PortForwardFlags,
  io: CommandIO,
  stop: Promise<unknown> = untilSignal(),
): Promise<number> {
  if (specs.length === 0) throw usageError('TYPE/NAME and list of ports are required for port-forward');
  const namespace = flags.namespace ?? 'default';
  const parsed = specs.map(parsePortSpec);
  const server = await resolveServer(flags, io);
  const routes: { local: number; remote: number; to: { host: string; port: number } }[] = [];
  try {
    const slash = target.indexOf('/');
    const kind = slash < 0 ? undefined : resolveKind(target.slice(0, slash));
    if (kind?.kind === 'Service' && kind.group === '') {
      const svc = await apiRequest(server, objectPath(kind, namespace, target.slice(slash + 1)));
      const spec = isRecord(svc['spec']) ? svc['spec'] : {};
      const selector = Object.entries(isRecord(spec['selector']) ? spec['selector'] : {})
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(',');
      const pod = selector === '' ? undefined : (await podsBySelector(server, namespace, selector))[0];
      if (!pod) throw new CliError(`no pods found for service ${target.slice(slash + 1)}`, EXIT.unknown);
      for (const p of parsed) {
        const remote = serviceTargetPort(svc, pod, p.remoteText);
        const local = p.local ?? (/^\d+$/.test(p.remoteText) ? Number(p.remoteText) : remote);
        routes.push({ local, remote, to: podPortAddress(pod, remote) });
      }
    } else {
      let pod: KubeObject | undefined;
      try {
        pod = await resolvePod(server, namespace, target, io);
      } catch (err) {
        // istiod is the supervisor itself in the lab: its ports are forwarded there.
        if (!(err instanceof ApiError && err.status === 404 && isIstiod(target, namespace))) throw err;
        const cp = await controlPlaneTargets(flags);
        for (const p of parsed) {
          const remote = parsePort(p.remoteText, 'Remote port');
          const to = cp.get(remote);
          if (!to)
            throw new CliError(
              `the lab's control plane serves 8080 (debug), 15014 (monitoring) and 15010 (xDS), not ${remote}`,
              EXIT.unknown,
            );
          routes.push({ local: p.local ?? remote, remote, to });
        }
      }
      if (pod) {
        for (const p of parsed) {
          const remote = podRemotePort(pod, p.remoteText);
          routes.push({ local: p.local ?? remote, remote, to: podPortAddress(pod, remote) });
        }
      }
    }
  } catch (err) {
    return kubectlFailure(err, io);
  }
  const addresses = (flags.address ?? 'localhost')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const listeners: Listener[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(
      listeners.map(
        (l) =>
          new Promise<void>((done) => {
            l.server.close(() => done());
            for (const s of l.sockets) s.destroy();
          }),
      ),
    );
  };
  for (const route of routes) {
    for (const address of addresses) {
      // `localhost` is both loopbacks; the IPv6 one is skipped quietly where the machine has none.
      const candidates = address === 'localhost' ? ['127.0.0.1', '::1'] : [address];
      for (const host of candidates) {
        if (host === route.to.host && route.local === route.to.port) {
          // The lab already serves this port right here (the control plane on 127.0.0.1:8080).
          io.stdout(`Forwarding from ${hostText(host)}:${route.local} -> ${route.remote}\n`);
          continue;
        }
        try {
          const l = await listen(host, route.local, route.to, () =>
            io.stdout(`Handling connection for ${route.local}\n`),
          );
          const actual = (l.server.address() as { port: number }).port;
          if (route.local === 0) route.local = actual;
          listeners.push(l);
          io.stdout(`Forwarding from ${hostText(host)}:${actual} -> ${route.remote}\n`);
        } catch (err) {
          if (address === 'localhost' && host === '::1') continue;
          await close();
          io.stderr(
            `Unable to listen on port ${route.local}: Listeners failed to create with the following errors: [unable to create listener: Error listen tcp4 ${hostText(host)}:${route.local}: bind: ${(err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : (err as Error).message}]\n`,
          );
          io.stderr(
            `error: unable to listen on any of the requested ports: [{${route.local} ${route.remote}}]\n`,
          );
          return EXIT.unknown;
        }
      }
    }
  }
  await stop;
  await close();
  return EXIT.ok;
}

export function registerPortForward(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('port-forward')
      .description('Forward local ports to a pod, a Service or a workload (kubectl port-forward)')
      .argument('<target>', 'POD, pod/NAME, svc/NAME or deploy/NAME')
      .argument('<ports...>', '[LOCAL:]REMOTE, e.g. 15000:15000, 8080, :80')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('--address <addresses>', 'addresses to listen on, comma-separated', 'localhost'),
  ).action(async (target: string, ports: string[], flags: PortForwardFlags) =>
    setExit(await portForwardCommand(target, ports, flags, io)),
  );
}
