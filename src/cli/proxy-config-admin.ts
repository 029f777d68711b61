/**
 * Reading a running proxy through its Envoy admin API (`--admin-address host:port`, a skiff addition:
 * istioctl reaches the same endpoints through a Kubernetes port-forward). Errors read like Go's HTTP
 * client's, after istioctl's `failed to execute command on Envoy` lead.
 */
import { request } from 'node:http';
import { dumpError } from './configdump-common.js';

/** Envoy's admin port in Istio (`DefaultProxyAdminPort`). */
export const DEFAULT_ADMIN_PORT = 15000;
const TIMEOUT_MS = 30_000;

export interface AdminAddress {
  host: string;
  port: number;
  /** `host:port` as it goes into a URL (IPv6 hosts bracketed). */
  authority: string;
}

/** `host:port`, `[v6]:port`, `host` (port 15000) or an `http://` URL. */
export function parseAdminAddress(text: string): AdminAddress {
  const bare = text
    .trim()
    .replace(/^http:\/\//, '')
    .replace(/\/+$/, '');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]\s]+))(?::(\d{1,5}))?$/.exec(bare);
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? DEFAULT_ADMIN_PORT : Number(m[3]);
  if (!m || !host || port < 1 || port > 65535) {
    throw dumpError(`invalid --admin-address "${text}": want <host>:<port>, e.g. 127.0.0.1:15000`);
  }
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { host, port, authority };
}

export interface AdminResponse {
  status: number;
  body: string;
}

/** One admin request; any transport failure becomes a one-line error. */
export function adminRequest(
  address: AdminAddress,
  method: 'GET' | 'POST',
  path: string,
): Promise<AdminResponse> {
  const url = `http://${address.authority}/${path}`;
  const verb = method === 'GET' ? 'Get' : 'Post';
  return new Promise((resolve, reject) => {
    const req = request(
      { host: address.host, port: address.port, method, path: `/${path}`, timeout: TIMEOUT_MS },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (err) => reject(failure(address, `${verb} "${url}": ${err.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout awaiting response headers')));
    req.on('error', (err) => reject(failure(address, `${verb} "${url}": ${describeNetError(address, err)}`)));
    req.end();
  });
}

/** The body of a successful request; a non-2xx status is an error naming it. */
export async function adminFetch(
  address: AdminAddress,
  method: 'GET' | 'POST',
  path: string,
): Promise<string> {
  const res = await adminRequest(address, method, path);
  if (res.status < 200 || res.status > 299) {
    const firstLine = res.body.trim().split('\n')[0] ?? '';
    throw failure(address, `${method} /${path}: HTTP ${res.status}${firstLine ? `: ${firstLine}` : ''}`);
  }
  return res.body;
}

function failure(address: AdminAddress, detail: string): Error {
  return dumpError(`failed to execute command on Envoy at ${address.authority}: ${detail}`);
}

/** Go's `net.Dial` wording for the usual failures, so scripts matching istioctl's text keep working. */
export function describeNetError(address: AdminAddress, err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  const dial = `dial tcp ${address.authority}`;
  switch (code) {
    case 'ECONNREFUSED':
      return `${dial}: connect: connection refused`;
    case 'EHOSTUNREACH':
      return `${dial}: connect: no route to host`;
    case 'ENETUNREACH':
      return `${dial}: connect: network is unreachable`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `dial tcp: lookup ${address.host}: no such host`;
    case 'ECONNRESET':
      return 'connection reset by peer';
    default:
      return err.message;
  }
}
