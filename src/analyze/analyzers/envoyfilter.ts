import type { Resource } from '../../api/index.js';
import { ENVOY_FILTER_APPLY_TO, ENVOY_FILTER_PATCH_OPERATIONS, KIND, specOf } from '../../api/index.js';
import type { Analyzer, AnalysisContext } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { asArray, asObject, asString } from './util.js';

/** A proto enum given by name or by number, as its name. */
function enumName(value: unknown, names: readonly string[]): string {
  if (typeof value === 'number') return names[value] ?? '';
  return typeof value === 'string' ? value : 'INVALID';
}

/**
 * The name Istio uses to relate patches across EnvoyFilters: the patch value's `name` field, else the
 * listener filter-chain filter the patch matches. Only equality matters, so the value is kept as JSON.
 */
function patchInstanceName(
  patch: Record<string, unknown>,
  match: Record<string, unknown> | undefined,
): string {
  const value = asObject(patch['value']);
  if (!value) return '';
  if (value['name'] !== undefined && value['name'] !== null) return JSON.stringify(value['name']);
  const filter = asObject(asObject(asObject(match?.['listener'])?.['filterChain'])?.['filter']);
  return asString(filter?.['name']);
}

function reportRelative(
  ctx: AnalysisContext,
  ef: Resource,
  instanceName: string,
  proxyVersionNames: readonly string[],
): void {
  const priority = specOf(ef)['priority'];
  if (typeof priority === 'number' && priority !== 0) return;
  const type = proxyVersionNames.includes(instanceName)
    ? MESSAGE_TYPES.EnvoyFilterUsesRelativeOperationWithProxyVersion
    : MESSAGE_TYPES.EnvoyFilterUsesRelativeOperation;
  ctx.report(type, ef, []);
}

/**
 * Patch operations that are ignored or invalid for their applyTo, and relative operations without a
 * priority. Names of patches with a proxyVersion carry over to later patches and EnvoyFilters, as in Istio.
 * Istio's line path `{.spec.configPatches[i].patch.value}` names a mapping, which its field map never holds,
 * so the messages point at the EnvoyFilter's first line.
 */
export const envoyFilterPatchAnalyzer: Analyzer = {
  name: 'envoyfilter.EnvoyPatchAnalyzer',
  description: 'Checks an envoyFilters ',
  inputs: [KIND.EnvoyFilter],
  analyze(ctx) {
    const proxyVersionNames: string[] = [];
    for (const ef of ctx.snapshot.list(KIND.EnvoyFilter)) {
      for (const raw of asArray(specOf(ef)['configPatches'])) {
        const configPatch = asObject(raw);
        const patch = asObject(configPatch?.['patch']);
        // Istio stops at the first config patch without a patch.
        if (!configPatch || !patch) break;
        const match = asObject(configPatch['match']);
        const instanceName = patchInstanceName(patch, match);
        const applyTo = enumName(configPatch['applyTo'], ENVOY_FILTER_APPLY_TO);
        const routeLevel = applyTo === 'ROUTE_CONFIGURATION' || applyTo === 'HTTP_ROUTE';
        switch (enumName(patch['operation'], ENVOY_FILTER_PATCH_OPERATIONS)) {
          case 'ADD':
            if (routeLevel) ctx.report(MESSAGE_TYPES.EnvoyFilterUsesAddOperationIncorrectly, ef, []);
            break;
          case 'REMOVE':
            if (routeLevel) ctx.report(MESSAGE_TYPES.EnvoyFilterUsesRemoveOperationIncorrectly, ef, []);
            else reportRelative(ctx, ef, instanceName, proxyVersionNames);
            break;
          case 'REPLACE':
            if (applyTo !== 'NETWORK_FILTER' && applyTo !== 'HTTP_FILTER') {
              ctx.report(MESSAGE_TYPES.EnvoyFilterUsesReplaceOperationIncorrectly, ef, []);
            } else {
              reportRelative(ctx, ef, instanceName, proxyVersionNames);
            }
            break;
          case 'INSERT_BEFORE':
          case 'INSERT_AFTER':
            reportRelative(ctx, ef, instanceName, proxyVersionNames);
            break;
        }
        const proxyVersion = asObject(match?.['proxy'])?.['proxyVersion'];
        if (typeof proxyVersion === 'string' && proxyVersion !== '') proxyVersionNames.push(instanceName);
      }
    }
  },
};
