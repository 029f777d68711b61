// Validators for networking.istio.io kinds (Gateway, VirtualService, DestinationRule, ServiceEntry, Sidecar,
// WorkloadEntry, WorkloadGroup, EnvoyFilter, ProxyConfig), as Istio 1.17's pkg/config/validation checks them.
// Each file registers its kinds with the validation registry when imported.
import './validate-networking-gateway.js';
import './validate-networking-virtualservice.js';
import './validate-networking-destinationrule.js';
import './validate-networking-serviceentry.js';
import './validate-networking-sidecar.js';
import './validate-networking-workload.js';
import './validate-networking-envoyfilter.js';

export type { AnalysisAwareIssue } from './validate-networking-common.js';
export { isAnalysisAwareIssue } from './validate-networking-common.js';
export { ENVOY_FILTER_APPLY_TO, ENVOY_FILTER_PATCH_OPERATIONS } from './validate-networking-envoyfilter.js';
