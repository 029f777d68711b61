/**
 * Signing as IstioCA.sign does (security/pkg/pki/ca/ca.go, util/generate_cert.go genCertTemplateFromCSR):
 * the CSR must parse and carry a valid self-signature; the certificate's only SAN is the caller's identity
 * (a critical SAN over an empty subject), key usage digitalSignature|keyEncipherment, extended key usage
 * serverAuth+clientAuth, a random 128-bit serial, valid from two minutes ago (clock skew) for the TTL.
 */
import { isIP } from 'node:net';
import { loadX509 } from './x509.js';
import type * as X509 from './x509.js';
import type { CertificateAuthority } from './ca.js';
import { CaError } from './ca-errors.js';
import { crypto, generateKey, privateKeyPem, toWebKeyPair } from './keys.js';
import type { KeyAlgorithm } from './keys.js';
import { goDuration, randomSerialHex } from './pem.js';
import { parseSpiffeUri } from './spiffe.js';

/** util.ClockSkewGracePeriod. */
const CLOCK_SKEW_GRACE_MS = 2 * 60 * 1000;
const SAN_OID = '2.5.29.17';

type X509Library = Awaited<ReturnType<typeof loadX509>>;

export interface SignOptions {
  /** The authenticated caller's SPIFFE identity; never taken from the CSR. */
  identity: string;
  /** Requested lifetime; ≤ 0 or missing means the CA's default. */
  ttlSeconds?: number;
  now?: Date;
}

/** Signs a workload CSR; resolves to the chain Istio returns: [leaf, ...intermediates, root bundle]. */
export async function signWorkloadCsr(
  ca: CertificateAuthority,
  csrPem: string,
  opts: SignOptions,
): Promise<string[]> {
  try {
    parseSpiffeUri(opts.identity);
  } catch {
    throw new CaError('CSR_ERROR', `caller identity ${JSON.stringify(opts.identity)} is not a spiffe format`);
  }
  const csr = await parseAndCheckCsr(csrPem);
  const requested = requestedUris(await loadX509(), csr);
  const foreign = requested.filter((u) => u !== opts.identity);
  if (foreign.length > 0) {
    throw new CaError(
      'IDENTITY_MISMATCH',
      `the CSR asks for identity ${foreign.join(', ')} but the caller is authenticated as ${opts.identity}`,
    );
  }
  const ttl = lifetime(ca, opts.ttlSeconds);
  const leaf = await issueLeaf(ca, csr.publicKey, [{ type: 'url', value: opts.identity }], ttl, opts.now, {
    commonName: csrHasCommonName(csr) && opts.identity.length <= 64 ? opts.identity : undefined,
  });
  return [leaf, ...ca.intermediatePems, ca.rootCertPem];
}

/** Istio's TTL rule: ≤ 0 → default; above the max → TTL_ERROR with Istio's wording. */
export function lifetime(ca: CertificateAuthority, requested: number | undefined): number {
  const ttl = typeof requested === 'number' && Number.isFinite(requested) ? Math.trunc(requested) : 0;
  if (ttl <= 0) return ca.defaultTtlSeconds;
  if (ttl > ca.maxTtlSeconds) {
    throw new CaError(
      'TTL_ERROR',
      `requested TTL ${goDuration(ttl)} is greater than the max allowed TTL ${goDuration(ca.maxTtlSeconds)}`,
    );
  }
  return ttl;
}

async function parseAndCheckCsr(csrPem: string): Promise<X509.Pkcs10CertificateRequest> {
  const x509 = await loadX509();
  if (typeof csrPem !== 'string' || !/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(csrPem)) {
    throw new CaError('CSR_ERROR', 'certificate signing request is not properly encoded');
  }
  let csr: X509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CaError('CSR_ERROR', 'failed to parse X.509 certificate signing request');
  }
  let ok = false;
  try {
    ok = await csr.verify(crypto);
  } catch {
    ok = false;
  }
  if (!ok) throw new CaError('CSR_ERROR', 'x509: the CSR signature does not verify');
  return csr;
}

/** URI SANs the CSR asks for (they must all be the caller's). */
function requestedUris(x509: X509Library, csr: X509.Pkcs10CertificateRequest): string[] {
  let ext: X509.Extension | null = null;
  try {
    ext = csr.getExtension(SAN_OID);
  } catch {
    throw new CaError('CSR_ERROR', 'failed to parse the subject alternative names of the CSR');
  }
  if (!ext) return [];
  const san =
    ext instanceof x509.SubjectAlternativeNameExtension
      ? ext
      : new x509.SubjectAlternativeNameExtension(ext.rawData);
  return san.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

function csrHasCommonName(csr: X509.Pkcs10CertificateRequest): boolean {
  try {
    return csr.subjectName.getField('CN').some((v) => v.length > 0);
  } catch {
    return false;
  }
}

export interface LeafOptions {
  commonName?: string | undefined;
}

/** Issues a leaf for a public key with the given SANs (SAN critical when the subject is empty). */
async function issueLeaf(
  ca: CertificateAuthority,
  publicKey: X509.PublicKeyType,
  sans: X509.JsonGeneralName[],
  ttlSeconds: number,
  now: Date | undefined,
  opts: LeafOptions = {},
): Promise<string> {
  const x509 = await loadX509();
  const t = (now ?? new Date()).getTime();
  const issuer = new x509.X509Certificate(ca.signingCert.raw);
  const extensions: X509.Extension[] = [
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension(
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    new x509.BasicConstraintsExtension(false, undefined, true),
  ];
  const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId, false));
  extensions.push(new x509.SubjectAlternativeNameExtension(sans, !opts.commonName));
  try {
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerialHex(),
        subject: opts.commonName ? [{ CN: [opts.commonName] }] : [],
        issuer: issuer.subjectName,
        notBefore: new Date(t - CLOCK_SKEW_GRACE_MS),
        notAfter: new Date(t + ttlSeconds * 1000),
        publicKey,
        signingKey: ca.signer.privateKey,
        signingAlgorithm: ca.signer.signingAlgorithm,
        extensions,
      },
      crypto,
    );
    return cert.toString('pem') + '\n';
  } catch (e) {
    throw new CaError(
      'CERT_GEN_ERROR',
      `cert generation fails at X509 cert creation (${(e as Error).message})`,
    );
  }
}

export interface ServerCertOptions {
  /** DNS names and IP addresses for the SAN (Istio's BuildSubjectAltNameExtension tells them apart). */
  hosts: string[];
  /** istiod's DNS cert lives as long as the self-signed root by default (SelfSignedCACertTTL). */
  ttlSeconds?: number;
  keyAlgorithm?: KeyAlgorithm;
  now?: Date;
}

export interface KeyAndChain {
  /** Leaf first, then intermediates (no root), as a TLS server presents it. */
  certChainPem: string;
  keyPem: string;
}

/** A key and certificate for a server (istiod's 15012), signed by the CA (IstioCA.GenKeyCert). */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  opts: ServerCertOptions,
): Promise<KeyAndChain> {
  const key = await generateKey(opts.keyAlgorithm ?? 'RSA');
  const pair = await toWebKeyPair(key);
  const sans: X509.JsonGeneralName[] = opts.hosts
    .filter((h) => typeof h === 'string' && h.length > 0)
    .map((h) =>
      isIP(h)
        ? { type: 'ip', value: h }
        : h.includes('://')
          ? { type: 'url', value: h }
          : { type: 'dns', value: h },
    );
  const remaining = Math.floor((Date.parse(ca.signingCert.validTo) - Date.now()) / 1000);
  const leaf = await issueLeaf(
    ca,
    pair.publicKey,
    sans,
    opts.ttlSeconds ?? Math.max(remaining, 60),
    opts.now,
  );
  return { certChainPem: [leaf, ...ca.intermediatePems].join(''), keyPem: privateKeyPem(key) };
}
