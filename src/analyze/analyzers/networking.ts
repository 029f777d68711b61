import type { Analyzer } from '../analyzer.js';
import { virtualServiceDestinationRuleAnalyzer } from './vs-destination-rule.js';

/** Analyzers over routing config: gateways, virtual services, destination rules, service entries. */
export const NETWORKING_ANALYZERS: readonly Analyzer[] = [virtualServiceDestinationRuleAnalyzer];
