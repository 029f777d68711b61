/**
 * `skiff experimental describe pod|service` (aliases `x`, `exp`; `des`; `po`, `svc`): istioctl 1.17's
 * describe over the running lab's config (its REST API), or over manifests given with `-f` (a skiff
 * addition, for describing config before applying it).
 */
import type { Command } from 'commander';
import { formatLoadError, loadPaths } from '../api/index.js';
import type { DescribeResult } from '../describe/index.js';
import { describePod, describeService, inferNameAndNamespace } from '../describe/index.js';
import { ConfigSnapshot } from '../model/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { fetchSnapshot, resolveServer } from './kubectl-client.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export const EXPERIMENTAL_MSG = 'THIS COMMAND IS UNDER ACTIVE DEVELOPMENT AND NOT READY FOR PRODUCTION USE.';

interface DescribeFlags {
  namespace?: string;
  istioNamespace: string;
  ignoreUnmeshed?: boolean;
  filename?: string[];
  server?: string;
  stateDir?: string;
}

async function snapshotFor(flags: DescribeFlags, io: CommandIO): Promise<ConfigSnapshot> {
  if (flags.filename && flags.filename.length > 0) {
    const loaded = await loadPaths(flags.filename, {
      readStdin: io.readStdin,
      defaultNamespace: flags.namespace ?? 'default',
    });
    if (loaded.errors.length > 0) {
      throw new CliError(loaded.errors.map(formatLoadError).join('\n'), EXIT.dataError);
    }
    return new ConfigSnapshot(loaded.resources);
  }
  const server = await resolveServer(flags, io);
  return fetchSnapshot(server, flags.istioNamespace);
}

async function run(
  what: 'pod' | 'service',
  args: string[],
  flags: DescribeFlags,
  io: CommandIO,
): Promise<number> {
  if (args.length !== 1)
    throw new CliError(what === 'pod' ? 'expecting pod name' : 'expecting service name', EXIT.unknown);
  const namespace = flags.namespace ?? 'default';
  const [name, ns] = inferNameAndNamespace(args[0] as string, namespace);
  const snapshot = await snapshotFor(flags, io);
  const opts = {
    namespace,
    istioNamespace: flags.istioNamespace,
    ...(flags.ignoreUnmeshed ? { ignoreUnmeshed: true } : {}),
  };
  const result: DescribeResult =
    what === 'pod' ? describePod(snapshot, name, ns, opts) : describeService(snapshot, name, ns, opts);
  io.stdout(result.output);
  if (result.error !== undefined) throw new CliError(result.error, EXIT.unknown);
  return EXIT.ok;
}

function addFlags(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <namespace>', 'namespace of the object, and the one names are shown relative to')
    .option('-i, --istioNamespace <namespace>', 'Istio system namespace', 'istio-system')
    .option('--ignoreUnmeshed', 'Suppress warnings for unmeshed pods')
    .option(
      '-f, --filename <path>',
      'describe these manifests instead of the running lab (repeatable)',
      collect,
    )
    .option('--server <url>', 'the lab REST API address (default: $SKIFF_SERVER, else the running lab)')
    .option('--state-dir <dir>', 'the lab state dir to find the running lab in', '.skiff');
}

/** The `describe` subcommand group, added under `experimental`. */
function registerDescribe(parent: Command, io: CommandIO, setExit: (code: number) => void): void {
  const describe = parent
    .command('describe')
    .alias('des')
    .description('Describe resource and related Istio configuration');
  addFlags(
    describe
      .command('pod')
      .alias('po')
      .description('Describe pods and their Istio configuration [kube-only]')
      .argument('[pod...]', 'pod name, optionally as <pod>.<namespace>'),
  ).action(async (args: string[], flags: DescribeFlags) => setExit(await run('pod', args, flags, io)));
  addFlags(
    describe
      .command('service')
      .alias('svc')
      .description('Describe services and their Istio configuration [kube-only]')
      .argument('[svc...]', 'service name, optionally as <svc>.<namespace>'),
  ).action(async (args: string[], flags: DescribeFlags) => setExit(await run('service', args, flags, io)));
}

/** `skiff experimental` (`x`, `exp`) with `describe`; other experimental commands can be added to it. */
export function registerExperimental(
  program: Command,
  io: CommandIO,
  setExit: (code: number) => void,
): Command {
  const experimental = program
    .command('experimental')
    .aliases(['x', 'exp'])
    .description(`Experimental commands that may be modified or deprecated. ${EXPERIMENTAL_MSG}`);
  registerDescribe(experimental, io, setExit);
  return experimental;
}
