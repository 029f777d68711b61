// Validators for security.istio.io, telemetry.istio.io and extensions.istio.io kinds, and the structural
// checks on the Kubernetes and Gateway API kinds the mesh reads.
export {};
