/**
 * Where the control plane finds a Kubernetes API server, as istiod does (`--kubeconfig`, the `KUBECONFIG`
 * variable, or the in-cluster service account), loaded with `@kubernetes/client-node`'s KubeConfig, and a
 * small JSON GET over its transport (auth headers, client certificates, CA) for the list calls.
 *
 * The library is imported on first use only: it takes about a second of CPU to load, which `skiff up` and
 * `skiff pilot --config-dir` should not pay.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { delimiter } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';

export type KubeClientModule = typeof import('@kubernetes/client-node');

let loading: Promise<KubeClientModule> | undefined;

/** `@kubernetes/client-node`, loaded once. */
export function kubeClientModule(): Promise<KubeClientModule> {
  loading ??= import('@kubernetes/client-node');
  return loading;
}

/** A kubeconfig that cannot be used: the message says which file and why. */
export class KubeConfigError extends Error {}

export interface KubeConfigOptions {
  /** A kubeconfig file (istiod's `--kubeconfig`); `KUBECONFIG`, then the in-cluster account, without it. */
  kubeconfig?: string;
  /** A context of the kubeconfig instead of its current-context. */
  context?: string;
  /** For `KUBECONFIG` and `KUBERNETES_SERVICE_HOST`; process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export interface LoadedKubeConfig {
  config: KubeConfig;
  /** The API server's URL. */
  server: string;
  /** Where the config came from: the file(s), or `in-cluster`. */
  origin: string;
  context: string;
}

const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'ENOENT') return 'no such file or directory';
  if (e?.code === 'EACCES') return 'permission denied';
  if (e?.code === 'EISDIR') return 'is a directory';
  return (e as Error)?.message ?? String(err);
}

/** Reads and parses one kubeconfig file; any failure names the file. */
function loadFile(mod: KubeClientModule, file: string): KubeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`cannot load kubeconfig ${file}: ${errnoText(err)}`);
  }
  const kc = new mod.KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    // YAML errors come with a source excerpt on further lines; the first says what is wrong.
    const reason = ((err as Error).message ?? String(err)).split('\n')[0]?.trim();
    throw new KubeConfigError(`cannot load kubeconfig ${file}: ${reason}`);
  }
  return kc;
}

/** Several files (a `KUBECONFIG` list) merged as kubectl does: the first file naming an entry wins. */
function merge(mod: KubeClientModule, configs: KubeConfig[]): KubeConfig {
  if (configs.length === 1) return configs[0] as KubeConfig;
  const pick = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const list of lists) for (const item of list) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  const kc = new mod.KubeConfig();
  kc.loadFromOptions({
    clusters: pick(configs.map((c) => c.clusters)),
    users: pick(configs.map((c) => c.users)),
    contexts: pick(configs.map((c) => c.contexts)),
    currentContext: configs.find((c) => c.currentContext)?.currentContext ?? '',
  });
  return kc;
}

/**
 * The client library refuses `http://` servers unless the cluster says `insecure-skip-tls-verify`, though
 * kubectl talks to them plainly (skiff's own store API is one). TLS settings mean nothing over http, so
 * such clusters are marked to skip verification.
 */
function allowPlainHttp(mod: KubeClientModule, kc: KubeConfig): KubeConfig {
  if (!kc.clusters.some((c) => c.server.startsWith('http:') && !c.skipTLSVerify)) return kc;
  const out = new mod.KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => (c.server.startsWith('http:') ? { ...c, skipTLSVerify: true } : c)),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return out;
}

/** Loads the API server's config: `--kubeconfig`, else `KUBECONFIG`, else the in-cluster service account. */
export async function loadKubeConfig(options: KubeConfigOptions): Promise<LoadedKubeConfig> {
  const env = options.env ?? process.env;
  const mod = await kubeClientModule();
  let kc: KubeConfig;
  let origin: string;
  if (options.kubeconfig !== undefined && options.kubeconfig !== '') {
    kc = loadFile(mod, options.kubeconfig);
    origin = options.kubeconfig;
  } else if (env['KUBECONFIG']) {
    const files = env['KUBECONFIG'].split(delimiter).filter((f) => f !== '');
    const present = files.filter((f) => existsSync(f));
    // kubectl skips missing entries of the list; none at all is an error.
    if (present.length === 0)
      throw new KubeConfigError(`cannot load kubeconfig ${files.join(delimiter)}: no such file or directory`);
    kc = merge(
      mod,
      present.map((f) => loadFile(mod, f)),
    );
    origin = present.join(delimiter);
  } else if (env['KUBERNETES_SERVICE_HOST'] && existsSync(IN_CLUSTER_TOKEN)) {
    kc = new mod.KubeConfig();
    kc.loadFromCluster();
    origin = 'in-cluster';
  } else {
    throw new KubeConfigError(
      'no Kubernetes API server configured: pass --kubeconfig FILE, set KUBECONFIG, or run in a cluster',
    );
  }
  if (options.context !== undefined && options.context !== '') {
    if (!kc.getContextObject(options.context))
      throw new KubeConfigError(`context "${options.context}" does not exist in kubeconfig ${origin}`);
    kc.setCurrentContext(options.context);
  }
  const current = kc.getCurrentContext();
  if (!current || !kc.getContextObject(current)) {
    throw new KubeConfigError(
      current
        ? `current-context "${current}" does not exist in kubeconfig ${origin}`
        : `kubeconfig ${origin} has no current-context (pass --context NAME)`,
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new KubeConfigError(`context "${current}" of kubeconfig ${origin} names no known cluster`);
  let url: URL;
  try {
    url = new URL(cluster.server);
  } catch {
    throw new KubeConfigError(
      `cluster "${cluster.name}" of kubeconfig ${origin}: invalid server "${cluster.server}"`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new KubeConfigError(
      `cluster "${cluster.name}" of kubeconfig ${origin}: server "${cluster.server}" is not an http(s) URL`,
    );
  kc = allowPlainHttp(mod, kc);
  return { config: kc, server: cluster.server.replace(/\/+$/, ''), origin, context: current };
}

/** A failed API request: the HTTP status (0 when the server could not be reached) and the Status message. */
export class KubeRequestError extends Error {
  constructor(
    message: string,
    readonly statusCode: number,
  ) {
    super(message);
  }
}

/** How long one list request may take before it counts as failed. */
const REQUEST_TIMEOUT_MS = 60_000;

/** GETs `path` (with `query`) from the current cluster and parses the JSON answer; non-2xx is a KubeRequestError. */
export async function kubeGetJson(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | undefined> = {},
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeRequestError('no current cluster', 0);
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers = { ...(opts.headers ?? {}), Accept: 'application/json' };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, { ...opts, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new KubeRequestError(err.message, 0)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : (JSON.parse(text) as unknown);
        } catch {
          body = undefined;
        }
        const code = res.statusCode ?? 0;
        if (code >= 200 && code < 300 && body !== undefined) {
          resolve(body);
          return;
        }
        const message =
          typeof body === 'object' &&
          body !== null &&
          typeof (body as { message?: unknown }).message === 'string'
            ? (body as { message: string }).message
            : `${code} ${http.STATUS_CODES[code] ?? ''}`.trim();
        reject(new KubeRequestError(message, code));
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000}s`)),
    );
    req.on('error', (err) => reject(new KubeRequestError(err.message, 0)));
    req.end();
  });
}
