export { runCli, normalizeBooleanFlags } from './program.js';
export type { CommandIO } from './io.js';
export { EXIT } from './errors.js';
export { TabWriter, tabulate, TABWRITER_FLAGS } from './tabwriter.js';
export type { TabWriterOptions } from './tabwriter.js';
export { goSortSlice } from './configdump-gosort.js';
export * from './bench-xds.js';
export { authzCheckTable, registerAuthz } from './authz-check.js';
export * from './bench-controlplane.js';
export {
  bucketDelta,
  histogramQuantile as convergenceQuantile,
  parseMetrics,
  pilotDelta,
  pilotReading,
  quantile,
  windowStart,
} from './bench-controlplane-metrics.js';
export * from './bench-controlplane-sets.js';
export * from './bench-controlplane-report.js';
export { parseTrimmedDump } from './bench-controlplane-proxies.js';
export { configProxy } from './bench-controlplane-run.js';
export type { RunResult } from './bench-controlplane-run.js';
export { parseExposition, parseSampleLine, parseSampleValue, sumBy, sumOf } from './metrics-prom.js';
export type { Exposition, Sample } from './metrics-prom.js';
export { histogramBuckets, histogramQuantile, increase, perSecond } from './metrics-quantile.js';
export type { Bucket } from './metrics-quantile.js';
export { goldenSignals } from './metrics-signals.js';
export type { GoldenSignals } from './metrics-signals.js';
export { formatBytes, formatSeconds, metricsUrl, renderSignals, scrape } from './metrics-controlplane.js';
export { formatCpu, formatMemory, parseQuantity, podUsage, renderTopPods } from './top-format.js';
export { goDurationString } from './top.js';
export { COMMAND_MODULES } from './program.js';
export { launcherPaths, readLaunchState } from './up.js';
