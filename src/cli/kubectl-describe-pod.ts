/**
 * `skiff describe pod` and the pod template part of `describe deployment`, laid out as kubectl's
 * describePod / DescribePodTemplate (pkg/describe): containers with state, probes in the
 * `http-get http://:15021/healthz/ready delay=1s timeout=3s period=2s #success=1 #failure=30` form the lab
 * notes show, environment with field references resolved as kubectl resolves them (metadata only, so
 * `INSTANCE_IP:  (v1:status.podIP)` stays empty), conditions, volumes, QoS class, tolerations.
 */
import type { DescribeWriter, Json } from './kubectl-describe-writer.js';
import {
  at,
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

/** A probe port: a number, or a named port as written. */
function portText(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' ? String(v) : '';
}

/** DescribeProbe, in the `#success=N #failure=N` wording of the kubectl the lab notes use. */
export function describeProbe(probe: Json): string {
  const n = (field: string, dflt: number): number => num(probe, field) ?? dflt;
  const attrs =
    `delay=${n('initialDelaySeconds', 0)}s timeout=${n('timeoutSeconds', 1)}s period=${n('periodSeconds', 10)}s ` +
    `#success=${n('successThreshold', 1)} #failure=${n('failureThreshold', 3)}`;
  if (isJson(probe['exec'])) {
    const cmd = Array.isArray(probe['exec']['command']) ? probe['exec']['command'].map(String) : [];
    return `exec [${cmd.join(' ')}] ${attrs}`;
  }
  if (isJson(probe['httpGet'])) {
    const g = probe['httpGet'];
    const scheme = (str(g, 'scheme') || 'HTTP').toLowerCase();
    const host = str(g, 'host');
    const port = portText(g['port']);
    const hostPort = port !== '' ? (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`) : host;
    return `http-get ${scheme}://${hostPort}${str(g, 'path')} ${attrs}`;
  }
  if (isJson(probe['tcpSocket']))
    return `tcp-socket ${str(probe['tcpSocket'], 'host')}:${portText(probe['tcpSocket']['port'])} ${attrs}`;
  if (isJson(probe['grpc']))
    return `grpc <pod>:${portText(probe['grpc']['port'])} ${str(probe['grpc'], 'service')} ${attrs}`;
  return `unknown ${attrs}`;
}

/** fieldpath.ExtractFieldPathAsString: kubectl resolves only the pod's metadata. */
function resolveFieldRef(pod: Json | undefined, path: string): string {
  if (!pod) return '';
  const meta = isJson(pod['metadata']) ? pod['metadata'] : {};
  const m = /^metadata\.(labels|annotations)\['([^']*)'\]$/.exec(path);
  if (m) return stringMap(meta[m[1] ?? ''])[m[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name':
    case 'metadata.namespace':
    case 'metadata.uid':
      return str(meta, path.slice('metadata.'.length));
    case 'metadata.labels':
    case 'metadata.annotations': {
      const map = stringMap(meta[path.slice('metadata.'.length)]);
      return Object.keys(map)
        .sort(goCompare)
        .map((k) => `${k}="${map[k] ?? ''}"`)
        .join('\n');
    }
    default:
      return '';
  }
}

function portsText(ports: Json[], field: 'containerPort' | 'hostPort'): string {
  return ports.map((p) => `${num(p, field) ?? 0}/${str(p, 'protocol') || 'TCP'}`).join(', ');
}

function writeState(w: DescribeWriter, title: string, state: Json): void {
  if (isJson(state['running'])) {
    w.write(2, `${title}:\tRunning\n`);
    w.write(3, `Started:\t${rfc1123z(state['running']['startedAt'])}\n`);
  } else if (isJson(state['terminated'])) {
    const t = state['terminated'];
    w.write(2, `${title}:\tTerminated\n`);
    if (str(t, 'reason') !== '') w.write(3, `Reason:\t${str(t, 'reason')}\n`);
    if (str(t, 'message') !== '') w.write(3, `Message:\t${str(t, 'message')}\n`);
    w.write(3, `Exit Code:\t${num(t, 'exitCode') ?? 0}\n`);
    if ((num(t, 'signal') ?? 0) > 0) w.write(3, `Signal:\t${num(t, 'signal') ?? 0}\n`);
    w.write(3, `Started:\t${rfc1123z(t['startedAt'])}\n`);
    w.write(3, `Finished:\t${rfc1123z(t['finishedAt'])}\n`);
  } else {
    w.write(2, `${title}:\tWaiting\n`);
    const reason = str(state, 'waiting', 'reason');
    if (reason !== '') w.write(3, `Reason:\t${reason}\n`);
  }
}

function writeResources(w: DescribeWriter, resources: unknown): void {
  for (const [field, title] of [
    ['limits', 'Limits'],
    ['requests', 'Requests'],
  ] as const) {
    const values = isJson(resources) && isJson(resources[field]) ? resources[field] : {};
    const names = Object.keys(values).sort(goCompare);
    if (names.length === 0) continue;
    w.write(2, `${title}:\n`);
    for (const name of names) w.write(3, `${name}:\t${portText(values[name])}\n`);
  }
}

function writeEnv(w: DescribeWriter, container: Json, pod: Json | undefined): void {
  const env = list(container, 'env');
  w.write(2, `Environment:${env.length === 0 ? '\t<none>' : ''}\n`);
  for (const e of env) {
    const name = str(e, 'name');
    const from = isJson(e['valueFrom']) ? e['valueFrom'] : undefined;
    if (!from) {
      str(e, 'value')
        .split('\n')
        .forEach((line, i) => w.write(3, i === 0 ? `${name}:\t${line}\n` : `\t${line}\n`));
      continue;
    }
    if (isJson(from['fieldRef'])) {
      const path = str(from['fieldRef'], 'fieldPath');
      const version = str(from['fieldRef'], 'apiVersion') || 'v1';
      w.write(3, `${name}:\t${resolveFieldRef(pod, path)} (${version}:${path})\n`);
    } else if (isJson(from['resourceFieldRef'])) {
      w.write(3, `${name}:\t (${str(from['resourceFieldRef'], 'resource')})\n`);
    } else if (isJson(from['secretKeyRef'])) {
      const r = from['secretKeyRef'];
      w.write(
        3,
        `${name}:\t<set to the key '${str(r, 'key')}' in secret '${str(r, 'name')}'>\tOptional: ${r['optional'] === true}\n`,
      );
    } else if (isJson(from['configMapKeyRef'])) {
      const r = from['configMapKeyRef'];
      w.write(
        3,
        `${name}:\t<set to the key '${str(r, 'key')}' of config map '${str(r, 'name')}'>\tOptional: ${r['optional'] === true}\n`,
      );
    }
  }
}

/** describeContainers: one block per container; `space` is two spaces inside a pod template. */
export function writeContainers(
  w: DescribeWriter,
  label: string,
  containers: Json[],
  statuses: Json[] | undefined,
  pod: Json | undefined,
  space = '',
): void {
  w.write(0, `${space}${label}:${containers.length === 0 ? ' <none>' : ''}\n`);
  for (const c of containers) {
    const name = str(c, 'name');
    const status = statuses?.find((s) => s['name'] === name);
    w.write(1, `${space === '' ? '' : ' '}${name}:\n`);
    if (status) w.write(2, `Container ID:\t${str(status, 'containerID')}\n`);
    w.write(2, `Image:\t${str(c, 'image')}\n`);
    if (status) w.write(2, `Image ID:\t${str(status, 'imageID')}\n`);
    const ports = list(c, 'ports');
    const ports1 = portsText(ports, 'containerPort');
    const hosts = portsText(ports, 'hostPort');
    w.write(2, ports1.includes(',') ? `Ports:\t${ports1}\n` : `Port:\t${ports1 || '<none>'}\n`);
    w.write(2, hosts.includes(',') ? `Host Ports:\t${hosts}\n` : `Host Port:\t${hosts || '<none>'}\n`);
    for (const [field, title] of [
      ['command', 'Command'],
      ['args', 'Args'],
    ] as const) {
      const items = Array.isArray(c[field]) ? (c[field] as unknown[]).map(String) : [];
      if (items.length === 0) continue;
      w.write(2, `${title}:\n`);
      for (const item of items) for (const line of item.split('\n')) w.write(3, `${line}\n`);
    }
    if (status) {
      writeState(w, 'State', isJson(status['state']) ? status['state'] : {});
      const last = at(status, 'lastState', 'terminated');
      if (isJson(last)) writeState(w, 'Last State', { terminated: last });
      w.write(2, `Ready:\t${status['ready'] === true ? 'True' : 'False'}\n`);
      w.write(2, `Restart Count:\t${num(status, 'restartCount') ?? 0}\n`);
    }
    writeResources(w, c['resources']);
    for (const [field, title] of [
      ['livenessProbe', 'Liveness'],
      ['readinessProbe', 'Readiness'],
      ['startupProbe', 'Startup'],
    ] as const) {
      const probe = c[field];
      if (isJson(probe)) w.write(2, `${title}:\t${describeProbe(probe)}\n`);
    }
    writeEnv(w, c, pod);
    const mounts = list(c, 'volumeMounts').sort((a, b) =>
      goCompare(str(a, 'mountPath'), str(b, 'mountPath')),
    );
    w.write(2, `Mounts:${mounts.length === 0 ? '\t<none>' : ''}\n`);
    for (const m of mounts)
      w.write(3, `${str(m, 'mountPath')} from ${str(m, 'name')} (${m['readOnly'] === true ? 'ro' : 'rw'})\n`);
  }
}

/** A Go `*bool` as `%v` prints it. */
const optionalText = (v: unknown): string => (typeof v === 'boolean' ? String(v) : '<nil>');

/** printProjectedVolumeSource: one line per source kind. */
function writeProjectedVolume(w: DescribeWriter, projected: Json): void {
  w.write(2, 'Type:\tProjected (a volume that contains injected data from multiple sources)\n');
  for (const source of list(projected, 'sources')) {
    if (isJson(source['secret'])) {
      w.write(2, `SecretName:\t${str(source['secret'], 'name')}\n`);
      w.write(2, `SecretOptionalName:\t${optionalText(source['secret']['optional'])}\n`);
    } else if (isJson(source['downwardAPI'])) {
      w.write(2, 'DownwardAPI:\ttrue\n');
    } else if (isJson(source['configMap'])) {
      w.write(2, `ConfigMapName:\t${str(source['configMap'], 'name')}\n`);
      w.write(2, `ConfigMapOptional:\t${optionalText(source['configMap']['optional'])}\n`);
    } else if (isJson(source['serviceAccountToken'])) {
      w.write(
        2,
        `TokenExpirationSeconds:\t${num(source['serviceAccountToken'], 'expirationSeconds') ?? 3600}\n`,
      );
    }
  }
}

function writeVolumes(w: DescribeWriter, volumes: Json[], space = ''): void {
  if (volumes.length === 0) {
    w.write(0, `${space}Volumes:\t<none>\n`);
    return;
  }
  w.write(0, `${space}Volumes:\n`);
  for (const v of volumes) {
    w.write(1, `${space === '' ? '' : ' '}${str(v, 'name')}:\n`);
    if (isJson(v['emptyDir'])) {
      w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n");
      w.write(2, `Medium:\t${str(v['emptyDir'], 'medium')}\n`);
      w.write(2, `SizeLimit:\t${str(v['emptyDir'], 'sizeLimit') || '<unset>'}\n`);
    } else if (isJson(v['configMap'])) {
      w.write(2, 'Type:\tConfigMap (a volume populated by a ConfigMap)\n');
      w.write(2, `Name:\t${str(v['configMap'], 'name')}\n`);
      w.write(2, `Optional:\t${v['configMap']['optional'] === true}\n`);
    } else if (isJson(v['secret'])) {
      w.write(2, 'Type:\tSecret (a volume populated by a Secret)\n');
      w.write(2, `SecretName:\t${str(v['secret'], 'secretName')}\n`);
      w.write(2, `Optional:\t${v['secret']['optional'] === true}\n`);
    } else if (isJson(v['downwardAPI'])) {
      w.write(2, 'Type:\tDownwardAPI (a volume populated by information about the pod)\n');
      w.write(2, 'Items:\n');
      for (const item of list(v['downwardAPI'], 'items')) {
        const ref = isJson(item['fieldRef'])
          ? str(item['fieldRef'], 'fieldPath')
          : str(item['resourceFieldRef'], 'resource');
        w.write(3, `${ref} -> ${str(item, 'path')}\n`);
      }
    } else if (isJson(v['projected'])) {
      writeProjectedVolume(w, v['projected']);
    } else {
      w.write(2, 'Type:\t<unknown>\n');
    }
  }
}

function writeTolerations(w: DescribeWriter, title: string, tolerations: Json[]): void {
  w.write(0, `${title}:\t`);
  if (tolerations.length === 0) {
    w.write(0, '<none>\n');
    return;
  }
  const sorted = [...tolerations].sort((a, b) => goCompare(str(a, 'key'), str(b, 'key')));
  sorted.forEach((t, i) => {
    if (i !== 0) w.write(0, '\t');
    let text = str(t, 'key');
    if (str(t, 'value') !== '') text += `=${str(t, 'value')}`;
    if (str(t, 'effect') !== '') text += `:${str(t, 'effect')}`;
    if (str(t, 'operator') === 'Exists' && str(t, 'value') === '')
      text += str(t, 'key') !== '' || str(t, 'effect') !== '' ? ' op=Exists' : 'op=Exists';
    const seconds = num(t, 'tolerationSeconds');
    if (seconds !== undefined) text += ` for ${seconds}s`;
    w.write(0, `${text}\n`);
  });
}

/** `Kind/name` of the controller owner reference, or ''. */
function controlledBy(o: Json): string {
  const owner = list(o, 'metadata', 'ownerReferences').find((r) => r['controller'] === true);
  return owner ? `${str(owner, 'kind')}/${str(owner, 'name')}` : '';
}

export function describePod(w: DescribeWriter, pod: Json): void {
  const spec = isJson(pod['spec']) ? pod['spec'] : {};
  const status = isJson(pod['status']) ? pod['status'] : {};
  w.write(0, `Name:\t${str(pod, 'metadata', 'name')}\n`);
  w.write(0, `Namespace:\t${str(pod, 'metadata', 'namespace')}\n`);
  // The API server's Priority admission sets 0 when no class is named.
  w.write(0, `Priority:\t${num(spec, 'priority') ?? 0}\n`);
  if (str(spec, 'priorityClassName') !== '')
    w.write(0, `Priority Class Name:\t${str(spec, 'priorityClassName')}\n`);
  if (str(spec, 'serviceAccountName') !== '')
    w.write(0, `Service Account:\t${str(spec, 'serviceAccountName')}\n`);
  const node = str(spec, 'nodeName');
  w.write(0, node === '' ? 'Node:\t<none>\n' : `Node:\t${node}/${str(status, 'hostIP')}\n`);
  if (str(status, 'startTime') !== '') w.write(0, `Start Time:\t${rfc1123z(status['startTime'])}\n`);
  writeLabels(w, 'Labels', stringMap(at(pod, 'metadata', 'labels')));
  writeAnnotations(w, 'Annotations', stringMap(at(pod, 'metadata', 'annotations')));
  if (str(pod, 'metadata', 'deletionTimestamp') !== '') w.write(0, 'Status:\tTerminating\n');
  else w.write(0, `Status:\t${str(status, 'phase')}\n`);
  if (str(status, 'reason') !== '') w.write(0, `Reason:\t${str(status, 'reason')}\n`);
  if (str(status, 'message') !== '') w.write(0, `Message:\t${str(status, 'message')}\n`);
  w.write(0, `IP:\t${str(status, 'podIP')}\n`);
  const ips = list(status, 'podIPs');
  if (ips.length === 0) w.write(0, 'IPs:\t<none>\n');
  else {
    w.write(0, 'IPs:\n');
    for (const ip of ips) w.write(1, `IP:\t${str(ip, 'ip')}\n`);
  }
  const owner = controlledBy(pod);
  if (owner !== '') w.write(0, `Controlled By:\t${owner}\n`);
  const inits = list(spec, 'initContainers');
  if (inits.length > 0)
    writeContainers(w, 'Init Containers', inits, list(status, 'initContainerStatuses'), pod);
  writeContainers(w, 'Containers', list(spec, 'containers'), list(status, 'containerStatuses'), pod);
  const conditions = list(status, 'conditions');
  if (conditions.length > 0) {
    w.write(0, 'Conditions:\n  Type\tStatus\n');
    for (const c of conditions) w.write(1, `${str(c, 'type')} \t${str(c, 'status')} \n`);
  }
  writeVolumes(w, list(spec, 'volumes'));
  w.write(0, `QoS Class:\t${str(status, 'qosClass') || 'BestEffort'}\n`);
  writeLabels(w, 'Node-Selectors', stringMap(spec['nodeSelector']));
  writeTolerations(w, 'Tolerations', list(spec, 'tolerations'));
  writeEvents(w, []);
}

/** DescribePodTemplate, as `describe deployment` prints it. */
export function describePodTemplate(w: DescribeWriter, template: unknown): void {
  w.write(0, 'Pod Template:\n');
  if (!isJson(template)) {
    w.write(1, '<unset>');
    return;
  }
  const spec = isJson(template['spec']) ? template['spec'] : {};
  writeLabels(w, '  Labels', stringMap(at(template, 'metadata', 'labels')));
  const annotations = stringMap(at(template, 'metadata', 'annotations'));
  if (Object.keys(annotations).length > 0) writeAnnotations(w, '  Annotations', annotations);
  if (str(spec, 'serviceAccountName') !== '')
    w.write(1, `Service Account:\t${str(spec, 'serviceAccountName')}\n`);
  const inits = list(spec, 'initContainers');
  if (inits.length > 0) writeContainers(w, 'Init Containers', inits, undefined, undefined, '  ');
  writeContainers(w, 'Containers', list(spec, 'containers'), undefined, undefined, '  ');
  writeVolumes(w, list(spec, 'volumes'), '  ');
  if (str(spec, 'priorityClassName') !== '')
    w.write(1, `Priority Class Name:\t${str(spec, 'priorityClassName')}\n`);
  writeLabels(w, '  Node-Selectors', stringMap(spec['nodeSelector']));
  writeTolerations(w, '  Tolerations', list(spec, 'tolerations'));
}
