import type { Analyzer } from '../analyzer.js';
import { NETWORKING_ANALYZERS } from './networking.js';
import { PLATFORM_ANALYZERS } from './platform.js';

/** Every analyzer `skiff analyze` runs, in name order. */
export const ALL_ANALYZERS: readonly Analyzer[] = [...NETWORKING_ANALYZERS, ...PLATFORM_ANALYZERS].sort(
  (a, b) => (a.name < b.name ? -1 : 1),
);
