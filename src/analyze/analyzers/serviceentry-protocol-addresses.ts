import { KIND, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString, stringMap } from './util.js';

/**
 * A ServiceEntry without `addresses` needs them for TCP ports (or ports without a protocol), since such
 * traffic can only be told apart by destination IP, unless DNS proxying auto-allocates addresses
 * (ISTIO_META_DNS_CAPTURE and ISTIO_META_DNS_AUTO_ALLOCATE both "true" in the mesh's proxyMetadata).
 *
 * The name is Istio 1.17's: the Go type is ProtocolAddressesAnalyzer (earlier spelt ProtocolAdressesAnalyzer),
 * but the name `istioctl analyze` lists and selects is `serviceentry.Analyzer`.
 */
export const serviceEntryProtocolAddressesAnalyzer: Analyzer = {
  name: 'serviceentry.Analyzer',
  description: 'Checks the validity of ServiceEntry',
  inputs: [KIND.ServiceEntry],
  analyze(ctx) {
    const proxyMetadata = stringMap(asObject(asObject(ctx.snapshot.mesh.defaultConfig)?.['proxyMetadata']));
    const autoAllocated =
      proxyMetadata['ISTIO_META_DNS_CAPTURE'] === 'true' &&
      proxyMetadata['ISTIO_META_DNS_AUTO_ALLOCATE'] === 'true';
    if (autoAllocated) return;
    for (const se of ctx.snapshot.list(KIND.ServiceEntry)) {
      const spec = specOf(se);
      // Only an absent list counts; `addresses: []` decodes to an empty, non-nil list in Istio.
      if (spec['addresses'] !== undefined && spec['addresses'] !== null) continue;
      asArray(spec['ports']).forEach((p, i) => {
        const protocol = asString(asObject(p)?.['protocol']);
        if (protocol === '' || protocol === 'TCP') {
          ctx.report(MESSAGE_TYPES.ServiceEntryAddressesRequired, se, [], `{.spec.ports[${i}].name}`);
        }
      });
    }
  },
};
