/**
 * `skiff logs <pod|TYPE/name> [-c container] [-f] [--tail N] [-p]` and `skiff logs -l selector`: a container's
 * output, read from the file the lab's kubelet writes it to (`<stateDir>/logs/<ns>_<pod>_<container>.log`; the
 * run before the last restart in `.previous.log`). The pod is looked up through the REST API, so names,
 * defaults and errors are kubectl's.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Command } from 'commander';
import { CliError, EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import { kubectlFailure, resolveServer } from './kubectl-client.js';
import { serverOption } from './kubectl-get.js';
import {
  containerNames,
  defaultContainer,
  podName,
  podNamespace,
  podsBySelector,
  resolvePod,
} from './kubectl-pod-target.js';

export interface LogsFlags {
  namespace?: string;
  container?: string;
  follow?: boolean;
  tail?: string;
  selector?: string;
  previous?: boolean;
  allContainers?: boolean;
  prefix?: boolean;
  server?: string;
  stateDir?: string;
}

/** One container log to print. */
export interface LogSource {
  namespace: string;
  pod: string;
  container: string;
  path: string;
}

/** The log file of a container in a state dir (the same layout as the lab's kubelet). */
export function logFilePath(
  stateDir: string,
  ns: string,
  pod: string,
  container: string,
  previous = false,
): string {
  return join(resolve(stateDir), 'logs', `${ns}_${pod}_${container}${previous ? '.previous' : ''}.log`);
}

/** The last `lines` lines of a text (all of it for a negative count), keeping the final newline. */
export function tailLines(text: string, lines: number): string {
  if (lines < 0) return text;
  if (lines === 0) return '';
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body === '') return text;
  const parts = body.split('\n');
  const kept = parts.slice(Math.max(0, parts.length - lines)).join('\n');
  return text.endsWith('\n') ? `${kept}\n` : kept;
}

function parseTail(value: string | undefined, withSelector: boolean): number {
  // kubectl: all lines, or the last 10 of each pod when a selector picks the pods.
  if (value === undefined) return withSelector ? 10 : -1;
  if (!/^-?\d+$/.test(value)) throw usageError(`invalid argument "${value}" for "--tail" flag`);
  return Number(value);
}

function readFrom(path: string, offset: number): { text: Buffer; size: number; ino: number } {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const length = Math.max(0, st.size - offset);
    const buf = Buffer.alloc(length);
    let read = 0;
    while (read < length) {
      const n = readSync(fd, buf, read, length - read, offset + read);
      if (n <= 0) break;
      read += n;
    }
    return { text: buf.subarray(0, read), size: offset + read, ino: st.ino };
  } finally {
    closeSync(fd);
  }
}

function prefixLines(text: string, prefix: string): string {
  if (!prefix || text === '') return text;
  return text.replace(/^(?=.)/gm, prefix);
}

/** Which containers of which pods to print. */
function sourcesFor(
  pod: KubeObject,
  flags: LogsFlags,
  stateDir: string,
  io: CommandIO,
  quiet: boolean,
): LogSource[] {
  const ns = podNamespace(pod);
  const name = podName(pod);
  let names: string[];
  if (flags.allContainers) names = containerNames(pod);
  else if (flags.container !== undefined) {
    if (!containerNames(pod).includes(flags.container))
      throw new CliError(`container ${flags.container} is not valid for pod ${name}`, EXIT.unknown);
    names = [flags.container];
  } else names = [defaultContainer(pod, io, quiet)['name'] as string];
  return names.map((container) => ({
    namespace: ns,
    pod: name,
    container,
    path: logFilePath(stateDir, ns, name, container, flags.previous === true),
  }));
}

async function follow(
  sources: { src: LogSource; offset: number; ino: number; prefix: string }[],
  io: CommandIO,
  signal?: AbortSignal,
  pollMs = 200,
): Promise<void> {
  const decoders = sources.map(() => new StringDecoder('utf8'));
  while (!signal?.aborted) {
    await new Promise((r) => setTimeout(r, pollMs));
    sources.forEach((s, i) => {
      let st;
      try {
        st = statSync(s.src.path);
      } catch {
        return; // between the kubelet's rename and the new file
      }
      // A restart moves the file to `.previous.log` and starts a new one: read the new one from its start.
      if (st.ino !== s.ino || st.size < s.offset) {
        s.offset = 0;
        s.ino = st.ino;
      }
      if (st.size <= s.offset) return;
      const chunk = readFrom(s.src.path, s.offset);
      s.offset = chunk.size;
      s.ino = chunk.ino;
      io.stdout(prefixLines(decoders[i]?.write(chunk.text) ?? '', s.prefix));
    });
  }
}

export async function logsCommand(
  args: string[],
  flags: LogsFlags,
  io: CommandIO,
  signal?: AbortSignal,
): Promise<number> {
  const target = args[0];
  if (target === undefined && flags.selector === undefined)
    throw usageError('expected POD or TYPE/NAME is a required argument for the logs command');
  if (target !== undefined && flags.selector !== undefined)
    throw usageError('only a selector (-l) or a POD name is allowed');
  const tail = parseTail(flags.tail, flags.selector !== undefined);
  const namespace = flags.namespace ?? 'default';
  const server = await resolveServer(flags, io);
  const stateDir = resolve(flags.stateDir ?? '.skiff');

  let sources: LogSource[];
  try {
    if (target !== undefined)
      sources = sourcesFor(await resolvePod(server, namespace, target, io), flags, stateDir, io, false);
    else {
      const pods = await podsBySelector(server, namespace, flags.selector ?? '');
      if (pods.length === 0) {
        io.stderr(`No resources found in ${namespace} namespace.\n`);
        return EXIT.ok;
      }
      sources = pods.flatMap((p) => sourcesFor(p, flags, stateDir, io, false));
    }
  } catch (err) {
    return kubectlFailure(err, io);
  }

  const followed: { src: LogSource; offset: number; ino: number; prefix: string }[] = [];
  for (const src of sources) {
    const prefix = flags.prefix ? `[pod/${src.pod}/${src.container}] ` : '';
    if (!existsSync(src.path)) {
      io.stderr(
        flags.previous
          ? `Error from server (BadRequest): previous terminated container "${src.container}" in pod "${src.pod}" not found\n`
          : `Error from server (BadRequest): container "${src.container}" in pod "${src.pod}" is waiting to start: ContainerCreating\n`,
      );
      if (sources.length === 1) return EXIT.unknown;
      continue;
    }
    const chunk = readFrom(src.path, 0);
    io.stdout(prefixLines(tailLines(chunk.text.toString('utf8'), tail), prefix));
    followed.push({ src, offset: chunk.size, ino: chunk.ino, prefix });
  }
  if (flags.follow && !flags.previous && followed.length > 0) await follow(followed, io, signal);
  return EXIT.ok;
}

export function registerLogs(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('logs')
      .description("Print the logs for a container in a pod (kubectl logs), from the lab's state dir")
      .argument('[target]', 'POD or TYPE/NAME (e.g. deploy/catalog)')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('-c, --container <container>', "the container (default: the pod's default container)")
      .option('-f, --follow', 'stream the log until interrupted')
      .option('--tail <lines>', 'lines of recent log to show (-1 all; 10 per pod with a selector)')
      .option('-l, --selector <selector>', 'label selector, e.g. app=catalog')
      .option('-p, --previous', 'the log of the run before the last restart')
      .option('--all-containers', 'all containers of the pod(s)')
      .option('--prefix', 'prefix each line with [pod/<name>/<container>]'),
  ).action(async (target: string | undefined, flags: LogsFlags) => {
    setExit(await logsCommand(target === undefined ? [] : [target], flags, io));
  });
}
