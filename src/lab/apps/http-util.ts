// Small node:http helpers shared by the sample apps: listening, closing, request logs, bodies.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIPv6 } from 'node:net';

/** Where an app writes its log lines (stdout for a pod process; tests pass their own). */
export type LogFn = (line: string) => void;

/** The default log: one line per call on stdout, which `skiff logs` reads from the pod process. */
export const stdoutLog: LogFn = (line) => {
  process.stdout.write(line + '\n');
};

/** A running sample app. */
export interface AppHandle {
  /** The address the server is bound to. */
  readonly host: string;
  /** The bound port (the real one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting, drops open connections and cancels pending work; safe to call twice. */
  close(): Promise<void>;
}

/** `host:port`, with IPv6 addresses in brackets as in a URL. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Starts listening; rejects on bind errors (EADDRINUSE, EADDRNOTAVAIL) instead of crashing. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port);
    });
  });
}

/** Wraps a listening server as an AppHandle; `onClose` cancels the app's own pending work first. */
export function appHandle(server: Server, host: string, port: number, onClose?: () => void): AppHandle {
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        onClose?.();
        server.close(() => resolve());
        // Keep-alive connections would hold close() open until their idle timeout.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * Logs one line when the response is done (or the connection went away first), in the shape of
 * the book's catalog (morgan `:method :host :url :status :res[content-length] - :response-time ms`).
 */
export function logRequest(req: IncomingMessage, res: ServerResponse, log: LogFn): void {
  const started = process.hrtime.bigint();
  let logged = false;
  const write = (): void => {
    if (logged) return;
    logged = true;
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const status = res.headersSent ? String(res.statusCode) : '-';
    const length = res.getHeader('content-length');
    const host = req.headers.host ?? '-';
    log(
      `${req.method ?? '-'} ${host} ${req.url ?? '-'} ${status} ${length === undefined ? '-' : String(length)} - ${ms.toFixed(3)} ms`,
    );
  };
  res.once('finish', write);
  res.once('close', write);
}

/** Reads a request body up to `limit` bytes; larger bodies reject. */
export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error(`request body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Sends a complete response with an explicit Content-Length (Envoy's access logs count these bytes). */
export function send(res: ServerResponse, status: number, body: string | Buffer, contentType: string): void {
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  // setHeader rather than writeHead's object, so the request log can read Content-Length back.
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', payload.length);
  res.writeHead(status);
  res.end(payload);
}

export const TEXT = 'text/plain; charset=utf-8';
export const HTML = 'text/html; charset=utf-8';
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Path and query of a request target, tolerating absolute-form targets and garbage. */
export function requestPath(req: IncomingMessage): { path: string; query: URLSearchParams } {
  try {
    const url = new URL(req.url ?? '/', 'http://localhost');
    return { path: url.pathname, query: url.searchParams };
  } catch {
    return { path: req.url ?? '/', query: new URLSearchParams() };
  }
}

/**
 * Runs a request handler so that a thrown error or rejected promise answers 500 instead of
 * crashing the pod process.
 */
export function guarded(
  handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>,
  log: LogFn,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const fail = (err: unknown): void => {
      log(
        `error handling ${req.method ?? '-'} ${req.url ?? '-'}: ${err instanceof Error ? err.message : String(err)}`,
      );
      if (!res.headersSent && !res.destroyed) send(res, 500, 'Internal Server Error', TEXT);
      else res.destroy();
    };
    try {
      const result = handler(req, res);
      if (result instanceof Promise) result.catch(fail);
    } catch (err) {
      fail(err);
    }
  };
}
