/**
 * The control plane's CA: either plugged-in `cacerts` (Istio's file names ca-cert.pem, ca-key.pem,
 * root-cert.pem, cert-chain.pem) or a self-signed root created once and kept under `<stateDir>/ca/`
 * (istiod keeps it in the `istio-ca-secret` Secret; a restart reuses it).
 */
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { createSelfSignedRoot } from './ca-root.js';
import { keyMatchesCertificate, parsePrivateKeyPem, toWebKeyPair } from './keys.js';
import type { WebKeyPair } from './keys.js';
import { splitPem } from './pem.js';
import { DEFAULT_TRUST_DOMAIN } from './spiffe.js';

/** DEFAULT_WORKLOAD_CERT_TTL. */
export const DEFAULT_WORKLOAD_CERT_TTL_SECONDS = 24 * 3600;
/** MAX_WORKLOAD_CERT_TTL. */
export const MAX_WORKLOAD_CERT_TTL_SECONDS = 90 * 24 * 3600;

/** Istio's plugged-in CA file names (security/pkg/pki/ca/ca.go). */
export const CACERTS_FILES = {
  signingCert: 'ca-cert.pem',
  signingKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
} as const;

export interface CertificateAuthority {
  readonly trustDomain: string;
  readonly source: 'self-signed' | 'plugged';
  /** The certificate the CA signs with (ca-cert.pem), and its key. */
  readonly signingCertPem: string;
  readonly signingCert: X509Certificate;
  readonly signingKey: KeyObject;
  readonly signer: WebKeyPair;
  /** Certificates between the signing certificate and the root, nearest the leaf first (one PEM each). */
  readonly intermediatePems: readonly string[];
  /** The trust bundle (root-cert.pem); the last element of every issued chain. */
  readonly rootCertPem: string;
  readonly rootCerts: readonly X509Certificate[];
  /** Used when a request asks for TTL ≤ 0; never outlives the signing certificate (Istio's minTTL). */
  readonly defaultTtlSeconds: number;
  readonly maxTtlSeconds: number;
  /** The directory the CA was loaded from or persisted to, if any. */
  readonly dir?: string;
}

export interface LoadCaOptions {
  /** Where a self-signed root is kept (`<stateDir>/ca/`); without it the root lives only in memory. */
  stateDir?: string;
  /** A plugged-in `cacerts` directory; when given, all four files must be present. */
  cacertsDir?: string;
  trustDomain?: string;
  now?: Date;
  defaultTtlSeconds?: number;
  maxTtlSeconds?: number;
}

export async function loadOrCreateCa(opts: LoadCaOptions = {}): Promise<CertificateAuthority> {
  const trustDomain = opts.trustDomain || DEFAULT_TRUST_DOMAIN;
  if (opts.cacertsDir) return loadPluggedCa(opts.cacertsDir, trustDomain, opts);
  if (!opts.stateDir) {
    const root = await createSelfSignedRoot({ trustDomain, now: opts.now });
    return selfSigned(trustDomain, root.certPem, root.keyPem, undefined, opts, 'generated root');
  }
  const dir = path.join(opts.stateDir, 'ca');
  const certFile = path.join(dir, CACERTS_FILES.signingCert);
  const keyFile = path.join(dir, CACERTS_FILES.signingKey);
  if (!existsSync(certFile)) await createPersistedRoot(dir, certFile, keyFile, trustDomain, opts.now);
  return selfSigned(trustDomain, readText(certFile), readText(keyFile), dir, opts, certFile, keyFile);
}

function selfSigned(
  trustDomain: string,
  certPem: string,
  keyPem: string,
  dir: string | undefined,
  opts: LoadCaOptions,
  certName: string,
  keyName = certName,
): Promise<CertificateAuthority> {
  return assembleCa(
    { trustDomain, source: 'self-signed', certPem, keyPem, chainPem: '', rootPem: certPem, dir, opts },
    { cert: certName, key: keyName, root: certName, chain: certName },
  );
}

/**
 * Creates the root once even when two processes start together: whoever creates ca-key.pem exclusively
 * generates; the other waits for ca-cert.pem. A key left without a certificate (a crash in between) gets a
 * root issued over it, as Istio's root rotation reuses the key.
 */
async function createPersistedRoot(
  dir: string,
  certFile: string,
  keyFile: string,
  trustDomain: string,
  now: Date | undefined,
): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let fd: number | undefined;
  try {
    fd = openSync(keyFile, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new Error(`${keyFile}: cannot be created (${(e as Error).message})`);
  }
  if (fd !== undefined) {
    try {
      const root = await createSelfSignedRoot({ trustDomain, now });
      writeSync(fd, root.keyPem);
      fsyncSync(fd);
      writeAtomically(certFile, root.certPem, 0o644); // the certificate's presence marks the root as created
    } finally {
      closeSync(fd);
    }
    return;
  }
  for (let waited = 0; waited < 10_000 && !existsSync(certFile); waited += 50) {
    await new Promise((r) => setTimeout(r, 50));
  }
  if (existsSync(certFile)) return;
  let key: KeyObject;
  try {
    key = parsePrivateKeyPem(readText(keyFile));
  } catch (e) {
    throw new Error(`${keyFile}: ${(e as Error).message} (and ${CACERTS_FILES.signingCert} is missing)`);
  }
  const root = await createSelfSignedRoot({ trustDomain, now, key });
  writeAtomically(certFile, root.certPem, 0o644);
}

async function loadPluggedCa(
  dir: string,
  trustDomain: string,
  opts: LoadCaOptions,
): Promise<CertificateAuthority> {
  const file = (name: string): string => path.join(dir, name);
  for (const name of Object.values(CACERTS_FILES)) {
    if (!existsSync(file(name))) {
      throw new Error(
        `incomplete signing CA bundle in ${dir}: ${name} is missing (need ${Object.values(CACERTS_FILES).join(', ')})`,
      );
    }
  }
  return assembleCa(
    {
      trustDomain,
      source: 'plugged',
      certPem: readText(file(CACERTS_FILES.signingCert)),
      keyPem: readText(file(CACERTS_FILES.signingKey)),
      chainPem: readText(file(CACERTS_FILES.certChain)),
      rootPem: readText(file(CACERTS_FILES.rootCert)),
      dir,
      opts,
    },
    {
      cert: file(CACERTS_FILES.signingCert),
      key: file(CACERTS_FILES.signingKey),
      root: file(CACERTS_FILES.rootCert),
      chain: file(CACERTS_FILES.certChain),
    },
  );
}

interface CaMaterial {
  trustDomain: string;
  source: 'self-signed' | 'plugged';
  certPem: string;
  keyPem: string;
  chainPem: string;
  rootPem: string;
  dir: string | undefined;
  opts: LoadCaOptions;
}

/** Parses and cross-checks the material; every error names the file it is about. */
async function assembleCa(
  m: CaMaterial,
  files: { cert: string; key: string; root: string; chain: string },
): Promise<CertificateAuthority> {
  const signingCerts = parseCerts(m.certPem, files.cert);
  const signingCert = signingCerts[0]!;
  if (!signingCert.ca)
    throw new Error(`${files.cert}: certificate is not authorized to sign other certificates (not a CA)`);
  let signingKey: KeyObject;
  try {
    signingKey = parsePrivateKeyPem(m.keyPem);
  } catch (e) {
    throw new Error(`${files.key}: ${(e as Error).message}`);
  }
  if (!keyMatchesCertificate(signingKey, signingCert)) {
    throw new Error(`${files.key}: the key does not match the certificate in ${files.cert}`);
  }
  const rootCerts = parseCerts(m.rootPem, files.root);
  const chainCerts = m.chainPem.trim() ? parseCerts(m.chainPem, files.chain) : [];
  const isRoot = (c: X509Certificate): boolean => rootCerts.some((r) => r.raw.equals(c.raw));
  const intermediates = chainCerts.filter((c) => !isRoot(c));
  if (!isRoot(signingCert) && !intermediates.some((c) => c.raw.equals(signingCert.raw))) {
    intermediates.unshift(signingCert);
  }
  verifyChain(signingCert, intermediates, rootCerts, files);
  const now = m.opts.now ?? new Date();
  const remaining = Math.floor((Date.parse(signingCert.validTo) - now.getTime()) / 1000);
  if (remaining <= 0)
    throw new Error(`${files.cert}: the CA certificate has expired (${signingCert.validTo})`);
  const wantedDefault = m.opts.defaultTtlSeconds ?? DEFAULT_WORKLOAD_CERT_TTL_SECONDS;
  return {
    trustDomain: m.trustDomain,
    source: m.source,
    signingCertPem: splitPem(m.certPem)[0]!,
    signingCert,
    signingKey,
    signer: await toWebKeyPair(signingKey),
    intermediatePems: intermediates.map((c) => c.toString()),
    rootCertPem: splitPem(m.rootPem).join(''),
    rootCerts,
    defaultTtlSeconds: Math.min(wantedDefault, remaining),
    maxTtlSeconds: m.opts.maxTtlSeconds ?? MAX_WORKLOAD_CERT_TTL_SECONDS,
    ...(m.dir ? { dir: m.dir } : {}),
  };
}

/** The signing certificate must chain to one of the roots through the given intermediates. */
function verifyChain(
  signing: X509Certificate,
  intermediates: X509Certificate[],
  roots: readonly X509Certificate[],
  files: { cert: string; root: string; chain: string },
): void {
  let current = signing;
  const pool = [...intermediates];
  for (let depth = 0; depth < 10; depth++) {
    const root = roots.find((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (root) return;
    const next = pool.find(
      (c) => !c.raw.equals(current.raw) && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (!next) break;
    current = next;
  }
  throw new Error(
    `${files.cert}: cannot verify the CA certificate up to ${files.root} through ${files.chain}` +
      ` (no issuer found for "${current.subject.replace(/\n/g, ', ')}")`,
  );
}

function parseCerts(pem: string, file: string): X509Certificate[] {
  const blocks = splitPem(pem);
  if (blocks.length === 0) throw new Error(`${file}: no PEM encoded X.509 certificates parsed`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new Error(`${file}: certificate ${i + 1} is not a valid X.509 certificate`);
    }
  });
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
