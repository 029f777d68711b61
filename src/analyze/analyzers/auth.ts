import type { Resource } from '../../api/index.js';
import { KIND, specOf } from '../../api/index.js';
import type { ConfigSnapshot } from '../../model/index.js';
import type { Analyzer, AnalysisContext } from '../analyzer.js';
import { MESSAGE_TYPES } from '../messages.js';
import { LabelIndex } from './label-index.js';
import { asArray, asObject, labelSelectorString, podInMesh, stringMap, workloads } from './util.js';

type Labels = Record<string, string>;

/** Labels of in-mesh workloads, indexed mesh-wide and by namespace. */
interface MeshWorkloads {
  all: LabelIndex<Labels>;
  /** A namespace with workloads but none in the mesh has an empty index. */
  byNamespace: Map<string, LabelIndex<Labels>>;
}

function meshWorkloads(snapshot: ConfigSnapshot): MeshWorkloads {
  const labelsByNamespace = new Map<string, Labels[]>();
  for (const w of workloads(snapshot)) {
    let list = labelsByNamespace.get(w.namespace);
    if (!list) labelsByNamespace.set(w.namespace, (list = []));
    if (podInMesh(snapshot, w)) list.push(w.labels);
  }
  const byNamespace = new Map<string, LabelIndex<Labels>>();
  for (const [ns, list] of labelsByNamespace) byNamespace.set(ns, new LabelIndex(list, (l) => l));
  return { all: new LabelIndex([...labelsByNamespace.values()].flat(), (l) => l), byNamespace };
}

function anyMatches(selector: Labels, workloads: LabelIndex<Labels> | undefined): boolean {
  return workloads?.first(selector) !== undefined;
}

function checkWorkloads(ctx: AnalysisContext, ap: Resource, mesh: MeshWorkloads): void {
  const ns = ap.metadata.namespace ?? '';
  const selectorField = specOf(ap)['selector'];
  const hasSelector = selectorField !== undefined && selectorField !== null;
  const matchLabels = stringMap(asObject(asObject(selectorField)?.['matchLabels']));
  if (ns === ctx.snapshot.mesh.rootNamespace) {
    // A root-namespace policy applies mesh-wide: any in-mesh workload anywhere may match it.
    if (hasSelector && !anyMatches(matchLabels, mesh.all)) {
      ctx.report(MESSAGE_TYPES.NoMatchingWorkloadsFound, ap, [labelSelectorString(matchLabels)]);
    }
    return;
  }
  const local = mesh.byNamespace.get(ns);
  if (!hasSelector) {
    if ((local?.size ?? 0) === 0) ctx.report(MESSAGE_TYPES.NoMatchingWorkloadsFound, ap, ['']);
    return;
  }
  if (!anyMatches(matchLabels, local)) {
    ctx.report(MESSAGE_TYPES.NoMatchingWorkloadsFound, ap, [labelSelectorString(matchLabels)]);
  }
}

/** Istio's namespaceMatch: `*`, `*suffix`, `prefix*`, or a case-insensitive exact name. */
function namespaceMatches(ns: string, pattern: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*')) return ns.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return ns.startsWith(pattern.slice(0, -1));
  return ns.toLowerCase() === pattern.toLowerCase();
}

function checkNamespaces(ctx: AnalysisContext, ap: Resource): void {
  // Only Namespace objects count: with none in the input, every referenced namespace is "not found".
  const known = ctx.snapshot.list(KIND.Namespace).map((n) => n.metadata.name);
  asArray(specOf(ap)['rules']).forEach((rule, i) => {
    asArray(asObject(rule)?.['from']).forEach((from, j) => {
      const source = asObject(asObject(from)?.['source']);
      if (!source) return;
      const namespaces = asArray(source['namespaces']);
      const all = [...namespaces, ...asArray(source['notNamespaces'])];
      all.forEach((pattern, k) => {
        // A non-string entry fails Istio's typed decoding; schema validation reports the object instead.
        if (typeof pattern !== 'string') return;
        if (known.some((ns) => namespaceMatches(ns, pattern))) return;
        // Istio points notNamespaces entries at `namespaces[k - len(namespaces)]`, so keep that path.
        const index = k >= namespaces.length ? k - namespaces.length : k;
        ctx.report(
          MESSAGE_TYPES.ReferencedResourceNotFound,
          ap,
          ['namespace', pattern],
          `{.spec.rules[${i}].from[${j}].source.namespaces[${index}]}`,
        );
      });
    });
  });
}

/** AuthorizationPolicies that select no in-mesh workload, or that name namespaces which do not exist. */
export const authorizationPoliciesAnalyzer: Analyzer = {
  name: 'auth.AuthorizationPoliciesAnalyzer',
  description: 'Checks the validity of authorization policies',
  inputs: [KIND.AuthorizationPolicy, KIND.Namespace, KIND.Pod],
  analyze(ctx) {
    const mesh = meshWorkloads(ctx.snapshot);
    for (const ap of ctx.snapshot.list(KIND.AuthorizationPolicy)) {
      checkWorkloads(ctx, ap, mesh);
      checkNamespaces(ctx, ap);
    }
  },
};
