/**
 * @peculiar/x509, loaded on first use after the Reflect metadata polyfill it needs (its tsyringe dependency
 * throws at load time without one). Only the CA side (root, intermediate and leaf issuance, CSR checks)
 * uses it; loading it costs a few hundred ms of CPU, so a proxy process, which imports this module for
 * the workload CSR and the CA client only, never loads it. Every file in this module gets the library
 * through `loadX509()` and its types through `import type * as x509 from './x509.js'`.
 */
import { webcrypto } from 'node:crypto';

export type * from '@peculiar/x509';

type X509Library = typeof import('@peculiar/x509');

let library: Promise<X509Library> | undefined;

/** The library, with Node's WebCrypto as its crypto provider; loaded once. */
export function loadX509(): Promise<X509Library> {
  library ??= (async () => {
    // tsyringe (under @peculiar/x509) needs the Reflect metadata API at load time.
    await import('reflect-metadata');
    const lib = await import('@peculiar/x509');
    lib.cryptoProvider.set(webcrypto as unknown as Crypto);
    return lib;
  })();
  return library;
}
