/** Analysis message types: codes, names, levels and templates exactly as Istio 1.17 defines them (plus IST0173 from later Istio). */
import type { Level } from './level.js';

export interface MessageType {
  code: string;
  name: string;
  level: Level;
  template: string;
}

function t(code: string, name: string, level: Level, template: string): MessageType {
  return { code, name, level, template };
}

export const MESSAGE_TYPES = {
  InternalError: t('IST0001', 'InternalError', 'Error', 'Internal error: %v'),
  Deprecated: t('IST0002', 'Deprecated', 'Warning', 'Deprecated: %s'),
  ReferencedResourceNotFound: t(
    'IST0101',
    'ReferencedResourceNotFound',
    'Error',
    'Referenced %s not found: %q',
  ),
  NamespaceNotInjected: t(
    'IST0102',
    'NamespaceNotInjected',
    'Info',
    "The namespace is not enabled for Istio injection. Run 'kubectl label namespace %s istio-injection=enabled' to enable it, or 'kubectl label namespace %s istio-injection=disabled' to explicitly mark it as not needing injection.",
  ),
  PodMissingProxy: t(
    'IST0103',
    'PodMissingProxy',
    'Warning',
    'The pod %s is missing the Istio proxy. This can often be resolved by restarting or redeploying the workload.',
  ),
  GatewayPortNotOnWorkload: t(
    'IST0104',
    'GatewayPortNotOnWorkload',
    'Warning',
    'The gateway refers to a port that is not exposed on the workload (pod selector %s; port %d)',
  ),
  IstioProxyImageMismatch: t(
    'IST0105',
    'IstioProxyImageMismatch',
    'Warning',
    'The image of the Istio proxy running on the pod does not match the image defined in the injection configuration (pod image: %s; injection configuration image: %s). This often happens after upgrading the Istio control-plane and can be fixed by redeploying the pod.',
  ),
  SchemaValidationError: t('IST0106', 'SchemaValidationError', 'Error', 'Schema validation error: %v'),
  MisplacedAnnotation: t(
    'IST0107',
    'MisplacedAnnotation',
    'Warning',
    'Misplaced annotation: %s can only be applied to %s',
  ),
  UnknownAnnotation: t('IST0108', 'UnknownAnnotation', 'Warning', 'Unknown annotation: %s'),
  ConflictingMeshGatewayVirtualServiceHosts: t(
    'IST0109',
    'ConflictingMeshGatewayVirtualServiceHosts',
    'Error',
    'The VirtualServices %s associated with mesh gateway define the same host %s which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.',
  ),
  ConflictingSidecarWorkloadSelectors: t(
    'IST0110',
    'ConflictingSidecarWorkloadSelectors',
    'Error',
    'The Sidecars %v in namespace %q select the same workload pod %q, which can lead to undefined behavior.',
  ),
  MultipleSidecarsWithoutWorkloadSelectors: t(
    'IST0111',
    'MultipleSidecarsWithoutWorkloadSelectors',
    'Error',
    'The Sidecars %v in namespace %q have no workload selector, which can lead to undefined behavior.',
  ),
  VirtualServiceDestinationPortSelectorRequired: t(
    'IST0112',
    'VirtualServiceDestinationPortSelectorRequired',
    'Error',
    'This VirtualService routes to a service %q that exposes multiple ports %v. Specifying a port in the destination is required to disambiguate.',
  ),
  MTLSPolicyConflict: t(
    'IST0113',
    'MTLSPolicyConflict',
    'Error',
    'A DestinationRule and Policy are in conflict with regards to mTLS for host %s. The DestinationRule %q specifies that mTLS must be %t but the Policy object %q specifies %s.',
  ),
  DeploymentAssociatedToMultipleServices: t(
    'IST0116',
    'DeploymentAssociatedToMultipleServices',
    'Warning',
    'This deployment %s is associated with multiple services using port %d but different protocols: %v',
  ),
  DeploymentRequiresServiceAssociated: t(
    'IST0117',
    'DeploymentRequiresServiceAssociated',
    'Warning',
    'No service associated with this deployment. Service mesh deployments must be associated with a service.',
  ),
  PortNameIsNotUnderNamingConvention: t(
    'IST0118',
    'PortNameIsNotUnderNamingConvention',
    'Info',
    "Port name %s (port: %d, targetPort: %s) doesn't follow the naming convention of Istio port.",
  ),
  JwtFailureDueToInvalidServicePortPrefix: t(
    'IST0119',
    'JwtFailureDueToInvalidServicePortPrefix',
    'Warning',
    'Authentication policy with JWT targets Service with invalid port specification (port: %d, name: %s, protocol: %s, targetPort: %s).',
  ),
  InvalidRegexp: t('IST0122', 'InvalidRegexp', 'Warning', 'Field %q regular expression invalid: %q (%s)'),
  NamespaceMultipleInjectionLabels: t(
    'IST0123',
    'NamespaceMultipleInjectionLabels',
    'Warning',
    "The namespace has both new and legacy injection labels. Run 'kubectl label namespace %s istio.io/rev-' or 'kubectl label namespace %s istio-injection-'",
  ),
  InvalidAnnotation: t('IST0125', 'InvalidAnnotation', 'Warning', 'Invalid annotation %s: %s'),
  UnknownMeshNetworksServiceRegistry: t(
    'IST0126',
    'UnknownMeshNetworksServiceRegistry',
    'Error',
    'Unknown service registry %s in network %s',
  ),
  NoMatchingWorkloadsFound: t(
    'IST0127',
    'NoMatchingWorkloadsFound',
    'Warning',
    'No matching workloads for this resource with the following labels: %s',
  ),
  NoServerCertificateVerificationDestinationLevel: t(
    'IST0128',
    'NoServerCertificateVerificationDestinationLevel',
    'Error',
    'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s',
  ),
  NoServerCertificateVerificationPortLevel: t(
    'IST0129',
    'NoServerCertificateVerificationPortLevel',
    'Warning',
    'DestinationRule %s in namespace %s has TLS mode set to %s but no caCertificates are set to validate server identity for host: %s at port %s',
  ),
  VirtualServiceUnreachableRule: t(
    'IST0130',
    'VirtualServiceUnreachableRule',
    'Warning',
    'VirtualService rule %v not used (%s).',
  ),
  VirtualServiceIneffectiveMatch: t(
    'IST0131',
    'VirtualServiceIneffectiveMatch',
    'Info',
    'VirtualService rule %v match %v is not used (duplicate/overlapping match in rule %v).',
  ),
  VirtualServiceHostNotFoundInGateway: t(
    'IST0132',
    'VirtualServiceHostNotFoundInGateway',
    'Warning',
    'one or more host %v defined in VirtualService %s not found in Gateway %s.',
  ),
  SchemaWarning: t('IST0133', 'SchemaWarning', 'Warning', 'Schema validation warning: %v'),
  ServiceEntryAddressesRequired: t(
    'IST0134',
    'ServiceEntryAddressesRequired',
    'Warning',
    'ServiceEntry addresses are required for this protocol.',
  ),
  DeprecatedAnnotation: t(
    'IST0135',
    'DeprecatedAnnotation',
    'Info',
    'Annotation %q has been deprecated%s and may not work in future Istio versions.',
  ),
  AlphaAnnotation: t(
    'IST0136',
    'AlphaAnnotation',
    'Info',
    'Annotation %q is part of an alpha-phase feature and may be incompletely supported.',
  ),
  DeploymentConflictingPorts: t(
    'IST0137',
    'DeploymentConflictingPorts',
    'Warning',
    'This deployment %s is associated with multiple services %v using targetPort %q but different ports: %v.',
  ),
  GatewayDuplicateCertificate: t(
    'IST0138',
    'GatewayDuplicateCertificate',
    'Warning',
    'Duplicate certificate in multiple gateways %v may cause 404s if clients re-use HTTP2 connections.',
  ),
  InvalidWebhook: t('IST0139', 'InvalidWebhook', 'Error', '%v'),
  IngressRouteRulesNotAffected: t(
    'IST0140',
    'IngressRouteRulesNotAffected',
    'Warning',
    'Subset in virtual service %s has no effect on ingress gateway %s requests',
  ),
  InsufficientPermissions: t(
    'IST0141',
    'InsufficientPermissions',
    'Error',
    'Missing required permission to create resource %v (%v)',
  ),
  UnsupportedKubernetesVersion: t(
    'IST0142',
    'UnsupportedKubernetesVersion',
    'Error',
    'The Kubernetes Version %q is lower than the minimum version: %v',
  ),
  LocalhostListener: t(
    'IST0143',
    'LocalhostListener',
    'Error',
    'Port %v is exposed in a Service but listens on localhost. It will not be exposed to other pods.',
  ),
  InvalidApplicationUID: t(
    'IST0144',
    'InvalidApplicationUID',
    'Warning',
    'User ID (UID) 1337 is reserved for the sidecar proxy.',
  ),
  ConflictingGateways: t(
    'IST0145',
    'ConflictingGateways',
    'Error',
    'Conflict with gateways %s (workload selector %s, port %s, hosts %v).',
  ),
  ImageAutoWithoutInjectionWarning: t(
    'IST0146',
    'ImageAutoWithoutInjectionWarning',
    'Warning',
    '%s %s contains `image: auto` but does not match any Istio injection webhook selectors.',
  ),
  ImageAutoWithoutInjectionError: t(
    'IST0147',
    'ImageAutoWithoutInjectionError',
    'Error',
    '%s %s contains `image: auto` but does not match any Istio injection webhook selectors.',
  ),
  NamespaceInjectionEnabledByDefault: t(
    'IST0148',
    'NamespaceInjectionEnabledByDefault',
    'Info',
    'is enabled for Istio injection, as Istio is installed with enableNamespacesByDefault as true.',
  ),
  JwtClaimBasedRoutingWithoutRequestAuthN: t(
    'IST0149',
    'JwtClaimBasedRoutingWithoutRequestAuthN',
    'Error',
    'The virtual service uses the JWT claim based routing (key: %s) but found no request authentication for the gateway (%s) pod (%s). The request authentication must first be applied for the gateway pods to validate the JWT token and make the claims available for routing.',
  ),
  ExternalNameServiceTypeInvalidPortName: t(
    'IST0150',
    'ExternalNameServiceTypeInvalidPortName',
    'Warning',
    'Port name for ExternalName service is invalid. Proxy may prevent tcp named ports and unmatched traffic for ports serving TCP protocol from being forwarded correctly',
  ),
  EnvoyFilterUsesRelativeOperation: t(
    'IST0151',
    'EnvoyFilterUsesRelativeOperation',
    'Warning',
    'This EnvoyFilter does not have a priority and has a relative patch operation set which can cause the EnvoyFilter not to be applied. Using the INSERT_FIRST of ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
  ),
  EnvoyFilterUsesReplaceOperationIncorrectly: t(
    'IST0152',
    'EnvoyFilterUsesReplaceOperationIncorrectly',
    'Error',
    'The REPLACE operation is only valid for HTTP_FILTER and NETWORK_FILTER.',
  ),
  EnvoyFilterUsesAddOperationIncorrectly: t(
    'IST0153',
    'EnvoyFilterUsesAddOperationIncorrectly',
    'Error',
    'The ADD operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
  ),
  EnvoyFilterUsesRemoveOperationIncorrectly: t(
    'IST0154',
    'EnvoyFilterUsesRemoveOperationIncorrectly',
    'Error',
    'The REMOVE operation will be ignored when applyTo is set to ROUTE_CONFIGURATION, or HTTP_ROUTE.',
  ),
  EnvoyFilterUsesRelativeOperationWithProxyVersion: t(
    'IST0155',
    'EnvoyFilterUsesRelativeOperationWithProxyVersion',
    'Warning',
    'This EnvoyFilter does not have a priority and has a relative patch operation (NSTERT_BEFORE/AFTER, REPLACE, MERGE, DELETE) and proxyVersion set which can cause the EnvoyFilter not to be applied during an upgrade. Using the INSERT_FIRST or ADD option or setting the priority may help in ensuring the EnvoyFilter is applied correctly.',
  ),
  UnsupportedGatewayAPIVersion: t(
    'IST0156',
    'UnsupportedGatewayAPIVersion',
    'Error',
    'The Gateway API CRD version %v is lower than the minimum version: %v',
  ),
  InvalidTelemetryProvider: t(
    'IST0157',
    'InvalidTelemetryProvider',
    'Warning',
    'The Telemetry %v in namespace %q with empty providers will be ignored.',
  ),
  // Added after 1.17 (destinationrule.SubsetSelectPodAnalyzer); skiff runs it because the lab's failure mode is exactly this.
  DestinationRuleSubsetNotSelectPods: t(
    'IST0173',
    'DestinationRuleSubsetNotSelectPods',
    'Error',
    'The Subset %s defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).',
  ),
} as const satisfies Record<string, MessageType>;

export const MESSAGE_TYPES_BY_CODE: ReadonlyMap<string, MessageType> = new Map(
  Object.values(MESSAGE_TYPES).map((m) => [m.code, m]),
);
