/**
 * The self-signed root istiod creates when no `cacerts` are plugged in (security/pkg/pki/ca/ca.go with
 * util.GenCertKeyFromOptions): RSA 2048, subject O=<trust domain> and no CN, 10-year validity from now,
 * CA:true, key usage certSign (Go marks key usage and basic constraints critical and adds a subject key
 * identifier to CA certificates).
 */
import type { KeyObject } from 'node:crypto';
import type { CertificateAuthority } from './ca.js';
import { loadX509 } from './x509.js';
import type * as X509 from './x509.js';
import { crypto, generateKey, privateKeyPem, toWebKeyPair } from './keys.js';
import { randomSerialHex } from './pem.js';

/** CITADEL_SELF_SIGNED_CA_CERT_TTL: 3650 × 24 h. */
export const SELF_SIGNED_ROOT_TTL_SECONDS = 3650 * 24 * 3600;
/** CITADEL_SELF_SIGNED_CA_RSA_KEY_SIZE. */
export const SELF_SIGNED_ROOT_RSA_BITS = 2048;

export interface RootOptions {
  trustDomain: string;
  now?: Date;
  ttlSeconds?: number;
  rsaBits?: number;
  /** Re-issue the root over an existing key (Istio's root rotation keeps the key). */
  key?: KeyObject;
}

export interface GeneratedRoot {
  certPem: string;
  keyPem: string;
  key: KeyObject;
}

export async function createSelfSignedRoot(opts: RootOptions): Promise<GeneratedRoot> {
  const key = opts.key ?? (await generateKey('RSA', opts.rsaBits ?? SELF_SIGNED_ROOT_RSA_BITS));
  const pair = await toWebKeyPair(key);
  const x509 = await loadX509();
  const notBefore = opts.now ?? new Date();
  const notAfter = new Date(notBefore.getTime() + (opts.ttlSeconds ?? SELF_SIGNED_ROOT_TTL_SECONDS) * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      name: [{ O: [opts.trustDomain] }],
      notBefore,
      notAfter,
      keys: { privateKey: pair.privateKey, publicKey: pair.publicKey },
      signingAlgorithm: pair.signingAlgorithm,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
        new x509.BasicConstraintsExtension(true, undefined, true),
        await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: privateKeyPem(key), key };
}

export interface IntermediateOptions {
  /** Organization of the intermediate's subject (Istio's tools/certs use the cluster name). */
  organization?: string;
  commonName?: string;
  ttlSeconds?: number;
  now?: Date;
}

/**
 * An intermediate CA signed by an existing CA, for plugging in as `cacerts` (what Istio's tools/certs
 * Makefile makes per cluster): RSA 2048, CA:true, key usage certSign, path length 0.
 */
export async function issueIntermediateCa(
  issuer: Pick<CertificateAuthority, 'signingCert' | 'signer'>,
  opts: IntermediateOptions = {},
): Promise<GeneratedRoot> {
  const key = await generateKey('RSA', SELF_SIGNED_ROOT_RSA_BITS);
  const pair = await toWebKeyPair(key);
  const x509 = await loadX509();
  const parent = new x509.X509Certificate(issuer.signingCert.raw);
  const notBefore = opts.now ?? new Date();
  const notAfter = new Date(notBefore.getTime() + (opts.ttlSeconds ?? 2 * 365 * 24 * 3600) * 1000);
  const extensions: X509.Extension[] = [
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    new x509.BasicConstraintsExtension(true, 0, true),
    await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, crypto),
  ];
  const parentSki = parent.getExtension(x509.SubjectKeyIdentifierExtension);
  if (parentSki) extensions.push(new x509.AuthorityKeyIdentifierExtension(parentSki.keyId, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(),
      subject: [{ O: [opts.organization ?? 'Istio'] }, { CN: [opts.commonName ?? 'Intermediate CA'] }],
      issuer: parent.subjectName,
      notBefore,
      notAfter,
      publicKey: pair.publicKey,
      signingKey: issuer.signer.privateKey,
      signingAlgorithm: issuer.signer.signingAlgorithm,
      extensions,
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: privateKeyPem(key), key };
}
