/**
 * `skiff proxy-config` (alias `pc`): istioctl 1.17's tables and dumps over an Envoy config dump from
 * one of three sources: a capture read from `--file` (`-` for stdin), a running proxy's admin API
 * (`--admin-address`), or, beyond istioctl, a simulation of a pod from manifests (`<pod> -f <manifests>`).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { clusterDump, clusterSummary } from './configdump-clusters.js';
import type { ClusterFilter } from './configdump-clusters.js';
import { bootstrapDump, bootstrapSummary } from './configdump-bootstrap.js';
import { dumpError, parseCapture, renderValue } from './configdump-common.js';
import type { DumpFormat, JsonObject } from './configdump-common.js';
import {
  edsDump,
  edsSummary,
  endpointDump,
  endpointSummary,
  isClustersCapture,
} from './configdump-endpoints.js';
import type { EndpointFilter } from './configdump-endpoints.js';
import { listenerDump, listenerSummary } from './configdump-listeners.js';
import type { ListenerFilter } from './configdump-listeners.js';
import { routeDump, routeSummary } from './configdump-routes.js';
import type { RouteFilter } from './configdump-routes.js';
import { secretDump, secretSummary } from './configdump-secrets.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';
import { adminFetch, adminRequest, parseAdminAddress } from './proxy-config-admin.js';
import type { AdminAddress } from './proxy-config-admin.js';
import { labAdminAddress, labProxyTarget } from './proxy-config-lab.js';
import { runProxyLog } from './proxy-config-log.js';
import type { LogHeader } from './proxy-config-log.js';
import { parseTargetRef } from './proxy-config-target.js';
import { simulateConfigDump } from './proxy-config-simulate.js';

/** The flags every proxy-config sub-command accepts (each uses the ones that apply to it). */
export interface ProxyConfigFlags {
  /** A config dump (no pod given), or the manifests to simulate the pod from (repeatable). */
  file?: string[];
  adminAddress?: string;
  namespace?: string;
  meshConfigFile?: string;
  output: string;
  fqdn?: string;
  port?: number;
  subset?: string;
  direction?: string;
  type?: string;
  name?: string;
  address?: string;
  cluster?: string;
  status?: string;
  verbose?: boolean;
  /** `log` only. */
  level?: string;
  reset?: boolean;
  selector?: string;
}

type Sub = 'cluster' | 'listener' | 'route' | 'endpoints' | 'secret' | 'bootstrap' | 'all';

/** A config dump to render, with the text it was read from when there was one (`all -o json` prints it). */
export interface Capture {
  dump: JsonObject;
  text?: string;
}

interface SubSpec {
  sub: Sub;
  aliases: string[];
  description: string;
  defaultOutput: string;
}

const SUBCOMMANDS: SubSpec[] = [
  {
    sub: 'cluster',
    aliases: ['clusters', 'c'],
    description: 'cluster configuration',
    defaultOutput: 'short',
  },
  {
    sub: 'listener',
    aliases: ['listeners', 'l'],
    description: 'listener configuration',
    defaultOutput: 'short',
  },
  { sub: 'route', aliases: ['routes', 'r'], description: 'route configuration', defaultOutput: 'short' },
  {
    sub: 'endpoints',
    aliases: ['endpoints', 'ep'],
    description: 'endpoint configuration',
    defaultOutput: 'short',
  },
  { sub: 'secret', aliases: ['secrets', 's'], description: 'secret configuration', defaultOutput: 'short' },
  { sub: 'bootstrap', aliases: ['b'], description: 'bootstrap configuration', defaultOutput: 'json' },
  { sub: 'all', aliases: ['a'], description: 'all configuration', defaultOutput: 'short' },
];

/** pflag's IntVar: a bad value is a usage error with Go's wording. */
function parsePort(value: string): number {
  if (!/^[+-]?\d+$/.test(value.trim())) {
    throw new CliError(
      `invalid argument "${value}" for "--port" flag: strconv.ParseInt: parsing "${value}": invalid syntax`,
      EXIT.usage,
    );
  }
  return Number(value);
}

/** Reads the capture the way istioctl does (`-` is stdin) and reports Go-style open errors. */
async function readCapture(file: string, io: CommandIO): Promise<string> {
  if (file === '-') return (await io.readStdin()).toString('utf8');
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file or directory'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
    throw dumpError(`${code === 'EISDIR' ? 'read' : 'open'} ${file}: ${reason}`);
  }
}

function clusterFilter(f: ProxyConfigFlags): ClusterFilter {
  return { fqdn: f.fqdn ?? '', port: f.port ?? 0, subset: f.subset ?? '', direction: f.direction ?? '' };
}

function listenerFilter(f: ProxyConfigFlags): ListenerFilter {
  return { address: f.address ?? '', port: f.port ?? 0, type: f.type ?? '', verbose: f.verbose ?? true };
}

function routeFilter(f: ProxyConfigFlags): RouteFilter {
  return { name: f.name ?? '', verbose: f.verbose ?? true };
}

function endpointFilter(f: ProxyConfigFlags): EndpointFilter {
  return { address: f.address ?? '', port: f.port ?? 0, cluster: f.cluster ?? '', status: f.status ?? '' };
}

function unsupported(output: string): CliError {
  return dumpError(`output format ${JSON.stringify(output)} not supported`);
}

/** Runs one sub-command on a capture, writing as it goes (as istioctl's writers do). */
export function runProxyConfig(
  sub: Sub,
  capture: Capture,
  flags: ProxyConfigFlags,
  write: (s: string) => void,
): void {
  const output = flags.output;
  const format: DumpFormat | undefined = output === 'json' || output === 'yaml' ? output : undefined;
  const { dump } = capture;
  if (output !== 'short' && !format) throw unsupported(output);
  switch (sub) {
    case 'cluster':
      write(
        format ? clusterDump(dump, clusterFilter(flags), format) : clusterSummary(dump, clusterFilter(flags)),
      );
      return;
    case 'listener':
      write(
        format
          ? listenerDump(dump, listenerFilter(flags), format)
          : listenerSummary(dump, listenerFilter(flags)),
      );
      return;
    case 'route':
      write(format ? routeDump(dump, routeFilter(flags), format) : routeSummary(dump, routeFilter(flags)));
      return;
    case 'endpoints': {
      const filter = endpointFilter(flags);
      if (isClustersCapture(dump)) {
        write(format ? endpointDump(dump, filter, format) : endpointSummary(dump, filter));
      } else {
        write(format ? edsDump(dump, filter, format) : edsSummary(dump, filter));
      }
      return;
    }
    case 'secret':
      write(format ? secretDump(dump, format) : secretSummary(dump));
      return;
    case 'bootstrap':
      write(format ? bootstrapDump(dump, format) : bootstrapSummary(dump));
      return;
    case 'all':
      if (format) {
        // istioctl prints the capture itself for `all -o json|yaml`.
        const text = capture.text ?? JSON.stringify(dump, null, 2);
        write(format === 'json' ? `${text}\n` : renderValue(dump, 'yaml', false));
        return;
      }
      write(clusterSummary(dump, clusterFilter(flags)));
      write('\n');
      write(listenerSummary(dump, listenerFilter(flags)));
      write('\n');
      write(routeSummary(dump, routeFilter(flags)));
      write('\n');
      write(secretSummary(dump));
      return;
  }
}

/** Where the dump comes from, decided from the pod argument, `--file` and `--admin-address`. */
type Source =
  | { kind: 'file'; file: string }
  | { kind: 'admin'; address: AdminAddress }
  | { kind: 'simulate'; target: string; manifests: string[] };

/** A pod of the running lab is read through its admin API; everything else as `chooseSource` decides. */
async function chooseLiveSource(
  sub: string,
  pods: string[],
  flags: ProxyConfigFlags,
  io: CommandIO,
): Promise<Source> {
  const pod = pods[0];
  if (pods.length === 1 && pod !== undefined && flags.adminAddress === undefined && !flags.file?.length) {
    const address = await labAdminAddress(pod, flags.namespace ?? 'default', io);
    if (address) return { kind: 'admin', address };
  }
  return chooseSource(sub, pods, flags);
}

function chooseSource(sub: string, pods: string[], flags: ProxyConfigFlags): Source {
  const files = flags.file ?? [];
  if (pods.length > 1) throw dumpError(`${sub} requires pod name or --file parameter`);
  const pod = pods[0];
  if (flags.adminAddress !== undefined) {
    if (files.length > 0) throw dumpError('--admin-address and --file cannot be used together');
    return { kind: 'admin', address: parseAdminAddress(flags.adminAddress) };
  }
  if (pod !== undefined && files.length > 0) return { kind: 'simulate', target: pod, manifests: files };
  if (pod !== undefined) {
    throw dumpError(
      `reading ${pod} from a Kubernetes cluster is not available: use --admin-address <host:port> for a running proxy, or -f <manifests> to simulate it`,
    );
  }
  if (files.length === 0) throw dumpError(`${sub} requires pod name or --file parameter`);
  if (files.length > 1) {
    throw dumpError(
      `--file without a pod name reads one config dump, got ${files.length}: to simulate a pod from manifests, name it (${sub} <pod> -f <manifests>)`,
    );
  }
  return { kind: 'file', file: files[0] ?? '' };
}

/** The admin path istioctl 1.17 reads for each sub-command. */
async function fetchFromAdmin(sub: Sub, address: AdminAddress, output: string): Promise<Capture> {
  if (sub === 'endpoints') {
    // istioctl reads `/clusters?format=json`; a proxy that does not serve it gets the EDS dump instead.
    const clusters = await adminRequest(address, 'GET', 'clusters?format=json');
    if (clusters.status === 404)
      return captureOf(await adminFetch(address, 'GET', 'config_dump?include_eds=true'));
    if (clusters.status >= 200 && clusters.status <= 299) return captureOf(clusters.body);
    return captureOf(await adminFetch(address, 'GET', 'clusters?format=json'));
  }
  const eds = sub === 'all' && output === 'short';
  return captureOf(await adminFetch(address, 'GET', eds ? 'config_dump?include_eds=true' : 'config_dump'));
}

function captureOf(text: string): Capture {
  return { dump: parseCapture(text), text };
}

async function proxyConfigAction(spec: SubSpec, pods: string[], flags: ProxyConfigFlags, io: CommandIO) {
  const source = await chooseLiveSource(spec.sub, pods, flags, io);
  let capture: Capture;
  switch (source.kind) {
    case 'file':
      capture = captureOf(await readCapture(source.file, io));
      break;
    case 'admin':
      capture = await fetchFromAdmin(spec.sub, source.address, flags.output);
      break;
    case 'simulate': {
      const simulation = await simulateConfigDump(
        source.target,
        {
          manifests: source.manifests,
          namespace: flags.namespace ?? 'default',
          meshConfigFile: flags.meshConfigFile,
        },
        io,
      );
      capture = { dump: simulation.dump };
      break;
    }
  }
  runProxyConfig(spec.sub, capture, flags, io.stdout);
}

/** `proxy-config log`: only a running proxy has loggers, so it needs `--admin-address`. */
async function logAction(pods: string[], flags: ProxyConfigFlags, io: CommandIO) {
  if (flags.selector !== undefined) {
    throw dumpError(
      '--selector needs a Kubernetes cluster, which is not available: use --admin-address <host:port>',
    );
  }
  if (pods.length > 1) throw dumpError('log requires pod name or --selector');
  if (flags.reset && flags.level) throw dumpError('--level cannot be combined with --reset');
  const lab =
    flags.adminAddress === undefined && pods[0] !== undefined
      ? await labProxyTarget(pods[0], flags.namespace ?? 'default', io)
      : undefined;
  if (flags.adminAddress === undefined && lab === undefined) {
    throw dumpError(
      pods.length === 0
        ? 'log requires pod name or --selector'
        : `reading ${pods[0] ?? ''} from a Kubernetes cluster is not available: use --admin-address <host:port>`,
    );
  }
  const address = lab?.address ?? parseAdminAddress(flags.adminAddress ?? '');
  const header: LogHeader = { pod: lab?.pod, fallback: address.authority };
  const target = pods[0];
  if (target !== undefined && lab === undefined) {
    const ref = parseTargetRef(target, flags.namespace ?? 'default');
    // A pod argument names the pod itself; a deployment leaves it to the proxy to say which pod it is.
    if (ref.kind === 'pod') header.pod = `${ref.name}.${ref.namespace}`;
    header.fallback = `${ref.name}.${ref.namespace}`;
  }
  io.stdout(await runProxyLog(address, header, { level: flags.level, reset: flags.reset }));
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Adds `proxy-config` (alias `pc`) and its sub-commands to the program. */
export function registerProxyConfig(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  const pc = program
    .command('proxy-config')
    .alias('pc')
    .description(
      "Retrieve information about proxy configuration from Envoy (a config_dump file, a running proxy's admin API, or simulated from manifests)",
    );
  for (const spec of SUBCOMMANDS) {
    const name = spec.sub === 'endpoints' ? 'endpoint' : spec.sub;
    const cmd = pc
      .command(name)
      .aliases(spec.aliases)
      .description(`Retrieves ${spec.description} for the Envoy in the specified pod or dump file`)
      .argument(
        '[pod...]',
        '[<type>/]<name>[.<namespace>]: a pod or deploy/<name>, simulated from the -f manifests',
      );
    addSourceOptions(cmd);
    cmd
      .option('-o, --output <format>', 'Output format: one of json|yaml|short', spec.defaultOutput)
      .option('--fqdn <fqdn>', 'Filter clusters by substring of Service FQDN field')
      .option('--port <port>', 'Filter by Port field', parsePort)
      .option('--subset <subset>', 'Filter clusters by substring of Subset field')
      .option('--direction <direction>', 'Filter clusters by Direction field')
      .option('--type <type>', 'Filter listeners by type field')
      .option('--name <name>', 'Filter routes by route name field')
      .option('--address <address>', 'Filter listeners or endpoints by address field')
      .option('--cluster <cluster>', 'Filter endpoints by cluster name field')
      .option('--status <status>', 'Filter endpoints by status field')
      .option('--verbose', 'Output more information (default true)')
      .option('--no-verbose', 'Output less information');
    cmd.action(async (pods: string[], flags: ProxyConfigFlags) => {
      await proxyConfigAction(spec, pods, flags, io);
      setExit(EXIT.ok);
    });
  }
  pc.command('log')
    .alias('o')
    .description('Retrieves logging levels of the Envoy at --admin-address, and updates them optionally')
    .argument('[pod...]', '[<type>/]<name>[.<namespace>]: names the proxy in the output')
    .option('--admin-address <host:port>', 'Envoy admin address of the running proxy (skiff addition)')
    .option('-n, --namespace <namespace>', 'namespace of the pod argument', 'default')
    .option(
      '--level <levels>',
      `Comma-separated minimum per-logger level of messages to output, in the form of [<logger>:]<level>,[<logger>:]<level>,... where level can be one of [${LOG_LEVEL_LIST}]`,
    )
    .option('-r, --reset', 'Reset levels to default value (warning).')
    .option('-l, --selector <selector>', 'Label selector (needs a Kubernetes cluster)')
    .action(async (pods: string[], flags: ProxyConfigFlags) => {
      await logAction(pods, flags, io);
      setExit(EXIT.ok);
    });
}

const LOG_LEVEL_LIST = 'trace, debug, info, warning, error, critical, off';

function addSourceOptions(cmd: Command): void {
  cmd
    .option(
      '-f, --file <path>',
      'Envoy config dump file (- for stdin); with a pod argument: manifests to simulate it from (files, directories or -; repeatable)',
      collect,
    )
    .option(
      '--admin-address <host:port>',
      'Envoy admin address of a running proxy, e.g. 127.0.0.1:15000 (skiff addition)',
    )
    .option(
      '-n, --namespace <namespace>',
      'namespace of the pod argument and of manifests without one',
      'default',
    )
    .option('--meshConfigFile <file>', 'mesh config to simulate with instead of the defaults');
}
