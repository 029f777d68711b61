/**
 * Istio 1.17's resource annotations (istio/api `annotation` package at the commit Istio 1.17.8 pins,
 * b6bd6cd1b885): each name, whether it is deprecated, and the resource types it may be applied to.
 */

/** The resource types an annotation can apply to, as istio/api names them. */
export type AnnotationResourceType =
  'Any' | 'AuthorizationPolicy' | 'Ingress' | 'Namespace' | 'Pod' | 'Service' | 'WorkloadEntry';

export interface IstioAnnotation {
  name: string;
  deprecated: boolean;
  resources: readonly AnnotationResourceType[];
}

function a(name: string, deprecated: boolean, resources: AnnotationResourceType[]): IstioAnnotation {
  return { name, deprecated, resources };
}

export const ISTIO_ANNOTATIONS: readonly IstioAnnotation[] = [
  a('alpha.istio.io/canonical-serviceaccounts', true, ['Service']),
  a('alpha.istio.io/identity', true, ['Pod']),
  a('alpha.istio.io/kubernetes-serviceaccounts', true, ['Service']),
  a('galley.istio.io/analyze-suppress', false, ['Any']),
  a('gateway.istio.io/controller-version', false, ['Any']),
  a('inject.istio.io/templates', false, ['Pod']),
  a('install.operator.istio.io/chart-owner', false, ['Any']),
  a('install.operator.istio.io/owner-generation', false, ['Any']),
  a('install.operator.istio.io/version', false, ['Any']),
  a('istio.io/autoRegistrationGroup', false, ['WorkloadEntry']),
  a('istio.io/connectedAt', false, ['WorkloadEntry']),
  a('istio.io/disconnectedAt', false, ['WorkloadEntry']),
  a('istio.io/dry-run', false, ['AuthorizationPolicy']),
  a('istio.io/workloadController', false, ['WorkloadEntry']),
  a('kubernetes.io/ingress.class', false, ['Ingress']),
  a('networking.istio.io/exportTo', false, ['Service']),
  a('prometheus.istio.io/merge-metrics', false, ['Pod']),
  a('proxy.istio.io/config', false, ['Pod']),
  a('proxy.istio.io/overrides', false, ['Pod']),
  a('readiness.status.sidecar.istio.io/applicationPorts', false, ['Pod']),
  a('readiness.status.sidecar.istio.io/failureThreshold', false, ['Pod']),
  a('readiness.status.sidecar.istio.io/initialDelaySeconds', false, ['Pod']),
  a('readiness.status.sidecar.istio.io/periodSeconds', false, ['Pod']),
  a('sidecar.istio.io/agentLogLevel', false, ['Pod']),
  a('sidecar.istio.io/bootstrapOverride', false, ['Pod']),
  a('sidecar.istio.io/componentLogLevel', false, ['Pod']),
  a('sidecar.istio.io/controlPlaneAuthPolicy', true, ['Pod']),
  a('sidecar.istio.io/discoveryAddress', true, ['Pod']),
  a('sidecar.istio.io/enableCoreDump', false, ['Pod']),
  a('sidecar.istio.io/extraStatTags', false, ['Pod']),
  a('sidecar.istio.io/inject', true, ['Pod']),
  a('sidecar.istio.io/interceptionMode', false, ['Pod']),
  a('sidecar.istio.io/logLevel', false, ['Pod']),
  a('sidecar.istio.io/proxyCPU', false, ['Pod']),
  a('sidecar.istio.io/proxyCPULimit', false, ['Pod']),
  a('sidecar.istio.io/proxyImage', false, ['Pod']),
  a('sidecar.istio.io/proxyImageType', false, ['Pod']),
  a('sidecar.istio.io/proxyMemory', false, ['Pod']),
  a('sidecar.istio.io/proxyMemoryLimit', false, ['Pod']),
  a('sidecar.istio.io/rewriteAppHTTPProbers', false, ['Pod']),
  a('sidecar.istio.io/statsInclusionPrefixes', true, ['Pod']),
  a('sidecar.istio.io/statsInclusionRegexps', true, ['Pod']),
  a('sidecar.istio.io/statsInclusionSuffixes', true, ['Pod']),
  a('sidecar.istio.io/status', false, ['Pod']),
  a('sidecar.istio.io/userVolume', false, ['Pod']),
  a('sidecar.istio.io/userVolumeMount', false, ['Pod']),
  a('status.sidecar.istio.io/port', false, ['Pod']),
  a('topology.istio.io/controlPlaneClusters', false, ['Namespace']),
  a('traffic.istio.io/nodeSelector', false, ['Service']),
  a('traffic.sidecar.istio.io/excludeInboundPorts', false, ['Pod']),
  a('traffic.sidecar.istio.io/excludeInterfaces', false, ['Pod']),
  a('traffic.sidecar.istio.io/excludeOutboundIPRanges', false, ['Pod']),
  a('traffic.sidecar.istio.io/excludeOutboundPorts', false, ['Pod']),
  a('traffic.sidecar.istio.io/includeInboundPorts', false, ['Pod']),
  a('traffic.sidecar.istio.io/includeOutboundIPRanges', false, ['Pod']),
  a('traffic.sidecar.istio.io/includeOutboundPorts', false, ['Pod']),
  a('traffic.sidecar.istio.io/kubevirtInterfaces', false, ['Pod']),
];

const BY_NAME: ReadonlyMap<string, IstioAnnotation> = new Map(ISTIO_ANNOTATIONS.map((x) => [x.name, x]));

export function lookupAnnotation(name: string): IstioAnnotation | undefined {
  return BY_NAME.get(name);
}
