// The lab's own sample apps (catalog, webapp, sleep): node:http servers, one per pod process.
export { startCatalog, CATALOG_DEFAULT_PORT } from './catalog.js';
export type { CatalogOptions } from './catalog.js';
export { CATALOG_ITEMS, CATALOG_IMAGE_URL, renderCatalogJson } from './catalog-items.js';
export type { CatalogItem } from './catalog-items.js';
export { BLOWUP_TYPES, DEFAULT_LATENCY_MS, blowupApplies, decideBlowup, parseBlowup } from './blowup.js';
export type { Blowup, BlowupOutcome, BlowupType } from './blowup.js';
export { startWebapp, WEBAPP_DEFAULT_PORT, CATALOG_CALL_FAILED } from './webapp.js';
export type { WebappOptions } from './webapp.js';
export {
  DEFAULT_CATALOG_URL,
  DEFAULT_CATALOG_TIMEOUT_MS,
  catalogRequestUrl,
  decodeItems,
  goJson,
  parseHostPort,
  propagatedHeaders,
} from './webapp-client.js';
export type { WebappCatalogItem } from './webapp-client.js';
export { CATALOG_UNAVAILABLE, renderIndexPage } from './webapp-page.js';
export { startSleep, SLEEP_DEFAULT_PORT } from './sleep.js';
export type { SleepOptions } from './sleep.js';
export {
  APP_NAMES,
  AppConfigError,
  catalogOptionsFromEnv,
  isAppName,
  sleepOptionsFromEnv,
  startAppFromEnv,
  webappOptionsFromEnv,
} from './env.js';
export type { AppName, Env } from './env.js';
export { formatHostPort, stdoutLog } from './http-util.js';
export type { AppHandle, LogFn } from './http-util.js';
