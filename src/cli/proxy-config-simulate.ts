/**
 * Offline simulation (a skiff addition): the config dump a proxy would show if the control plane had
 * pushed it the config in a set of manifests. Loads the manifests as `skiff analyze` does, builds the
 * push context, finds the workload, generates its resources and wraps them in a config dump.
 */
import { formatLoadError, goMultiErrorText, loadPaths } from '../api/index.js';
import { ConfigSnapshot } from '../model/index.js';
import type { MeshConfig } from '../model/index.js';
import { parse as parseYaml } from 'yaml';
import type { Workload } from '../registry/index.js';
import type { BootstrapOptions, Proxy } from '../xds/index.js';
import { dumpError } from './configdump-common.js';
import type { JsonObject } from './configdump-common.js';
import type { CommandIO } from './io.js';
import { loadMeshConfigFile } from './mesh-config-file.js';
import { parseTargetRef, resolveTarget } from './proxy-config-target.js';

export interface SimulateOptions {
  manifests: string[];
  namespace: string;
  meshConfigFile?: string;
  /** Fixed version and time, so that dumps can be compared; the push's own otherwise. */
  version?: string;
}

/** The simulated proxy and its dump (camelCase, endpoints included). */
export interface Simulation {
  proxy: Proxy;
  dump: JsonObject;
}

export async function simulateConfigDump(
  target: string,
  opts: SimulateOptions,
  io: CommandIO,
): Promise<Simulation> {
  const ref = parseTargetRef(target, opts.namespace);
  const mesh = await loadMeshConfigFile(opts.meshConfigFile);
  const loaded = await loadPaths(opts.manifests, {
    defaultNamespace: opts.namespace,
    readStdin: io.readStdin,
  });
  // Unknown kinds from other groups are skipped, as analyze does; anything else would make a partial mesh.
  const errors = loaded.errors.filter((e) => e.kind !== 'unknown-kind');
  if (errors.length > 0) {
    // A config dump given with a pod name is the likely mistake behind objects without a kind.
    const dumpHint = errors.some((e) => /\.json$/.test(e.file) && /no "kind"/.test(e.message))
      ? '\n(with a pod name, -f reads manifests; to read a config dump, give no pod name)'
      : '';
    throw dumpError(
      `could not load the -f manifests: ${goMultiErrorText(errors.map(formatLoadError)).trimEnd()}${dumpHint}`,
    );
  }
  const snapshot = new ConfigSnapshot(loaded.resources, mesh);
  // The generators (and the protobuf and gRPC libraries behind them) load only when a pod is simulated,
  // so other commands start as fast as before.
  const xds = await import('../xds/index.js');
  const push = xds.buildPushContext(snapshot, opts.version ? { version: opts.version } : {});
  const workload = resolveTarget(ref, snapshot, push.registry);
  const proxy = xds.proxyForWorkload(workload, {
    type: xds.isGatewayWorkload(workload) ? 'router' : 'sidecar',
    domainSuffix: push.registry.domainSuffix,
    clusterId: push.registry.clusterId,
  });
  const resources = xds.generateProxyResources(push, proxy);
  const dump = xds.buildConfigDump(proxy, resources, {
    bootstrap: xds.buildBootstrap(proxy, bootstrapOptions(workload, mesh)),
    versionInfo: push.version,
    lastUpdated: opts.version ?? push.version,
    includeEds: true,
  });
  return { proxy, dump };
}

/**
 * The proxy's bootstrap with what the pod says about it: its `proxy.istio.io/config` ProxyConfig overlay
 * (on the Pod, or the Deployment's pod template) and its locality.
 */
function bootstrapOptions(workload: Workload, mesh: MeshConfig): BootstrapOptions {
  const options: BootstrapOptions = { mesh };
  const proxyConfig = proxyConfigAnnotation(workload);
  if (proxyConfig) options.proxyConfig = proxyConfig;
  const [region, zone, subZone] = workload.locality.split('/');
  if (region || zone || subZone) options.locality = { region, zone, subZone };
  return options;
}

function proxyConfigAnnotation(workload: Workload): Record<string, unknown> | undefined {
  const source = workload.source;
  const annotations =
    workload.kind === 'Deployment'
      ? record(record(record(record(source.object['spec'])?.['template'])?.['metadata'])?.['annotations'])
      : record(source.metadata['annotations']);
  const text = annotations?.['proxy.istio.io/config'];
  if (typeof text !== 'string') return undefined;
  try {
    // A bad annotation is analyze's to report (IST0107); the simulation goes on with the defaults.
    return record(parseYaml(text));
  } catch {
    return undefined;
  }
}

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
