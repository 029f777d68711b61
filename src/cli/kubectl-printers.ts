/**
 * kubectl's table columns for the kinds skiff serves (k8s.io/kubernetes pkg/printers/internalversion for
 * built-in kinds; the CRDs' additionalPrinterColumns of Istio 1.17 for its kinds; NAME and AGE for the rest),
 * AGE in kubectl's humanized form (apimachinery duration.HumanDuration), and the tabwriter kubectl uses
 * (cli-runtime printers.GetNewTabWriter: minwidth 6, tabwidth 4, padding 3).
 */
import type { KindInfo } from '../api/index.js';
import type { KubeObject } from './kubectl-client.js';
import type { TabWriterOptions } from './tabwriter.js';
import { tabulate } from './tabwriter.js';

export const KUBECTL_TABLE: TabWriterOptions = { minwidth: 6, tabwidth: 4, padding: 3, padchar: ' ' };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function at(o: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObj(cur) ? cur[p] : undefined;
  }
  return cur;
}

function str(o: unknown, ...path: (string | number)[]): string {
  const v = at(o, ...path);
  return typeof v === 'string' ? v : '';
}

function num(o: unknown, ...path: (string | number)[]): number {
  const v = at(o, ...path);
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function arr(o: unknown, ...path: (string | number)[]): unknown[] {
  const v = at(o, ...path);
  return Array.isArray(v) ? v : [];
}

/** duration.HumanDuration: `64s`, `2m3s`, `38m`, `3h50m`, `5d2h`, `2y30d`. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    const y = Math.trunc(hours / 24 / 365);
    return dy === 0 ? `${y}y` : `${y}y${dy}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/** translateTimestampSince: `<unknown>` without a timestamp. */
export function age(timestamp: unknown, now: number): string {
  if (typeof timestamp !== 'string' || timestamp === '') return '<unknown>';
  const t = Date.parse(timestamp);
  return Number.isFinite(t) ? humanDuration(now - t) : '<unknown>';
}

export interface Columns {
  headers: string[];
  wideHeaders?: string[];
  row: (o: KubeObject, now: number) => string[];
  wideRow?: (o: KubeObject, now: number) => string[];
}

const NONE = '<none>';

function podStatus(pod: KubeObject): string {
  if (at(pod, 'metadata', 'deletionTimestamp') !== undefined) return 'Terminating';
  let reason = str(pod, 'status', 'reason') || str(pod, 'status', 'phase') || 'Pending';
  for (const s of arr(pod, 'status', 'initContainerStatuses')) {
    const waiting = str(s, 'state', 'waiting', 'reason');
    if (waiting && waiting !== 'PodInitializing') return `Init:${waiting}`;
  }
  for (const s of arr(pod, 'status', 'containerStatuses')) {
    const waiting = str(s, 'state', 'waiting', 'reason');
    const terminated = str(s, 'state', 'terminated', 'reason');
    if (waiting) reason = waiting;
    else if (terminated) reason = terminated;
  }
  return reason;
}

function podRestarts(pod: KubeObject, now: number): string {
  let restarts = 0;
  let last = 0;
  for (const s of arr(pod, 'status', 'containerStatuses')) {
    restarts += num(s, 'restartCount');
    const finished = Date.parse(str(s, 'lastState', 'terminated', 'finishedAt'));
    if (Number.isFinite(finished) && finished > last) last = finished;
  }
  // kubectl 1.24+ says how long ago the last restart was.
  return restarts > 0 && last > 0 ? `${restarts} (${humanDuration(now - last)} ago)` : String(restarts);
}

function podReady(pod: KubeObject): string {
  const containers = arr(pod, 'spec', 'containers').length;
  const ready = arr(pod, 'status', 'containerStatuses').filter((s) => at(s, 'ready') === true).length;
  return `${ready}/${containers}`;
}

function servicePorts(svc: KubeObject): string {
  const ports = arr(svc, 'spec', 'ports').map((p) => {
    const port = num(p, 'port');
    const node = num(p, 'nodePort');
    const protocol = str(p, 'protocol') || 'TCP';
    return node ? `${port}:${node}/${protocol}` : `${port}/${protocol}`;
  });
  return ports.length > 0 ? ports.join(',') : NONE;
}

function externalIP(svc: KubeObject): string {
  const type = str(svc, 'spec', 'type') || 'ClusterIP';
  const externalIPs = arr(svc, 'spec', 'externalIPs').filter((x): x is string => typeof x === 'string');
  if (type === 'LoadBalancer') {
    const ingress = arr(svc, 'status', 'loadBalancer', 'ingress')
      .map((i) => str(i, 'ip') || str(i, 'hostname'))
      .filter((x) => x !== '');
    const all = [...ingress, ...externalIPs];
    return all.length > 0 ? all.join(',') : '<pending>';
  }
  if (type === 'ExternalName') return str(svc, 'spec', 'externalName') || NONE;
  return externalIPs.length > 0 ? externalIPs.join(',') : NONE;
}

function selectorText(v: unknown): string {
  if (!isObj(v)) return NONE;
  const pairs = Object.entries(v)
    .filter(([, val]) => typeof val === 'string')
    .map(([k, val]) => `${k}=${String(val)}`);
  return pairs.length > 0 ? pairs.sort().join(',') : NONE;
}

function endpointsText(ep: KubeObject): string {
  const list: string[] = [];
  for (const subset of arr(ep, 'subsets')) {
    const ports = arr(subset, 'ports').map((p) => num(p, 'port'));
    for (const a of arr(subset, 'addresses')) {
      const ip = str(a, 'ip');
      if (ports.length === 0) list.push(ip);
      for (const port of ports) list.push(`${ip}:${port}`);
    }
  }
  if (list.length === 0) return NONE;
  return list.length > 3 ? `${list.slice(0, 3).join(',')} + ${list.length - 3} more...` : list.join(',');
}

/** CRD columns print arrays and objects as JSON and leave missing values empty. */
function crdCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

const nameCol = (o: KubeObject) => str(o, 'metadata', 'name');
const ageCol = (o: KubeObject, now: number) => age(at(o, 'metadata', 'creationTimestamp'), now);

const COLUMNS: Record<string, Columns> = {
  '/Pod': {
    headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wideHeaders: ['IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES'],
    row: (o, now) => [nameCol(o), podReady(o), podStatus(o), podRestarts(o, now), ageCol(o, now)],
    wideRow: (o) => [
      str(o, 'status', 'podIP') || NONE,
      str(o, 'spec', 'nodeName') || NONE,
      str(o, 'status', 'nominatedNodeName') || NONE,
      NONE,
    ],
  },
  '/Service': {
    headers: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wideHeaders: ['SELECTOR'],
    row: (o, now) => [
      nameCol(o),
      str(o, 'spec', 'type') || 'ClusterIP',
      str(o, 'spec', 'clusterIP') || NONE,
      externalIP(o),
      servicePorts(o),
      ageCol(o, now),
    ],
    wideRow: (o) => [selectorText(at(o, 'spec', 'selector'))],
  },
  'apps/Deployment': {
    headers: ['NAME', 'READY', 'UP-TO-DATE', 'AVAILABLE', 'AGE'],
    wideHeaders: ['CONTAINERS', 'IMAGES', 'SELECTOR'],
    row: (o, now) => [
      nameCol(o),
      `${num(o, 'status', 'readyReplicas')}/${typeof at(o, 'spec', 'replicas') === 'number' ? num(o, 'spec', 'replicas') : 1}`,
      String(num(o, 'status', 'updatedReplicas')),
      String(num(o, 'status', 'availableReplicas')),
      ageCol(o, now),
    ],
    wideRow: (o) => [
      arr(o, 'spec', 'template', 'spec', 'containers')
        .map((c) => str(c, 'name'))
        .join(','),
      arr(o, 'spec', 'template', 'spec', 'containers')
        .map((c) => str(c, 'image'))
        .join(','),
      selectorText(at(o, 'spec', 'selector', 'matchLabels')),
    ],
  },
  'apps/ReplicaSet': {
    headers: ['NAME', 'DESIRED', 'CURRENT', 'READY', 'AGE'],
    row: (o, now) => [
      nameCol(o),
      String(num(o, 'spec', 'replicas')),
      String(num(o, 'status', 'replicas')),
      String(num(o, 'status', 'readyReplicas')),
      ageCol(o, now),
    ],
  },
  '/Namespace': {
    headers: ['NAME', 'STATUS', 'AGE'],
    row: (o, now) => [nameCol(o), str(o, 'status', 'phase') || 'Active', ageCol(o, now)],
  },
  '/Endpoints': {
    headers: ['NAME', 'ENDPOINTS', 'AGE'],
    row: (o, now) => [nameCol(o), endpointsText(o), ageCol(o, now)],
  },
  '/ConfigMap': {
    headers: ['NAME', 'DATA', 'AGE'],
    row: (o, now) => [
      nameCol(o),
      String(
        Object.keys(isObj(at(o, 'data')) ? (at(o, 'data') as Obj) : {}).length +
          Object.keys(isObj(at(o, 'binaryData')) ? (at(o, 'binaryData') as Obj) : {}).length,
      ),
      ageCol(o, now),
    ],
  },
  '/Secret': {
    headers: ['NAME', 'TYPE', 'DATA', 'AGE'],
    row: (o, now) => [
      nameCol(o),
      str(o, 'type') || 'Opaque',
      String(Object.keys(isObj(at(o, 'data')) ? (at(o, 'data') as Obj) : {}).length),
      ageCol(o, now),
    ],
  },
  '/ServiceAccount': {
    headers: ['NAME', 'SECRETS', 'AGE'],
    row: (o, now) => [nameCol(o), String(arr(o, 'secrets').length), ageCol(o, now)],
  },
  'networking.istio.io/VirtualService': {
    headers: ['NAME', 'GATEWAYS', 'HOSTS', 'AGE'],
    row: (o, now) => [
      nameCol(o),
      crdCell(at(o, 'spec', 'gateways')),
      crdCell(at(o, 'spec', 'hosts')),
      ageCol(o, now),
    ],
  },
  'networking.istio.io/DestinationRule': {
    headers: ['NAME', 'HOST', 'AGE'],
    row: (o, now) => [nameCol(o), crdCell(at(o, 'spec', 'host')), ageCol(o, now)],
  },
  'networking.istio.io/ServiceEntry': {
    headers: ['NAME', 'HOSTS', 'LOCATION', 'RESOLUTION', 'AGE'],
    row: (o, now) => [
      nameCol(o),
      crdCell(at(o, 'spec', 'hosts')),
      crdCell(at(o, 'spec', 'location')),
      crdCell(at(o, 'spec', 'resolution')),
      ageCol(o, now),
    ],
  },
  'networking.istio.io/WorkloadEntry': {
    headers: ['NAME', 'AGE', 'ADDRESS'],
    row: (o, now) => [nameCol(o), ageCol(o, now), crdCell(at(o, 'spec', 'address'))],
  },
  'security.istio.io/PeerAuthentication': {
    headers: ['NAME', 'MODE', 'AGE'],
    row: (o, now) => [nameCol(o), crdCell(at(o, 'spec', 'mtls', 'mode')), ageCol(o, now)],
  },
};

const DEFAULT_COLUMNS: Columns = {
  headers: ['NAME', 'AGE'],
  row: (o, now) => [nameCol(o), ageCol(o, now)],
};

export function columnsFor(info: KindInfo): Columns {
  return COLUMNS[`${info.group}/${info.kind}`] ?? DEFAULT_COLUMNS;
}

export interface TableOptions {
  wide: boolean;
  /** `-A`: a NAMESPACE column first. */
  withNamespace: boolean;
  /** Several kinds asked for: names print as `<kind>.<group>/<name>`. */
  kindPrefix?: string;
  noHeaders?: boolean;
  showLabels?: boolean;
  now: number;
}

/** One kind's table, aligned as kubectl aligns it. */
export function renderTable(info: KindInfo, items: readonly KubeObject[], opts: TableOptions): string {
  const cols = columnsFor(info);
  const headers = [...cols.headers, ...(opts.wide ? (cols.wideHeaders ?? []) : [])];
  if (opts.withNamespace) headers.unshift('NAMESPACE');
  if (opts.showLabels) headers.push('LABELS');
  const lines: string[][] = [];
  if (!opts.noHeaders) lines.push(headers);
  for (const item of items) {
    const cells = [...cols.row(item, opts.now), ...(opts.wide ? (cols.wideRow?.(item, opts.now) ?? []) : [])];
    if (opts.kindPrefix) cells[0] = `${opts.kindPrefix}/${cells[0] ?? ''}`;
    if (opts.withNamespace) cells.unshift(str(item, 'metadata', 'namespace'));
    if (opts.showLabels) cells.push(labelsText(at(item, 'metadata', 'labels')));
    lines.push(cells);
  }
  return tabulate(lines.map((cells) => `${cells.join('\t')}\n`).join(''), KUBECTL_TABLE);
}

function labelsText(v: unknown): string {
  if (!isObj(v)) return NONE;
  const pairs = Object.keys(v)
    .sort()
    .map((k) => `${k}=${String(v[k])}`);
  return pairs.length > 0 ? pairs.join(',') : NONE;
}
