/**
 * Key handling between Node's KeyObjects (file formats, key generation) and WebCrypto CryptoKeys (what
 * @peculiar/x509 signs with). RSA keys sign with SHA-256 PKCS#1 v1.5 and ECDSA keys with the curve's hash,
 * as Go's x509.CreateCertificate picks for Istio.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as nodeGenerateKeyPair,
  webcrypto,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(nodeGenerateKeyPair);

/** The WebCrypto implementation @peculiar/x509 uses (Node's own; `loadX509` sets it as its provider). */
export const crypto = webcrypto as unknown as Crypto;

export type KeyAlgorithm = 'RSA' | 'ECDSA';

export interface WebKeyPair {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The signature algorithm certificates and CSRs signed by this key use. */
  signingAlgorithm: Algorithm | EcdsaParams;
}

/** A new key pair: RSA (2048 by default, Istio's WORKLOAD_RSA_KEY_SIZE) or ECDSA P-256 (ECC_SIGNATURE_ALGORITHM). */
export async function generateKey(algorithm: KeyAlgorithm = 'RSA', rsaBits = 2048): Promise<KeyObject> {
  if (algorithm === 'ECDSA') {
    return (await generateKeyPairAsync('ec', { namedCurve: 'P-256' })).privateKey;
  }
  return (await generateKeyPairAsync('rsa', { modulusLength: rsaBits })).privateKey;
}

/** PEM as Go's encodePem writes it: `RSA PRIVATE KEY` (PKCS#1) or `EC PRIVATE KEY` (SEC 1). */
export function privateKeyPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1';
  return key.export({ type, format: 'pem' }).toString();
}

/** Parses a PEM private key in PKCS#1, SEC 1 or PKCS#8 form; throws a plain message otherwise. */
export function parsePrivateKeyPem(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('invalid PEM-encoded key');
  }
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') {
    throw new Error(`unsupported private key type ${key.asymmetricKeyType ?? 'unknown'}`);
  }
  return key;
}

function webAlgorithms(key: KeyObject): {
  importAlg: RsaHashedImportParams | EcKeyImportParams;
  sign: Algorithm | EcdsaParams;
} {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256';
    const hash = namedCurve === 'P-384' ? 'SHA-384' : namedCurve === 'P-521' ? 'SHA-512' : 'SHA-256';
    return { importAlg: { name: 'ECDSA', namedCurve }, sign: { name: 'ECDSA', hash } as EcdsaParams };
  }
  const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return { importAlg: rsa, sign: rsa };
}

/** The WebCrypto pair of a Node private key. */
export async function toWebKeyPair(key: KeyObject): Promise<WebKeyPair> {
  const { importAlg, sign } = webAlgorithms(key);
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, importAlg, false, ['sign']);
  const publicKey = await crypto.subtle.importKey('spki', spki, importAlg, true, ['verify']);
  return { privateKey, publicKey, signingAlgorithm: sign };
}

/** True when the private key belongs to the certificate (compares the public keys). */
export function keyMatchesCertificate(key: KeyObject, cert: { publicKey: KeyObject }): boolean {
  const a = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const b = cert.publicKey.export({ type: 'spki', format: 'der' });
  return a.equals(b);
}
