import type { Resource } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { AnalysisContext, Analyzer, Message } from './analyzer.js';
import { ALL_ANALYZERS } from './analyzers/index.js';
import { MESSAGE_TYPES } from './messages.js';
import type { MessageType } from './messages.js';
import { sortAndDedupe } from './message.js';
import { isSuppressed } from './suppress.js';
import type { Suppression } from './suppress.js';

export interface RunOptions {
  /** Analyzer names to run; when none of them is known every analyzer runs, as istioctl does. */
  analyzers?: readonly string[];
  suppressions?: readonly Suppression[];
  /** Only messages on objects in this namespace (or cluster-scoped ones) are kept. */
  namespace?: string;
  /** Messages in the Istio namespace are kept alongside the selected namespace's, as istioctl keeps them. */
  istioNamespace?: string;
}

export interface AnalysisResult {
  /** Sorted, de-duplicated, suppressions applied. */
  messages: Message[];
  executed: string[];
  skipped: string[];
}

export function selectAnalyzers(names: readonly string[] | undefined): readonly Analyzer[] {
  if (!names || names.length === 0) return ALL_ANALYZERS;
  const wanted = new Set(names);
  const chosen = ALL_ANALYZERS.filter((a) => wanted.has(a.name));
  return chosen.length > 0 ? chosen : ALL_ANALYZERS;
}

/** Runs the analyzers over one snapshot. An analyzer that throws yields IST0001 and the rest still run. */
export function runAnalysis(snapshot: ConfigSnapshot, opts: RunOptions = {}): AnalysisResult {
  const selected = selectAnalyzers(opts.analyzers);
  const raw: Message[] = [];
  const ctx: AnalysisContext = {
    snapshot,
    report(type: MessageType, resource: Resource, args: readonly unknown[], path?: string) {
      const line = path === undefined ? undefined : resource.origin.lineOf(path);
      raw.push({ type, args, resource, line });
    },
  };
  for (const analyzer of selected) {
    try {
      analyzer.analyze(ctx);
    } catch (err) {
      raw.push({ type: MESSAGE_TYPES.InternalError, args: [`${analyzer.name}: ${(err as Error).message}`] });
    }
  }
  const kept = raw.filter((m) => !isSuppressed(m, opts.suppressions ?? []) && inNamespaces(m, opts));
  const selectedNames = new Set(selected.map((a) => a.name));
  return {
    messages: sortAndDedupe(kept),
    executed: selected.map((a) => a.name).sort(),
    skipped: ALL_ANALYZERS.map((a) => a.name)
      .filter((n) => !selectedNames.has(n))
      .sort(),
  };
}

function inNamespaces(m: Message, opts: RunOptions): boolean {
  const ns = m.resource?.metadata.namespace;
  if (opts.namespace === undefined || !ns) return true;
  return ns === opts.namespace || ns === opts.istioNamespace;
}
