/**
 * `skiff delete`, `skiff patch` and `skiff label` against the lab's REST API, with kubectl's result lines
 * (`pod "x" deleted`, `virtualservice.networking.istio.io/x patched`, `pod/x labeled`) and error text.
 * kubectl's default strategic merge patch is computed here for built-in kinds (lists merged by their
 * merge key: ports, containers, env, volumes) and sent as an update; the Istio kinds refuse it, as
 * custom resources do.
 */
import type { Command } from 'commander';
import type { KindInfo } from '../api/index.js';
import { loadPaths, formatLoadError } from '../api/index.js';
import { CliError, EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import {
  ApiError,
  apiRequest,
  kindDisplayName,
  listObjects,
  objectPath,
  resolveKind,
  resolveServer,
} from './kubectl-client.js';
import { serverOption } from './kubectl-get.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nameOf(o: KubeObject): string {
  return isObj(o['metadata']) && typeof o['metadata']['name'] === 'string' ? o['metadata']['name'] : '';
}

// ---- delete ----

interface DeleteFlags {
  namespace?: string;
  filename?: string[];
  selector?: string;
  server?: string;
}

async function deleteCommand(args: string[], flags: DeleteFlags, io: CommandIO): Promise<number> {
  const server = await resolveServer(flags, io);
  const namespace = flags.namespace ?? 'default';
  const targets: { info: KindInfo; namespace: string; name: string; file?: string }[] = [];
  if (flags.filename && flags.filename.length > 0) {
    if (args.length > 0)
      throw usageError(
        'when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well',
      );
    const loaded = await loadPaths(flags.filename, { readStdin: io.readStdin, defaultNamespace: namespace });
    if (loaded.errors.length > 0)
      throw new CliError(loaded.errors.map(formatLoadError).join('\n'), EXIT.unknown);
    for (const r of loaded.resources) {
      targets.push({
        info: r.info,
        namespace: r.metadata.namespace ?? namespace,
        name: r.metadata.name,
        file: r.origin.file ?? '',
      });
    }
  } else {
    const [kindArg, ...names] = args;
    if (kindArg === undefined)
      throw usageError('You must provide one or more resources by argument or filename.');
    if (kindArg.includes('/')) {
      for (const arg of args) {
        const slash = arg.indexOf('/');
        targets.push({ info: resolveKind(arg.slice(0, slash)), namespace, name: arg.slice(slash + 1) });
      }
    } else {
      const info = resolveKind(kindArg);
      if (names.length === 0 && flags.selector) {
        const items = await listObjects(server, info, {
          namespace: info.namespaced ? namespace : undefined,
          labelSelector: flags.selector,
        });
        for (const item of items) targets.push({ info, namespace, name: nameOf(item) });
        if (items.length === 0) io.stderr('No resources found\n');
      } else if (names.length === 0) {
        throw usageError(`resource(s) were provided, but no name was specified`);
      }
      for (const name of names) targets.push({ info, namespace, name });
    }
  }
  let failed = false;
  for (const t of targets) {
    try {
      await apiRequest(server, objectPath(t.info, t.namespace, t.name), { method: 'DELETE' });
      io.stdout(`${kindDisplayName(t.info)} "${t.name}" deleted\n`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      failed = true;
      io.stderr(
        t.file !== undefined
          ? `${err.message.replace(/^(Error from server(?: \([^)]*\))?: )/, `$1error when deleting "${t.file}": `)}\n`
          : `${err.message}\n`,
      );
    }
  }
  return failed ? EXIT.unknown : EXIT.ok;
}

// ---- patch ----

/** The merge key of a list field in a strategic merge patch, for the built-in kinds skiff serves. */
function mergeKey(field: string, items: unknown[]): string | undefined {
  if (field === 'ports')
    return items.some((i) => isObj(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  if (['containers', 'initContainers', 'env', 'volumes', 'imagePullSecrets'].includes(field)) return 'name';
  if (field === 'volumeMounts') return 'mountPath';
  return undefined;
}

/** A strategic merge patch applied to an object: maps merge, `null` deletes, keyed lists merge by key. */
export function strategicMerge(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const key = mergeKey(field, patch);
    if (!key || !Array.isArray(target)) return patch;
    const out = [...target];
    for (const item of patch) {
      const idx = isObj(item) ? out.findIndex((t) => isObj(t) && t[key] === item[key]) : -1;
      if (idx >= 0) out[idx] = strategicMerge(out[idx], item);
      else out.push(item);
    }
    return out;
  }
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = strategicMerge(out[k], v, k);
  }
  return out;
}

interface PatchFlags {
  namespace?: string;
  type: string;
  patch?: string;
  server?: string;
}

function resourceVersion(o: KubeObject): string {
  return isObj(o['metadata']) ? String(o['metadata']['resourceVersion'] ?? '') : '';
}

async function patchCommand(args: string[], flags: PatchFlags, io: CommandIO): Promise<number> {
  let [kindArg, name] = args;
  if (kindArg?.includes('/') && name === undefined) {
    const slash = kindArg.indexOf('/');
    name = kindArg.slice(slash + 1);
    kindArg = kindArg.slice(0, slash);
  }
  if (kindArg === undefined || name === undefined)
    throw usageError('You must provide a resource type and name to patch.');
  if (flags.patch === undefined || flags.patch === '') throw usageError('Must specify -p to patch');
  if (!['json', 'merge', 'strategic'].includes(flags.type)) {
    throw usageError(`--type must be one of [json merge strategic], not "${flags.type}"`);
  }
  let patch: unknown;
  try {
    patch = JSON.parse(flags.patch);
  } catch {
    // kubectl accepts YAML patches too.
    const { parse } = await import('yaml');
    try {
      patch = parse(flags.patch);
    } catch (err) {
      throw new CliError(`unable to parse "${flags.patch}": ${(err as Error).message}`, EXIT.unknown);
    }
  }
  const info = resolveKind(kindArg);
  const server = await resolveServer(flags, io);
  const path = objectPath(info, flags.namespace ?? 'default', name);
  const before = await apiRequest(server, path);
  let after: KubeObject;
  if (flags.type === 'strategic') {
    if (info.group !== '' && info.group !== 'apps') {
      throw new ApiError(
        'Error from server (UnsupportedMediaType): the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
        415,
        'UnsupportedMediaType',
      );
    }
    const merged = strategicMerge(before, patch) as KubeObject;
    after = await apiRequest(server, path, { method: 'PUT', body: merged });
  } else {
    const contentType =
      flags.type === 'json' ? 'application/json-patch+json' : 'application/merge-patch+json';
    after = await apiRequest(server, path, { method: 'PATCH', body: patch, contentType });
  }
  const unchanged = resourceVersion(before) === resourceVersion(after);
  io.stdout(`${kindDisplayName(info)}/${name} patched${unchanged ? ' (no change)' : ''}\n`);
  return EXIT.ok;
}

// ---- label ----

interface LabelFlags {
  namespace?: string;
  overwrite?: boolean;
  selector?: string;
  server?: string;
}

async function labelCommand(args: string[], flags: LabelFlags, io: CommandIO): Promise<number> {
  const changes = args.filter((a) => a.includes('=') || a.endsWith('-'));
  const refs = args.filter((a) => !changes.includes(a));
  if (changes.length === 0) throw usageError('at least one label update is required');
  const [kindArg, ...names] = refs;
  if (kindArg === undefined)
    throw usageError('one or more resources must be specified as <resource> <name> or <resource>/<name>');
  const targets: { info: KindInfo; name: string }[] = [];
  const server = await resolveServer(flags, io);
  const namespace = flags.namespace ?? 'default';
  if (kindArg.includes('/')) {
    for (const ref of refs) {
      const slash = ref.indexOf('/');
      targets.push({ info: resolveKind(ref.slice(0, slash)), name: ref.slice(slash + 1) });
    }
  } else {
    const info = resolveKind(kindArg);
    if (names.length === 0 && flags.selector) {
      const items = await listObjects(server, info, {
        namespace: info.namespaced ? namespace : undefined,
        labelSelector: flags.selector,
      });
      for (const item of items) targets.push({ info, name: nameOf(item) });
    }
    for (const name of names) targets.push({ info, name });
  }
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const c of changes) {
    if (c.endsWith('-') && !c.includes('=')) remove.push(c.slice(0, -1));
    else {
      const eq = c.indexOf('=');
      set[c.slice(0, eq)] = c.slice(eq + 1);
    }
  }
  for (const t of targets) {
    const path = objectPath(t.info, namespace, t.name);
    const current = await apiRequest(server, path);
    const labels =
      isObj(current['metadata']) && isObj(current['metadata']['labels']) ? current['metadata']['labels'] : {};
    for (const [k, v] of Object.entries(set)) {
      if (!flags.overwrite && k in labels && labels[k] !== v) {
        throw new CliError(
          `'${k}' already has a value (${String(labels[k])}), and --overwrite is false`,
          EXIT.unknown,
        );
      }
    }
    const patchLabels: Record<string, string | null> = { ...set };
    for (const k of remove) patchLabels[k] = null;
    const changed = Object.entries(set).some(([k, v]) => labels[k] !== v) || remove.some((k) => k in labels);
    if (changed) {
      await apiRequest(server, path, {
        method: 'PATCH',
        body: { metadata: { labels: patchLabels } },
        contentType: 'application/merge-patch+json',
      });
    }
    const verb = !changed ? 'not labeled' : Object.keys(set).length === 0 ? 'unlabeled' : 'labeled';
    io.stdout(`${kindDisplayName(t.info)}/${t.name} ${verb}\n`);
  }
  return EXIT.ok;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerModify(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('delete')
      .description(
        'Delete resources by file, by type and name, or by type and label selector (kubectl delete)',
      )
      .argument('[args...]', 'TYPE NAME... or TYPE/NAME...')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option(
        '-f, --filename <path>',
        'delete the objects in these manifests (repeatable, - for stdin)',
        collect,
      )
      .option('-l, --selector <selector>', 'label selector'),
  ).action(async (args: string[], flags: DeleteFlags) => setExit(await deleteCommand(args, flags, io)));

  serverOption(
    program
      .command('patch')
      .description('Update fields of a resource (kubectl patch)')
      .argument('<args...>', 'TYPE NAME or TYPE/NAME')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('--type <type>', 'json, merge or strategic', 'strategic')
      .option('-p, --patch <patch>', 'the patch, as JSON or YAML'),
  ).action(async (args: string[], flags: PatchFlags) => setExit(await patchCommand(args, flags, io)));

  serverOption(
    program
      .command('label')
      .description('Update the labels of resources (kubectl label)')
      .argument('<args...>', 'TYPE NAME KEY=VAL... KEY-...')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('--overwrite', 'allow changing labels that already have a value')
      .option('-l, --selector <selector>', 'label selector'),
  ).action(async (args: string[], flags: LabelFlags) => setExit(await labelCommand(args, flags, io)));
}
