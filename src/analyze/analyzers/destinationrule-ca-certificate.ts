import type { JsonObject } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString } from './util.js';

/** ClientTLSSettings.TLSmode values by enum number, for configs written as JSON numbers. */
const TLS_MODES = ['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'];

/**
 * SIMPLE and MUTUAL origination without `caCertificates` does not verify the server's certificate; checked
 * for the DestinationRule's traffic policy and each of its port-level settings (subsets are not looked at).
 */
export const destinationRuleCaCertificateAnalyzer: Analyzer = {
  name: 'destinationrule.CaCertificateAnalyzer',
  description: 'Checks if caCertificates is set when TLS mode is SIMPLE/MUTUAL',
  inputs: [KIND.DestinationRule],
  analyze(ctx) {
    for (const dr of ctx.snapshot.list(KIND.DestinationRule)) {
      const spec = specOf(dr);
      const name = fullName(dr);
      const ns = dr.metadata.namespace ?? '';
      const host = asString(spec['host']);
      const policy = asObject(spec['trafficPolicy']);
      const tls = asObject(policy?.['tls']);
      const mode = tlsMode(tls);
      if (needsCaCertificates(mode, tls)) {
        ctx.report(
          MESSAGE_TYPES.NoServerCertificateVerificationDestinationLevel,
          dr,
          [name, ns, mode, host],
          '{.spec.trafficPolicy.tls.caCertificates}',
        );
      }
      asArray(policy?.['portLevelSettings']).forEach((p, i) => {
        const settings = asObject(p);
        const portTls = asObject(settings?.['tls']);
        const portMode = tlsMode(portTls);
        if (!needsCaCertificates(portMode, portTls)) return;
        ctx.report(
          MESSAGE_TYPES.NoServerCertificateVerificationPortLevel,
          dr,
          [name, ns, portMode, host, portSelectorText(settings?.['port'])],
          `{.spec.trafficPolicy.portLevelSettings[${i}].tls.caCertificates}`,
        );
      });
    }
  },
};

function tlsMode(tls: JsonObject | undefined): string {
  const mode = tls?.['mode'];
  if (typeof mode === 'number') return TLS_MODES[mode] ?? String(mode);
  return typeof mode === 'string' ? mode : 'DISABLE';
}

function needsCaCertificates(mode: string, tls: JsonObject | undefined): boolean {
  return (mode === 'SIMPLE' || mode === 'MUTUAL') && asString(tls?.['caCertificates']) === '';
}

/**
 * The port as Istio prints a PortSelector message (protobuf text format): `number:443`; empty for a port
 * without a number, `<nil>` when the port is missing.
 */
function portSelectorText(port: unknown): string {
  const selector = asObject(port);
  if (!selector) return '<nil>';
  const number = selector['number'];
  return typeof number === 'number' && number !== 0 ? `number:${number}` : '';
}
