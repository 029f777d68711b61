/**
 * Outlier detection (config.cluster.v3.OutlierDetection), the consecutive-error detectors: a host that
 * returns `consecutive5xx` 5xx responses in a row (or `consecutiveGatewayFailure` 502/503/504s) is ejected
 * at once for baseEjectionTime × (times ejected), never more than maxEjectionPercent of the cluster but
 * always at least one host, as Envoy does. Connect failures, resets and timeouts count as gateway errors
 * (Envoy's default when local-origin errors are not split). Ejections are lifted lazily when a host is
 * considered after its time is up. Success-rate ejection is not modelled (Istio turns it off).
 */
import type { JsonObject } from './json.js';
import { durationMs, num, record, unwrap } from './json.js';

export interface OutlierConfig {
  consecutive5xx: number;
  enforcing5xx: number;
  consecutiveGateway: number;
  enforcingGateway: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  intervalMs: number;
}

export function compileOutlier(cluster: JsonObject): OutlierConfig | undefined {
  const od = record(cluster['outlierDetection']);
  if (!od) return undefined;
  const n = (key: string, fallback: number): number => num(unwrap(od[key])) ?? fallback;
  return {
    consecutive5xx: n('consecutive5xx', 5),
    enforcing5xx: n('enforcingConsecutive5xx', 100),
    consecutiveGateway: n('consecutiveGatewayFailure', 5),
    enforcingGateway: n('enforcingConsecutiveGatewayFailure', 0),
    baseEjectionMs: durationMs(od['baseEjectionTime']) ?? 30_000,
    maxEjectionPercent: n('maxEjectionPercent', 10),
    intervalMs: durationMs(od['interval']) ?? 10_000,
  };
}

interface HostOutlier {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  ejectedUntil: number;
}

/** Per-cluster detector state, kept across config updates (keyed by host address). */
export class OutlierDetector {
  private readonly hosts = new Map<string, HostOutlier>();
  /** Called with the stat to bump (`ejections_enforced_consecutive_5xx`, ...). */
  onStat: (stat: string, by?: number) => void = () => undefined;
  now: () => number = () => Date.now();

  private state(key: string): HostOutlier {
    let s = this.hosts.get(key);
    if (!s) {
      s = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0 };
      this.hosts.set(key, s);
    }
    return s;
  }

  /** Whether a host is ejected now (lifting an ejection whose time is up). */
  isEjected(key: string): boolean {
    const s = this.hosts.get(key);
    if (!s || s.ejectedUntil === 0) return false;
    if (this.now() >= s.ejectedUntil) {
      s.ejectedUntil = 0;
      this.onStat('ejections_active', -1);
      return false;
    }
    return true;
  }

  activeEjections(): number {
    let n = 0;
    for (const [key] of this.hosts) if (this.isEjected(key)) n++;
    return n;
  }

  /**
   * Records an attempt's outcome: an HTTP status, or `0` for a local-origin failure (connect failure,
   * reset, timeout).
   */
  record(config: OutlierConfig, key: string, status: number, hostCount: number): void {
    const s = this.state(key);
    const gatewayError = status === 0 || status === 502 || status === 503 || status === 504;
    const is5xx = status === 0 || status >= 500;
    if (!is5xx) {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return;
    }
    s.consecutive5xx++;
    if (gatewayError) s.consecutiveGateway++;
    else s.consecutiveGateway = 0;
    if (config.consecutive5xx > 0 && s.consecutive5xx >= config.consecutive5xx) {
      this.onStat('ejections_detected_consecutive_5xx');
      if (this.tryEject(config, s, key, hostCount, config.enforcing5xx))
        this.onStat('ejections_enforced_consecutive_5xx');
      s.consecutive5xx = 0;
    } else if (
      config.consecutiveGateway > 0 &&
      gatewayError &&
      s.consecutiveGateway >= config.consecutiveGateway
    ) {
      this.onStat('ejections_detected_consecutive_gateway_failure');
      if (this.tryEject(config, s, key, hostCount, config.enforcingGateway))
        this.onStat('ejections_enforced_consecutive_gateway_failure');
      s.consecutiveGateway = 0;
    }
  }

  private tryEject(
    config: OutlierConfig,
    s: HostOutlier,
    key: string,
    hostCount: number,
    enforcing: number,
  ): boolean {
    if (this.isEjected(key)) return false;
    if (Math.random() * 100 >= enforcing) return false;
    const active = this.activeEjections();
    const percent = (100 * (active + 1)) / Math.max(1, hostCount);
    if (percent > config.maxEjectionPercent && active > 0) {
      this.onStat('ejections_overflow');
      return false;
    }
    s.ejections++;
    s.ejectedUntil = this.now() + config.baseEjectionMs * s.ejections;
    this.onStat('ejections_enforced_total');
    this.onStat('ejections_total');
    this.onStat('ejections_active', 1);
    return true;
  }
}
