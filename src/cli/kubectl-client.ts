/**
 * The kubectl-like commands' view of the lab's REST API: where the API is (`--server`, `SKIFF_SERVER`, or
 * the running lab's state in `.skiff/`), which kind a name on the command line means (plural, singular,
 * short name, `plural.group`), requests with kubectl's error text (`Error from server (NotFound): pods "x"
 * not found`), and a ConfigSnapshot of everything the server holds.
 */
import type { KindInfo, Resource } from '../api/index.js';
import { KINDS } from '../api/index.js';
import type { MeshConfig } from '../model/index.js';
import { ConfigSnapshot, defaultMeshConfig, parseMeshConfig } from '../model/index.js';
import { compareVersions, resourceFromObject, shortNames } from '../store/index.js';
import { CliError, EXIT } from './errors.js';
import type { CommandIO } from './io.js';

export type KubeObject = Record<string, unknown>;

/** The flags every kubectl-like command takes to find the API. */
export interface ServerFlags {
  server?: string;
  /** The lab's state dir (`--state-dir`, default `.skiff`). */
  stateDir?: string;
}

/**
 * The REST API's base URL: `--server`, else `$SKIFF_SERVER`, else the API of the lab running from this
 * directory's state dir (`.skiff/lab.json`).
 */
export async function resolveServer(flags: ServerFlags, io: CommandIO): Promise<string> {
  const explicit = flags.server ?? io.env['SKIFF_SERVER'];
  if (explicit) return explicit.replace(/\/+$/, '');
  const lab = await import('../lab/index.js');
  const stateDir = lab.stateDirPath(flags.stateDir);
  const state = lab.readLabState(stateDir);
  const api = state?.endpoints?.api;
  if (state && api && state.status !== 'failed' && lab.processAlive(state.pid))
    return api.replace(/\/+$/, '');
  // The same words as `skiff apply`.
  throw new CliError(
    `skiff is not running in ${stateDir}: start it with \`skiff up\` (or pass --server)`,
    EXIT.unknown,
  );
}

/** The version a kind is asked for at: GA before beta before alpha. */
export function preferredVersion(info: KindInfo): string {
  return [...info.versions].sort(compareVersions)[0] ?? 'v1';
}

/** `deployment.apps`, `service`, `virtualservice.networking.istio.io`: what kubectl prints before `/name`. */
export function kindDisplayName(info: KindInfo): string {
  const kind = info.kind.toLowerCase();
  return info.group ? `${kind}.${info.group}` : kind;
}

/** `pods`, `virtualservices.networking.istio.io`: the resource in error messages. */
export function resourceDisplayName(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** The kinds `kubectl get all` lists that skiff serves. */
export const ALL_KINDS = ['/Pod', '/Service', 'apps/Deployment', 'apps/ReplicaSet'];

/** The kind a command-line name means; the first match in the catalogue wins (Istio's Gateway before Gateway API's). */
export function resolveKind(name: string): KindInfo {
  const lower = name.toLowerCase();
  const dot = lower.indexOf('.');
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const group = dot < 0 ? undefined : lower.slice(dot + 1);
  for (const info of KINDS) {
    if (group !== undefined && info.group !== group) continue;
    const names = [info.plural, info.kind.toLowerCase(), ...shortNames(info)];
    if (names.includes(base)) return info;
  }
  throw new CliError(`the server doesn't have a resource type "${name}"`, EXIT.unknown);
}

export function collectionPath(info: KindInfo, namespace: string | undefined): string {
  const version = preferredVersion(info);
  const base = info.group ? `/apis/${info.group}/${version}` : `/api/${version}`;
  const ns = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${info.plural}`;
}

export function objectPath(info: KindInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, info.namespaced ? (namespace ?? 'default') : undefined)}/${encodeURIComponent(name)}`;
}

/** A failed request, with kubectl's text for it. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string,
  ) {
    super(message, EXIT.unknown);
  }
}

function serverError(status: number, body: KubeObject): ApiError {
  const reason = typeof body['reason'] === 'string' ? body['reason'] : '';
  const message =
    typeof body['message'] === 'string' ? body['message'] : `the server responded with HTTP ${status}`;
  const shown = reason ? `Error from server (${reason}): ${message}` : `Error from server: ${message}`;
  return new ApiError(shown, status, reason);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  contentType?: string;
  query?: Record<string, string | undefined>;
}

/** One API request; a non-2xx answer throws an ApiError whose message is what kubectl prints. */
export async function apiRequest(
  server: string,
  path: string,
  opts: RequestOptions = {},
): Promise<KubeObject> {
  const url = new URL(`${server}${path}`);
  for (const [k, v] of Object.entries(opts.query ?? {}))
    if (v !== undefined && v !== '') url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: {
        accept: 'application/json',
        ...(opts.body !== undefined ? { 'content-type': opts.contentType ?? 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    });
  } catch {
    throw new CliError(
      `The connection to the server ${url.host} was refused - did you specify the right host or port?`,
      EXIT.unknown,
    );
  }
  const text = await res.text();
  let body: KubeObject = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as KubeObject;
  } catch {
    body = { message: text.trim() };
  }
  if (res.status < 200 || res.status >= 300) throw serverError(res.status, body);
  return body;
}

export interface ListQuery {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export async function listObjects(server: string, info: KindInfo, q: ListQuery): Promise<KubeObject[]> {
  const body = await apiRequest(server, collectionPath(info, q.namespace), {
    query: { labelSelector: q.labelSelector, fieldSelector: q.fieldSelector },
  });
  const items = body['items'];
  return Array.isArray(items)
    ? items.filter((i): i is KubeObject => typeof i === 'object' && i !== null && !Array.isArray(i))
    : [];
}

/** Everything the server holds, as the model reads it; the mesh config from the `istio` ConfigMap. */
export async function fetchSnapshot(
  server: string,
  istioNamespace = 'istio-system',
): Promise<ConfigSnapshot> {
  const lists = await Promise.all(
    KINDS.map((info) => listObjects(server, info, {}).catch(() => [] as KubeObject[])),
  );
  const resources: Resource[] = [];
  for (const items of lists) {
    for (const item of items) {
      const decoded = resourceFromObject(item);
      if (decoded.ok) resources.push(decoded.resource);
    }
  }
  let mesh: MeshConfig = defaultMeshConfig();
  const cm = resources.find(
    (r) => r.kind === 'ConfigMap' && r.metadata.name === 'istio' && r.metadata.namespace === istioNamespace,
  );
  const text = (cm?.object['data'] as Record<string, unknown> | undefined)?.['mesh'];
  if (typeof text === 'string') {
    try {
      mesh = parseMeshConfig(text);
    } catch {
      // A mesh config that does not parse leaves Istio's defaults, as a fresh istiod would use.
    }
  }
  return new ConfigSnapshot(resources, mesh);
}

/**
 * kubectl's failure output for an API or connection error (`Error from server ...` as the server said it,
 * `error: ...` for the rest) and its exit code; anything else is rethrown.
 */
export function kubectlFailure(err: unknown, io: { stderr(text: string): void }): number {
  if (err instanceof ApiError) {
    io.stderr(`${err.message}\n`);
    return EXIT.unknown;
  }
  if (err instanceof CliError && err.exitCode === EXIT.unknown) {
    io.stderr(`error: ${err.message}\n`);
    return EXIT.unknown;
  }
  throw err;
}
