import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject } from './util.js';

/**
 * Without mesh-wide default access-log providers, a Telemetry access-logging entry that is not disabled and
 * names no provider does nothing (IST0157).
 */
export const telemetryProviderAnalyzer: Analyzer = {
  name: 'telemetry.ProviderAnalyzer',
  // Istio 1.17's text, typo included.
  description: 'Validates that providers in telemery resource is valid',
  inputs: [KIND.Telemetry],
  analyze(ctx) {
    const defaults = asObject(ctx.snapshot.mesh.defaultProviders)?.['accessLogging'];
    if (asArray(defaults).length > 0) return;
    for (const telemetry of ctx.snapshot.list(KIND.Telemetry)) {
      for (const raw of asArray(specOf(telemetry)['accessLogging'])) {
        const logging = asObject(raw);
        if (!logging || logging['disabled'] === true) continue;
        if (asArray(logging['providers']).length === 0) {
          ctx.report(MESSAGE_TYPES.InvalidTelemetryProvider, telemetry, [
            telemetry.metadata.name,
            telemetry.metadata.namespace ?? '',
          ]);
        }
      }
    }
  },
};
