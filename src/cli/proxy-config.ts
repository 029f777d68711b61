/**
 * `skiff proxy-config` (alias `pc`): istioctl 1.17's tables and dumps over Envoy admin captures
 * read from `--file` (`-` for stdin). Reading a live proxy comes later.
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

/** The flags every proxy-config sub-command accepts (each uses the ones that apply to it). */
export interface ProxyConfigFlags {
  file?: string;
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
}

type Sub = 'cluster' | 'listener' | 'route' | 'endpoints' | 'secret' | 'bootstrap' | 'all';

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

/** Runs one sub-command on a capture's text, writing as it goes (as istioctl's writers do). */
export function runProxyConfig(
  sub: Sub,
  text: string,
  flags: ProxyConfigFlags,
  write: (s: string) => void,
): void {
  const output = flags.output;
  const format: DumpFormat | undefined = output === 'json' || output === 'yaml' ? output : undefined;
  const dump: JsonObject = parseCapture(text);
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

async function proxyConfigAction(spec: SubSpec, pods: string[], flags: ProxyConfigFlags, io: CommandIO) {
  const file = flags.file ?? '';
  if ((pods.length === 1) === (file !== '')) {
    throw dumpError(`${spec.sub} requires pod name or --file parameter`);
  }
  if (file === '') {
    throw dumpError('reading a live proxy is not available yet: use --file <config_dump.json>');
  }
  const text = await readCapture(file, io);
  runProxyConfig(spec.sub, text, flags, io.stdout);
}

/** Adds `proxy-config` (alias `pc`) and its sub-commands to the program. */
export function registerProxyConfig(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  const pc = program
    .command('proxy-config')
    .alias('pc')
    .description('Retrieve information about proxy configuration from Envoy (from a config_dump file)');
  for (const spec of SUBCOMMANDS) {
    const name = spec.sub === 'endpoints' ? 'endpoint' : spec.sub;
    const cmd = pc
      .command(name)
      .aliases(spec.aliases)
      .description(`Retrieves ${spec.description} for the Envoy in the specified pod or dump file`)
      .argument('[pod...]', '[<type>/]<name>[.<namespace>] (not available yet: use --file)')
      .option('-f, --file <dump>', 'Envoy config dump file (- for stdin)')
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
}
