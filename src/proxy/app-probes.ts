/**
 * pilot-agent's application probe rewriting: the injector points the kubelet's probes at
 * `:15020/app-health/<container>/livez|readyz|startupz` and gives the agent the real probes in
 * ISTIO_KUBE_APP_PROBERS (`{"/app-health/catalog/livez":{"httpGet":{"path":"/health","port":3000,
 * "scheme":"HTTP"},"timeoutSeconds":1}}`). The agent runs the real probe against the app and answers with
 * the app's status code only (no body); when the app cannot be reached the answer is 503.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface AppProbe {
  httpGet?: {
    path: string;
    port: number;
    scheme: 'HTTP' | 'HTTPS';
    host?: string;
    headers: [string, string][];
  };
  tcpSocket?: { port: number; host?: string };
  timeoutMs: number;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function port(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/** Parses ISTIO_KUBE_APP_PROBERS (a JSON string or the decoded object); bad entries are skipped. */
export function parseAppProbers(config: unknown): Map<string, AppProbe> {
  let value = config;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return new Map();
    }
  }
  const out = new Map<string, AppProbe>();
  if (!isRecord(value)) return out;
  for (const [path, raw] of Object.entries(value)) {
    if (!isRecord(raw)) continue;
    const timeoutSeconds =
      typeof raw['timeoutSeconds'] === 'number' && raw['timeoutSeconds'] > 0 ? raw['timeoutSeconds'] : 1;
    const probe: AppProbe = { timeoutMs: timeoutSeconds * 1000 };
    const get = raw['httpGet'];
    const tcp = raw['tcpSocket'];
    if (isRecord(get)) {
      const p = port(get['port']);
      if (p === undefined) continue;
      const headers: [string, string][] = [];
      for (const h of Array.isArray(get['httpHeaders']) ? get['httpHeaders'] : [])
        if (isRecord(h) && typeof h['name'] === 'string' && typeof h['value'] === 'string')
          headers.push([h['name'], h['value']]);
      probe.httpGet = {
        path: typeof get['path'] === 'string' && get['path'] !== '' ? get['path'] : '/',
        port: p,
        scheme: get['scheme'] === 'HTTPS' ? 'HTTPS' : 'HTTP',
        headers,
      };
      if (typeof get['host'] === 'string' && get['host'] !== '') probe.httpGet.host = get['host'];
    } else if (isRecord(tcp)) {
      const p = port(tcp['port']);
      if (p === undefined) continue;
      probe.tcpSocket = { port: p };
      if (typeof tcp['host'] === 'string' && tcp['host'] !== '') probe.tcpSocket.host = tcp['host'];
    } else continue;
    out.set(path, probe);
  }
  return out;
}

/** Runs a probe against the app; resolves to the status code to answer the kubelet with. */
export function runAppProbe(probe: AppProbe, appHost: string, userAgent?: string): Promise<number> {
  if (probe.tcpSocket) {
    const { port: p, host } = probe.tcpSocket;
    return new Promise((resolve) => {
      const socket = net.connect({ host: host ?? appHost, port: p });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(503);
      }, probe.timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve(200);
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(503);
      });
    });
  }
  const get = probe.httpGet;
  if (!get) return Promise.resolve(503);
  const lib = get.scheme === 'HTTPS' ? https : http;
  const headers: Record<string, string> = {};
  if (userAgent) headers['user-agent'] = userAgent;
  for (const [k, v] of get.headers) headers[k.toLowerCase()] = v;
  return new Promise((resolve) => {
    let done = false;
    const finish = (status: number): void => {
      if (done) return;
      done = true;
      resolve(status);
    };
    try {
      const req = lib.request(
        {
          host: get.host ?? appHost,
          port: get.port,
          path: get.path.startsWith('/') ? get.path : `/${get.path}`,
          method: 'GET',
          headers,
          agent: false,
          timeout: probe.timeoutMs,
          // Kubelet does not verify the app's certificate.
          ...(get.scheme === 'HTTPS' ? { rejectUnauthorized: false } : {}),
        },
        (res) => {
          res.resume();
          finish(res.statusCode ?? 503);
        },
      );
      req.on('timeout', () => {
        req.destroy();
        finish(503);
      });
      req.on('error', () => finish(503));
      req.end();
    } catch {
      finish(503);
    }
  });
}
