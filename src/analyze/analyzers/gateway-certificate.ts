import type { JsonObject, Resource } from '../../api/index.js';
import { KIND, fullName, specOf } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString, stringMap } from './util.js';

/** What the analyzer needs of a gateway, read once. */
interface CertificateGateway {
  resource: Resource;
  /** Position in the snapshot's Gateway list, to keep reports in Istio's order. */
  position: number;
  selector: Record<string, string>;
  /** The certificate key of each server `tls` block, in server order (undefined when it names none). */
  certificates: (string | undefined)[];
}

/**
 * Two gateways on the same workloads serving the same certificate: browsers re-use an HTTP/2 connection
 * across them and get 404s. Gateways are compared across namespaces (PILOT_SCOPE_GATEWAY_TO_NAMESPACE off,
 * Istio's default).
 *
 * Only gateways sharing a certificate key can clash, so each gateway is compared with those alone, found
 * through an index by key; the reports come in the order of comparing every gateway with every other one.
 */
export const gatewayCertificateAnalyzer: Analyzer = {
  name: 'gateway.CertificateAnalyzer',
  description: 'Checks a gateway certificate',
  inputs: [KIND.Gateway],
  analyze(ctx) {
    const gateways = ctx.snapshot.list(KIND.Gateway).map(certificateGateway);
    const byCertificate = gatewaysByCertificate(gateways);
    for (const current of gateways) {
      for (const other of sharingACertificate(current, byCertificate)) {
        if (other === current || !coversSelector(current.selector, other.selector)) continue;
        for (const currentCert of current.certificates) {
          for (const otherCert of other.certificates) {
            if (currentCert === undefined || currentCert !== otherCert) continue;
            ctx.report(
              MESSAGE_TYPES.GatewayDuplicateCertificate,
              current.resource,
              [[fullName(current.resource), fullName(other.resource)]],
              '{.metadata.name}',
            );
          }
        }
      }
    }
  },
};

function certificateGateway(gw: Resource, position: number): CertificateGateway {
  const spec = specOf(gw);
  return {
    resource: gw,
    position,
    selector: stringMap(asObject(spec['selector'])),
    certificates: serverTlsSettings(gw).map(certificateKey),
  };
}

/** Certificate key -> the gateways serving it, in gateway order, each once. */
function gatewaysByCertificate(gateways: readonly CertificateGateway[]): Map<string, CertificateGateway[]> {
  const out = new Map<string, CertificateGateway[]>();
  for (const gw of gateways) {
    for (const key of new Set(gw.certificates)) {
      if (key === undefined) continue;
      const list = out.get(key);
      if (list) list.push(gw);
      else out.set(key, [gw]);
    }
  }
  return out;
}

/** The gateways sharing at least one certificate key with `gw` (itself included), in gateway order. */
function sharingACertificate(
  gw: CertificateGateway,
  byCertificate: Map<string, CertificateGateway[]>,
): CertificateGateway[] {
  const found = new Set<CertificateGateway>();
  for (const key of gw.certificates) {
    if (key !== undefined) for (const other of byCertificate.get(key) ?? []) found.add(other);
  }
  return [...found].sort((a, b) => a.position - b.position);
}

/** An empty selector covers every gateway; otherwise each of its labels must be in the other's selector. */
function coversSelector(selector: Record<string, string>, otherSelector: Record<string, string>): boolean {
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

/**
 * A key equal for two `tls` blocks exactly when they serve the same certificate: the same credentialName,
 * or (both without one) the same serverCertificate and privateKey files. Undefined when neither is named;
 * such a block matches nothing.
 */
function certificateKey(tls: JsonObject): string | undefined {
  const credentialName = asString(tls['credentialName']);
  if (credentialName !== '') return `credential:${credentialName}`;
  const certificate = asString(tls['serverCertificate']);
  const privateKey = asString(tls['privateKey']);
  if (certificate === '' || privateKey === '') return undefined;
  return `files:${JSON.stringify([certificate, privateKey])}`;
}
