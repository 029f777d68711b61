/**
 * Istio's xDS debug types and the control-plane identity every DiscoveryResponse carries (Istio 1.17:
 * pilot/pkg/xds/statusgen.go, debuggen.go, xdsgen.go, ads.go).
 *
 * A request whose type URL starts with `istio.io/debug` starts no watch and is answered each time:
 * - `istio.io/debug/syncz` (StatusGen): one CSDS `envoy.service.status.v3.ClientConfig` per connected proxy
 *   (those sending PROXY_CONFIG metadata), node `{id: <pod>.<ns>, metadata: {CLUSTER_ID}}` and a status for
 *   LDS, RDS, EDS, CDS and ECDS, as `istioctl proxy-status` reads it and pilot-agent relays it on 15004.
 * - `istio.io/debug/config_dump` with one resource name, a proxy ID (StatusGen): the sections of
 *   istiod's connection config dump as unnamed Any resources (`envoy.admin.v3.BootstrapConfigDump`,
 *   `ClustersConfigDump`, `ListenersConfigDump`, `ScopedRoutesConfigDump`, `RoutesConfigDump`,
 *   `SecretsConfigDump`, `EcdsConfigDump`); no names or several → an empty response; an unknown proxy → no
 *   response at all.
 * - any other `istio.io/debug/<x>` reaches StatusGen's default case: an empty response.
 * - `istio.io/debug` itself (DebugGen) runs the debug HTTP handler `/debug/<resource name>` in process and
 *   answers one resource named as requested whose Any has type URL `istio.io/debug` and the handler's body
 *   as its value. No name, several names, or a caller outside the system namespace asking for anything but
 *   config_dump, ndsz or edsz are errors that end the stream, as istiod's processRequest returns them.
 *   skiff's xDS connections carry no verified identity, so the caller's identity is the one its node
 *   claims (the lab's proxies hold certificates for exactly that); `debug~` clients (istioctl) count as
 *   the system namespace.
 *
 * The admin config-dump wrappers and ClientConfig are encoded by hand: those protos are not part of the
 * shared Root, and the resources inside are already Any messages.
 */
import protobuf from 'protobufjs';
import { SKIFF_ISTIO_VERSION } from '../index.js';
import type { Json, ProxyResources } from '../index.js';
import { encodeAny } from '../protos.js';
import { encodeAnyMessage } from './codec.js';
import type { EncodedResource } from './codec.js';
import type { Connection, ConfigStatus } from './connection.js';
import { watchStatus } from './connection.js';
import type { AdsServer } from './server.js';
import { XDS_TYPE } from './types.js';

export const DEBUG_TYPE = 'istio.io/debug';
export const DEBUG_SYNCZ_TYPE = 'istio.io/debug/syncz';
export const DEBUG_CONFIG_DUMP_TYPE = 'istio.io/debug/config_dump';
export const CLIENT_CONFIG_TYPE = 'type.googleapis.com/envoy.service.status.v3.ClientConfig';

/** The namespace istiod runs in (its POD_NAMESPACE): callers from there may ask DebugGen anything. */
export const ISTIO_SYSTEM_NAMESPACE = 'istio-system';
/** DebugGen's activeNamespaceDebuggers: what a caller from any other namespace may ask for. */
const ACTIVE_NAMESPACE_DEBUGGERS = new Set(['config_dump', 'ndsz', 'edsz']);

/** istio.io/pkg/version BuildInfo as JSON names it, with skiff's values (`/version` prints the same). */
export interface BuildInfo {
  version: string;
  revision: string;
  golang_version: string;
  status: string;
  tag: string;
}

/** skiff's BuildInfo (a function: the version constant comes through the module index, read on use). */
export function skiffBuildInfo(): BuildInfo {
  return {
    version: SKIFF_ISTIO_VERSION,
    revision: 'skiff',
    golang_version: `node${process.versions.node}`,
    status: 'Clean',
    tag: SKIFF_ISTIO_VERSION,
  };
}

/** BuildInfo.String(): `version-revision-golang_version-status-tag`, istiod's `/version` body. */
export function buildInfoString(info: BuildInfo = skiffBuildInfo()): string {
  return `${info.version}-${info.revision}-${info.golang_version}-${info.status}-${info.tag}`;
}

/**
 * `control_plane.identifier`: istiod's IstioControlPlaneInstance as encoding/json writes it, fields in
 * declaration order (`{"Component":"istiod","ID":"<pod>","Info":{"version",...}}`).
 */
export function controlPlaneIdentifier(podName: string, info: BuildInfo = skiffBuildInfo()): string {
  return JSON.stringify({
    Component: 'istiod',
    ID: podName,
    Info: {
      version: info.version,
      revision: info.revision,
      golang_version: info.golang_version,
      status: info.status,
      tag: info.tag,
    },
  });
}

/** Debug clients (istioctl) connect as `debug~...`; they get answers, never config. */
export function isDebugType(typeUrl: string): boolean {
  return typeUrl.startsWith(DEBUG_TYPE);
}

// ---- DebugGen: the debug HTTP handlers, run in process ----

/** What a debug HTTP handler wrote: its status and body (DebugGen keeps only the body). */
export interface DebugHttpReply {
  status: number;
  body: string;
}

/** Runs the debug handler for `/debug/<pathAndQuery>` without a network round trip. */
export type DebugHttpRunner = (pathAndQuery: string) => Promise<DebugHttpReply>;

const debugRunners = new WeakMap<AdsServer, DebugHttpRunner>();

/** Gives a server's DebugGen the debug HTTP handlers (the control plane wires its debug mux in). */
export function setDebugHttpRunner(server: AdsServer, runner: DebugHttpRunner): void {
  debugRunners.set(server, runner);
}

/** The answer to a debug request: a response, an error that ends the stream, or nothing at all. */
export type DebugAnswer =
  | { kind: 'response'; resources: EncodedResource[] }
  | { kind: 'error'; message: string }
  | { kind: 'none'; reason: string };

function opaqueResource(name: string, typeUrl: string, value: Uint8Array): EncodedResource {
  return { name, typeUrl, hash: '', anyBytes: encodeAnyMessage(typeUrl, value), size: value.length };
}

/** The identity a connection's node claims: namespace and SPIFFE URI (`spiffe://td/ns/<ns>/sa/<sa>`). */
function claimedIdentity(server: AdsServer, con: Connection): { namespace: string; uri: string } {
  if (con.debug) return { namespace: ISTIO_SYSTEM_NAMESPACE, uri: '' };
  const mesh = server.push.snapshot.mesh as Record<string, unknown>;
  const trustDomain =
    typeof mesh['trustDomain'] === 'string' && mesh['trustDomain'] !== ''
      ? mesh['trustDomain']
      : 'cluster.local';
  const sa = con.proxy.metadata['SERVICE_ACCOUNT'];
  const account = typeof sa === 'string' && sa !== '' ? sa : 'default';
  const namespace = con.proxy.namespace;
  return { namespace, uri: `spiffe://${trustDomain}/ns/${namespace}/sa/${account}` };
}

/** The path part of a resource name (`config_dump?proxyID=x` → `config_dump`), as url.Parse gives it. */
function debugPath(resourceName: string): string {
  const cut = resourceName.search(/[?#]/);
  return cut < 0 ? resourceName : resourceName.slice(0, cut);
}

async function debugGen(
  server: AdsServer,
  con: Connection,
  resourceNames: readonly string[],
): Promise<DebugAnswer> {
  if (resourceNames.length === 0) return { kind: 'error', message: 'debug type is required' };
  if (resourceNames.length !== 1) return { kind: 'error', message: 'only one debug request is allowed' };
  const resourceName = resourceNames[0] ?? '';
  const identity = claimedIdentity(server, con);
  if (
    identity.namespace !== ISTIO_SYSTEM_NAMESPACE &&
    !ACTIVE_NAMESPACE_DEBUGGERS.has(debugPath(resourceName))
  ) {
    return {
      kind: 'error',
      message: `the debug info is not available for current identity: ${JSON.stringify(identity.uri)}`,
    };
  }
  const runner = debugRunners.get(server);
  // Without a debug mux every path is Go's NotFound handler.
  const reply = runner ? await runner(resourceName) : { status: 404, body: '404 page not found\n' };
  // istiod's ResponseCapture never records the status (WriteHeader has a value receiver): body only.
  return {
    kind: 'response',
    resources: [opaqueResource(resourceName, DEBUG_TYPE, Buffer.from(reply.body, 'utf8'))],
  };
}

// ---- StatusGen: syncz ----

const STATUS_ORDER = [
  XDS_TYPE.listener,
  XDS_TYPE.route,
  XDS_TYPE.endpoint,
  XDS_TYPE.cluster,
  XDS_TYPE.extensionConfig,
];

const CONFIG_STATUS_ENUM: Record<ConfigStatus, number> = { SYNCED: 1, NOT_SENT: 2, STALE: 3, ERROR: 4 };

function clientConfigBytes(con: Connection): Uint8Array {
  const w = protobuf.Writer.create();
  // node = 1 { id = 1, metadata = 3 Struct { fields = 1 map entry { key = 1, value = 2 Value { string_value = 3 } } } }
  w.uint32(10).fork();
  w.uint32(10).string(con.proxy.name);
  w.uint32(26).fork();
  w.uint32(10)
    .fork()
    .uint32(10)
    .string('CLUSTER_ID')
    .uint32(18)
    .fork()
    .uint32(26)
    .string(con.proxy.clusterId)
    .ldelim()
    .ldelim();
  w.ldelim();
  w.ldelim();
  for (const typeUrl of STATUS_ORDER) {
    const watch = con.watches.get(typeUrl);
    const status = watch ? watchStatus(watch) : 'NOT_SENT';
    // generic_xds_configs = 3 { type_url = 1, config_status = 6 }
    w.uint32(26).fork().uint32(10).string(typeUrl).uint32(48).uint32(CONFIG_STATUS_ENUM[status]).ldelim();
  }
  return w.finish();
}

/** The syncz resources for every proxy connection. */
export function debugSynczResources(connections: readonly Connection[]): EncodedResource[] {
  return connections
    .filter((c) => !c.debug && c.proxy.metadata['PROXY_CONFIG'] !== undefined)
    .map((c) => opaqueResource(c.proxy.name, CLIENT_CONFIG_TYPE, clientConfigBytes(c)));
}

// ---- StatusGen: config_dump ----

/** What istiod's connectionConfigDump holds for one connection, as proto3 JSON lists. */
export interface ConnectionDump {
  version: string;
  clusters: Json[];
  endpoints: Json[];
  listeners: Json[];
  routes: Json[];
  secrets: Json[];
}

function resourceNameOf(r: Json): string {
  const name = r['name'] ?? r['clusterName'];
  return typeof name === 'string' ? name : '';
}

/** The secret with its private key replaced by `[redacted]`, as istiod's getConfigDumpByResourceType does. */
export function redactSecret(secret: Json): Json {
  const cert = secret['tlsCertificate'];
  if (typeof cert !== 'object' || cert === null || Array.isArray(cert)) return secret;
  const redacted = {
    ...(cert as Json),
    privateKey: { inlineBytes: Buffer.from('[redacted]').toString('base64') },
  };
  return { ...secret, tlsCertificate: redacted };
}

/**
 * istiod's getConfigDumpByResourceType over CDS, LDS, RDS, SDS and EDS: only types the connection watches,
 * named types only for the names it watches, secrets redacted. Throws when generation fails.
 */
export function connectionDump(server: AdsServer, con: Connection): ConnectionDump {
  const resources: ProxyResources = server.generate(con);
  const pick = (typeUrl: string, list: Json[]): Json[] => {
    const w = con.watches.get(typeUrl);
    if (!w) return [];
    if (w.wildcard || typeUrl === XDS_TYPE.cluster || typeUrl === XDS_TYPE.listener) return list;
    return list.filter((r) => w.names.has(resourceNameOf(r)));
  };
  return {
    version: server.push.version,
    clusters: pick(XDS_TYPE.cluster, resources.clusters),
    endpoints: pick(XDS_TYPE.endpoint, resources.endpoints),
    listeners: pick(XDS_TYPE.listener, resources.listeners),
    routes: pick(XDS_TYPE.route, resources.routes),
    secrets: pick(XDS_TYPE.secret, resources.secrets).map(redactSecret),
  };
}

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

/** A resource as an encoded google.protobuf.Any. */
function anyBytes(typeUrl: string, json: Json): Uint8Array {
  const any = encodeAny(typeUrl, json);
  return encodeAnyMessage(any.type_url, any.value);
}

/** The sections of istiod's connection config dump (include_eds=false), each an encoded admin message. */
function configDumpSections(dump: ConnectionDump): [string, Uint8Array][] {
  const v = dump.version;
  const clusters = protobuf.Writer.create();
  if (v) clusters.uint32(10).string(v);
  // dynamic_active_clusters = 3 DynamicCluster { cluster = 2 }
  for (const c of dump.clusters)
    clusters.uint32(26).fork().uint32(18).bytes(anyBytes(XDS_TYPE.cluster, c)).ldelim();
  const listeners = protobuf.Writer.create();
  if (v) listeners.uint32(10).string(v);
  // dynamic_listeners = 3 DynamicListener { name = 1, active_state = 2 { version_info = 1, listener = 2 } }
  for (const l of dump.listeners) {
    listeners.uint32(26).fork();
    const name = resourceNameOf(l);
    if (name) listeners.uint32(10).string(name);
    listeners.uint32(18).fork();
    if (v) listeners.uint32(10).string(v);
    listeners.uint32(18).bytes(anyBytes(XDS_TYPE.listener, l)).ldelim();
    listeners.ldelim();
  }
  const routes = protobuf.Writer.create();
  // dynamic_route_configs = 3 DynamicRouteConfig { version_info = 1, route_config = 2 }
  for (const r of dump.routes) {
    routes.uint32(26).fork();
    if (v) routes.uint32(10).string(v);
    routes.uint32(18).bytes(anyBytes(XDS_TYPE.route, r)).ldelim();
  }
  const secrets = protobuf.Writer.create();
  // dynamic_active_secrets = 2 DynamicSecret { version_info = 2, secret = 4 }
  for (const s of dump.secrets) {
    secrets.uint32(18).fork();
    if (v) secrets.uint32(18).string(v);
    secrets.uint32(34).bytes(anyBytes(XDS_TYPE.secret, s)).ldelim();
  }
  return [
    [`${ADMIN}BootstrapConfigDump`, new Uint8Array()],
    [`${ADMIN}ClustersConfigDump`, clusters.finish()],
    [`${ADMIN}ListenersConfigDump`, listeners.finish()],
    [`${ADMIN}ScopedRoutesConfigDump`, new Uint8Array()],
    [`${ADMIN}RoutesConfigDump`, routes.finish()],
    [`${ADMIN}SecretsConfigDump`, secrets.finish()],
    // skiff serves no ECDS, so the ECDS section is always empty.
    [`${ADMIN}EcdsConfigDump`, new Uint8Array()],
  ];
}

function debugConfigDump(server: AdsServer, resourceNames: readonly string[]): DebugAnswer {
  // A malformed request gets an empty answer (StatusGen logs and breaks out of its switch).
  if (resourceNames.length !== 1) return { kind: 'response', resources: [] };
  const proxyId = resourceNames[0] ?? '';
  const con = server.findConnection(proxyId);
  if (!con) return { kind: 'none', reason: `config dump could not find connection for proxyID "${proxyId}"` };
  let sections: [string, Uint8Array][];
  try {
    sections = configDumpSections(connectionDump(server, con));
  } catch (err) {
    return { kind: 'none', reason: err instanceof Error ? err.message : String(err) };
  }
  return { kind: 'response', resources: sections.map(([t, bytes]) => opaqueResource('', t, bytes)) };
}

/**
 * istiod's answer to a debug request from `con` (processRequest → findGenerator → Generate): DebugGen for
 * `istio.io/debug`, StatusGen for `istio.io/debug/<x>`. Other type URLs that merely start with
 * `istio.io/debug` would reach istiod's config-store generator, which has nothing for them: no response.
 */
export async function answerDebugType(
  server: AdsServer,
  con: Connection,
  typeUrl: string,
  resourceNames: readonly string[],
): Promise<DebugAnswer> {
  if (typeUrl === DEBUG_TYPE) return debugGen(server, con, resourceNames);
  if (typeUrl === DEBUG_SYNCZ_TYPE) {
    return { kind: 'response', resources: debugSynczResources(server.connections()) };
  }
  if (typeUrl === DEBUG_CONFIG_DUMP_TYPE) return debugConfigDump(server, resourceNames);
  if (typeUrl.startsWith(`${DEBUG_TYPE}/`)) return { kind: 'response', resources: [] };
  return { kind: 'none', reason: `no generator for ${typeUrl}` };
}
