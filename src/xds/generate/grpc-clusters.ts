/**
 * CDS for proxyless gRPC clients as Istio 1.17 builds it (pilot/pkg/networking/grpcgen/cds.go): plain EDS
 * clusters `outbound|<port>|<subset>|<fqdn>` over ADS, the DestinationRule's subsets as their own clusters,
 * and from the rule's traffic policy only what gRPC understands in 1.17:
 * - load balancing: consistent hash → RING_HASH (ring size as written, default 1024) or MAGLEV (which
 *   grpc-js NACKs); ROUND_ROBIN / unset → `lb_policy` left unset; LEAST_REQUEST / RANDOM / PASSTHROUGH
 *   are ignored (1.17 only logs "cannot apply LbPolicy");
 * - TLS: only an explicit ISTIO_MUTUAL, as an UpstreamTlsContext naming the bootstrap's `default`
 *   certificate provider (identity `default`, CA `ROOTCA`) through the fields 1.17 writes
 *   (`tls_certificate_certificate_provider_instance`, `validation_context_certificate_provider_instance`),
 *   with the service's identities as exact SAN matches. No auto-mTLS (grpcgen leaves mTLS off by default).
 * Connection pool and outlier detection are not applied in 1.17.
 */
import type { ConfigSnapshot } from '../../model/index.js';
import type { Service, ServiceRegistry } from '../../registry/index.js';
import type { Json } from './clusters.js';
import { outboundClusterName } from './clusters.js';
import { destinationRuleFor, effectivePolicy, namedSubsets } from './destination-rule.js';
import { parseClusterName } from './endpoints.js';

const TYPE_UPSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** edsCluster: an EDS cluster whose endpoints come over ADS under its own name. */
function edsCluster(name: string): Json {
  return { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} }, serviceName: name } };
}

/** ApplyRingHashLoadBalancer (v1alpha3/cluster.go at 1.17). */
function applyConsistentHash(c: Json, loadBalancer: unknown): void {
  const hash = isRecord(loadBalancer) ? loadBalancer['consistentHash'] : undefined;
  if (!isRecord(hash)) return;
  if (isRecord(hash['maglev'])) {
    c['lbPolicy'] = 'MAGLEV';
    const tableSize = positiveInt(hash['maglev']['tableSize']);
    if (tableSize !== undefined) c['maglevLbConfig'] = { tableSize: String(tableSize) };
    return;
  }
  if (isRecord(hash['ringHash'])) {
    c['lbPolicy'] = 'RING_HASH';
    const min = positiveInt(hash['ringHash']['minimumRingSize']);
    if (min !== undefined) c['ringHashLbConfig'] = { minimumRingSize: String(min) };
    return;
  }
  c['lbPolicy'] = 'RING_HASH';
  c['ringHashLbConfig'] = { minimumRingSize: String(positiveInt(hash['minimumRingSize']) ?? 1024) };
}

/** buildCommonTLSContext in an UpstreamTlsContext transport socket. */
function istioMutualTransportSocket(sans: readonly string[]): Json {
  const defaultValidationContext: Json =
    sans.length > 0 ? { matchSubjectAltNames: sans.map((s) => ({ exact: s })) } : {};
  return {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': TYPE_UPSTREAM_TLS,
      commonTlsContext: {
        tlsCertificateCertificateProviderInstance: { instanceName: 'default', certificateName: 'default' },
        combinedValidationContext: {
          defaultValidationContext,
          validationContextCertificateProviderInstance: {
            instanceName: 'default',
            certificateName: 'ROOTCA',
          },
        },
      },
    },
  };
}

/** push.ServiceAccounts: the service's declared identities plus those of its endpoints on the port. */
function serviceAccounts(registry: ServiceRegistry, service: Service, port: number): string[] {
  const out = new Set(service.serviceAccounts);
  for (const e of registry.endpoints(service, port)) if (e.serviceAccount) out.add(e.serviceAccount);
  return [...out].sort();
}

function applyTrafficPolicy(c: Json, policy: ReturnType<typeof effectivePolicy>, sans: () => string[]): void {
  const tls = isRecord(policy.tls) ? policy.tls : undefined;
  // Consistent-hash fields come before the transport socket in Cluster's field order.
  applyConsistentHash(c, policy.loadBalancer);
  if (tls?.['mode'] === 'ISTIO_MUTUAL') c['transportSocket'] = istioMutualTransportSocket(sans());
}

export interface GrpcClusterContext {
  registry: ServiceRegistry;
  snapshot: ConfigSnapshot;
  proxyNamespace: string;
  /** The service a hostname names as the proxy sees it (its scope first). */
  serviceFor(host: string): Service | undefined;
}

/** The clusters for one service port: the default one and the DestinationRule's subsets, as `wanted` allows. */
function clustersForPort(
  ctx: GrpcClusterContext,
  host: string,
  port: number,
  wanted: (name: string) => boolean,
): Json[] {
  const defaultName = outboundClusterName(port, '', host);
  const service = ctx.serviceFor(host);
  const defaultCluster = wanted(defaultName) ? edsCluster(defaultName) : undefined;
  const out: Json[] = defaultCluster ? [defaultCluster] : [];
  if (!service || !service.ports.some((p) => p.port === port)) return out;
  const rule = destinationRuleFor(
    ctx.snapshot,
    service.hostname,
    service.namespace,
    ctx.proxyNamespace,
    ctx.registry.domainSuffix,
  );
  let sans: string[] | undefined;
  const lazySans = (): string[] => (sans ??= serviceAccounts(ctx.registry, service, port));
  if (defaultCluster)
    applyTrafficPolicy(defaultCluster, effectivePolicy(rule?.spec, port, undefined), lazySans);
  for (const subset of rule ? namedSubsets(rule.spec) : []) {
    const name = outboundClusterName(port, subset.name, host);
    if (!wanted(name)) continue;
    const c = edsCluster(name);
    applyTrafficPolicy(c, effectivePolicy(rule?.spec, port, subset), lazySans);
    out.push(c);
  }
  return out;
}

/**
 * The clusters a gRPC client asked for (grpcgen answers only requested names, grouped by their default
 * cluster), or, without names, every cluster of every service port in `services`.
 */
export function buildGrpcClusters(
  ctx: GrpcClusterContext,
  services: readonly Service[],
  requested?: readonly string[],
): Json[] {
  if (!requested) {
    return services.flatMap((svc) =>
      svc.ports.flatMap((p) => clustersForPort(ctx, svc.hostname, p.port, () => true)),
    );
  }
  const groups = new Map<string, { host: string; port: number; names: Set<string> }>();
  for (const name of requested) {
    const parsed = typeof name === 'string' ? parseClusterName(name) : undefined;
    if (!parsed || parsed.direction !== 'outbound') continue;
    const key = outboundClusterName(parsed.port, '', parsed.host);
    const group = groups.get(key) ?? { host: parsed.host, port: parsed.port, names: new Set<string>() };
    group.names.add(name);
    groups.set(key, group);
  }
  return [...groups.values()].flatMap((g) => clustersForPort(ctx, g.host, g.port, (n) => g.names.has(n)));
}
