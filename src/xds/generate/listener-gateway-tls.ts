/**
 * The server-side TLS context of a Gateway server that terminates TLS (listener.go BuildListenerTLSContext,
 * security/model ApplyCredentialSDSToServerCommonTLSContext / ApplyToCommonTLSContext), in proto3 JSON:
 *
 * - `credentialName`: the key pair from SDS `kubernetes://<name>` over ADS, and for MUTUAL the client CA
 *   from `kubernetes://<name>-cacert`;
 * - ISTIO_MUTUAL: the workload certificate (`default`) and mesh root (`ROOTCA`) over the `sds-grpc` cluster;
 * - file paths (`serverCertificate`, `privateKey`, `caCertificates`): `file-cert:<cert>~<key>` and
 *   `file-root:<ca>` served by the agent;
 * - ALPN `h2,http/1.1` (TCP servers terminating ISTIO_MUTUAL add `istio-peer-exchange`), client
 *   certificates required for MUTUAL and ISTIO_MUTUAL, TLS parameters only when the server sets them.
 */
import type { Json } from './clusters.js';
import type { GatewayServer } from './listener-gateway-merge.js';
import { isTcpServerWithTlsTermination } from './listener-gateway-merge.js';
import {
  ALPN_DOWNSTREAM_WITH_MXC,
  ALPN_HTTP,
  TYPE_DOWNSTREAM_TLS,
  credentialSdsSecretConfig,
  sdsSecretConfig,
  strings,
} from './listener-filters.js';

/** Gateway ServerTLSSettings.TLSProtocol → Envoy TlsParameters.TlsProtocol (same order, TLS_AUTO first). */
const TLS_VERSIONS: Record<string, string> = {
  TLS_AUTO: 'TLS_AUTO',
  TLSV1_0: 'TLSv1_0',
  TLSV1_1: 'TLSv1_1',
  TLSV1_2: 'TLSv1_2',
  TLSV1_3: 'TLSv1_3',
};

function text(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function exactMatches(sans: string[]): Json[] {
  return sans.map((exact) => ({ exact }));
}

/** ApplyToCommonTLSContext: workload (or file) certificates over the agent's SDS. */
function agentCertificates(
  common: Json,
  sans: string[],
  validateClient: boolean,
  files?: { cert: string; key: string; ca: string },
): void {
  const certName =
    files && files.cert !== '' && files.key !== '' ? `file-cert:${files.cert}~${files.key}` : 'default';
  const rootName = files && files.ca !== '' ? `file-root:${files.ca}` : 'ROOTCA';
  if (validateClient) {
    const validation: Json = {};
    if (sans.length > 0) validation['matchSubjectAltNames'] = exactMatches(sans);
    common['combinedValidationContext'] = {
      defaultValidationContext: validation,
      validationContextSdsSecretConfig: sdsSecretConfig(rootName),
    };
  }
  common['tlsCertificateSdsSecretConfigs'] = [sdsSecretConfig(certName)];
}

/** ApplyCredentialSDSToServerCommonTLSContext. */
function credentialCertificates(
  common: Json,
  tls: Record<string, unknown>,
  credentialName: string,
  mutual: boolean,
): void {
  common['tlsCertificateSdsSecretConfigs'] = [credentialSdsSecretConfig(credentialName)];
  const sans = strings(tls['subjectAltNames']);
  if (mutual) {
    const validation: Json = {};
    if (sans.length > 0) validation['matchSubjectAltNames'] = exactMatches(sans);
    const spki = strings(tls['verifyCertificateSpki']);
    if (spki.length > 0) validation['verifyCertificateSpki'] = spki;
    const hashes = strings(tls['verifyCertificateHash']);
    if (hashes.length > 0) validation['verifyCertificateHash'] = hashes;
    common['combinedValidationContext'] = {
      defaultValidationContext: validation,
      validationContextSdsSecretConfig: credentialSdsSecretConfig(`${credentialName}-cacert`),
    };
  } else if (sans.length > 0) {
    common['validationContext'] = { matchSubjectAltNames: exactMatches(sans) };
  }
}

/** The DownstreamTlsContext (with `@type`) of a terminating server; undefined for passthrough servers. */
export function gatewayTlsContext(server: GatewayServer): Json | undefined {
  const tls = server.tls;
  const mode = server.tlsMode;
  if (!tls || mode === undefined || mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') return undefined;
  const mutual = mode === 'MUTUAL' || mode === 'ISTIO_MUTUAL';
  const alpn =
    mode === 'ISTIO_MUTUAL' && isTcpServerWithTlsTermination(server) ? ALPN_DOWNSTREAM_WITH_MXC : ALPN_HTTP;
  const common: Json = {};
  const ciphers = strings(tls['cipherSuites']);
  const minVersion = TLS_VERSIONS[text(tls['minProtocolVersion'])] ?? 'TLS_AUTO';
  const maxVersion = TLS_VERSIONS[text(tls['maxProtocolVersion'])] ?? 'TLS_AUTO';
  if (ciphers.length > 0 || minVersion !== 'TLS_AUTO' || maxVersion !== 'TLS_AUTO') {
    const params: Json = {};
    // TLS_AUTO is the enum's zero value: proto3 JSON leaves it out.
    if (minVersion !== 'TLS_AUTO') params['tlsMinimumProtocolVersion'] = minVersion;
    if (maxVersion !== 'TLS_AUTO') params['tlsMaximumProtocolVersion'] = maxVersion;
    if (ciphers.length > 0) params['cipherSuites'] = ciphers;
    common['tlsParams'] = params;
  }
  const credentialName = text(tls['credentialName']);
  if (mode === 'ISTIO_MUTUAL') {
    agentCertificates(common, strings(tls['subjectAltNames']), true);
  } else if (credentialName !== '') {
    credentialCertificates(common, tls, credentialName, mode === 'MUTUAL');
  } else {
    agentCertificates(common, strings(tls['subjectAltNames']), mutual, {
      cert: text(tls['serverCertificate']),
      key: text(tls['privateKey']),
      ca: text(tls['caCertificates']),
    });
  }
  common['alpnProtocols'] = [...alpn];
  return { '@type': TYPE_DOWNSTREAM_TLS, commonTlsContext: common, requireClientCertificate: mutual };
}
