/**
 * `skiff describe <kind> [name...] [-n ns] [-l selector] [-A]` (kubectl describe) against the lab's REST
 * API: kubectl's pages for Pod, Service, Deployment and ConfigMap; any other kind gets kubectl's generic
 * page (the object's fields under smart labels). As kubectl, a single name that matches nothing describes
 * every object whose name starts with it, and pages are separated by a blank line pair.
 */
import type { Command } from 'commander';
import type { KindInfo } from '../api/index.js';
import { EXIT, usageError } from './errors.js';
import type { CommandIO } from './io.js';
import type { KubeObject } from './kubectl-client.js';
import {
  ApiError,
  apiRequest,
  listObjects,
  objectPath,
  resolveKind,
  resolveServer,
} from './kubectl-client.js';
import { describePod, describePodTemplate } from './kubectl-describe-pod.js';
import type { Json } from './kubectl-describe-writer.js';
import {
  DescribeWriter,
  at,
  formatLabels,
  goCompare,
  isJson,
  list,
  num,
  rfc1123z,
  str,
  stringMap,
  writeAnnotations,
  writeEvents,
  writeLabels,
} from './kubectl-describe-writer.js';
import { serverOption } from './kubectl-get.js';

export interface DescribeFlags {
  namespace?: string;
  allNamespaces?: boolean;
  selector?: string;
  server?: string;
  stateDir?: string;
}

/** What a page needs besides the object: related objects read through the API. */
export interface DescribeContext {
  endpoints?: Json;
  replicaSets?: Json[];
}

/** formatEndpoints: `ip:port` of the port's addresses, at most three, then `+ N more...`. */
export function formatEndpoints(endpoints: Json | undefined, portName: string): string {
  const subsets = list(endpoints, 'subsets');
  if (subsets.length === 0) return '<none>';
  const shown: string[] = [];
  let count = 0;
  for (const ss of subsets) {
    const addresses = list(ss, 'addresses');
    const ports = list(ss, 'ports');
    const targets =
      ports.length === 0
        ? addresses.map((a) => str(a, 'ip'))
        : ports
            .filter((p) => str(p, 'name') === portName)
            .flatMap((p) => addresses.map((a) => `${str(a, 'ip')}:${num(p, 'port') ?? 0}`));
    for (const t of targets) {
      if (shown.length < 3) shown.push(t);
      count++;
    }
  }
  const text = shown.join(',');
  return count > 3 ? `${text} + ${count - 3} more...` : text;
}

export function describeService(w: DescribeWriter, svc: Json, ctx: DescribeContext): void {
  const spec = isJson(svc['spec']) ? svc['spec'] : {};
  const type = str(spec, 'type') || 'ClusterIP';
  w.write(0, `Name:\t${str(svc, 'metadata', 'name')}\n`);
  w.write(0, `Namespace:\t${str(svc, 'metadata', 'namespace')}\n`);
  writeLabels(w, 'Labels', stringMap(at(svc, 'metadata', 'labels')));
  writeAnnotations(w, 'Annotations', stringMap(at(svc, 'metadata', 'annotations')));
  w.write(0, `Selector:\t${formatLabels(stringMap(spec['selector']))}\n`);
  w.write(0, `Type:\t${type}\n`);
  // What the API server defaults on a single-stack cluster.
  w.write(0, `IP Family Policy:\t${str(spec, 'ipFamilyPolicy') || 'SingleStack'}\n`);
  const families = Array.isArray(spec['ipFamilies']) ? spec['ipFamilies'].map(String) : ['IPv4'];
  w.write(0, `IP Families:\t${families.join(',') || '<none>'}\n`);
  w.write(0, `IP:\t${str(spec, 'clusterIP')}\n`);
  const ips = Array.isArray(spec['clusterIPs']) ? spec['clusterIPs'].map(String) : [];
  w.write(0, `IPs:\t${ips.length > 0 ? ips.join(',') : '<none>'}\n`);
  const external = Array.isArray(spec['externalIPs']) ? spec['externalIPs'].map(String) : [];
  if (external.length > 0) w.write(0, `External IPs:\t${external.join(',')}\n`);
  if (str(spec, 'externalName') !== '') w.write(0, `External Name:\t${str(spec, 'externalName')}\n`);
  for (const p of list(spec, 'ports')) {
    const name = str(p, 'name') || '<unset>';
    const protocol = str(p, 'protocol') || 'TCP';
    w.write(0, `Port:\t${name}\t${num(p, 'port') ?? 0}/${protocol}\n`);
    const target = p['targetPort'] ?? p['port'];
    w.write(
      0,
      `TargetPort:\t${typeof target === 'number' || typeof target === 'string' ? target : ''}/${protocol}\n`,
    );
    if (str(p, 'appProtocol') !== '') w.write(0, `AppProtocol:\t${str(p, 'appProtocol')}\n`);
    const nodePort = num(p, 'nodePort') ?? 0;
    if (nodePort !== 0) w.write(0, `NodePort:\t${name}\t${nodePort}/${protocol}\n`);
    w.write(0, `Endpoints:\t${formatEndpoints(ctx.endpoints, str(p, 'name'))}\n`);
  }
  w.write(0, `Session Affinity:\t${str(spec, 'sessionAffinity') || 'None'}\n`);
  const external2 =
    str(spec, 'externalTrafficPolicy') || (type === 'NodePort' || type === 'LoadBalancer' ? 'Cluster' : '');
  if (external2 !== '') w.write(0, `External Traffic Policy:\t${external2}\n`);
  if (type !== 'ExternalName')
    w.write(0, `Internal Traffic Policy:\t${str(spec, 'internalTrafficPolicy') || 'Cluster'}\n`);
  writeEvents(w, []);
}

/** metav1.LabelSelectorAsSelector's text for matchLabels and matchExpressions. */
function selectorText(selector: unknown): string {
  const parts = Object.entries(stringMap(at(selector, 'matchLabels'))).map(([k, v]) => `${k}=${v}`);
  for (const e of list(selector, 'matchExpressions')) {
    const values = Array.isArray(e['values']) ? e['values'].map(String).sort(goCompare) : [];
    const op = str(e, 'operator');
    if (op === 'Exists') parts.push(str(e, 'key'));
    else if (op === 'DoesNotExist') parts.push(`!${str(e, 'key')}`);
    else parts.push(`${str(e, 'key')} ${op === 'NotIn' ? 'notin' : 'in'} (${values.join(',')})`);
  }
  return parts.sort(goCompare).join(',');
}

function intOrPercent(v: unknown, dflt: string): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : dflt;
}

export function describeDeployment(w: DescribeWriter, d: Json, ctx: DescribeContext): void {
  const spec = isJson(d['spec']) ? d['spec'] : {};
  const status = isJson(d['status']) ? d['status'] : {};
  w.write(0, `Name:\t${str(d, 'metadata', 'name')}\n`);
  w.write(0, `Namespace:\t${str(d, 'metadata', 'namespace')}\n`);
  w.write(0, `CreationTimestamp:\t${rfc1123z(at(d, 'metadata', 'creationTimestamp'))}\n`);
  writeLabels(w, 'Labels', stringMap(at(d, 'metadata', 'labels')));
  writeAnnotations(w, 'Annotations', stringMap(at(d, 'metadata', 'annotations')));
  w.write(0, `Selector:\t${selectorText(spec['selector'])}\n`);
  const n = (field: string): number => num(status, field) ?? 0;
  const replicas = num(spec, 'replicas') ?? 1;
  const unavailable =
    num(status, 'unavailableReplicas') ?? Math.max(0, n('replicas') - n('availableReplicas'));
  w.write(
    0,
    `Replicas:\t${replicas} desired | ${n('updatedReplicas')} updated | ${n('replicas')} total | ${n('availableReplicas')} available | ${unavailable} unavailable\n`,
  );
  const strategy = isJson(spec['strategy']) ? spec['strategy'] : {};
  const strategyType = str(strategy, 'type') || 'RollingUpdate';
  w.write(0, `StrategyType:\t${strategyType}\n`);
  w.write(0, `MinReadySeconds:\t${num(spec, 'minReadySeconds') ?? 0}\n`);
  if (strategyType === 'RollingUpdate') {
    const ru = isJson(strategy['rollingUpdate']) ? strategy['rollingUpdate'] : {};
    w.write(
      0,
      `RollingUpdateStrategy:\t${intOrPercent(ru['maxUnavailable'], '25%')} max unavailable, ${intOrPercent(ru['maxSurge'], '25%')} max surge\n`,
    );
  }
  describePodTemplate(w, spec['template']);
  const conditions = list(status, 'conditions');
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n  Type\tStatus\tReason\n');
    w.write(1, '----\t------\t------\n');
    for (const c of conditions) w.write(1, `${str(c, 'type')} \t${str(c, 'status')}\t${str(c, 'reason')}\n`);
  }
  const owned = ctx.replicaSets ?? [];
  if (owned.length > 0) {
    // The newest ReplicaSet is the one the current template made; the others are old.
    const sorted = [...owned].sort((a, b) =>
      goCompare(str(b, 'metadata', 'creationTimestamp'), str(a, 'metadata', 'creationTimestamp')),
    );
    const text = (items: Json[]): string =>
      items
        .map(
          (rs) =>
            `${str(rs, 'metadata', 'name')} (${num(rs, 'status', 'replicas') ?? 0}/${num(rs, 'spec', 'replicas') ?? 0} replicas created)`,
        )
        .join(', ') || '<none>';
    w.write(
      0,
      `OldReplicaSets:\t${text(sorted.slice(1).filter((rs) => (num(rs, 'spec', 'replicas') ?? 0) > 0))}\n`,
    );
    w.write(0, `NewReplicaSet:\t${text(sorted.slice(0, 1))}\n`);
  }
  writeEvents(w, []);
}

export function describeConfigMap(w: DescribeWriter, cm: Json): void {
  w.write(0, `Name:\t${str(cm, 'metadata', 'name')}\n`);
  w.write(0, `Namespace:\t${str(cm, 'metadata', 'namespace')}\n`);
  writeLabels(w, 'Labels', stringMap(at(cm, 'metadata', 'labels')));
  writeAnnotations(w, 'Annotations', stringMap(at(cm, 'metadata', 'annotations')));
  w.write(0, '\nData\n====\n');
  const data = stringMap(cm['data']);
  for (const k of Object.keys(data).sort(goCompare)) {
    w.write(0, `${k}:\n----\n`);
    w.write(0, `${data[k] ?? ''}\n`);
    w.write(0, '\n');
  }
  w.write(0, '\nBinaryData\n====\n');
  const binary = stringMap(cm['binaryData']);
  for (const k of Object.keys(binary).sort(goCompare))
    w.write(0, `${k}: ${Buffer.from(binary[k] ?? '', 'base64').length} bytes\n`);
  w.write(0, '\n');
  writeEvents(w, []);
}

const ACRONYMS = ['API', 'URL', 'UID', 'OSB', 'GUID'];

/** kubectl's smartLabelFor: `creationTimestamp` → `Creation Timestamp`, `apiVersion` → `API Version`. */
export function smartLabel(field: string): string {
  if (/[^A-Za-z-]/.test(field)) return field;
  const parts = field.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|-+/g) ?? [field];
  return parts
    .map((p) =>
      ACRONYMS.includes(p.toUpperCase()) ? p.toUpperCase() : p.charAt(0).toUpperCase() + p.slice(1),
    )
    .join(' ');
}

const GENERIC_SKIP = new Set([
  '.metadata.managedFields',
  '.metadata.name',
  '.metadata.namespace',
  '.metadata.labels',
  '.metadata.annotations',
]);

function scalar(v: unknown): string {
  return v === null || v === undefined ? '<nil>' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** printUnstructuredContent: fields in key order, maps and lists nested one level deeper. */
function writeUnstructured(w: DescribeWriter, level: number, content: Json, prefix: string): void {
  for (const field of Object.keys(content).sort(goCompare)) {
    const value = content[field];
    const path = `${prefix}.${field}`;
    if (GENERIC_SKIP.has(path)) continue;
    if (isJson(value)) {
      w.write(level, `${smartLabel(field)}:\n`);
      writeUnstructured(w, level + 1, value, path);
    } else if (Array.isArray(value)) {
      w.write(level, `${smartLabel(field)}:\n`);
      for (const child of value) {
        if (isJson(child)) writeUnstructured(w, level + 1, child, path);
        else w.write(level + 1, `${scalar(child)}\n`);
      }
    } else {
      w.write(level, `${smartLabel(field)}:\t${scalar(value)}\n`);
    }
  }
}

export function describeGeneric(w: DescribeWriter, o: Json): void {
  w.write(0, `Name:\t${str(o, 'metadata', 'name')}\n`);
  w.write(0, `Namespace:\t${str(o, 'metadata', 'namespace')}\n`);
  writeLabels(w, 'Labels', stringMap(at(o, 'metadata', 'labels')));
  writeAnnotations(w, 'Annotations', stringMap(at(o, 'metadata', 'annotations')));
  writeUnstructured(w, 0, o, '');
  writeEvents(w, []);
}

/** One object's page. */
export function describeObject(info: KindInfo, o: Json, ctx: DescribeContext = {}): string {
  const w = new DescribeWriter();
  switch (`${info.group}/${info.kind}`) {
    case '/Pod':
      describePod(w, o);
      break;
    case '/Service':
      describeService(w, o, ctx);
      break;
    case 'apps/Deployment':
      describeDeployment(w, o, ctx);
      break;
    case '/ConfigMap':
      describeConfigMap(w, o);
      break;
    default:
      describeGeneric(w, o);
  }
  return w.toString();
}

async function contextFor(server: string, info: KindInfo, o: KubeObject): Promise<DescribeContext> {
  const ns = str(o, 'metadata', 'namespace');
  const name = str(o, 'metadata', 'name');
  if (info.kind === 'Service' && info.group === '') {
    try {
      return { endpoints: await apiRequest(server, objectPath(resolveKind('endpoints'), ns, name)) };
    } catch {
      return {};
    }
  }
  if (info.kind === 'Deployment') {
    const uid = str(o, 'metadata', 'uid');
    const all = await listObjects(server, resolveKind('replicasets'), { namespace: ns }).catch(
      () => [] as KubeObject[],
    );
    return {
      replicaSets: all.filter((rs) =>
        list(rs, 'metadata', 'ownerReferences').some((r) => r['uid'] === uid && r['controller'] === true),
      ),
    };
  }
  return {};
}

function nameOf(o: KubeObject): string {
  return str(o, 'metadata', 'name');
}

async function targets(
  server: string,
  args: string[],
  flags: DescribeFlags,
): Promise<{ info: KindInfo; object: KubeObject }[]> {
  const namespace = flags.namespace ?? 'default';
  const [first, ...rest] = args;
  if (first === undefined) throw usageError('You must specify the type of resource to describe.');
  if (first.includes('/')) {
    const out: { info: KindInfo; object: KubeObject }[] = [];
    for (const arg of args) {
      const slash = arg.indexOf('/');
      const info = resolveKind(arg.slice(0, slash));
      out.push({ info, object: await apiRequest(server, objectPath(info, namespace, arg.slice(slash + 1))) });
    }
    return out;
  }
  const info = resolveKind(first);
  const listNs = flags.allNamespaces || !info.namespaced ? undefined : namespace;
  if (rest.length === 0) {
    const items = await listObjects(server, info, { namespace: listNs, labelSelector: flags.selector });
    return items.map((object) => ({ info, object }));
  }
  const out: { info: KindInfo; object: KubeObject }[] = [];
  for (const name of rest) {
    try {
      out.push({ info, object: await apiRequest(server, objectPath(info, namespace, name)) });
    } catch (err) {
      // kubectl describes every object whose name starts with a single name that matched nothing.
      if (!(err instanceof ApiError) || err.status !== 404 || rest.length !== 1) throw err;
      const matches = (await listObjects(server, info, { namespace: listNs })).filter((o) =>
        nameOf(o).startsWith(name),
      );
      if (matches.length === 0) throw err;
      out.push(...matches.map((object) => ({ info, object })));
    }
  }
  return out;
}

export async function describeCommand(args: string[], flags: DescribeFlags, io: CommandIO): Promise<number> {
  const server = await resolveServer(flags, io);
  let found: { info: KindInfo; object: KubeObject }[];
  try {
    found = await targets(server, args, flags);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    io.stderr(`${err.message}\n`);
    return EXIT.unknown;
  }
  if (found.length === 0) {
    const ns = flags.allNamespaces ? '' : ` in ${flags.namespace ?? 'default'} namespace`;
    io.stderr(`No resources found${ns}.\n`);
    return EXIT.ok;
  }
  let first = true;
  for (const { info, object } of found) {
    const page = describeObject(info, object, await contextFor(server, info, object));
    io.stdout(first ? page : `\n\n${page}`);
    first = false;
  }
  return EXIT.ok;
}

export function registerKubectlDescribe(
  program: Command,
  io: CommandIO,
  setExit: (code: number) => void,
): void {
  serverOption(
    program
      .command('describe')
      .description('Show details of a resource or group of resources (kubectl describe)')
      .argument('<args...>', 'TYPE [NAME_PREFIX...] or TYPE/NAME...')
      .option('-n, --namespace <namespace>', 'namespace (default "default")')
      .option('-A, --all-namespaces', 'describe across all namespaces')
      .option('-l, --selector <selector>', 'label selector, e.g. app=catalog'),
  ).action(async (args: string[], flags: DescribeFlags) => setExit(await describeCommand(args, flags, io)));
}
