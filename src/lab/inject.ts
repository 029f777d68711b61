/**
 * Sidecar injection as Istio 1.17's injector does it for the lab's pods (pkg/kube/inject): pods in a
 * namespace labelled `istio-injection=enabled` (unless the pod says `sidecar.istio.io/inject: "false"`) get
 * the `istio-proxy` container, Istio's labels (`security.istio.io/tlsMode`, `service.istio.io/canonical-*`)
 * and annotations (`sidecar.istio.io/status`, default container, Prometheus merge), and their HTTP probes
 * rewritten to the agent's `/app-health/<container>/<kind>` on 15020 (ISTIO_KUBE_APP_PROBERS).
 */

type Json = Record<string, unknown>;

export const SIDECAR_CONTAINER = 'istio-proxy';
export const PROXY_IMAGE = 'skiff/proxy:latest';
export const STATUS_PORT = 15020;

/** The sidecar.istio.io/status annotation Istio 1.17 writes for the default template. */
const SIDECAR_STATUS = JSON.stringify({
  initContainers: ['istio-init'],
  containers: [SIDECAR_CONTAINER],
  volumes: [
    'workload-socket',
    'credential-socket',
    'workload-certs',
    'istio-envoy',
    'istio-data',
    'istio-podinfo',
    'istio-token',
    'istiod-ca-cert',
  ],
  imagePullSecrets: null,
  revision: 'default',
});

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isRecord(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Whether a pod in a namespace with these labels gets a sidecar (the namespace-label policy). */
export function wantsSidecar(namespaceLabels: Record<string, string>, pod: Json): boolean {
  const meta = isRecord(pod['metadata']) ? pod['metadata'] : {};
  const labels = stringMap(meta['labels']);
  const annotations = stringMap(meta['annotations']);
  const podSays = labels['sidecar.istio.io/inject'] ?? annotations['sidecar.istio.io/inject'];
  if (podSays !== undefined && podSays.toLowerCase() === 'false') return false;
  const spec = isRecord(pod['spec']) ? pod['spec'] : {};
  const containers = Array.isArray(spec['containers']) ? spec['containers'] : [];
  if (containers.some((c) => isRecord(c) && c['name'] === SIDECAR_CONTAINER)) return false;
  if (spec['hostNetwork'] === true) return false;
  const nsLabel = namespaceLabels['istio-injection'];
  if (nsLabel === 'enabled') return true;
  return nsLabel === undefined && namespaceLabels['istio.io/rev'] !== undefined;
}

function containerPorts(containers: Json[]): Json[] {
  const out: Json[] = [];
  for (const c of containers) {
    for (const p of Array.isArray(c['ports']) ? c['ports'] : []) {
      if (!isRecord(p) || typeof p['containerPort'] !== 'number') continue;
      // Go's ContainerPort field order (name, containerPort, protocol), as Istio's template marshals it.
      const port: Json = {};
      if (typeof p['name'] === 'string') port['name'] = p['name'];
      port['containerPort'] = p['containerPort'];
      port['protocol'] = typeof p['protocol'] === 'string' ? p['protocol'] : 'TCP';
      out.push(port);
    }
  }
  return out;
}

/** Resolves a probe's named port against the container's ports. */
function probePort(container: Json, port: unknown): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port !== 'string') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  for (const p of Array.isArray(container['ports']) ? container['ports'] : []) {
    if (isRecord(p) && p['name'] === port && typeof p['containerPort'] === 'number')
      return p['containerPort'];
  }
  return undefined;
}

const PROBE_KINDS: [field: string, path: string][] = [
  ['readinessProbe', 'readyz'],
  ['livenessProbe', 'livez'],
  ['startupProbe', 'startupz'],
];

/** Rewrites the HTTP probes of app containers; returns ISTIO_KUBE_APP_PROBERS' map. */
function rewriteProbes(containers: Json[]): Json {
  const probers: Json = {};
  for (const c of containers) {
    const name = typeof c['name'] === 'string' ? c['name'] : '';
    for (const [field, kind] of PROBE_KINDS) {
      const probe = c[field];
      if (!isRecord(probe) || !isRecord(probe['httpGet'])) continue;
      const httpGet = probe['httpGet'];
      const path = `/app-health/${name}/${kind}`;
      const original: Json = { ...httpGet, port: probePort(c, httpGet['port']) ?? httpGet['port'] };
      const entry: Json = { httpGet: original };
      entry['timeoutSeconds'] = typeof probe['timeoutSeconds'] === 'number' ? probe['timeoutSeconds'] : 1;
      probers[path] = entry;
      c[field] = { ...probe, httpGet: { path, port: STATUS_PORT, scheme: 'HTTP' } };
    }
  }
  return probers;
}

/** ISTIO_META_POD_PORTS as Istio 1.17's injection template renders it: one port per line inside `[` `]`. */
export function podPortsEnv(ports: readonly Json[]): string {
  return `[${ports.map((p, i) => `\n    ${i === 0 ? '' : ','}${JSON.stringify(p)}`).join('')}\n]`;
}

/** The sidecar's resources in the demo profile the lab notes install (describe shows them; QoS Burstable). */
export const SIDECAR_RESOURCES: Json = {
  limits: { cpu: '2', memory: '1Gi' },
  requests: { cpu: '10m', memory: '40Mi' },
};

/** The pod volumes Istio 1.17's sidecar template adds, in its order (the status annotation lists them). */
function sidecarVolumes(): Json[] {
  const emptyDir = (name: string, medium?: string): Json => ({
    name,
    emptyDir: medium ? { medium } : {},
  });
  return [
    emptyDir('workload-socket'),
    emptyDir('credential-socket'),
    emptyDir('workload-certs'),
    emptyDir('istio-envoy', 'Memory'),
    emptyDir('istio-data'),
    {
      name: 'istio-podinfo',
      downwardAPI: {
        items: [
          { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
          { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' } },
        ],
      },
    },
    {
      name: 'istio-token',
      projected: {
        sources: [
          { serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } },
        ],
      },
    },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
}

/** Where the sidecar template mounts those volumes. */
const SIDECAR_MOUNTS: Json[] = [
  { name: 'workload-socket', mountPath: '/var/run/secrets/workload-spiffe-uds' },
  { name: 'credential-socket', mountPath: '/var/run/secrets/credential-uds' },
  { name: 'workload-certs', mountPath: '/var/run/secrets/workload-spiffe-credentials' },
  { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
  { name: 'istio-data', mountPath: '/var/lib/istio/data' },
  { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
  { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
  { name: 'istio-podinfo', mountPath: '/etc/istio/pod' },
];

/** Ports the init container leaves uncaptured inbound (`-d`): the agent's and Envoy's own. */
const EXCLUDED_INBOUND_PORTS = '15090,15021,15020';

/**
 * `istio-init` as the template declares it. The lab has no iptables: its capture layer applies the same
 * redirection (outbound to 15001, inbound to 15006, the proxy's own traffic exempt) when the pod starts, and
 * the kubelet reports this container Completed once that is in place.
 */
function istioInitContainer(): Json {
  return {
    name: 'istio-init',
    image: PROXY_IMAGE,
    args: [
      'istio-iptables',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      '1337',
      '-m',
      'REDIRECT',
      '-i',
      '*',
      '-x',
      '',
      '-b',
      '*',
      '-d',
      EXCLUDED_INBOUND_PORTS,
      '--log_output_level=default:info',
    ],
    resources: structuredClone(SIDECAR_RESOURCES),
  };
}

/** The sidecar's arguments in Istio 1.17's template with the demo profile's settings. */
const SIDECAR_ARGS = [
  'proxy',
  'sidecar',
  '--domain',
  '$(POD_NAMESPACE).svc.cluster.local',
  '--proxyLogLevel=warning',
  '--proxyComponentLogLevel=misc:error',
  '--log_output_level=default:info',
  '--concurrency',
  '2',
];

function fieldEnv(name: string, fieldPath: string): Json {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

/**
 * Returns the pod with a sidecar injected (a new object). `workloadName` is the owning Deployment's name,
 * the canonical service name when the pod has no `app` label.
 */
export function injectSidecar(pod: Json, workloadName: string): Json {
  const out = structuredClone(pod);
  const meta: Json = isRecord(out['metadata']) ? out['metadata'] : (out['metadata'] = {});
  const spec: Json = isRecord(out['spec']) ? out['spec'] : (out['spec'] = {});
  const labels = stringMap(meta['labels']);
  const annotations = stringMap(meta['annotations']);
  const containers = (Array.isArray(spec['containers']) ? spec['containers'] : []).filter(isRecord);
  labels['security.istio.io/tlsMode'] ??= 'istio';
  labels['service.istio.io/canonical-name'] ??=
    labels['app.kubernetes.io/name'] ?? labels['app'] ?? workloadName;
  labels['service.istio.io/canonical-revision'] ??=
    labels['app.kubernetes.io/version'] ?? labels['version'] ?? 'latest';
  const first = containers[0];
  const defaultContainer = first && typeof first['name'] === 'string' ? first['name'] : undefined;
  if (defaultContainer) {
    annotations['kubectl.kubernetes.io/default-container'] ??= defaultContainer;
    annotations['kubectl.kubernetes.io/default-logs-container'] ??= defaultContainer;
  }
  annotations['prometheus.io/path'] ??= '/stats/prometheus';
  annotations['prometheus.io/port'] ??= String(STATUS_PORT);
  annotations['prometheus.io/scrape'] ??= 'true';
  annotations['sidecar.istio.io/status'] = SIDECAR_STATUS;
  const ports = containerPorts(containers);
  const probers = rewriteProbes(containers);
  const appNames = containers.map((c) => c['name']).filter((n): n is string => typeof n === 'string');
  const env: Json[] = [
    { name: 'JWT_POLICY', value: 'third-party-jwt' },
    { name: 'PILOT_CERT_PROVIDER', value: 'istiod' },
    { name: 'CA_ADDR', value: 'istiod.istio-system.svc:15012' },
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('INSTANCE_IP', 'status.podIP'),
    fieldEnv('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    fieldEnv('HOST_IP', 'status.hostIP'),
    { name: 'PROXY_CONFIG', value: '{}\n' },
    { name: 'ISTIO_META_POD_PORTS', value: podPortsEnv(ports) },
    { name: 'ISTIO_META_APP_CONTAINERS', value: appNames.join(',') },
    { name: 'ISTIO_META_CLUSTER_ID', value: 'Kubernetes' },
    fieldEnv('ISTIO_META_NODE_NAME', 'spec.nodeName'),
    { name: 'ISTIO_META_INTERCEPTION_MODE', value: 'REDIRECT' },
    { name: 'ISTIO_META_WORKLOAD_NAME', value: workloadName },
    {
      name: 'ISTIO_META_OWNER',
      value: `kubernetes://apis/apps/v1/namespaces/${typeof meta['namespace'] === 'string' ? meta['namespace'] : 'default'}/deployments/${workloadName}`,
    },
    { name: 'ISTIO_META_MESH_ID', value: 'cluster.local' },
    { name: 'TRUST_DOMAIN', value: 'cluster.local' },
    { name: 'ISTIO_METAJSON_LABELS', value: JSON.stringify(labels) },
  ];
  if (Object.keys(probers).length > 0)
    env.push({ name: 'ISTIO_KUBE_APP_PROBERS', value: JSON.stringify(probers) });
  const sidecar: Json = {
    name: SIDECAR_CONTAINER,
    image: PROXY_IMAGE,
    args: [...SIDECAR_ARGS],
    env,
    ports: [{ containerPort: 15090, name: 'http-envoy-prom', protocol: 'TCP' }],
    resources: structuredClone(SIDECAR_RESOURCES),
    readinessProbe: {
      httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' },
      initialDelaySeconds: 1,
      periodSeconds: 2,
      timeoutSeconds: 3,
      failureThreshold: 30,
    },
    volumeMounts: structuredClone(SIDECAR_MOUNTS),
  };
  const inits = (Array.isArray(spec['initContainers']) ? spec['initContainers'] : []).filter(isRecord);
  spec['initContainers'] = [...inits, istioInitContainer()];
  spec['containers'] = [...containers, sidecar];
  const volumes = (Array.isArray(spec['volumes']) ? spec['volumes'] : []).filter(isRecord);
  spec['volumes'] = [...sidecarVolumes(), ...volumes];
  meta['labels'] = labels;
  meta['annotations'] = annotations;
  return out;
}
