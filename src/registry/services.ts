/**
 * Service model objects, as Istio's registries build them: one per Kubernetes Service
 * (serviceregistry/kube ConvertService) and one per ServiceEntry host (serviceentry convertServices).
 */
import type { Resource } from '../api/index.js';
import { goNetipPrefixError, isValidIP } from '../api/index.js';
import type { Protocol } from './protocol.js';
import { kubePortProtocol, parseProtocol } from './protocol.js';
import type { Labels } from './values.js';
import { asArray, asLabels, asNumber, asRecord, asString, asStringList } from './values.js';

/** The address of a service without a VIP (headless, or a ServiceEntry without addresses). */
export const UNSPECIFIED_IP = '0.0.0.0';

/** The DNS suffix of Kubernetes Service hostnames (Istio's default `--domain`). */
export const DEFAULT_DOMAIN_SUFFIX = 'cluster.local';

/** Which registry a service came from, as Istio's `provider.ID` names them. */
export type ServiceRegistryName = 'Kubernetes' | 'External';

/** How clients reach the endpoints (Istio's `model.Resolution`). */
export type Resolution = 'ClientSideLB' | 'DNSLB' | 'Passthrough' | 'DNSRoundRobinLB';

export interface ServicePort {
  /** '' when the port is unnamed. */
  name: string;
  port: number;
  protocol: Protocol;
  /**
   * Where endpoints listen. Kubernetes: a number or a container port name, absent meaning `port`.
   * ServiceEntry: a number, absent meaning each endpoint's own port or else `port`.
   */
  targetPort?: number | string;
}

export interface Service {
  /** Kubernetes: `name.namespace.svc.<suffix>`; ServiceEntry: the host as written. */
  hostname: string;
  /** The Kubernetes Service name, or the ServiceEntry host (Istio sets both to the host). */
  name: string;
  namespace: string;
  registry: ServiceRegistryName;
  /** The Service or ServiceEntry this was converted from. */
  source: Resource;
  /** The VIP, or UNSPECIFIED_IP. */
  defaultAddress: string;
  /** Every VIP (Kubernetes clusterIPs; ServiceEntry addresses with `/32` and `/128` shortened to the IP). */
  addresses: string[];
  ports: ServicePort[];
  labels: Labels;
  /** Kubernetes `spec.selector` or ServiceEntry `workloadSelector.labels`; undefined when absent. */
  selector?: Labels;
  /** As written (`*`, `.`, `~`, namespaces); empty means the mesh default (public). */
  exportTo: string[];
  /** ServiceEntry MESH_EXTERNAL and Kubernetes ExternalName services. */
  meshExternal: boolean;
  resolution: Resolution;
  /** SPIFFE identities from the alpha service-account annotations or a ServiceEntry's subjectAltNames. */
  serviceAccounts: string[];
  /** Kubernetes Service type (ClusterIP when absent); undefined for ServiceEntries. */
  kubeType?: string;
  /** The DNS name an ExternalName Service aliases. */
  externalName?: string;
}

const EXPORT_TO_ANNOTATION = 'networking.istio.io/exportTo';
const CANONICAL_SA_ANNOTATION = 'alpha.istio.io/canonical-serviceaccounts';
const KUBERNETES_SA_ANNOTATION = 'alpha.istio.io/kubernetes-serviceaccounts';

export function kubeServiceHostname(
  name: string,
  namespace: string,
  domainSuffix = DEFAULT_DOMAIN_SUFFIX,
): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** The SPIFFE identity of a Kubernetes service account. */
export function spiffeIdentity(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

export interface ConversionOptions {
  domainSuffix: string;
  trustDomain: string;
}

/** A Kubernetes Service as Istio's model sees it. */
export function serviceFromKube(r: Resource, opts: ConversionOptions): Service {
  const spec = asRecord(r.object['spec']) ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const annotations = asLabels(r.metadata.annotations);
  const type = asString(spec['type']) ?? 'ClusterIP';
  const clusterIP = asString(spec['clusterIP']) ?? '';
  const externalName = type === 'ExternalName' ? (asString(spec['externalName']) ?? '') : '';

  let resolution: Resolution = externalName ? 'DNSLB' : 'ClientSideLB';
  let defaultAddress = UNSPECIFIED_IP;
  const addresses: string[] = [];
  // Headless services are not load balanced by the proxy: the client already picked a pod.
  if (clusterIP === 'None') {
    resolution = 'Passthrough';
  } else if (clusterIP !== '') {
    defaultAddress = clusterIP;
    addresses.push(clusterIP);
    for (const ip of asStringList(spec['clusterIPs'])) if (ip !== clusterIP) addresses.push(ip);
  }

  const serviceAccounts: string[] = [];
  const canonical = annotations[CANONICAL_SA_ANNOTATION];
  if (canonical) serviceAccounts.push(...canonical.split(','));
  const kubeAccounts = annotations[KUBERNETES_SA_ANNOTATION];
  if (kubeAccounts) {
    for (const sa of kubeAccounts.split(','))
      serviceAccounts.push(spiffeIdentity(opts.trustDomain, namespace, sa));
  }

  // Istio splits the annotation on ',' without trimming, so "a, b" exports to " b".
  const exportToText = annotations[EXPORT_TO_ANNOTATION];
  const exportTo = exportToText ? exportToText.split(',') : [];

  const selector = asRecord(spec['selector']) ? asLabels(spec['selector']) : undefined;
  const service: Service = {
    hostname: kubeServiceHostname(r.metadata.name, namespace, opts.domainSuffix),
    name: r.metadata.name,
    namespace,
    registry: 'Kubernetes',
    source: r,
    defaultAddress,
    addresses,
    ports: kubePorts(spec['ports']),
    labels: asLabels(r.metadata.labels),
    exportTo,
    meshExternal: externalName !== '',
    resolution,
    serviceAccounts,
    kubeType: type,
  };
  if (selector) service.selector = selector;
  if (externalName) service.externalName = externalName;
  return service;
}

function kubePorts(raw: unknown): ServicePort[] {
  const out: ServicePort[] = [];
  for (const item of asArray(raw)) {
    const p = asRecord(item);
    const port = asNumber(p?.['port']);
    if (!p || port === undefined) continue;
    const name = asString(p['name']) ?? '';
    const sp: ServicePort = {
      name,
      port,
      protocol: kubePortProtocol(port, name, p['protocol'], p['appProtocol']),
    };
    const target = p['targetPort'];
    if (typeof target === 'number' || (typeof target === 'string' && target !== '')) sp.targetPort = target;
    out.push(sp);
  }
  return out;
}

const RESOLUTIONS: Record<string, Resolution> = {
  NONE: 'Passthrough',
  STATIC: 'ClientSideLB',
  DNS: 'DNSLB',
  DNS_ROUND_ROBIN: 'DNSRoundRobinLB',
};

/**
 * The services of a ServiceEntry: one per host. Istio makes one per (host, address) pair; here a host's
 * addresses are kept together in `addresses`, the first being `defaultAddress`. As in Istio, addresses that
 * are neither IPs nor CIDRs are dropped, and a ServiceEntry whose addresses are all invalid yields nothing.
 */
export function servicesFromServiceEntry(r: Resource): Service[] {
  const spec = asRecord(r.object['spec']) ?? {};
  const namespace = r.metadata.namespace ?? 'default';
  const location = asString(spec['location']) === 'MESH_INTERNAL' ? 'MESH_INTERNAL' : 'MESH_EXTERNAL';
  const resolution = RESOLUTIONS[asString(spec['resolution']) ?? 'NONE'] ?? 'Passthrough';
  const ports = serviceEntryPorts(spec['ports']);
  const rawAddresses = asStringList(spec['addresses']);
  const addresses = rawAddresses.map(normalizeAddress).filter((a): a is string => a !== undefined);
  if (rawAddresses.length > 0 && addresses.length === 0) return [];
  const workloadSelector = asRecord(spec['workloadSelector']);
  const subjectAltNames = asStringList(spec['subjectAltNames']);

  const out: Service[] = [];
  for (const host of asStringList(spec['hosts'])) {
    const service: Service = {
      hostname: host,
      name: host,
      namespace,
      registry: 'External',
      source: r,
      defaultAddress: addresses[0] ?? UNSPECIFIED_IP,
      addresses: [...addresses],
      ports: ports.map((p) => ({ ...p })),
      labels: asLabels(r.metadata.labels),
      exportTo: asStringList(spec['exportTo']),
      meshExternal: location === 'MESH_EXTERNAL',
      resolution,
      serviceAccounts: [...subjectAltNames],
    };
    if (workloadSelector) service.selector = asLabels(workloadSelector['labels']);
    out.push(service);
  }
  return out;
}

function serviceEntryPorts(raw: unknown): ServicePort[] {
  const out: ServicePort[] = [];
  for (const item of asArray(raw)) {
    const p = asRecord(item);
    const port = asNumber(p?.['number']);
    if (!p || port === undefined) continue;
    const sp: ServicePort = { name: asString(p['name']) ?? '', port, protocol: parseProtocol(p['protocol']) };
    const target = asNumber(p['targetPort']);
    if (target !== undefined && target > 0) sp.targetPort = target;
    out.push(sp);
  }
  return out;
}

/** An IP as is; a CIDR as is, except a single-address one (`/32`, `/128`) which becomes its IP. */
function normalizeAddress(address: string): string | undefined {
  if (isValidIP(address)) return address;
  if (goNetipPrefixError(address) !== undefined) return undefined;
  const slash = address.lastIndexOf('/');
  const ip = address.slice(0, slash);
  const bits = Number(address.slice(slash + 1));
  return bits === (ip.includes(':') ? 128 : 32) ? ip : address;
}

/**
 * Istio's exportTo visibility: `*` everyone, `.` the service's own namespace, `~` nobody, otherwise
 * the namespaces named. An empty list falls back to the mesh's defaultServiceExportTo (itself `*` by default).
 */
export function isServiceVisibleTo(
  service: Service,
  namespace: string,
  defaultExportTo: readonly string[] = ['*'],
): boolean {
  const exportTo = service.exportTo.length > 0 ? service.exportTo : defaultExportTo;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' && namespace === service.namespace) return true;
    if (e === namespace) return true;
  }
  return false;
}
