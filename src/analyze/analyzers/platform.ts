import type { Analyzer } from '../analyzer.js';

/**
 * Analyzers over workloads and platform config: annotations, injection, deployments, services, sidecars,
 * webhooks, security, telemetry, envoy filters, and schema validation per kind.
 */
export const PLATFORM_ANALYZERS: readonly Analyzer[] = [];
