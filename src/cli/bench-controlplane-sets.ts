/**
 * The objects the performance test creates, shaped as Istio in Action's `performance-test.sh` creates
 * them: per name a Gateway on the ingress gateway for `<name>.istioinaction.io`, a Service selecting the
 * catalog pods, and a VirtualService routing that host to the Service. Also the ch11 workspace's 200 sets
 * (`resources-600.yaml`'s shape, with stable names so runs are comparable) and the tuning objects of the
 * ch11 steps' mesh config edit (discoverySelectors; the Sidecars are files in examples/ch11).
 */
import { createHash, randomBytes } from 'node:crypto';

export type KubeBody = Record<string, unknown>;

/** The suffix every test host has, whatever namespace the objects live in (as in the book). */
export const HOST_DOMAIN = 'istioinaction.io';

/** `service-<4 hex>-<index>`, the book's random names. */
export function randomSetName(index: number, random: () => Buffer = () => randomBytes(2)): string {
  return `service-${random().toString('hex').slice(0, 4)}-${index}`;
}

/** `service<4 hex>-<index>`, resources-600.yaml's names, derived from the index so they never change. */
export function workspaceSetName(index: number): string {
  const hex = createHash('sha256').update(`ch11-${index}`).digest('hex').slice(0, 4);
  return `service${hex}-${index}`;
}

export function setHost(name: string): string {
  return `${name}.${HOST_DOMAIN}`;
}

export interface SetOptions {
  namespace: string;
  /** The Gateway's name; the book's script names it as the set, resources-600.yaml adds `-gateway`. */
  gatewayName?: string;
}

/** The three objects of one set, in the order the book applies them (Gateway, Service, VirtualService). */
export function setObjects(name: string, opts: SetOptions): KubeBody[] {
  const ns = opts.namespace;
  const gateway = opts.gatewayName ?? name;
  const host = setHost(name);
  return [
    {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'Gateway',
      metadata: { name: gateway, namespace: ns },
      spec: {
        servers: [{ hosts: [host], port: { name: 'http', number: 80, protocol: 'HTTP' } }],
        selector: { istio: 'ingressgateway' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: ns, labels: { app: 'catalog' } },
      spec: {
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 3000 }],
        selector: { app: 'catalog' },
      },
    },
    {
      apiVersion: 'networking.istio.io/v1alpha3',
      kind: 'VirtualService',
      metadata: { name, namespace: ns },
      spec: {
        hosts: [host],
        gateways: [gateway],
        http: [
          { route: [{ destination: { host: `${name}.${ns}.svc.cluster.local`, port: { number: 80 } } }] },
        ],
      },
    },
  ];
}

/** The workspace's `count` sets (200 in the book: 600 objects) in the namespace. */
export function workspaceObjects(count: number, namespace = 'istioinaction'): KubeBody[] {
  const out: KubeBody[] = [];
  for (let i = 0; i < count; i++) {
    const name = workspaceSetName(i);
    out.push(...setObjects(name, { namespace, gatewayName: `${name}-gateway` }));
  }
  return out;
}

/** Where a proxy shows it has a set: sidecars by the outbound cluster, gateways by the route's domain. */
export function setClusterName(name: string, namespace: string): string {
  return `outbound|80||${name}.${namespace}.svc.cluster.local`;
}

/** The book's discovery selector: every namespace not labelled `istio-exclude=true`. */
export const DISCOVERY_SELECTORS_YAML = `discoverySelectors:
- matchExpressions:
  - key: istio-exclude
    operator: NotIn
    values:
    - "true"`;

/** The mesh config text with discoverySelectors (the book's by default) replacing any it has. */
export function withDiscoverySelectors(mesh: string, selectors = DISCOVERY_SELECTORS_YAML): string {
  const lines = mesh.split('\n');
  const kept: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (/^discoverySelectors:/.test(line)) {
      skipping = true;
      continue;
    }
    if (skipping && (/^\s/.test(line) || line.startsWith('- '))) continue;
    skipping = false;
    kept.push(line);
  }
  const body = kept.join('\n').replace(/\n+$/, '');
  return `${body}${body === '' ? '' : '\n'}${selectors.trim()}`;
}
