/**
 * `istioctl x describe pod|service` of Istio 1.17 (istioctl/cmd/describe.go) as pure functions over a
 * ConfigSnapshot: the pod and its ports, the Services that select it with their DestinationRules and
 * VirtualServices (found, as istioctl finds them, on the proxy's clusters and routes, which skiff generates
 * from the same config istiod would push), the effective PeerAuthentication, and how the ingress gateway
 * exposes it. Output text and warnings are istioctl's, line for line.
 */
import type { KindKey, Resource } from '../api/index.js';
import { KIND } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import { kubePortProtocol } from '../registry/index.js';
import type { PushContext } from '../xds/index.js';
import { buildPushContext } from '../xds/index.js';
import type { ServicePort } from './kube.js';
import {
  byNamespaceAndName,
  containerStatuses,
  containersOf,
  findPodPort,
  goQuote,
  labelsOf,
  objAt,
  podPhase,
  selectorMatches,
  serviceSelector,
  servicePortsOf,
  strAt,
  stringMap,
} from './kube.js';
import {
  composePeerAuthentication,
  matchedPeerAuthentications,
  printPeerAuthentication,
} from './peer-authentication.js';
import type { ProxyDump } from './proxy-dump.js';
import { destinationRuleForService, proxyDumpFor, virtualServiceForService } from './proxy-dump.js';
import { destinationRuleSubsets, printDestinationRule, printVirtualService } from './routing.js';
import type { SubsetMatch } from './routing.js';

export interface DescribeOptions {
  /** The command's namespace (`-n`, else `default`): objects in it are named without `.<namespace>`. */
  namespace: string;
  /** Where the ingress gateway runs (`-i`), `istio-system` by default. */
  istioNamespace?: string;
  /** `--ignoreUnmeshed`: no warnings for pods without a sidecar. */
  ignoreUnmeshed?: boolean;
  /** A push context over the same snapshot, when the caller has one. */
  push?: PushContext;
}

export interface DescribeResult {
  /** What istioctl writes to stdout, including output before a failure. */
  output: string;
  /** The error istioctl ends with (printed as `Error: <error>`, exit 1). */
  error?: string;
}

const SEPARATOR = '--------------------\n';
const PROXY_CONTAINER = 'istio-proxy';
const PROXY_UID = 1337;

/** handlers.InferPodInfo: `name.namespace` (or `type/name.namespace`) names its namespace. */
export function inferNameAndNamespace(arg: string, namespace: string): [string, string] {
  const slash = arg.lastIndexOf('/');
  const from = slash > 0 ? slash : 0;
  const dot = arg.lastIndexOf('.');
  if (dot < from) return [arg, namespace];
  return [arg.slice(0, dot), arg.slice(dot + 1)];
}

class Describer {
  readonly push: PushContext;
  readonly istioNamespace: string;
  out = '';

  constructor(
    readonly snapshot: ConfigSnapshot,
    readonly opts: DescribeOptions,
  ) {
    this.push = opts.push ?? buildPushContext(snapshot);
    this.istioNamespace = opts.istioNamespace ?? 'istio-system';
  }

  kname = (r: Resource): string =>
    (r.metadata.namespace ?? '') === this.opts.namespace
      ? r.metadata.name
      : `${r.metadata.name}.${r.metadata.namespace ?? ''}`;

  list(kind: KindKey, namespace: string): Resource[] {
    return this.snapshot
      .list(kind)
      .filter((r) => (r.metadata.namespace ?? '') === namespace)
      .sort(byNamespaceAndName);
  }

  write(text: string): void {
    this.out += text;
  }

  printPod(pod: Resource, revision: string): void {
    const ports: string[] = [];
    for (const c of containersOf(pod)) {
      for (const p of c.ports) {
        // TCP goes without a suffix; anything else is named.
        const protocol = p.protocol !== 'TCP' ? `/${p.protocol}` : '';
        ports.push(`${p.containerPort}${protocol} (${c.name})`);
      }
      if (c.name !== PROXY_CONTAINER && c.name !== 'istio-operator' && c.runAsUser === PROXY_UID) {
        this.write('WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.\n');
      }
    }
    this.write(`Pod: ${this.kname(pod)}\n`);
    this.write(`   Pod Revision: ${revision}\n`);
    this.write(ports.length > 0 ? `   Pod Ports: ${ports.join(', ')}\n` : '   Pod does not expose ports\n');
    const phase = podPhase(pod);
    if (phase !== 'Running') {
      this.write(`   Pod is not Running (${phase})\n`);
      return;
    }
    for (const s of containerStatuses(pod)) {
      if (!s.ready) this.write(`WARNING: Pod ${this.kname(pod)} Container ${s.name} NOT READY\n`);
    }
    if (this.opts.ignoreUnmeshed) return;
    if (!isMeshed(pod)) {
      this.write(`WARNING: ${this.kname(pod)} is not part of mesh; no Istio sidecar\n`);
      return;
    }
    if (objAt(pod.object, 'spec', 'securityContext')?.['runAsUser'] === PROXY_UID) {
      this.write('   WARNING: User ID (UID) 1337 is reserved for the sidecar proxy.\n');
    }
    const labels = labelsOf(pod);
    if (!labels['app']) this.write("Suggestion: add 'app' label to pod for Istio telemetry.\n");
    if (!labels['version']) this.write("Suggestion: add 'version' label to pod for Istio telemetry.\n");
  }

  printService(svc: Resource, pod: Resource): void {
    this.write(`Service: ${this.kname(svc)}\n`);
    for (const port of servicePortsOf(svc)) {
      // UDP ports are not supported by Istio, so describe skips them.
      if (port.protocol !== 'TCP') continue;
      const target = findPodPort(pod, port);
      if (target instanceof Error) {
        this.write(`   ${target.message}\n`);
        continue;
      }
      this.write(`   Port: ${port.name} ${port.port}/${protocolForPort(port)} targets pod port ${target}\n`);
    }
  }

  /** The pod's proxy config, or the error istioctl gets exec'ing into a pod without one. */
  sidecarDump(pod: Resource): ProxyDump | Error {
    if (!isMeshed(pod)) {
      const ns = pod.metadata.namespace ?? '';
      return new Error(
        `failed to execute command on sidecar: error execing into ${pod.metadata.name}/${ns} istio-proxy container: container istio-proxy is not valid for pod ${pod.metadata.name}`,
      );
    }
    return proxyDumpFor(this.push, pod, 'sidecar');
  }

  destinationRule(dump: ProxyDump, svc: Resource, port: number): Resource | string | undefined {
    const ref = destinationRuleForService(dump, svc.metadata.name, svc.metadata.namespace ?? '', port);
    if (!ref) return undefined;
    const dr = this.snapshot.get(KIND.DestinationRule, ref.namespace, ref.name);
    return (
      dr ??
      `WARNING: Proxy is stale; it references to non-existent destination rule ${ref.name}.${ref.namespace}\n`
    );
  }

  virtualService(dump: ProxyDump, svc: Resource, port: number): Resource | string | undefined {
    const ref = virtualServiceForService(dump, svc.metadata.name, svc.metadata.namespace ?? '', port);
    if (!ref) return undefined;
    const vs = this.snapshot.get(KIND.VirtualService, ref.namespace, ref.name);
    return (
      vs ??
      `WARNING: Proxy is stale; it references to non-existent virtual service ${ref.name}.${ref.namespace}\n`
    );
  }

  describePodServices(
    pod: Resource,
    services: Resource[],
    podsLabels: Record<string, string>[],
  ): string | undefined {
    const dump = this.sidecarDump(pod);
    if (dump instanceof Error) return this.opts.ignoreUnmeshed ? undefined : dump.message;
    services.forEach((svc, row) => {
      if (row !== 0) this.write(SEPARATOR);
      this.printService(svc, pod);
      const ports = servicePortsOf(svc);
      // With several ports, each line says which port it is about.
      const prefix = (port: ServicePort) => (ports.length > 1 ? `${port.port} ` : '');
      for (const port of ports) {
        let subsets: SubsetMatch = { matching: [], nonMatching: [] };
        const found = this.destinationRule(dump, svc, port.port);
        let dr: Resource | undefined;
        if (typeof found === 'string') this.write(found);
        else if (found) {
          dr = found;
          this.write(prefix(port));
          this.write(printDestinationRule(dr, podsLabels, this.kname));
          subsets = destinationRuleSubsets(dr, podsLabels);
        }
        const vs = this.virtualService(dump, svc, port.port);
        if (typeof vs === 'string') this.write(vs);
        else if (vs) {
          this.write(prefix(port));
          this.write(printVirtualService(vs, svc, subsets, dr, this.kname));
        }
      }
    });
    return undefined;
  }

  describePeerAuthentication(namespace: string, labels: Record<string, string>): void {
    const root = typeof this.snapshot.mesh.rootNamespace === 'string' ? this.snapshot.mesh.rootNamespace : '';
    const matched = matchedPeerAuthentications(this.snapshot, root, namespace, labels);
    this.write(printPeerAuthentication(composePeerAuthentication(root, matched), matched));
  }

  printIngressInfo(services: Resource[], podsLabels: Record<string, string>[]): string | undefined {
    const gatewayPods = this.list(KIND.Pod, this.istioNamespace).filter(
      (p) => labelsOf(p)['istio'] === 'ingressgateway' && podPhase(p) === 'Running',
    );
    const gatewayPod = gatewayPods[0];
    if (!gatewayPod) {
      this.write('Skipping Gateway information (no ingress gateway pods)\n');
      return undefined;
    }
    const ingressService = this.list(KIND.Service, this.istioNamespace).find(
      (s) => labelsOf(s)['istio'] === 'ingressgateway',
    );
    if (!ingressService) return 'no ingress gateway service';
    const dump = proxyDumpFor(this.push, gatewayPod, 'router');
    const ip = ingressIP(ingressService, gatewayPod);
    services.forEach((svc, row) => {
      for (const port of servicePortsOf(svc)) {
        let subsets: SubsetMatch = { matching: [], nonMatching: [] };
        const found = this.destinationRule(dump, svc, port.port);
        let dr: Resource | undefined;
        if (typeof found === 'string') this.write(found);
        else if (found) {
          dr = found;
          subsets = destinationRuleSubsets(dr, podsLabels);
        }
        const vs = this.virtualService(dump, svc, port.port);
        if (typeof vs === 'string') this.write(vs);
        else if (vs) {
          this.write(row === 0 ? '\n' : SEPARATOR);
          this.printIngressService(ingressService, gatewayPod, ip);
          this.write(printVirtualService(vs, svc, subsets, dr, this.kname));
        }
      }
    });
    return undefined;
  }

  /** Only the `http2` port is shown: the gateway does not listen on the others without more setup. */
  printIngressService(svc: Resource, pod: Resource, ip: string): void {
    for (const port of servicePortsOf(svc)) {
      if (port.protocol !== 'TCP' || port.name !== 'http2') continue;
      if (findPodPort(pod, port) instanceof Error) continue;
      const protocol = kubePortProtocol(port.port, port.name, port.protocol, port.appProtocol);
      const scheme = protocol === 'HTTP2' ? 'http' : '';
      const suffix = scheme === 'http' && port.port === 80 ? '' : `:${port.port}`;
      this.write(`\nExposed on Ingress Gateway ${scheme}://${ip}${suffix}\n`);
    }
  }
}

function isMeshed(pod: Resource): boolean {
  return containersOf(pod).some((c) => c.name === PROXY_CONTAINER);
}

/** findProtocolForPort: an unnamed port without appProtocol is auto-detected. */
function protocolForPort(port: ServicePort): string {
  if (port.name === '' && port.appProtocol === undefined && port.protocol !== 'UDP') return 'auto-detect';
  return kubePortProtocol(port.port, port.name, port.protocol, port.appProtocol);
}

/** getIngressIP: the load balancer's address, else the gateway pod's host IP. */
function ingressIP(svc: Resource, pod: Resource): string {
  const lb = (objAt(svc.object, 'status', 'loadBalancer')?.['ingress'] ?? []) as unknown[];
  if (Array.isArray(lb) && lb.length > 0) return strAt(lb[0], 'ip');
  const hostIP = strAt(pod.object, 'status', 'hostIP');
  return hostIP !== '' ? hostIP : 'unknown';
}

/** The revision in the pod's `sidecar.istio.io/status` annotation, '' when there is none. */
export function podRevision(pod: Resource): string {
  const status = stringMap(pod.metadata.annotations)['sidecar.istio.io/status'];
  if (status === undefined) return '';
  try {
    const parsed: unknown = JSON.parse(status);
    return strAt(parsed, 'revision');
  } catch {
    return '';
  }
}

/** `istioctl x describe pod <name>` (the name and namespace already split). */
export function describePod(
  snapshot: ConfigSnapshot,
  podName: string,
  podNamespace: string,
  opts: DescribeOptions,
): DescribeResult {
  const pod = snapshot.get(KIND.Pod, podNamespace, podName);
  if (!pod) return { output: '', error: `pods ${goQuote(podName)} not found` };
  const d = new Describer(snapshot, opts);
  d.printPod(pod, podRevision(pod));
  const labels = labelsOf(pod);
  const services = d.list(KIND.Service, podNamespace).filter((svc) => {
    const selector = serviceSelector(svc);
    return Object.keys(selector).length > 0 && selectorMatches(selector, labels);
  });
  if (services.length === 0 && !opts.ignoreUnmeshed) {
    d.write(
      `Warning: No Kubernetes Services select pod ${d.kname(pod)} (see https://istio.io/docs/setup/kubernetes/additional-setup/requirements/ )\n`,
    );
  }
  d.write(SEPARATOR);
  const failed = d.describePodServices(pod, services, [labels]);
  if (failed !== undefined) return { output: d.out, error: failed };
  d.write(SEPARATOR);
  d.describePeerAuthentication(podNamespace, labels);
  const ingressFailed = d.printIngressInfo(services, [labels]);
  return ingressFailed === undefined ? { output: d.out } : { output: d.out, error: ingressFailed };
}

/** `istioctl x describe service <name>`: described through its first ready Istio pod. */
export function describeService(
  snapshot: ConfigSnapshot,
  svcName: string,
  svcNamespace: string,
  opts: DescribeOptions,
): DescribeResult {
  const svc = snapshot.get(KIND.Service, svcNamespace, svcName);
  if (!svc) return { output: '', error: `services ${goQuote(svcName)} not found` };
  const d = new Describer(snapshot, opts);
  const selector = serviceSelector(svc);
  const pods: Resource[] = [];
  let selected = 0;
  if (Object.keys(selector).length > 0) {
    for (const pod of d.list(KIND.Pod, svcNamespace)) {
      if (!selectorMatches(selector, labelsOf(pod))) continue;
      selected++;
      const phase = podPhase(pod);
      if (phase !== 'Running') {
        d.write(`   Pod is not Running (${phase})\n`);
        continue;
      }
      const proxy = containerStatuses(pod).find((s) => s.name === PROXY_CONTAINER);
      if (!proxy) {
        d.write(`Pod ${d.kname(pod)}: no container "${PROXY_CONTAINER}" in pod\n`);
        continue;
      }
      if (!proxy.ready) {
        d.write(`WARNING: Pod ${d.kname(pod)} Container ${PROXY_CONTAINER} NOT READY\n`);
        continue;
      }
      pods.push(pod);
    }
  }
  const first = pods[0];
  if (!first) {
    if (selected === 0) {
      d.write(`Service ${goQuote(d.kname(svc))} has no pods.\n`);
    } else {
      d.write(`Service ${goQuote(d.kname(svc))} has no Istio pods.  (${selected} pods in service).\n`);
      d.write(
        'Use `istioctl experimental add-to-mesh`, `istioctl kube-inject`, or redeploy with Istio automatic sidecar injection.\n',
      );
    }
    return { output: d.out };
  }
  const podsLabels = pods.map(labelsOf);
  const failed = d.describePodServices(first, [svc], podsLabels);
  if (failed !== undefined) return { output: d.out, error: failed };
  const ingressFailed = d.printIngressInfo([svc], podsLabels);
  return ingressFailed === undefined ? { output: d.out } : { output: d.out, error: ingressFailed };
}
