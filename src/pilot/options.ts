/**
 * Tuning settings from flags or environment variables, with Istio 1.17's defaults
 * (pilot/pkg/features/tuning.go): PILOT_DEBOUNCE_AFTER 100ms, PILOT_DEBOUNCE_MAX 10s, PILOT_PUSH_THROTTLE 100,
 * PILOT_XDS_SEND_TIMEOUT 5s.
 */
export interface TuningSettings {
  debounceAfterMs: number;
  debounceMaxMs: number;
  pushThrottle: number;
  sendTimeoutMs: number;
}

export const DEFAULT_TUNING: TuningSettings = {
  debounceAfterMs: 100,
  debounceMaxMs: 10_000,
  pushThrottle: 100,
  sendTimeoutMs: 5000,
};

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration (`100ms`, `2.5s`, `1m30s`) in milliseconds; undefined when malformed. */
export function parseGoDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] ?? 0);
    matched = re.lastIndex;
  }
  return matched === s.length && matched > 0 ? total : undefined;
}

export class SettingError extends Error {}

function durationSetting(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = parseGoDuration(value);
  if (ms === undefined || ms < 0)
    throw new SettingError(`invalid ${name} "${value}": want a duration such as 100ms or 10s`);
  return ms;
}

function intSetting(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new SettingError(`invalid ${name} "${value}": want a positive integer`);
  return n;
}

/** Settings from explicit values first, then the PILOT_* environment variables, then the defaults. */
export function tuningSettings(
  explicit: Partial<TuningSettings>,
  env: NodeJS.ProcessEnv = process.env,
): TuningSettings {
  return {
    debounceAfterMs:
      explicit.debounceAfterMs ??
      durationSetting('PILOT_DEBOUNCE_AFTER', env['PILOT_DEBOUNCE_AFTER']) ??
      DEFAULT_TUNING.debounceAfterMs,
    debounceMaxMs:
      explicit.debounceMaxMs ??
      durationSetting('PILOT_DEBOUNCE_MAX', env['PILOT_DEBOUNCE_MAX']) ??
      DEFAULT_TUNING.debounceMaxMs,
    pushThrottle:
      explicit.pushThrottle ??
      intSetting('PILOT_PUSH_THROTTLE', env['PILOT_PUSH_THROTTLE']) ??
      DEFAULT_TUNING.pushThrottle,
    sendTimeoutMs:
      explicit.sendTimeoutMs ??
      durationSetting('PILOT_XDS_SEND_TIMEOUT', env['PILOT_XDS_SEND_TIMEOUT']) ??
      DEFAULT_TUNING.sendTimeoutMs,
  };
}

export function parseDurationFlag(name: string, value: string): number {
  const ms = durationSetting(name, value);
  if (ms === undefined) throw new SettingError(`invalid ${name} "${value}"`);
  return ms;
}

export function parseIntFlag(name: string, value: string): number {
  const n = intSetting(name, value);
  if (n === undefined) throw new SettingError(`invalid ${name} "${value}"`);
  return n;
}

/**
 * `host:port`, `:port` (every interface, as Go reads it) or `[v6]:port`. The host defaults to
 * `defaultHost` only when the whole value is a bare port.
 */
export function parseListenAddress(text: string, defaultHost: string): { host: string; port: number } {
  const s = text.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]*)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1] as string;
    portText = v6[2] as string;
  } else if (/^\d+$/.test(s)) {
    host = defaultHost;
    portText = s;
  } else {
    const i = s.lastIndexOf(':');
    if (i < 0) throw new SettingError(`invalid address "${text}": want host:port`);
    host = s.slice(0, i) || '0.0.0.0';
    portText = s.slice(i + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) throw new SettingError(`invalid port in address "${text}"`);
  return { host, port };
}
