#!/usr/bin/env node
// A sample app as a pod's process: `node dist/src/lab/apps/main.js catalog|webapp|sleep`, configured by
// environment variables. Prints `listening on host:port` once bound and exits 0 on SIGTERM or SIGINT.
import { AppConfigError, APP_NAMES, isAppName, startAppFromEnv } from './env.js';
import { formatHostPort } from './http-util.js';
import type { AppHandle } from './http-util.js';

/** Exit codes: 64 for usage and settings errors (as skiff's CLI), 1 when the app cannot start. */
const EXIT_USAGE = 64;
const EXIT_FAILED = 1;

/** How long a stop may take before the process exits anyway. */
const STOP_GRACE_MS = 5000;

const name = process.argv[2];
if (!isAppName(name)) {
  process.stderr.write(`usage: main.js <${APP_NAMES.join('|')}>\n`);
  process.exit(EXIT_USAGE);
}

let app: AppHandle;
try {
  app = await startAppFromEnv(name, process.env);
} catch (err) {
  process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof AppConfigError ? EXIT_USAGE : EXIT_FAILED);
}

process.stdout.write(`listening on ${formatHostPort(app.host, app.port)}\n`);

const stop = (): void => {
  setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  void app.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
