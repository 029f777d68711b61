import type { Analyzer } from '../analyzer.js';
import { destinationRuleCaCertificateAnalyzer } from './destinationrule-ca-certificate.js';
import { destinationRuleSubsetSelectPodAnalyzer } from './destinationrule-subset-select-pod.js';
import { gatewayCertificateAnalyzer } from './gateway-certificate.js';
import { gatewayConflictingAnalyzer } from './gateway-conflicting.js';
import { gatewayIngressPortAnalyzer } from './gateway-ingress-port.js';
import { gatewaySecretAnalyzer } from './gateway-secret.js';
import { serviceEntryProtocolAddressesAnalyzer } from './serviceentry-protocol-addresses.js';
import { vsConflictingMeshGatewayHostsAnalyzer } from './vs-conflicting-mesh-gateway-hosts.js';
import { vsDestinationHostAnalyzer } from './vs-destination-host.js';
import { virtualServiceDestinationRuleAnalyzer } from './vs-destination-rule.js';
import { vsGatewayAnalyzer } from './vs-gateway.js';
import { vsJwtClaimRouteAnalyzer } from './vs-jwt-claim-route.js';
import { vsRegexAnalyzer } from './vs-regex.js';

/** Analyzers over routing config: gateways, virtual services, destination rules, service entries. */
export const NETWORKING_ANALYZERS: readonly Analyzer[] = [
  destinationRuleCaCertificateAnalyzer,
  destinationRuleSubsetSelectPodAnalyzer,
  gatewayCertificateAnalyzer,
  gatewayConflictingAnalyzer,
  gatewayIngressPortAnalyzer,
  gatewaySecretAnalyzer,
  serviceEntryProtocolAddressesAnalyzer,
  vsConflictingMeshGatewayHostsAnalyzer,
  vsDestinationHostAnalyzer,
  virtualServiceDestinationRuleAnalyzer,
  vsGatewayAnalyzer,
  vsJwtClaimRouteAnalyzer,
  vsRegexAnalyzer,
];
