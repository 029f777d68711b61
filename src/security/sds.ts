/**
 * The SDS resources the agent serves Envoy (security/pkg/nodeagent/sds/sdsservice.go toEnvoySecret), in
 * proto3 JSON: `default` = the workload's certificate chain and key, `ROOTCA` = the trust bundle.
 * Plus the certificate facts `proxy-config secret` shows.
 */
import { X509Certificate } from 'node:crypto';
import { splitPem } from './pem.js';

/** pkg/security: WorkloadKeyCertResourceName and RootCertReqResourceName. */
export const WORKLOAD_SECRET_NAME = 'default';
export const ROOT_SECRET_NAME = 'ROOTCA';

export interface SdsSecret {
  name: string;
  tlsCertificate?: { certificateChain: { inlineBytes: string }; privateKey: { inlineBytes: string } };
  validationContext?: { trustedCa: { inlineBytes: string } };
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

export function workloadSecret(certChainPem: string, keyPem: string): SdsSecret {
  return {
    name: WORKLOAD_SECRET_NAME,
    tlsCertificate: {
      certificateChain: { inlineBytes: b64(certChainPem) },
      privateKey: { inlineBytes: b64(keyPem) },
    },
  };
}

export function rootCaSecret(rootCertPem: string): SdsSecret {
  return { name: ROOT_SECRET_NAME, validationContext: { trustedCa: { inlineBytes: b64(rootCertPem) } } };
}

/** Istio's concatCerts: the CA's chain elements joined, a newline added where one is missing. */
export function concatCerts(pems: readonly string[]): string {
  return pems.map((p, i) => (i < pems.length - 1 && !p.endsWith('\n') ? p + '\n' : p)).join('');
}

export interface CertInfo {
  /** SDS resource name (`default`, `ROOTCA`). */
  resourceName: string;
  type: 'Cert Chain' | 'CA';
  /** Lowercase hex without leading zeros (Go's big.Int Text(16), as istioctl prints it). */
  serialNumber: string;
  notBefore: string;
  notAfter: string;
  /** Now within [notBefore, notAfter]. */
  valid: boolean;
}

/** Facts about the first certificate of a PEM bundle; undefined when it does not parse. */
export function certInfoOf(resourceName: string, pem: string, now = new Date()): CertInfo | undefined {
  const first = splitPem(pem)[0];
  if (!first) return undefined;
  try {
    const cert = new X509Certificate(first);
    const notBefore = new Date(cert.validFrom);
    const notAfter = new Date(cert.validTo);
    return {
      resourceName,
      type: resourceName === ROOT_SECRET_NAME ? 'CA' : 'Cert Chain',
      serialNumber: cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, ''),
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
      valid: now >= notBefore && now <= notAfter,
    };
  } catch {
    return undefined;
  }
}
