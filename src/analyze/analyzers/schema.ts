import type { KindKey, ValidationIssue } from '../../api/index.js';
import { KIND, validateResource } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';
import type { MessageType } from '../messages.js';
import { MESSAGE_TYPES } from '../messages.js';

/**
 * The kinds of Istio 1.17's `collections.Istio`, in its order. MeshConfig and MeshNetworks have analyzers
 * too, but Istio validates them with an always-valid function and skiff has no such resources.
 */
const ISTIO_KINDS: readonly (readonly [string, KindKey | undefined])[] = [
  ['WasmPlugin', KIND.WasmPlugin],
  ['MeshConfig', undefined],
  ['MeshNetworks', undefined],
  ['DestinationRule', KIND.DestinationRule],
  ['EnvoyFilter', KIND.EnvoyFilter],
  ['Gateway', KIND.Gateway],
  ['ServiceEntry', KIND.ServiceEntry],
  ['Sidecar', KIND.Sidecar],
  ['VirtualService', KIND.VirtualService],
  ['WorkloadEntry', KIND.WorkloadEntry],
  ['WorkloadGroup', KIND.WorkloadGroup],
  ['ProxyConfig', KIND.ProxyConfig],
  ['AuthorizationPolicy', KIND.AuthorizationPolicy],
  ['PeerAuthentication', KIND.PeerAuthentication],
  ['RequestAuthentication', KIND.RequestAuthentication],
  ['Telemetry', KIND.Telemetry],
];

/** The message type and arguments istioctl reports for one validation error or warning. */
export function schemaMessage(issue: ValidationIssue): { type: MessageType; args: unknown[] } {
  const analysis = issue.analysis;
  if (analysis?.type === 'VirtualServiceUnreachableRule') {
    return { type: MESSAGE_TYPES.VirtualServiceUnreachableRule, args: analysis.parameters.slice(0, 2) };
  }
  if (analysis?.type === 'VirtualServiceIneffectiveMatch') {
    return { type: MESSAGE_TYPES.VirtualServiceIneffectiveMatch, args: analysis.parameters.slice(0, 3) };
  }
  const type = issue.level === 'error' ? MESSAGE_TYPES.SchemaValidationError : MESSAGE_TYPES.SchemaWarning;
  return { type, args: [issue.message] };
}

function validationAnalyzer(kind: string, key: KindKey | undefined): Analyzer {
  return {
    name: `schema.ValidationAnalyzer.${kind}`,
    description: `Runs schema validation as an analyzer on '${kind}' resources`,
    inputs: key === undefined ? [] : [key],
    analyze(ctx) {
      if (key === undefined) return;
      for (const r of ctx.snapshot.list(key)) {
        for (const issue of validateResource(r)) {
          const { type, args } = schemaMessage(issue);
          // istioctl 1.17 points these at the resource's first line; skiff points at the offending field
          // (same text, a more useful line) and keeps the field path for --fix-hints.
          ctx.report(type, r, args, issue.path, issue.path);
        }
      }
    },
  };
}

/** One schema validation analyzer per Istio kind, named `schema.ValidationAnalyzer.<Kind>`. */
export const SCHEMA_ANALYZERS: readonly Analyzer[] = ISTIO_KINDS.map(([kind, key]) =>
  validationAnalyzer(kind, key),
);
