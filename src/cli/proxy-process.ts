import type { Command } from 'commander';
import { proxyCaFromEnv, startProxyRuntime } from '../lab/index.js';
import type { PodPort } from '../lab/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { untilSignal } from './signals.js';

export interface ProxyProcessFlags {
  xdsAddress?: string;
  podIp?: string;
  podName?: string;
  namespace?: string;
  appAddress?: string;
}

function jsonEnv<T>(env: NodeJS.ProcessEnv, name: string, check: (v: unknown) => v is T): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new CliError(`invalid ${name}: not JSON`, EXIT.usage);
  }
  if (!check(value)) throw new CliError(`invalid ${name}: unexpected shape`, EXIT.usage);
  return value;
}

function isStringMap(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === 'string')
  );
}

function isPortList(v: unknown): v is PodPort[] {
  return (
    Array.isArray(v) &&
    v.every(
      (p) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as Record<string, unknown>)['containerPort'] === 'number',
    )
  );
}

/**
 * `skiff proxy sidecar|router`: one pod's proxy. Settings come from flags or from the environment the lab's
 * injector sets, named as Istio's (POD_NAME, POD_NAMESPACE, INSTANCE_IP, SERVICE_ACCOUNT,
 * ISTIO_METAJSON_LABELS, ISTIO_META_POD_PORTS, ISTIO_KUBE_APP_PROBERS, ISTIO_META_CLUSTER_ID), plus
 * SKIFF_XDS_ADDRESS (the control plane) and SKIFF_APP_ADDRESS (where the application listens).
 */
function caFromEnv(env: NodeJS.ProcessEnv): ReturnType<typeof proxyCaFromEnv> {
  try {
    return proxyCaFromEnv(env);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.usage);
  }
}

export async function proxyProcessCommand(
  kind: string,
  flags: ProxyProcessFlags,
  io: CommandIO,
): Promise<number> {
  if (kind !== 'sidecar' && kind !== 'router')
    throw new CliError(`unknown proxy type "${kind}": want sidecar or router`, EXIT.usage);
  const env = io.env;
  const podIP = flags.podIp ?? env['INSTANCE_IP'];
  const podName = flags.podName ?? env['POD_NAME'];
  const namespace = flags.namespace ?? env['POD_NAMESPACE'];
  if (!podIP || !podName || !namespace)
    throw new CliError(
      '--pod-ip, --pod-name and --namespace (or INSTANCE_IP, POD_NAME, POD_NAMESPACE) are required',
      EXIT.usage,
    );
  const stopped = untilSignal();
  const runtime = await startProxyRuntime({
    type: kind,
    xdsAddress: flags.xdsAddress ?? env['SKIFF_XDS_ADDRESS'] ?? '127.0.0.1:15010',
    podIP,
    podName,
    namespace,
    labels: jsonEnv(env, 'ISTIO_METAJSON_LABELS', isStringMap),
    annotations: jsonEnv(env, 'ISTIO_METAJSON_ANNOTATIONS', isStringMap),
    serviceAccount: env['SERVICE_ACCOUNT'] || undefined,
    podPorts: jsonEnv(env, 'ISTIO_META_POD_PORTS', isPortList),
    appAddress: flags.appAddress ?? (env['SKIFF_APP_ADDRESS'] || undefined),
    appProbers: env['ISTIO_KUBE_APP_PROBERS'] || undefined,
    ca: caFromEnv(env),
    clusterId: env['ISTIO_META_CLUSTER_ID'] || undefined,
    log: io.stdout,
  }).catch((err: unknown) => {
    throw new CliError(`proxy failed to start: ${(err as Error).message ?? String(err)}`, EXIT.unknown);
  });
  await stopped;
  await runtime.close();
  return EXIT.ok;
}

export function registerProxyProcess(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('proxy')
    .description("Run one pod's proxy (sidecar or gateway), configured over xDS by the control plane")
    .argument('<type>', 'sidecar or router')
    .option(
      '--xds-address <addr>',
      'control plane xDS address (default SKIFF_XDS_ADDRESS or 127.0.0.1:15010)',
    )
    .option('--pod-ip <ip>', 'the pod address (default INSTANCE_IP)')
    .option('--pod-name <name>', 'the pod name (default POD_NAME)')
    .option('--namespace <ns>', 'the pod namespace (default POD_NAMESPACE)')
    .option('--app-address <ip>', 'sidecars: where the application listens (default SKIFF_APP_ADDRESS)')
    .action(async (kind: string, opts: ProxyProcessFlags) => {
      setExit(await proxyProcessCommand(kind, opts, io));
    });
}
