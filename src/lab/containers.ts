/**
 * What a container runs in the lab, and with which environment. There are no images: an image names one of
 * the project's own programs — `skiff/catalog`, `skiff/webapp`, `skiff/sleep` (the sample apps, run as
 * `node dist/src/lab/apps/main.js <app>`) and `skiff/proxy` (or Istio's `proxyv2`: `apps/proxy-main.js`, what
 * `skiff proxy` runs, without the rest of the CLI).
 */
import { fileURLToPath } from 'node:url';
import type { KubeObject, ObjectStore } from '../store/index.js';
import { isAppName } from './apps/index.js';
import { podAppAddress } from './addresses.js';
import { SIDECAR_CONTAINER } from './inject.js';
import type { Json } from './objects.js';
import { arrayAt, isRecord, labelsOf, nsOf, recordAt, stringAt, stringMap, uidOf } from './objects.js';

export const APP_MAIN = fileURLToPath(new URL('./apps/main.js', import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL('../cli/main.js', import.meta.url));
/** The proxy's own entry point: the same settings as `skiff proxy`, without loading the whole CLI. */
export const PROXY_MAIN = fileURLToPath(new URL('./apps/proxy-main.js', import.meta.url));

export interface ContainerCommand {
  /** The script node runs, then its arguments. */
  script: string;
  args: string[];
  /** The program: an app name or `proxy`. */
  program: string;
}

/** The program an image names: its last path segment without tag or digest. */
export function imageProgram(image: string): string {
  const last = image.split('/').pop() ?? '';
  return last.replace(/[@:].*$/, '');
}

/** The command for a container, or a reason it cannot run (Kubernetes would fail to pull the image). */
export function containerCommand(container: Json): ContainerCommand | { error: string } {
  const image = stringAt(container, 'image') ?? '';
  const program = imageProgram(image);
  const args = (Array.isArray(container['args']) ? container['args'] : []).filter(
    (a): a is string => typeof a === 'string',
  );
  if (program === 'proxy' || program === 'proxyv2') {
    const kind = args.includes('router') ? 'router' : 'sidecar';
    return { script: PROXY_MAIN, args: ['proxy', kind], program: 'proxy' };
  }
  if (isAppName(program)) return { script: APP_MAIN, args: [program], program };
  return {
    error: `image "${image}" is not one of the lab's programs (skiff/catalog, skiff/webapp, skiff/sleep, skiff/proxy)`,
  };
}

/** Whether the pod carries an injected (or declared) sidecar: its apps then listen on the pod-private address. */
export function hasSidecar(pod: KubeObject): boolean {
  return arrayAt(pod['spec'], 'containers').some((c) => c['name'] === SIDECAR_CONTAINER);
}

/** Where an application container binds. */
export function appBindAddress(pod: KubeObject, podIP: string): string {
  return hasSidecar(pod) ? podAppAddress(podIP) : podIP;
}

function fieldValue(pod: KubeObject, podIP: string, path: string): string {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (m) {
    const map = m[1] === 'labels' ? labelsOf(pod) : stringMap(pod.metadata.annotations);
    return map[m[2] ?? ''] ?? '';
  }
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return nsOf(pod);
    case 'metadata.uid':
      return uidOf(pod);
    case 'spec.nodeName':
      return stringAt(pod['spec'], 'nodeName') ?? 'skiff';
    case 'spec.serviceAccountName':
      return stringAt(pod['spec'], 'serviceAccountName') ?? 'default';
    case 'status.podIP':
    case 'status.podIPs':
      return podIP;
    case 'status.hostIP':
      return '127.0.0.1';
    default:
      return '';
  }
}

/** Kubernetes' `$(VAR)` expansion ( `$$` escapes a dollar; unknown names stay as written). */
export function expandVars(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === '$$') return '$';
    return name !== undefined && name in vars ? (vars[name] ?? '') : whole;
  });
}

function keyRef(store: ObjectStore, kindKey: string, ns: string, ref: Json): string {
  const name = stringAt(ref, 'name');
  const key = stringAt(ref, 'key');
  if (!name || !key) return '';
  const o = store.get(kindKey, ns, name);
  const data = recordAt(o, 'data');
  const raw = stringAt(data, key) ?? '';
  return kindKey === '/Secret' ? Buffer.from(raw, 'base64').toString('utf8') : raw;
}

/** The container's declared environment, resolved (values, field refs, ConfigMap and Secret keys). */
export function containerEnv(
  store: ObjectStore,
  pod: KubeObject,
  podIP: string,
  container: Json,
): Record<string, string> {
  const out: Record<string, string> = {};
  const ns = nsOf(pod);
  for (const e of arrayAt(container, 'env')) {
    const name = stringAt(e, 'name');
    if (!name) continue;
    if (typeof e['value'] === 'string') {
      out[name] = expandVars(e['value'], out);
      continue;
    }
    const from = recordAt(e, 'valueFrom');
    if (isRecord(from['fieldRef']))
      out[name] = fieldValue(pod, podIP, stringAt(from['fieldRef'], 'fieldPath') ?? '');
    else if (isRecord(from['configMapKeyRef']))
      out[name] = keyRef(store, '/ConfigMap', ns, from['configMapKeyRef']);
    else if (isRecord(from['secretKeyRef'])) out[name] = keyRef(store, '/Secret', ns, from['secretKeyRef']);
    else out[name] = '';
  }
  return out;
}

/** The first declared container port, if any. */
export function firstPort(container: Json): number | undefined {
  for (const p of arrayAt(container, 'ports')) {
    const n = p['containerPort'];
    if (typeof n === 'number' && n > 0 && n <= 65535) return n;
  }
  return undefined;
}

export interface LabEnvContext {
  podIP: string;
  xdsAddress: string;
  /** Proxies: the CA (istiod 15012), the mounted mesh root and the projected token. */
  caAddress?: string;
  rootCertFile?: string;
  tokenFile?: string;
}

/**
 * The environment a container process gets: the lab's own settings (where to bind, the control plane, the
 * sidecar as HTTP proxy), then the container's declared env on top.
 */
export function processEnv(
  store: ObjectStore,
  pod: KubeObject,
  container: Json,
  command: ContainerCommand,
  ctx: LabEnvContext,
): Record<string, string> {
  const lab: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: '127.0.0.1',
    HOSTNAME: pod.metadata.name,
  };
  if (command.program === 'proxy') {
    lab['POD_NAME'] = pod.metadata.name;
    lab['POD_NAMESPACE'] = nsOf(pod);
    lab['INSTANCE_IP'] = ctx.podIP;
    lab['SERVICE_ACCOUNT'] = stringAt(pod['spec'], 'serviceAccountName') ?? 'default';
    lab['ISTIO_METAJSON_LABELS'] = JSON.stringify(labelsOf(pod));
    lab['SKIFF_XDS_ADDRESS'] = ctx.xdsAddress;
    if (ctx.caAddress && ctx.rootCertFile && ctx.tokenFile) {
      lab['SKIFF_CA_ADDRESS'] = ctx.caAddress;
      lab['SKIFF_CA_ROOT_CERT'] = ctx.rootCertFile;
      lab['SKIFF_TOKEN_FILE'] = ctx.tokenFile;
      // Istio's ECDSA option: a P-256 key costs well under a millisecond, RSA 2048 ~0.2 s of CPU per pod
      // start, which a cold `skiff up` pays for every proxy at once. A container's own env can say RSA.
      lab['ECC_SIGNATURE_ALGORITHM'] = 'ECDSA';
    }
    if (hasSidecar(pod) && command.args.includes('sidecar'))
      lab['SKIFF_APP_ADDRESS'] = podAppAddress(ctx.podIP);
  } else {
    lab['HOST'] = appBindAddress(pod, ctx.podIP);
    const port = firstPort(container);
    if (port !== undefined) lab['PORT'] = String(port);
    const version = labelsOf(pod)['version'];
    if (version) lab['VERSION'] = version;
    // Without iptables the sidecar is the app's HTTP proxy (outbound capture on 15001).
    if (hasSidecar(pod)) lab['HTTP_PROXY_ADDR'] = `${ctx.podIP}:15001`;
  }
  return { ...lab, ...containerEnv(store, pod, ctx.podIP, container) };
}
