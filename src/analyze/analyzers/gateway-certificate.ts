import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString, stringMap } from './util.js';

/**
 * Two gateways on the same workloads serving the same certificate: browsers re-use an HTTP/2 connection
 * across them and get 404s. Gateways are compared across namespaces (PILOT_SCOPE_GATEWAY_TO_NAMESPACE off,
 * Istio's default).
 */
export const gatewayCertificateAnalyzer: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'Checks a gateway certificate',
  inputs: [KIND.Gateway],
  analyze(ctx) {
    const gateways = ctx.snapshot.list(KIND.Gateway);
    for (const current of gateways) {
      const selector = stringMap(asObject(specOf(current)['selector']));
      for (const other of gateways) {
        if (other === current || !coversSelector(selector, other)) continue;
        for (const currentTls of serverTlsSettings(current)) {
          for (const otherTls of serverTlsSettings(other)) {
            if (!sameCertificate(currentTls, otherTls)) continue;
            ctx.report(
              MESSAGE_TYPES.GatewayDuplicateCertificate,
              current,
              [[fullName(current), fullName(other)]],
              '{.metadata.name}',
            );
          }
        }
      }
    }
  },
};

/** An empty selector covers every gateway; otherwise each of its labels must be in the other's selector. */
function coversSelector(selector: Record<string, string>, other: Resource): boolean {
  const otherSelector = stringMap(asObject(specOf(other)['selector']));
  return Object.entries(selector).every(([k, v]) => otherSelector[k] === v);
}

/** The `tls` block of each server that has one. */
function serverTlsSettings(gw: Resource): JsonObject[] {
  const out: JsonObject[] = [];
  for (const s of asArray(specOf(gw)['servers'])) {
    const tls = asObject(asObject(s)?.['tls']);
    if (tls) out.push(tls);
  }
  return out;
}

/** Same credentialName, or (both without one) the same serverCertificate and privateKey files. */
function sameCertificate(a: JsonObject, b: JsonObject): boolean {
  const aCred = asString(a['credentialName']);
  const bCred = asString(b['credentialName']);
  if (aCred !== '' && bCred !== '') return aCred === bCred;
  if (aCred !== '' || bCred !== '') return false;
  const aCert = asString(a['serverCertificate']);
  const bCert = asString(b['serverCertificate']);
  if (aCert === '' || aCert !== bCert) return false;
  const aKey = asString(a['privateKey']);
  const bKey = asString(b['privateKey']);
  return aKey !== '' && aKey === bKey;
}
