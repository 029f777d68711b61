/**
 * The parts of Kubernetes objects the mesh reads: core/v1, apps/v1, discovery.k8s.io/v1 and
 * admissionregistration.k8s.io/v1 in their JSON shape, plus the Gateway API (v0.6, the release Istio 1.17
 * builds against) in outline. Fields the mesh never looks at are left out; `ObjectMeta` is in resource.ts.
 * A field is required only where the API server rejects an object without it.
 */
import type { Labels } from './types-networking.js';

/** A port given as a number or as the name of a container port. */
export type IntOrString = number | string;

/** A resource quantity (`500m`, `1Gi`); YAML may also give a plain number. */
export type Quantity = string | number;

export type KubeProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface LabelSelector {
  matchLabels?: Labels;
  /** ANDed with `matchLabels`. */
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
}

/* ---------------------------------------------------------------- Namespace */

/** Injection is driven by the namespace's labels (`istio-injection`, `istio.io/rev`), not by its spec. */
export interface NamespaceSpec {
  finalizers?: string[];
}

export interface NamespaceStatus {
  phase?: 'Active' | 'Terminating';
}

/* ---------------------------------------------------------------- Service */

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';

export interface ServiceSpec {
  /** Absent means ClusterIP. */
  type?: ServiceType;
  ports?: ServicePort[];
  /** Absent: the Service has no endpoints of its own (they are managed by hand or by another controller). */
  selector?: Labels;
  /** `None` makes the Service headless: clients resolve the pod IPs directly. */
  clusterIP?: string;
  clusterIPs?: string[];
  /** The DNS name an ExternalName Service aliases. */
  externalName?: string;
  externalIPs?: string[];
  loadBalancerIP?: string;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  sessionAffinity?: 'ClientIP' | 'None';
  publishNotReadyAddresses?: boolean;
  ipFamilies?: ('IPv4' | 'IPv6')[];
  ipFamilyPolicy?: 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';
}

export interface ServicePort {
  /** Istio derives the protocol from a `<protocol>[-suffix]` name when `appProtocol` is absent. */
  name?: string;
  port: number;
  /** Absent means the same as `port`; a name refers to a container port by name. */
  targetPort?: IntOrString;
  /** Absent means TCP. This is the L4 protocol; Istio reads L7 protocols from `appProtocol` or the name. */
  protocol?: KubeProtocol;
  /** Takes precedence over the port name for Istio's protocol selection. */
  appProtocol?: string;
  nodePort?: number;
}

export interface ServiceStatus {
  loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
}

/* ---------------------------------------------------------------- Pod */

export interface PodSpec {
  containers: Container[];
  /** With injection, `istio-init` (or the CNI) runs here to set up traffic capture. */
  initContainers?: Container[];
  /** Absent means `default`; it becomes the workload's SPIFFE identity. */
  serviceAccountName?: string;
  /** Deprecated alias of `serviceAccountName`. */
  serviceAccount?: string;
  automountServiceAccountToken?: boolean;
  /** Pods on the host network are not injected: capture would take over the node's traffic. */
  hostNetwork?: boolean;
  securityContext?: PodSecurityContext;
  nodeName?: string;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  terminationGracePeriodSeconds?: number;
  imagePullSecrets?: { name?: string }[];
  /** Outline only: the mesh reads volume names and sources, not their details. */
  volumes?: ({ name: string } & Record<string, unknown>)[];
}

export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  command?: string[];
  args?: string[];
  workingDir?: string;
  /** Their names resolve a Service's named `targetPort`. */
  ports?: ContainerPort[];
  env?: EnvVar[];
  resources?: { limits?: Record<string, Quantity>; requests?: Record<string, Quantity> };
  /** Injection rewrites HTTP probes to go through the proxy's status port. */
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
}

export interface ContainerPort {
  containerPort: number;
  name?: string;
  /** Absent means TCP. */
  protocol?: KubeProtocol;
  hostPort?: number;
  hostIP?: string;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string; apiVersion?: string };
    resourceFieldRef?: { resource: string; containerName?: string; divisor?: Quantity };
    configMapKeyRef?: { name?: string; key: string; optional?: boolean };
    secretKeyRef?: { name?: string; key: string; optional?: boolean };
  };
}

/** Exactly one handler (`httpGet`, `tcpSocket`, `exec` or `grpc`). */
export interface Probe {
  httpGet?: {
    path?: string;
    port: IntOrString;
    host?: string;
    scheme?: 'HTTP' | 'HTTPS';
    httpHeaders?: { name: string; value: string }[];
  };
  tcpSocket?: { port: IntOrString; host?: string };
  exec?: { command?: string[] };
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  privileged?: boolean;
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  /** `istio-init` needs NET_ADMIN and NET_RAW to program iptables. */
  capabilities?: { add?: string[]; drop?: string[] };
}

export interface PodSecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  sysctls?: { name: string; value: string }[];
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  /** Absent until the pod is scheduled and has a sandbox; endpoints only list pods with an IP. */
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  conditions?: PodCondition[];
  containerStatuses?: ContainerStatus[];
  initContainerStatuses?: ContainerStatus[];
}

export interface PodCondition {
  /** `Ready` decides whether the pod's address is a ready endpoint. */
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready' | (string & {});
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount: number;
  image?: string;
  imageID?: string;
  started?: boolean;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
}

/** A pod template's metadata: no name or namespace, those come from the pods created from it. */
export interface TemplateMeta {
  labels?: Labels;
  /** Istio's per-pod settings (`sidecar.istio.io/*`, `proxy.istio.io/config`) are read from here. */
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface PodTemplateSpec {
  metadata?: TemplateMeta;
  spec?: PodSpec;
}

/* ---------------------------------------------------------------- Deployment / ReplicaSet */

export interface DeploymentSpec {
  /** Absent means 1. */
  replicas?: number;
  /** Must match the template's labels; immutable after creation. */
  selector: LabelSelector;
  template: PodTemplateSpec;
  strategy?: {
    type?: 'RollingUpdate' | 'Recreate';
    rollingUpdate?: { maxSurge?: IntOrString; maxUnavailable?: IntOrString };
  };
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  paused?: boolean;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
}

export interface ReplicaSetSpec {
  replicas?: number;
  selector: LabelSelector;
  /** Optional in the API: a ReplicaSet scaled to 0 may have none. */
  template?: PodTemplateSpec;
  minReadySeconds?: number;
}

/* ---------------------------------------------------------------- ConfigMap / Secret / ServiceAccount */

/** The top-level fields of a ConfigMap (it has no spec). */
export interface ConfigMapBody {
  /** Istio keeps its mesh config as YAML text under the `mesh` key of `istio` (or `istio-<rev>`). */
  data?: Record<string, string>;
  /** Values are base64. */
  binaryData?: Record<string, string>;
  immutable?: boolean;
}

/** The top-level fields of a Secret (it has no spec). */
export interface SecretBody {
  /** For example `Opaque` (the default) or `kubernetes.io/tls`; gateways read `tls.crt`/`tls.key`/`ca.crt`. */
  type?: string;
  /** Values are base64. */
  data?: Record<string, string>;
  /** Plain-text values, merged into `data` by the API server on write. */
  stringData?: Record<string, string>;
  immutable?: boolean;
}

/** The top-level fields of a ServiceAccount (it has no spec). */
export interface ServiceAccountBody {
  secrets?: ObjectReference[];
  imagePullSecrets?: { name?: string }[];
  automountServiceAccountToken?: boolean;
}

/* ---------------------------------------------------------------- Endpoints / EndpointSlice */

/** The top-level fields of an Endpoints object (it has no spec). */
export interface EndpointsBody {
  subsets?: EndpointSubset[];
}

/** Every address in a subset serves every port of the same subset. */
export interface EndpointSubset {
  addresses?: EndpointAddress[];
  /** Pods that are not ready; Istio leaves them out of load balancing. */
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  /** Usually the Pod, which is how endpoints are tied back to workload labels and service accounts. */
  targetRef?: ObjectReference;
}

export interface EndpointPort {
  /** Matches the Service port's name. */
  name?: string;
  port: number;
  protocol?: KubeProtocol;
  appProtocol?: string;
}

/** The top-level fields of an EndpointSlice; its Service is the `kubernetes.io/service-name` label. */
export interface EndpointSliceBody {
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: SliceEndpoint[];
  /** Absent or empty means no ports are exposed. */
  ports?: { name?: string; port?: number; protocol?: KubeProtocol; appProtocol?: string }[];
}

export interface SliceEndpoint {
  addresses: string[];
  /** An absent `ready` means the state is unknown, which consumers are asked to treat as ready. */
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  targetRef?: ObjectReference;
  nodeName?: string;
  zone?: string;
}

/* ---------------------------------------------------------------- Admission webhooks */

/** The top-level fields of a Mutating- or ValidatingWebhookConfiguration (they have no spec). */
export interface WebhookConfigurationBody {
  webhooks?: Webhook[];
}

export interface Webhook {
  /** A fully qualified name such as `rev.namespace.sidecar-injector.istio.io`. */
  name: string;
  clientConfig: WebhookClientConfig;
  rules?: WebhookRule[];
  failurePolicy?: 'Ignore' | 'Fail';
  matchPolicy?: 'Exact' | 'Equivalent';
  /** Istio's injectors select namespaces and pods by label; two injectors selecting one pod is an error. */
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  sideEffects?: 'None' | 'NoneOnDryRun' | 'Unknown' | 'Some';
  timeoutSeconds?: number;
  admissionReviewVersions?: string[];
  /** Mutating webhooks only. */
  reinvocationPolicy?: 'Never' | 'IfNeeded';
}

/** Exactly one of `url` and `service`. */
export interface WebhookClientConfig {
  url?: string;
  service?: { namespace: string; name: string; path?: string; port?: number };
  /** Base64 PEM; Istio patches its own CA in here at startup. */
  caBundle?: string;
}

export interface WebhookRule {
  operations?: ('CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT' | '*')[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: 'Cluster' | 'Namespaced' | '*';
}

/* ---------------------------------------------------------------- Gateway API (outline) */

export interface GatewayClassSpec {
  /** Istio handles classes whose controller is `istio.io/gateway-controller`. */
  controllerName: string;
  parametersRef?: { group: string; kind: string; name: string; namespace?: string };
  description?: string;
}

/** The Gateway API's Gateway; named apart from Istio's `GatewaySpec`. */
export interface KubeGatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
  /** Istio reads an address to point the Gateway at an existing deployment instead of creating one. */
  addresses?: { type?: 'IPAddress' | 'Hostname' | 'NamedAddress' | (string & {}); value: string }[];
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP' | (string & {});
  tls?: {
    /** Absent means Terminate. */
    mode?: 'Terminate' | 'Passthrough';
    certificateRefs?: SecretObjectReference[];
    options?: Record<string, string>;
  };
  allowedRoutes?: {
    /** Absent `from` means Same: only routes in the Gateway's namespace may attach. */
    namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
    kinds?: { group?: string; kind: string }[];
  };
}

export interface SecretObjectReference {
  /** Absent group and kind mean a core Secret. */
  group?: string;
  kind?: string;
  name: string;
  /** Another namespace needs a ReferenceGrant there. */
  namespace?: string;
}

export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  /** A listener name, to attach to one listener only. */
  sectionName?: string;
  port?: number;
}

export interface HTTPRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HTTPRouteRule[];
}

export interface HTTPRouteRule {
  /** Absent means a single `PathPrefix /` match. */
  matches?: HTTPRouteMatch[];
  filters?: HTTPRouteFilter[];
  backendRefs?: HTTPBackendRef[];
}

export interface HTTPRouteMatch {
  path?: { type?: 'Exact' | 'PathPrefix' | 'RegularExpression'; value?: string };
  headers?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  queryParams?: { type?: 'Exact' | 'RegularExpression'; name: string; value: string }[];
  method?: string;
}

/** The member named after `type` (in lower camel case) holds the filter's settings, kept loose here. */
export interface HTTPRouteFilter {
  type:
    | 'RequestHeaderModifier'
    | 'ResponseHeaderModifier'
    | 'RequestMirror'
    | 'RequestRedirect'
    | 'URLRewrite'
    | 'ExtensionRef';
  requestHeaderModifier?: HTTPHeaderFilter;
  responseHeaderModifier?: HTTPHeaderFilter;
  requestMirror?: Record<string, unknown>;
  requestRedirect?: Record<string, unknown>;
  urlRewrite?: Record<string, unknown>;
  extensionRef?: { group: string; kind: string; name: string };
}

export interface HTTPHeaderFilter {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HTTPBackendRef {
  /** Absent group and kind mean a core Service, which then needs a `port`. */
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  /** Absent means 1. */
  weight?: number;
  filters?: HTTPRouteFilter[];
}

export interface ReferenceGrantSpec {
  /** Who may refer: the kinds and namespaces of the referring objects. */
  from: { group: string; kind: string; namespace: string }[];
  /** What they may refer to, in the ReferenceGrant's own namespace; absent `name` means any. */
  to: { group: string; kind: string; name?: string }[];
}
