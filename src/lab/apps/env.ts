// Sample-app settings from environment variables, as a pod's container env gives them.
import type { CatalogOptions } from './catalog.js';
import { startCatalog } from './catalog.js';
import type { AppHandle, LogFn } from './http-util.js';
import { startSleep } from './sleep.js';
import type { SleepOptions } from './sleep.js';
import { startWebapp } from './webapp.js';
import { parseCatalogUrl, parseHostPort } from './webapp-client.js';
import type { WebappOptions } from './webapp.js';

export type Env = Readonly<Record<string, string | undefined>>;

export const APP_NAMES = ['catalog', 'webapp', 'sleep'] as const;
export type AppName = (typeof APP_NAMES)[number];

export function isAppName(name: unknown): name is AppName {
  return typeof name === 'string' && (APP_NAMES as readonly string[]).includes(name);
}

/** Bad settings: the message names the variable. */
export class AppConfigError extends Error {}

function nonEmpty(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function portFrom(env: Env, name: string): number | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port > 65535)
    throw new AppConfigError(`invalid ${name} "${raw}": want 0-65535`);
  return port;
}

function positiveIntFrom(env: Env, name: string): number | undefined {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new AppConfigError(`invalid ${name} "${raw}": want a positive integer`);
  return n;
}

/** HOST and PORT, shared by every app. */
function bindFrom(env: Env): { host?: string; port?: number } {
  const out: { host?: string; port?: number } = {};
  const host = nonEmpty(env, 'HOST');
  const port = portFrom(env, 'PORT');
  if (host !== undefined) out.host = host;
  if (port !== undefined) out.port = port;
  return out;
}

/**
 * The book's catalog shows images when SHOW_IMAGE is set to anything (`if (process.env.SHOW_IMAGE)`);
 * here "false" and "0" also mean off, so a manifest can say so explicitly.
 */
function showImageFrom(env: Env): boolean {
  const v = nonEmpty(env, 'SHOW_IMAGE');
  return v !== undefined && v.toLowerCase() !== 'false' && v !== '0';
}

/** catalog: HOST, PORT (3000), SHOW_IMAGE, VERSION. */
export function catalogOptionsFromEnv(env: Env): CatalogOptions {
  const opts: CatalogOptions = { ...bindFrom(env), showImage: showImageFrom(env) };
  const version = nonEmpty(env, 'VERSION');
  if (version !== undefined) opts.version = version;
  return opts;
}

/**
 * webapp: HOST, PORT (8080), CATALOG_URL, or CATALOG_SERVICE_HOST with CATALOG_SERVICE_PORT (80)
 * as the book's manifests set them; HTTP_PROXY_ADDR (the sidecar's `host:15001`); CATALOG_TIMEOUT_MS.
 */
export function webappOptionsFromEnv(env: Env): WebappOptions {
  const opts: WebappOptions = { ...bindFrom(env) };
  const url = nonEmpty(env, 'CATALOG_URL');
  const svcHost = nonEmpty(env, 'CATALOG_SERVICE_HOST');
  if (url !== undefined) opts.catalogUrl = url;
  else if (svcHost !== undefined) {
    const svcPort = portFrom(env, 'CATALOG_SERVICE_PORT') ?? 80;
    const hostPart = svcHost.includes(':') && !svcHost.startsWith('[') ? `[${svcHost}]` : svcHost;
    opts.catalogUrl = `http://${hostPart}:${svcPort}`;
  }
  const proxy = nonEmpty(env, 'HTTP_PROXY_ADDR');
  if (proxy !== undefined) opts.proxyAddr = proxy;
  // Check both here, so a bad value is a settings error rather than a failed start.
  try {
    if (opts.catalogUrl !== undefined) parseCatalogUrl(opts.catalogUrl);
    if (opts.proxyAddr !== undefined) parseHostPort(opts.proxyAddr, 'HTTP_PROXY_ADDR');
  } catch (err) {
    throw new AppConfigError(err instanceof Error ? err.message : String(err));
  }
  const timeout = positiveIntFrom(env, 'CATALOG_TIMEOUT_MS');
  if (timeout !== undefined) opts.catalogTimeoutMs = timeout;
  return opts;
}

/** sleep: HOST, PORT (8080). */
export function sleepOptionsFromEnv(env: Env): SleepOptions {
  return bindFrom(env);
}

/** Starts the named app configured from `env`; AppConfigError for bad settings. */
export async function startAppFromEnv(name: AppName, env: Env, log?: LogFn): Promise<AppHandle> {
  const withLog = <T extends { log?: LogFn }>(o: T): T => (log ? { ...o, log } : o);
  switch (name) {
    case 'catalog':
      return startCatalog(withLog(catalogOptionsFromEnv(env)));
    case 'webapp':
      return startWebapp(withLog(webappOptionsFromEnv(env)));
    case 'sleep':
      return startSleep(withLog(sleepOptionsFromEnv(env)));
  }
}
