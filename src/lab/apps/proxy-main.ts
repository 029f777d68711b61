#!/usr/bin/env node
// A pod's istio-proxy container as the kubelet starts it: `node dist/src/lab/apps/proxy-main.js proxy sidecar|router`,
// configured by the environment the injector sets (the same variables `skiff proxy` reads). It loads only
// the proxy runtime — not the CLI, the control plane or the analyzers — because every pod of a cold
// `skiff up` starts at once and module loading is most of a proxy's start-up CPU.
import { proxyCaFromEnv, startProxyRuntime } from '../proxy-runtime.js';
import type { PodPort } from '../proxy-runtime.js';

const EXIT_USAGE = 64;
const EXIT_FAILED = 1;
const STOP_GRACE_MS = 5000;

function fail(message: string, code: number): never {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(code);
}

function jsonEnv(name: string): unknown {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return fail(`invalid ${name}: not JSON`, EXIT_USAGE);
  }
}

function stringMapEnv(name: string): Record<string, string> | undefined {
  const v = jsonEnv(name);
  if (v === undefined) return undefined;
  if (
    typeof v !== 'object' ||
    v === null ||
    Array.isArray(v) ||
    Object.values(v).some((x) => typeof x !== 'string')
  )
    return fail(`invalid ${name}: unexpected shape`, EXIT_USAGE);
  return v as Record<string, string>;
}

function portsEnv(name: string): PodPort[] | undefined {
  const v = jsonEnv(name);
  if (v === undefined) return undefined;
  const ok =
    Array.isArray(v) &&
    v.every(
      (p) =>
        typeof p === 'object' &&
        p !== null &&
        typeof (p as Record<string, unknown>)['containerPort'] === 'number',
    );
  return ok ? (v as PodPort[]) : fail(`invalid ${name}: unexpected shape`, EXIT_USAGE);
}

// `proxy <type>` as the container's args say (`skiff proxy <type>`), or just `<type>`.
const kind = process.argv[2] === 'proxy' ? process.argv[3] : process.argv[2];
if (kind !== 'sidecar' && kind !== 'router')
  fail(`unknown proxy type "${kind ?? ''}": want sidecar or router`, EXIT_USAGE);
const env = process.env;
const podIP = env['INSTANCE_IP'];
const podName = env['POD_NAME'];
const namespace = env['POD_NAMESPACE'];
if (!podIP || !podName || !namespace)
  fail('INSTANCE_IP, POD_NAME and POD_NAMESPACE are required', EXIT_USAGE);

function caFromEnv(): ReturnType<typeof proxyCaFromEnv> {
  try {
    return proxyCaFromEnv(env);
  } catch (err) {
    return fail((err as Error).message, EXIT_USAGE);
  }
}

const runtime = await startProxyRuntime({
  type: kind,
  xdsAddress: env['SKIFF_XDS_ADDRESS'] || '127.0.0.1:15010',
  podIP,
  podName,
  namespace,
  labels: stringMapEnv('ISTIO_METAJSON_LABELS'),
  annotations: stringMapEnv('ISTIO_METAJSON_ANNOTATIONS'),
  serviceAccount: env['SERVICE_ACCOUNT'] || undefined,
  podPorts: portsEnv('ISTIO_META_POD_PORTS'),
  appAddress: env['SKIFF_APP_ADDRESS'] || undefined,
  appProbers: env['ISTIO_KUBE_APP_PROBERS'] || undefined,
  ca: caFromEnv(),
  clusterId: env['ISTIO_META_CLUSTER_ID'] || undefined,
  log: (line) => void process.stdout.write(line),
}).catch((err: unknown) =>
  fail(`proxy failed to start: ${(err as Error).message ?? String(err)}`, EXIT_FAILED),
);

const stop = (): void => {
  setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  void runtime.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
