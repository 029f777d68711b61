// Validators for the security.istio.io, telemetry.istio.io and extensions.istio.io kinds (Istio 1.17's
// webhook rules), and the light structural checks on the Kubernetes and Gateway API kinds the mesh reads.
// Each kind's validator is registered here; the checks live in validate-security-*.ts and validate-kube*.ts.
import { KIND } from './kinds.js';
import { registerValidator } from './validation.js';
import { validateAuthorizationPolicy } from './validate-security-authz.js';
import { validatePeerAuthentication, validateRequestAuthentication } from './validate-security-authn.js';
import { validateTelemetry, validateWasmPlugin } from './validate-security-telemetry.js';
import { validateDeployment, validatePod, validateService } from './validate-kube.js';
import { validateHTTPRoute, validateKubeGateway } from './validate-kube-gateway.js';

registerValidator(KIND.AuthorizationPolicy, validateAuthorizationPolicy);
registerValidator(KIND.PeerAuthentication, (spec, v) => validatePeerAuthentication(spec, v));
registerValidator(KIND.RequestAuthentication, (spec, v) => validateRequestAuthentication(spec, v));
registerValidator(KIND.Telemetry, (spec, v) => validateTelemetry(spec, v));
registerValidator(KIND.WasmPlugin, (spec, v) => validateWasmPlugin(spec, v));

registerValidator(KIND.Service, (spec, v) => validateService(spec, v));
registerValidator(KIND.Pod, (spec, v) => validatePod(spec, v));
registerValidator(KIND.Deployment, (spec, v) => validateDeployment(spec, v));
registerValidator(KIND.KubeGateway, (spec, v, r) => validateKubeGateway(spec, v, r.object));
registerValidator(KIND.HTTPRoute, (spec, v, r) => validateHTTPRoute(spec, v, r.object));
