import type { Command } from 'commander';
import {
  KubeConfigSource,
  SettingError,
  parseDurationFlag,
  parseIntFlag,
  parseListenAddress,
  startPilot,
} from '../pilot/index.js';
import type { ConfigSource } from '../pilot/index.js';
import { createLogger } from '../xds/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { untilSignal } from './signals.js';

export interface PilotFlags {
  configDir?: string;
  kubeconfig?: string;
  context?: string;
  grpcAddr?: string;
  secureAddr?: string;
  cacerts?: string;
  stateDir?: string;
  httpAddr?: string;
  monitoringAddr?: string;
  debounceAfter?: string;
  debounceMax?: string;
  pushThrottle?: string;
  logLevel?: string;
}

function setting<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SettingError) throw new CliError(err.message, EXIT.usage);
    throw err;
  }
}

/**
 * Where config comes from: `--config-dir`, or a Kubernetes API server (`--kubeconfig`, else `KUBECONFIG` or
 * the in-cluster service account, as istiod finds it).
 */
function configOrigin(flags: PilotFlags, env: NodeJS.ProcessEnv): 'dir' | 'kube' {
  const kube = flags.kubeconfig !== undefined || flags.context !== undefined;
  if (flags.configDir !== undefined && kube)
    throw new CliError('--config-dir cannot be combined with --kubeconfig or --context', EXIT.usage);
  if (flags.configDir !== undefined) {
    if (flags.configDir === '') throw new CliError('--config-dir is empty', EXIT.usage);
    return 'dir';
  }
  if (flags.kubeconfig === '') throw new CliError('--kubeconfig is empty', EXIT.usage);
  if (kube || env['KUBECONFIG'] || env['KUBERNETES_SERVICE_HOST']) return 'kube';
  throw new CliError('--config-dir or --kubeconfig is required', EXIT.usage);
}

/** `skiff pilot`: runs the control plane over a directory of manifests or a Kubernetes API server until interrupted. */
export async function pilotCommand(flags: PilotFlags, io: CommandIO): Promise<number> {
  const origin = configOrigin(flags, io.env);
  const grpc = setting(() => parseListenAddress(flags.grpcAddr ?? '127.0.0.1:15010', '127.0.0.1'));
  const secure =
    flags.secureAddr === 'off'
      ? undefined
      : setting(() => parseListenAddress(flags.secureAddr ?? '127.0.0.1:15012', '127.0.0.1'));
  const http = setting(() => parseListenAddress(flags.httpAddr ?? '127.0.0.1:8080', '127.0.0.1'));
  const monitoring = setting(() =>
    parseListenAddress(flags.monitoringAddr ?? '127.0.0.1:15014', '127.0.0.1'),
  );
  const level = (flags.logLevel ?? 'info').toLowerCase();
  if (level !== 'info' && level !== 'debug')
    throw new CliError(`invalid --log-level "${flags.logLevel}"`, EXIT.usage);
  let source: ConfigSource | undefined;
  if (origin === 'kube') {
    source = new KubeConfigSource({
      ...(flags.kubeconfig !== undefined ? { kubeconfig: flags.kubeconfig } : {}),
      ...(flags.context !== undefined ? { context: flags.context } : {}),
      env: io.env,
      logger: createLogger(io.stdout, { debug: level === 'debug' }),
    });
  }
  // Listen for signals before serving, so a stop request right after startup is not lost.
  const stopped = untilSignal();
  const handle = await startPilot({
    ...(source ? { source } : { configDir: flags.configDir }),
    grpcHost: grpc.host,
    grpcPort: grpc.port,
    securePort: secure ? secure.port : false,
    ...(secure ? { secureHost: secure.host } : {}),
    ...(flags.cacerts ? { cacertsDir: flags.cacerts } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    httpHost: http.host,
    httpPort: http.port,
    monitoringHost: monitoring.host,
    monitoringPort: monitoring.port,
    debounceAfterMs:
      flags.debounceAfter === undefined
        ? undefined
        : setting(() => parseDurationFlag('--debounce-after', flags.debounceAfter as string)),
    debounceMaxMs:
      flags.debounceMax === undefined
        ? undefined
        : setting(() => parseDurationFlag('--debounce-max', flags.debounceMax as string)),
    pushThrottle:
      flags.pushThrottle === undefined
        ? undefined
        : setting(() => parseIntFlag('--push-throttle', flags.pushThrottle as string)),
    log: io.stdout,
    debugLog: level === 'debug',
    env: io.env,
  }).catch((err: unknown) => {
    if (err instanceof SettingError) throw new CliError(err.message, EXIT.usage);
    throw new CliError((err as Error).message ?? String(err), EXIT.unknown);
  });
  await stopped;
  await handle.close();
  return EXIT.ok;
}

export function registerPilot(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command('pilot')
    .description(
      'Run the control plane: serve xDS for the manifests in a directory or from a Kubernetes API server, with debug and metrics ports',
    )
    .option('--config-dir <dir>', 'directory of manifests to serve (watched recursively)')
    .option(
      '--kubeconfig <file>',
      'list and watch a Kubernetes API server with this kubeconfig (default KUBECONFIG, or in-cluster)',
    )
    .option('--context <name>', 'kubeconfig context to use instead of its current-context')
    .option('--grpc-addr <addr>', 'xDS gRPC address (plaintext)', '127.0.0.1:15010')
    .option('--secure-addr <addr>', 'xDS and CA address over TLS (istiod 15012), or "off"', '127.0.0.1:15012')
    .option(
      '--cacerts <dir>',
      "plug-in CA files (Istio's cacerts: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem)",
    )
    .option(
      '--state-dir <dir>',
      'where the self-signed root CA and the token key persist (in memory when unset)',
    )
    .option('--http-addr <addr>', 'debug HTTP address (/debug/*, /ready)', '127.0.0.1:8080')
    .option('--monitoring-addr <addr>', 'metrics address (/metrics)', '127.0.0.1:15014')
    .option(
      '--debounce-after <duration>',
      'quiet period before a push (default PILOT_DEBOUNCE_AFTER or 100ms)',
    )
    .option('--debounce-max <duration>', 'longest delay of a push (default PILOT_DEBOUNCE_MAX or 10s)')
    .option('--push-throttle <n>', 'concurrent pushes (default PILOT_PUSH_THROTTLE or 100)')
    .option('--log-level <level>', 'info or debug', 'info')
    .action(async (opts: PilotFlags) => {
      setExit(await pilotCommand(opts, io));
    });
}
