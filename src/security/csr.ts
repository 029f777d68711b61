/**
 * What the agent does before asking the CA (pkg/security GenCSR via secretcache.generateNewSecret): a new
 * key (RSA 2048 by default, ECDSA P-256 when asked) and a CSR whose only SAN is the workload's SPIFFE URI.
 */
import { crypto, generateKey, privateKeyPem, toWebKeyPair } from './keys.js';
import type { KeyAlgorithm } from './keys.js';
import * as x509 from './x509.js';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export interface CsrOptions {
  keyAlgorithm?: KeyAlgorithm;
  rsaBits?: number;
}

export async function createWorkloadKeyAndCsr(identity: string, opts: CsrOptions = {}): Promise<KeyAndCsr> {
  const key = await generateKey(opts.keyAlgorithm ?? 'RSA', opts.rsaBits ?? 2048);
  const pair = await toWebKeyPair(key);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: [],
      keys: { privateKey: pair.privateKey, publicKey: pair.publicKey },
      signingAlgorithm: pair.signingAlgorithm,
      // Critical because the subject is empty (util.BuildSubjectAltNameExtension).
      extensions: identity
        ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)]
        : [],
    },
    crypto,
  );
  return { keyPem: privateKeyPem(key), csrPem: csr.toString('pem') + '\n' };
}
