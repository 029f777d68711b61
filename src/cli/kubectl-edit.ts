/**
 * `skiff edit <kind>/<name> | <kind> <name> [-n ns]` (kubectl edit): writes the object as YAML under kubectl's
 * header to a temp file, opens `$KUBE_EDITOR`, `$EDITOR` or `vi` on it, and sends what changed as a JSON merge
 * patch through the REST API. kubectl's outcomes and words: `configmap/istio edited`, `Edit cancelled, no
 * changes made.`, `Edit cancelled, saved file was empty.`; a syntax error or an Invalid (422) answer reopens
 * the editor with the reasons in the header (saving it unchanged gives up and keeps the file); any other
 * refusal (e.g. Istio's validation webhook) keeps the file and says how to retry with `skiff apply -f`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import { EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import {
  ApiError,
  apiRequest,
  kindDisplayName,
  objectPath,
  resolveKind,
  resolveServer,
  resourceDisplayName,
} from './kubectl-client.js';
import { serverOption } from './kubectl-get.js';
import { toKubectlYaml } from './kubectl-output.js';

export interface EditFlags {
  namespace?: string;
  server?: string;
  stateDir?: string;
}

const HEADER = `# Please edit the object below. Lines beginning with a '#' will be ignored,
# and an empty file will abort the edit. If an error occurs while saving this file will be
# reopened with the relevant failures.
#
`;

/** Why the file is opened again: a headline and its details (`# * field: message`). */
interface EditReason {
  head: string;
  other: string[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 7386: what turns `from` into `to` (null removes a field; lists are replaced whole). */
export function createMergePatch(from: unknown, to: unknown): unknown {
  if (!isObj(from) || !isObj(to)) return to;
  const patch: Obj = {};
  for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    const before = from[key];
    if (sameJson(before, value)) continue;
    patch[key] = isObj(before) && isObj(value) ? createMergePatch(before, value) : value;
  }
  return patch;
}

/** cmdutil.StripComments: the text without lines that start with `#`. */
export function stripComments(text: string): string {
  return text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n');
}

/** hasLines: any line that is neither blank nor a comment. */
function hasLines(text: string): boolean {
  return text.split('\n').some((l) => {
    const t = l.trim();
    return t !== '' && !t.startsWith('#');
  });
}

function header(reasons: readonly EditReason[]): string {
  const hashed = (s: string): string => s.replace(/\n(?!#)/g, '\n# ');
  let out = HEADER;
  for (const r of reasons) {
    out += r.other.length > 0 ? `# ${hashed(r.head)}:\n` : `# ${hashed(r.head)}\n`;
    for (const o of r.other) out += `# * ${hashed(o)}\n`;
    out += '#\n';
  }
  return out;
}

/** The editor command kubectl would run: KUBE_EDITOR, EDITOR, else vi. */
export function editorCommand(env: NodeJS.ProcessEnv): string {
  return env['KUBE_EDITOR']?.trim() || env['EDITOR']?.trim() || 'vi';
}

function launchEditor(editor: string, file: string, io: CommandIO): Promise<void> {
  return new Promise((resolve, reject) => {
    // Through the shell, as kubectl does, so an editor with arguments (`code --wait`) works.
    const child = spawn('sh', ['-c', `${editor} "$1"`, 'sh', file], { stdio: 'inherit', env: io.env });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`there was a problem with the editor "${editor}"`)),
    );
  });
}

/** The one object the edited text holds, or a syntax error's text. */
function parseEdited(text: string): { object: Obj } | { error: string } {
  const docs = parseAllDocuments(stripComments(text)).filter((d) => d.contents !== null);
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) return { error: bad.errors[0]?.message.split('\n')[0] ?? 'invalid YAML' };
  const values: unknown[] = docs.map((d) => d.toJS() as unknown);
  const object = values[0];
  if (values.length !== 1 || !isObj(object)) return { error: 'the edited file must hold exactly one object' };
  return { object };
}

interface PatchFailure {
  status: number;
  reason: string;
  message: string;
  causes: string[];
}

async function sendPatch(url: string, patch: unknown): Promise<{ object: Obj } | PatchFailure> {
  const res = await fetch(url, {
    method: 'PATCH',
    headers: { accept: 'application/json', 'content-type': 'application/merge-patch+json' },
    body: JSON.stringify(patch),
  });
  const text = await res.text();
  let body: Obj = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObj(parsed)) body = parsed;
  } catch {
    body = { message: text.trim() };
  }
  if (res.ok) return { object: body };
  const details = isObj(body['details']) ? body['details'] : {};
  const causes = (Array.isArray(details['causes']) ? details['causes'] : [])
    .filter(isObj)
    .map((c) => `${String(c['field'] ?? '')}: ${String(c['message'] ?? '')}`);
  return {
    status: res.status,
    reason: typeof body['reason'] === 'string' ? body['reason'] : '',
    message: typeof body['message'] === 'string' ? body['message'] : `HTTP ${res.status}`,
    causes,
  };
}

export async function editCommand(args: string[], flags: EditFlags, io: CommandIO): Promise<number> {
  let [kindArg, name] = args;
  if (kindArg?.includes('/') && name === undefined) {
    const slash = kindArg.indexOf('/');
    name = kindArg.slice(slash + 1);
    kindArg = kindArg.slice(0, slash);
  }
  if (kindArg === undefined || name === undefined || name === '')
    throw usageError('You must provide one or more resources by argument or filename.');
  const info = resolveKind(kindArg);
  const server = await resolveServer(flags, io);
  const path = objectPath(info, flags.namespace ?? 'default', name);
  let original: KubeObject;
  try {
    original = await apiRequest(server, path);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    io.stderr(`${err.message}\n`);
    return EXIT.unknown;
  }
  const resourceString = resourceDisplayName(info);
  const originalYaml = toKubectlYaml(original);
  const dir = mkdtempSync(join(tmpdir(), 'skiff-edit-'));
  const file = join(dir, `${name}.yaml`);
  const keep = (): void => io.stderr(`A copy of your changes has been stored to "${file}"\n`);
  const editor = editorCommand(io.env);
  let reasons: EditReason[] = [];
  let edited = '';
  let containsError = false;
  for (;;) {
    const body = containsError ? stripComments(edited).replace(/^\n+/, '') : originalYaml;
    writeFileSync(file, header(reasons) + body);
    const previous = edited;
    try {
      await launchEditor(editor, file, io);
    } catch (err) {
      keep();
      io.stderr(`error: ${(err as Error).message}\n`);
      return EXIT.unknown;
    }
    edited = readFileSync(file, 'utf8');
    if (containsError && stripComments(previous) === stripComments(edited)) {
      keep();
      io.stderr('error: Edit cancelled, no valid changes were saved.\n');
      return EXIT.unknown;
    }
    if (stripComments(header([]) + originalYaml) === stripComments(edited)) {
      rmSync(dir, { recursive: true, force: true });
      io.stderr('Edit cancelled, no changes made.\n');
      return EXIT.ok;
    }
    if (!hasLines(edited)) {
      rmSync(dir, { recursive: true, force: true });
      io.stderr('Edit cancelled, saved file was empty.\n');
      return EXIT.ok;
    }
    const parsed = parseEdited(edited);
    if ('error' in parsed) {
      containsError = true;
      reasons = [{ head: `The edited file had a syntax error: ${parsed.error}`, other: [] }];
      continue;
    }
    const patch = createMergePatch(original, parsed.object);
    if (isObj(patch) && Object.keys(patch).length === 0) {
      rmSync(dir, { recursive: true, force: true });
      io.stdout(`${kindDisplayName(info)}/${name} skipped\n`);
      return EXIT.ok;
    }
    const result = await sendPatch(`${server}${path}`, patch);
    if ('object' in result) {
      rmSync(dir, { recursive: true, force: true });
      io.stdout(`${kindDisplayName(info)}/${name} edited\n`);
      return EXIT.ok;
    }
    if (result.status === 422 && result.reason === 'Invalid') {
      // Fixable in place: say so and reopen the file with the reasons on top.
      io.stderr(`error: ${resourceString} "${name}" is invalid\n`);
      containsError = true;
      reasons = [{ head: `${resourceString} "${name}" was not valid`, other: result.causes }];
      continue;
    }
    if (result.status === 404) {
      io.stderr(`error: ${resourceString} "${name}" could not be found on the server\n`);
      io.stderr(`The edits you made on deleted resources have been saved to "${file}"\n`);
      return EXIT.unknown;
    }
    io.stderr(`error: ${resourceString} "${name}" could not be patched: ${result.message}\n`);
    io.stderr(`You can run \`skiff apply -f ${file}\` to try this update again.\n`);
    return EXIT.unknown;
  }
}

export function registerKubectlEdit(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  serverOption(
    program
      .command('edit')
      .description('Edit a resource in $KUBE_EDITOR or $EDITOR and apply the changes (kubectl edit)')
      .argument('<args...>', 'TYPE NAME or TYPE/NAME')
      .option('-n, --namespace <namespace>', 'namespace (default "default")'),
  ).action(async (args: string[], flags: EditFlags) => setExit(await editCommand(args, flags, io)));
}
