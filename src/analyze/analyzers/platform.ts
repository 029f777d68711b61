import type { Analyzer } from '../analyzer.js';
import { annotationsK8sAnalyzer } from './annotations.js';
import { applicationUidAnalyzer } from './applicationuid.js';
import { authorizationPoliciesAnalyzer } from './auth.js';
import { deploymentMultiServiceAnalyzer } from './deployment.js';
import { deprecationAnalyzer } from './deprecation.js';
import { envoyFilterPatchAnalyzer } from './envoyfilter.js';
import { injectionAnalyzer } from './injection.js';
import { injectionImageAnalyzer } from './injection-image.js';
import { injectionImageAutoAnalyzer } from './injection-image-auto.js';
import { meshNetworksAnalyzer } from './meshnetworks.js';
import { SCHEMA_ANALYZERS } from './schema.js';
import { servicePortNameAnalyzer } from './service.js';
import { sidecarDefaultSelectorAnalyzer, sidecarSelectorAnalyzer } from './sidecar.js';
import { telemetryProviderAnalyzer } from './telemetry.js';
import { webhookAnalyzer } from './webhook.js';

/**
 * Analyzers over workloads and platform config: annotations, injection, deployments, services, sidecars,
 * webhooks, security, telemetry, envoy filters, and schema validation per kind.
 */
export const PLATFORM_ANALYZERS: readonly Analyzer[] = [
  annotationsK8sAnalyzer,
  applicationUidAnalyzer,
  authorizationPoliciesAnalyzer,
  deploymentMultiServiceAnalyzer,
  deprecationAnalyzer,
  envoyFilterPatchAnalyzer,
  injectionAnalyzer,
  injectionImageAnalyzer,
  injectionImageAutoAnalyzer,
  meshNetworksAnalyzer,
  servicePortNameAnalyzer,
  sidecarDefaultSelectorAnalyzer,
  sidecarSelectorAnalyzer,
  telemetryProviderAnalyzer,
  webhookAnalyzer,
  ...SCHEMA_ANALYZERS,
];
