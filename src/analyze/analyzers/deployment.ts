import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { Analyzer, AnalysisContext } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { SelectorIndex, indexByNamespace } from './label-index.js';
import { asArray, asObject, asString, podInMesh, stringMap } from './util.js';

interface ServicePort {
  port: number;
  protocol: string;
  /** Kubernetes' IntOrString text; the port number when unset or 0. */
  targetPort: string;
}

interface MatchingService {
  /** `namespace/name`, as Istio's FullName prints. */
  name: string;
  ports: ServicePort[];
}

function portNumber(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) ? v : 0;
}

function targetPortText(port: number, target: unknown): string {
  const text = typeof target === 'number' || typeof target === 'string' ? String(target) : '';
  return text === '' || text === '0' ? String(port) : text;
}

/** A Service with a non-empty selector, as the checks below read it. */
interface SelectingService extends MatchingService {
  namespace: string;
  selector: Record<string, string>;
}

function servicePorts(svc: Resource): ServicePort[] {
  return asArray(specOf(svc)['ports']).map((raw) => {
    const p = asObject(raw);
    const port = portNumber(p?.['port']);
    return {
      port,
      protocol: asString(p?.['protocol']) || 'TCP',
      targetPort: targetPortText(port, p?.['targetPort']),
    };
  });
}

/**
 * Services that select something (a non-empty selector), by namespace, indexed by selector: each Service's
 * selector and ports are read once instead of once per Deployment.
 */
function selectingServicesByNamespace(
  services: readonly Resource[],
): Map<string, SelectorIndex<SelectingService>> {
  const selecting: SelectingService[] = [];
  for (const svc of services) {
    const selector = stringMap(asObject(specOf(svc)['selector']));
    if (Object.keys(selector).length === 0) continue;
    const ns = svc.metadata.namespace ?? '';
    selecting.push({ namespace: ns, name: `${ns}/${svc.metadata.name}`, ports: servicePorts(svc), selector });
  }
  return indexByNamespace(
    selecting,
    (s) => s.namespace,
    (group) => new SelectorIndex(group, (s) => s.selector),
  );
}

/** IST0116: one port number served with different protocols by the Deployment's services. */
function checkPortProtocols(ctx: AnalysisContext, dep: Resource, services: readonly MatchingService[]): void {
  const byPort = new Map<number, Map<string, string[]>>();
  for (const svc of services) {
    for (const p of svc.ports) {
      let protocols = byPort.get(p.port);
      if (!protocols) byPort.set(p.port, (protocols = new Map()));
      protocols.set(p.protocol, [...(protocols.get(p.protocol) ?? []), svc.name]);
    }
  }
  for (const [port, protocols] of byPort) {
    if (protocols.size < 2) continue;
    const names = [...protocols.values()].flat();
    ctx.report(
      MESSAGE_TYPES.DeploymentAssociatedToMultipleServices,
      dep,
      [dep.metadata.name, port, names],
      '{.metadata.name}',
    );
  }
}

/** IST0137: one targetPort reached through different service ports. */
function checkTargetPorts(ctx: AnalysisContext, dep: Resource, services: readonly MatchingService[]): void {
  const byTarget = new Map<string, Map<number, string>>();
  for (const svc of services) {
    for (const p of svc.ports) {
      let ports = byTarget.get(p.targetPort);
      if (!ports) byTarget.set(p.targetPort, (ports = new Map()));
      ports.set(p.port, svc.name);
    }
  }
  for (const [targetPort, ports] of byTarget) {
    if (ports.size < 2) continue;
    ctx.report(
      MESSAGE_TYPES.DeploymentConflictingPorts,
      dep,
      [dep.metadata.name, [...ports.values()], targetPort, [...ports.keys()]],
      '{.metadata.name}',
    );
  }
}

/** In-mesh Deployments need a Service, and their Services must agree on protocols and target ports. */
export const deploymentMultiServiceAnalyzer: Analyzer = {
  name: 'deployment.MultiServiceAnalyzer',
  description: 'Checks association between services and pods',
  inputs: [KIND.Service, KIND.Deployment, KIND.Namespace],
  analyze(ctx) {
    const servicesByNamespace = selectingServicesByNamespace(ctx.snapshot.list(KIND.Service));
    for (const dep of ctx.snapshot.list(KIND.Deployment)) {
      const namespace = dep.metadata.namespace ?? '';
      const template = asObject(specOf(dep)['template']);
      const meta = asObject(template?.['metadata']);
      const labels = stringMap(asObject(meta?.['labels']));
      const inMesh = podInMesh(ctx.snapshot, {
        namespace,
        labels,
        annotations: stringMap(asObject(meta?.['annotations'])),
        podSpec: asObject(template?.['spec']) ?? {},
      });
      if (!inMesh) continue;
      // Services in the Deployment's namespace whose selector matches its pod template labels.
      const services = servicesByNamespace.get(namespace)?.selecting(labels) ?? [];
      if (services.length === 0) {
        ctx.report(MESSAGE_TYPES.DeploymentRequiresServiceAssociated, dep, []);
        continue;
      }
      checkPortProtocols(ctx, dep, services);
      checkTargetPorts(ctx, dep, services);
    }
  },
};
