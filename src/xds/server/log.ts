/**
 * istiod-style log lines: `2025-05-17T03:26:46.438741Z\tinfo\tads\tXDS: Pushing ...` (RFC 3339 UTC with
 * microseconds, level, scope, message, tab-separated).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogSink = (line: string) => void;

export interface Logger {
  debug(scope: string, message: string): void;
  info(scope: string, message: string): void;
  warn(scope: string, message: string): void;
  error(scope: string, message: string): void;
}

/** The current time as istiod prints it, with microseconds. */
export function logTimestamp(epochMs: number = performance.timeOrigin + performance.now()): string {
  const micros = Math.floor(epochMs * 1000);
  const iso = new Date(Math.floor(micros / 1000)).toISOString();
  return `${iso.slice(0, 19)}.${String(micros % 1_000_000).padStart(6, '0')}Z`;
}

export function formatLogLine(level: LogLevel, scope: string, message: string, epochMs?: number): string {
  return `${logTimestamp(epochMs)}\t${level}\t${scope}\t${message}`;
}

/** A logger writing one line per call to `sink`; debug lines only when `debug` is set. */
export function createLogger(sink: LogSink, options: { debug?: boolean } = {}): Logger {
  const write = (level: LogLevel) => (scope: string, message: string) =>
    sink(`${formatLogLine(level, scope, message)}\n`);
  return {
    debug: options.debug ? write('debug') : () => {},
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
