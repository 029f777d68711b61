/**
 * Kept for callers that still register the generators' message types explicitly: `envoyRoot()` now loads
 * them all (see protos.ts), so this only makes sure the Root is loaded.
 */
import { envoyRoot } from '../protos.js';

export function registerGeneratorProtos(): void {
  envoyRoot();
}
