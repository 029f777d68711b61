/**
 * `skiff get <kind[,kind]|all> [name...] [-n ns|-A] [-l sel] [--field-selector sel] [-o ...]` against the lab's
 * REST API, printed as kubectl prints: one table per kind (names as `<kind>.<group>/<name>` when several kinds
 * were asked for), `No resources found in <ns> namespace.` on stderr when there is nothing.
 */
import type { Command } from 'commander';
import type { KindInfo } from '../api/index.js';
import { EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import {
  ALL_KINDS,
  ApiError,
  apiRequest,
  kindDisplayName,
  listObjects,
  objectPath,
  resolveKind,
  resolveServer,
} from './kubectl-client.js';
import { parseOutputFormat, printObjects } from './kubectl-output.js';
import { renderTable } from './kubectl-printers.js';
import { KINDS } from '../api/index.js';

export interface GetFlags {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  fieldSelector?: string;
  output?: string;
  noHeaders?: boolean;
  showLabels?: boolean;
  server?: string;
}

/** `pods,svc` or `all` → kinds, in the order given. `kind/name` arguments name their kind. */
export function parseKindArgs(args: readonly string[]): { kinds: KindInfo[]; names: string[]; all: boolean } {
  const [first, ...rest] = args;
  if (first === undefined) throw usageError('You must specify the type of resource to get.');
  if (first.includes('/')) {
    const kinds: KindInfo[] = [];
    const names: string[] = [];
    for (const arg of args) {
      const slash = arg.indexOf('/');
      if (slash < 0)
        throw usageError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'skiff get resource/<resource_name>' instead of 'skiff get resource resource/<resource_name>'`,
        );
      kinds.push(resolveKind(arg.slice(0, slash)));
      names.push(arg.slice(slash + 1));
    }
    return { kinds, names, all: false };
  }
  const kinds: KindInfo[] = [];
  let all = false;
  for (const part of first.split(',').filter((p) => p !== '')) {
    if (part === 'all') {
      all = true;
      for (const key of ALL_KINDS) {
        const info = KINDS.find((k) => `${k.group}/${k.kind}` === key);
        if (info && !kinds.includes(info)) kinds.push(info);
      }
    } else {
      const info = resolveKind(part);
      if (!kinds.includes(info)) kinds.push(info);
    }
  }
  return { kinds, names: rest, all };
}

function sortByNamespaceName(items: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject) => {
    const m = (o['metadata'] ?? {}) as Record<string, unknown>;
    return [String(m['namespace'] ?? ''), String(m['name'] ?? '')] as const;
  };
  return [...items].sort((a, b) => {
    const [na, ma] = key(a);
    const [nb, mb] = key(b);
    return na !== nb ? (na < nb ? -1 : 1) : ma < mb ? -1 : ma > mb ? 1 : 0;
  });
}

export async function getCommand(
  args: string[],
  flags: GetFlags,
  io: CommandIO,
  now = Date.now(),
): Promise<number> {
  const format = parseOutputFormat(flags.output);
  const { kinds, names, all } = parseKindArgs(args);
  const server = await resolveServer(flags, io);
  const namespace = flags.allNamespaces ? undefined : (flags.namespace ?? 'default');
  const results: { info: KindInfo; items: KubeObject[] }[] = [];
  const errors: string[] = [];
  const byName = names.length > 0;
  const pairsFromSlash = args[0]?.includes('/') === true;
  if (byName) {
    const pairs = pairsFromSlash
      ? names.map((name, i) => ({ info: kinds[i] as KindInfo, name }))
      : kinds.flatMap((info) => names.map((name) => ({ info, name })));
    for (const { info, name } of pairs) {
      try {
        const object = await apiRequest(server, objectPath(info, namespace ?? 'default', name));
        const last = results[results.length - 1];
        if (last && last.info === info) last.items.push(object);
        else results.push({ info, items: [object] });
      } catch (err) {
        if (err instanceof ApiError) errors.push(err.message);
        else throw err;
      }
    }
  } else {
    for (const info of kinds) {
      const items = await listObjects(server, info, {
        namespace: info.namespaced ? namespace : undefined,
        labelSelector: flags.selector,
        fieldSelector: flags.fieldSelector,
      });
      results.push({ info, items: sortByNamespaceName(items) });
    }
  }

  if (format.type === 'table') {
    const nonEmpty = results.filter((r) => r.items.length > 0);
    const withKind = all || kinds.length > 1 || pairsFromSlash;
    const tables = nonEmpty.map((r) =>
      renderTable(r.info, r.items, {
        wide: format.wide,
        withNamespace: flags.allNamespaces === true && r.info.namespaced,
        ...(withKind ? { kindPrefix: kindDisplayName(r.info) } : {}),
        noHeaders: flags.noHeaders === true,
        showLabels: flags.showLabels === true,
        now,
      }),
    );
    io.stdout(tables.join('\n'));
    if (nonEmpty.length === 0 && errors.length === 0 && !byName) {
      const clusterScoped = kinds.every((k) => !k.namespaced);
      io.stderr(
        namespace === undefined || clusterScoped
          ? 'No resources found\n'
          : `No resources found in ${namespace} namespace.\n`,
      );
    }
  } else {
    const objects = results.flatMap((r) => r.items.map((object) => ({ info: r.info, object })));
    if (!(byName && objects.length === 0))
      io.stdout(printObjects(format, objects, byName && names.length === 1 && kinds.length === 1));
  }
  for (const e of errors) io.stderr(`${e}\n`);
  return errors.length > 0 ? EXIT.unknown : EXIT.ok;
}

export function serverOption(cmd: Command): Command {
  return cmd
    .option('--server <url>', 'the lab REST API address (default: $SKIFF_SERVER, else the running lab)')
    .option('--state-dir <dir>', 'the lab state dir to find the running lab in', '.skiff');
}

export function registerGet(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('get')
      .description('Display one or many resources (kubectl get)')
      .argument('<args...>', 'TYPE[,TYPE...] [NAME...] or TYPE/NAME...')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'list across all namespaces')
      .option('-l, --selector <selector>', 'label selector, e.g. app=catalog')
      .option('--field-selector <selector>', 'field selector, e.g. status.podIP=10.10.0.12')
      .option('-o, --output <format>', 'wide, json, yaml, name or jsonpath=TEMPLATE')
      .option('--no-headers', 'do not print the table header')
      .option('--show-labels', 'add a LABELS column'),
  ).action(async (args: string[], flags: GetFlags & { headers?: boolean }) => {
    setExit(await getCommand(args, { ...flags, noHeaders: flags.headers === false }, io));
  });
}
