/**
 * What the agent does before asking the CA (pkg/security GenCSR via secretcache.generateNewSecret): a new
 * key (RSA 2048 by default, ECDSA P-256 when asked) and a PKCS#10 CSR with an empty subject whose only
 * extension is a critical SAN holding the workload's SPIFFE URI (util.BuildSubjectAltNameExtension).
 *
 * The CSR is DER-encoded here and signed with Node's crypto rather than built with @peculiar/x509: every
 * proxy makes one before it is ready, and loading that library costs each proxy process more CPU than
 * everything else this module does.
 */
import { createPublicKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { generateKey, privateKeyPem } from './keys.js';
import type { KeyAlgorithm } from './keys.js';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export interface CsrOptions {
  keyAlgorithm?: KeyAlgorithm;
  rsaBits?: number;
}

/** One DER TLV: tag, definite length (short or long form), contents. */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  if (n < 0x80) return Buffer.concat([Buffer.from([tag, n]), body]);
  const len: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v % 256);
  return Buffer.concat([Buffer.from([tag, 0x80 | len.length, ...len]), body]);
}

/** A DER OBJECT IDENTIFIER from its dotted form. */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [40 * (arcs[0] ?? 0) + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return tlv(0x06, Buffer.from(bytes));
}

const SEQUENCE = 0x30;
const SET = 0x31;
const NULL = Buffer.from([0x05, 0x00]);
const EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const SUBJECT_ALT_NAME = '2.5.29.17';
const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const ECDSA_WITH_SHA512 = '1.2.840.10045.4.3.4';
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

/** The signature algorithm (hash and AlgorithmIdentifier) keys.ts picks for this key. */
function signatureAlgorithm(key: KeyObject): { hash: string; identifier: Buffer } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'secp384r1') return { hash: 'sha384', identifier: tlv(SEQUENCE, oid(ECDSA_WITH_SHA384)) };
    if (curve === 'secp521r1') return { hash: 'sha512', identifier: tlv(SEQUENCE, oid(ECDSA_WITH_SHA512)) };
    return { hash: 'sha256', identifier: tlv(SEQUENCE, oid(ECDSA_WITH_SHA256)) };
  }
  return { hash: 'sha256', identifier: tlv(SEQUENCE, oid(SHA256_WITH_RSA), NULL) };
}

/** The extensionRequest attribute carrying a critical SAN of one URI. */
function sanAttribute(uri: string): Buffer {
  const generalNames = tlv(SEQUENCE, tlv(0x86, Buffer.from(uri, 'ascii'))); // [6] uniformResourceIdentifier
  const critical = Buffer.from([0x01, 0x01, 0xff]);
  const extension = tlv(SEQUENCE, oid(SUBJECT_ALT_NAME), critical, tlv(0x04, generalNames));
  return tlv(SEQUENCE, oid(EXTENSION_REQUEST), tlv(SET, tlv(SEQUENCE, extension)));
}

/** A PEM CSR signed by the key: empty subject, the key's SPKI, and a critical URI SAN when given. */
export function workloadCsrPem(key: KeyObject, identity: string): string {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const attributes = tlv(0xa0, ...(identity ? [sanAttribute(identity)] : [])); // [0] IMPLICIT SET OF
  const version = Buffer.from([0x02, 0x01, 0x00]);
  const info = tlv(SEQUENCE, version, tlv(SEQUENCE), spki, attributes);
  const alg = signatureAlgorithm(key);
  // ECDSA signatures come DER-encoded (Ecdsa-Sig-Value), as X.509 wants them inside the BIT STRING.
  const signature = sign(alg.hash, info, key);
  const der = tlv(SEQUENCE, info, alg.identifier, tlv(0x03, Buffer.from([0]), signature));
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${lines.join('\n')}\n-----END CERTIFICATE REQUEST-----\n`;
}

export async function createWorkloadKeyAndCsr(identity: string, opts: CsrOptions = {}): Promise<KeyAndCsr> {
  const key = await generateKey(opts.keyAlgorithm ?? 'RSA', opts.rsaBits ?? 2048);
  return { keyPem: privateKeyPem(key), csrPem: workloadCsrPem(key, identity) };
}
