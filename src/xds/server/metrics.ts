/**
 * The pilot_* metrics with Istio 1.17's names, help texts, types, labels and buckets
 * (pilot/pkg/xds/monitoring.go at 1.17.8). Istio exports OpenCensus sums as Prometheus counters without a
 * `_total` suffix, so the names are used as-is. Each server owns its registry (several servers can live in
 * one process, as in tests); process_* and nodejs_* come from prom-client's default collectors.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SKIFF_ISTIO_VERSION } from '../index.js';

const SECONDS_BUCKETS = [0.01, 0.1, 1, 3, 5, 10, 20, 30];
const QUEUE_BUCKETS = [0.1, 0.5, 1, 3, 5, 10, 20, 30];

export class XdsMetrics {
  readonly registry = new Registry();

  readonly cdsReject = this.gauge('pilot_xds_cds_reject', 'Pilot rejected CDS configs.', ['node', 'err']);
  readonly edsReject = this.gauge('pilot_xds_eds_reject', 'Pilot rejected EDS.', ['node', 'err']);
  readonly ldsReject = this.gauge('pilot_xds_lds_reject', 'Pilot rejected LDS.', ['node', 'err']);
  readonly rdsReject = this.gauge('pilot_xds_rds_reject', 'Pilot rejected RDS.', ['node', 'err']);
  readonly totalXdsRejects = this.counter(
    'pilot_total_xds_rejects',
    'Total number of XDS responses from pilot rejected by proxy.',
    ['type'],
  );
  readonly expiredNonce = this.counter(
    'pilot_xds_expired_nonce',
    'Total number of XDS requests with an expired nonce.',
    ['type'],
  );
  readonly services = this.gauge('pilot_services', 'Total services known to pilot.', []);
  readonly xdsClients = this.gauge('pilot_xds', 'Number of endpoints connected to this pilot using XDS.', [
    'version',
  ]);
  readonly writeTimeouts = this.counter('pilot_xds_write_timeout', 'Pilot XDS response write timeouts.', []);
  readonly pushes = this.counter(
    'pilot_xds_pushes',
    'Pilot build and send errors for lds, rds, cds and eds.',
    ['type'],
  );
  readonly debounceTime = this.histogram(
    'pilot_debounce_time',
    'Delay in seconds between the first config enters debouncing and the merged push request is pushed into the push queue.',
    SECONDS_BUCKETS,
    [],
  );
  readonly pushContextInitTime = this.histogram(
    'pilot_pushcontext_init_seconds',
    'Total time in seconds Pilot takes to init pushContext.',
    [0.01, 0.1, 0.5, 1, 3, 5],
    [],
  );
  readonly pushTime = this.histogram(
    'pilot_xds_push_time',
    'Total time in seconds Pilot takes to push lds, rds, cds and eds.',
    SECONDS_BUCKETS,
    ['type'],
  );
  readonly sendTime = this.histogram(
    'pilot_xds_send_time',
    'Total time in seconds Pilot takes to send generated configuration.',
    SECONDS_BUCKETS,
    [],
  );
  readonly proxyQueueTime = this.histogram(
    'pilot_proxy_queue_time',
    'Time in seconds, a proxy is in the push queue before being dequeued.',
    QUEUE_BUCKETS,
    [],
  );
  readonly pushTriggers = this.counter(
    'pilot_push_triggers',
    'Total number of times a push was triggered, labeled by reason for the push.',
    ['type'],
  );
  readonly convergenceTime = this.histogram(
    'pilot_proxy_convergence_time',
    'Delay in seconds between config change and a proxy receiving all required configuration.',
    QUEUE_BUCKETS,
    [],
  );
  readonly pushContextErrors = this.counter(
    'pilot_xds_push_context_errors',
    'Number of errors (timeouts) initiating push context.',
    [],
  );
  readonly internalErrors = this.counter(
    'pilot_total_xds_internal_errors',
    'Total number of internal XDS errors in pilot.',
    [],
  );
  readonly inboundUpdates = this.counter(
    'pilot_inbound_updates',
    'Total number of updates received by pilot.',
    ['type'],
  );
  readonly configSize = this.histogram(
    'pilot_xds_config_size_bytes',
    'Distribution of configuration sizes pushed to clients',
    // 4M default limit for gRPC, 10M config will start to strain system, 40M is likely upper-bound.
    [1, 10000, 1000000, 4000000, 10000000, 40000000],
    ['type'],
  );
  readonly build = this.gauge('istio_build', 'Istio component build info', ['component', 'tag']);

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.build.set({ component: 'pilot', tag: SKIFF_ISTIO_VERSION }, 1);
  }

  /** The reject gauge of a type (kept by Istio for compatibility), if it has one. */
  rejectGauge(metricType: string): Gauge<string> | undefined {
    switch (metricType) {
      case 'cds':
        return this.cdsReject;
      case 'eds':
        return this.edsReject;
      case 'lds':
        return this.ldsReject;
      case 'rds':
        return this.rdsReject;
      default:
        return undefined;
    }
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private counter(name: string, help: string, labelNames: string[]): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge(name: string, help: string, labelNames: string[]): Gauge<string> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(name: string, help: string, buckets: number[], labelNames: string[]): Histogram<string> {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }
}
