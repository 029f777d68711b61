import type { Analyzer } from '../analyzer.js';
import { virtualServiceDestinationRuleAnalyzer } from './vs-destination-rule.js';

/** Every analyzer `skiff analyze` runs, in name order. */
export const ALL_ANALYZERS: readonly Analyzer[] = [virtualServiceDestinationRuleAnalyzer].sort((a, b) =>
  a.name < b.name ? -1 : 1,
);
