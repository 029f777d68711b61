/**
 * `proxy-status <pod>`'s comparison of what the control plane would send a proxy with what the proxy holds
 * (istioctl 1.17 istioctl/pkg/writer/compare and istioctl/pkg/util/configdump): for clusters, listeners and
 * routes, the dynamic resources of each config dump with versions and update times stripped, sorted by name
 * (route virtual hosts too), printed as JSON with 4-space indents and compared with a unified diff of 7
 * context lines. Equal sections print `Clusters Match`, `Listeners Match` and `Routes Match (RDS last
 * loaded at <RFC 1123 time>)`; different ones print the diff (headed `--- Istiod Clusters` / `+++ Envoy
 * Clusters`, ...), routes after `Routes Don't Match (...)`. A dump without a section compares its error
 * text, as istioctl writes the error into the "file".
 *
 * Every resource is passed through the Envoy protos (encode, decode to proto3 JSON) before printing, so
 * the Envoy admin spelling (snake_case) and istiod's (camelCase) compare equal, as istioctl's unmarshal
 * into protos makes them. Known difference in the text: 64-bit integers print as numbers, where Go's jsonpb
 * quotes them.
 */
import { TYPE, decodeAny, encodeAny } from '../xds/index.js';
import { splitLines, unifiedDiff } from './proxy-status-difflib.js';

type Json = Record<string, unknown>;

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';
const SECTION = {
  clusters: `${ADMIN}ClustersConfigDump`,
  listeners: `${ADMIN}ListenersConfigDump`,
  routes: `${ADMIN}RoutesConfigDump`,
} as const;

const CONTEXT_LINES = 7;

/** jsonpb with a 4-space indent: `"key": value`, Go's HTML-safe string escapes. */
function goJsonIndent(value: unknown): string {
  return JSON.stringify(value, null, 4).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A field under its proto3 JSON name or its proto name (Envoy's admin writes the latter). */
function field(o: Json, camel: string): unknown {
  if (camel in o) return o[camel];
  const snake = camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return o[snake];
}

function records(v: unknown): Json[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

export class ConfigDumpError extends Error {}

/** Parses a config dump (`{configs: [...]}`); throws ConfigDumpError when it is not one. */
export function parseConfigDump(text: string): Json[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigDumpError(`invalid config dump: ${(err as Error).message}`);
  }
  if (!isRecord(value)) throw new ConfigDumpError('invalid config dump: not a JSON object');
  return records(value['configs']);
}

function section(configs: readonly Json[], typeUrl: string): Json {
  let found: Json | undefined;
  // istioctl keeps the last section of a type.
  for (const c of configs) if (c['@type'] === typeUrl) found = c;
  if (!found) throw new ConfigDumpError(`config dump has no configuration type ${typeUrl}`);
  return found;
}

/** The resource as the protos see it (field order, names and defaults normalised), with its type first. */
function canonical(typeUrl: string, resource: unknown): Json {
  const body = isRecord(resource)
    ? Object.fromEntries(Object.entries(resource).filter(([k]) => k !== '@type'))
    : {};
  try {
    return { '@type': typeUrl, ...decodeAny(encodeAny(typeUrl, body)) };
  } catch {
    return { '@type': typeUrl, ...body };
  }
}

const byName = (a: Json, b: Json, get: (x: Json) => unknown): number => {
  const na = String(get(a) ?? '');
  const nb = String(get(b) ?? '');
  return na < nb ? -1 : na > nb ? 1 : 0;
};

function clusterDump(configs: readonly Json[]): Json {
  const dump = section(configs, SECTION.clusters);
  const clusters = records(field(dump, 'dynamicActiveClusters')).map((dc) => {
    const out: Json = { cluster: canonical(TYPE.Cluster, field(dc, 'cluster')) };
    return out;
  });
  clusters.sort((a, b) => byName(a, b, (x) => (x['cluster'] as Json)['name']));
  return clusters.length > 0 ? { dynamicActiveClusters: clusters } : {};
}

function listenerDump(configs: readonly Json[]): Json {
  const dump = section(configs, SECTION.listeners);
  const listeners: Json[] = [];
  for (const dl of records(field(dump, 'dynamicListeners'))) {
    // A reloaded listener has an active and a draining state; only the active one is compared.
    const active = field(dl, 'activeState');
    if (!isRecord(active)) continue;
    const out: Json = { activeState: { listener: canonical(TYPE.Listener, field(active, 'listener')) } };
    const warming = field(dl, 'warmingState');
    if (isRecord(warming)) {
      out['warmingState'] = { listener: canonical(TYPE.Listener, field(warming, 'listener')) };
    }
    listeners.push(out);
  }
  listeners.sort((a, b) => byName(a, b, (x) => ((x['activeState'] as Json)['listener'] as Json)['name']));
  return listeners.length > 0 ? { dynamicListeners: listeners } : {};
}

function routeDump(configs: readonly Json[]): Json {
  const dump = section(configs, SECTION.routes);
  const routes = records(field(dump, 'dynamicRouteConfigs')).map((drc) => {
    const route = canonical(TYPE.RouteConfiguration, field(drc, 'routeConfig'));
    const vhosts = records(route['virtualHosts']);
    if (vhosts.length > 0) route['virtualHosts'] = [...vhosts].sort((a, b) => byName(a, b, (x) => x['name']));
    return { routeConfig: route };
  });
  routes.sort((a, b) => byName(a, b, (x) => (x['routeConfig'] as Json)['name']));
  return routes.length > 0 ? { dynamicRouteConfigs: routes } : {};
}

/** The newest `lastUpdated` of the dynamic route configs, if any. */
function lastRouteUpdate(configs: readonly Json[]): Date | undefined {
  const dump = section(configs, SECTION.routes);
  let newest: Date | undefined;
  for (const drc of records(field(dump, 'dynamicRouteConfigs'))) {
    const text = field(drc, 'lastUpdated');
    if (typeof text !== 'string') continue;
    const t = new Date(text);
    if (Number.isNaN(t.getTime()) || t.getTime() <= 0) continue;
    if (!newest || t > newest) newest = t;
  }
  return newest;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's time.RFC1123 (`Mon, 02 Jan 2006 15:04:05 MST`) in the local time zone. */
export function rfc1123Local(t: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
      .formatToParts(t)
      .find((p) => p.type === 'timeZoneName')?.value ?? 'UTC';
  return `${DAYS[t.getDay()]}, ${pad(t.getDate())} ${MONTHS[t.getMonth()]} ${t.getFullYear()} ${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())} ${zone}`;
}

function sectionText(configs: readonly Json[], build: (c: readonly Json[]) => Json): string {
  try {
    return goJsonIndent(build(configs));
  } catch (err) {
    if (err instanceof ConfigDumpError) return err.message;
    throw err;
  }
}

function diffText(
  istiod: readonly Json[],
  envoy: readonly Json[],
  build: (c: readonly Json[]) => Json,
  what: string,
): string {
  return unifiedDiff(
    splitLines(sectionText(istiod, build)),
    splitLines(sectionText(envoy, build)),
    `Istiod ${what}`,
    `Envoy ${what}`,
    CONTEXT_LINES,
  );
}

/**
 * The whole comparison, written section by section as istioctl's Comparator.Diff prints it. A proxy dump
 * without a routes section ends it with a ConfigDumpError after the cluster and listener sections, as
 * istioctl fails reading the RDS load time.
 */
export function compareConfigDumps(
  istiod: readonly Json[],
  envoy: readonly Json[],
  write: (text: string) => void,
): void {
  const clusters = diffText(istiod, envoy, clusterDump, 'Clusters');
  write(clusters !== '' ? `${clusters}\n` : 'Clusters Match\n');
  const listeners = diffText(istiod, envoy, listenerDump, 'Listeners');
  write(listeners !== '' ? `${listeners}\n` : 'Listeners Match\n');
  const routes = diffText(istiod, envoy, routeDump, 'Routes');
  const loaded = lastRouteUpdate(envoy);
  const suffix = loaded ? ` (RDS last loaded at ${rfc1123Local(loaded)})` : '';
  write(routes !== '' ? `Routes Don't Match${suffix}\n${routes}\n` : `Routes Match${suffix}\n`);
}
