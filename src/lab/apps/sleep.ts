// The `sleep` sample app: an idle pod to exec from. Its only job is a readiness target.
import { createServer } from 'node:http';
import { appHandle, guarded, listen, logRequest, requestPath, send, stdoutLog, TEXT } from './http-util.js';
import type { AppHandle, LogFn } from './http-util.js';

export interface SleepOptions {
  /** Bind address (default 127.0.0.1). */
  host?: string;
  /** Port (default 8080; 0 picks a free one). */
  port?: number;
  log?: LogFn;
}

export const SLEEP_DEFAULT_PORT = 8080;

/** Starts the idle server: `GET /` answers `sleep`, everything else 404. */
export async function startSleep(options: SleepOptions = {}): Promise<AppHandle> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? stdoutLog;
  const server = createServer(
    guarded((req, res) => {
      logRequest(req, res, log);
      const { path } = requestPath(req);
      if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) send(res, 200, 'sleep\n', TEXT);
      else send(res, 404, 'Not Found', TEXT);
    }, log),
  );
  const port = await listen(server, host, options.port ?? SLEEP_DEFAULT_PORT);
  return appHandle(server, host, port);
}
