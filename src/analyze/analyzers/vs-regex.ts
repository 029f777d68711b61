import type { Resource } from '../../api/index.js';
import { KIND, re2Error, specOf } from '../../api/index.js';
import type { AnalysisContext, Analyzer } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject } from './util.js';

/** Match fields holding one StringMatch each. */
const SINGLE_MATCH_FIELDS = ['uri', 'scheme', 'method', 'authority'] as const;
/** Match fields holding a map of StringMatch by name. */
const KEYED_MATCH_FIELDS = ['headers', 'queryParams'] as const;

/**
 * Every `regex` string match of a VirtualService's http rules (uri, scheme, method, authority, headers,
 * queryParams, corsPolicy.allowOrigins) must compile as RE2, as Envoy compiles it. `withoutHeaders` is
 * skipped, as in Istio.
 */
export const vsRegexAnalyzer: Analyzer = {
  name: 'virtualservice.RegexAnalyzer',
  description: 'Checks regex syntax',
  inputs: [KIND.VirtualService],
  analyze(ctx) {
    for (const vs of ctx.snapshot.list(KIND.VirtualService)) {
      asArray(specOf(vs)['http']).forEach((r, i) => {
        const rule = asObject(r);
        asArray(rule?.['match']).forEach((m, j) => {
          const match = asObject(m);
          for (const field of SINGLE_MATCH_FIELDS) {
            checkStringMatch(ctx, vs, match?.[field], field, `{.spec.http[${i}].match[${j}].${field}.regex}`);
          }
          for (const field of KEYED_MATCH_FIELDS) {
            for (const [key, sm] of Object.entries(asObject(match?.[field]) ?? {})) {
              checkStringMatch(ctx, vs, sm, field, `{.spec.http[${i}].match[${j}].${field}.${key}.regex}`);
            }
          }
        });
        asArray(asObject(rule?.['corsPolicy'])?.['allowOrigins']).forEach((origin, j) => {
          checkStringMatch(
            ctx,
            vs,
            origin,
            'corsPolicy.allowOrigins',
            `{.spec.http[${i}].corsPolicy.allowOrigins[${j}].regex}`,
          );
        });
      });
    }
  },
};

function checkStringMatch(
  ctx: AnalysisContext,
  vs: Resource,
  stringMatch: unknown,
  where: string,
  path: string,
): void {
  const re = asObject(stringMatch)?.['regex'];
  if (typeof re !== 'string' || re === '') return;
  const problem = re2Error(re);
  if (problem !== undefined) ctx.report(MESSAGE_TYPES.InvalidRegexp, vs, [where, re, problem], path);
}
