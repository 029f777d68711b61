/**
 * Workload identity: the control plane's CA (self-signed root or plugged-in cacerts), CSR signing for
 * SPIFFE identities, the IstioCertificateService on 15012 with token or client-certificate authentication,
 * the agent's key/CSR/renewal loop and the SDS secrets it serves, and the istio-ca-root-cert ConfigMap.
 */
export {
  CACERTS_FILES,
  DEFAULT_WORKLOAD_CERT_TTL_SECONDS,
  MAX_WORKLOAD_CERT_TTL_SECONDS,
  loadOrCreateCa,
} from './ca.js';
export type { CertificateAuthority, LoadCaOptions } from './ca.js';
export { CaError } from './ca-errors.js';
export type { CaErrorType } from './ca-errors.js';
export { SELF_SIGNED_ROOT_TTL_SECONDS, createSelfSignedRoot, issueIntermediateCa } from './ca-root.js';
export type { GeneratedRoot, IntermediateOptions, RootOptions } from './ca-root.js';
export { issueServerCertificate, lifetime, signWorkloadCsr } from './ca-sign.js';
export type { KeyAndChain, ServerCertOptions, SignOptions } from './ca-sign.js';
export { CA_SERVICE_NAME, caServiceClient, caServiceDefinition } from './ca-proto.js';
export type { IstioCertificateRequest, IstioCertificateResponse } from './ca-proto.js';
export { addCaService } from './ca-service.js';
export type { CaServiceLog, CaServiceOptions } from './ca-service.js';
export {
  AuthenticationError,
  BEARER_PREFIX,
  authenticateCall,
  caAuthenticator,
  extractBearerToken,
  spiffeIdsOf,
} from './authn.js';
export type {
  AuthenticatableCall,
  AuthenticatorOptions,
  CallCredentials,
  Caller,
  CallerAuthenticator,
} from './authn.js';
export {
  ISTIO_CA_AUDIENCE,
  TOKEN_ISSUER,
  TokenError,
  issueServiceAccountToken,
  loadOrCreateTokenKey,
  verifyServiceAccountToken,
} from './token.js';
export type { ServiceAccountRef } from './token.js';
export {
  ISTIOD_SERVICE_NAME,
  IstiodServerCredentials,
  istiodChannelCredentials,
  istiodServerCredentials,
} from './credentials.js';
export type { IstiodChannel, IstiodCredentialsOptions } from './credentials.js';
export { CaRequestError, requestWorkloadCertificate } from './ca-client.js';
export type { CertificateRequestOptions } from './ca-client.js';
export { createWorkloadKeyAndCsr } from './csr.js';
export type { CsrOptions, KeyAndCsr } from './csr.js';
export type { KeyAlgorithm } from './keys.js';
export { DEFAULT_SECRET_TTL_SECONDS, WorkloadCertManager } from './cert-manager.js';
export type { CertificateRequester, WorkloadCert, WorkloadCertManagerOptions } from './cert-manager.js';
export { SECRET_GRACE_PERIOD_RATIO, SECRET_GRACE_PERIOD_RATIO_JITTER, rotationDelayMs } from './rotation.js';
export type { RotationInput } from './rotation.js';
export {
  ROOT_SECRET_NAME,
  WORKLOAD_SECRET_NAME,
  certInfoOf,
  concatCerts,
  rootCaSecret,
  workloadSecret,
} from './sds.js';
export type { CertInfo, SdsSecret } from './sds.js';
export { CA_ROOT_CONFIGMAP_KEY, CA_ROOT_CONFIGMAP_NAME, rootCertConfigMap } from './configmap.js';
export type { ConfigMapObject } from './configmap.js';
export { DEFAULT_TRUST_DOMAIN, SPIFFE_PREFIX, parseSpiffeUri, spiffeUri } from './spiffe.js';
export type { SpiffeIdentity } from './spiffe.js';
export { goDuration, splitPem } from './pem.js';
