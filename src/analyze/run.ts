import type { Resource } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { AnalysisContext, Analyzer, FieldPath, Message } from './analyzer.js';
import { ALL_ANALYZERS } from './analyzers/index.js';
import { MESSAGE_TYPES } from './messages.js';
import type { MessageType } from './messages.js';
import { sortAndDedupe } from './message.js';
import { isSuppressed } from './suppress.js';
import type { Suppression } from './suppress.js';

export interface RunOptions {
  /** The analyzers to choose from (all of skiff's by default). */
  available?: readonly Analyzer[];
  /** Analyzer names to run; when none of them is known every analyzer runs, as istioctl does. */
  analyzers?: readonly string[];
  suppressions?: readonly Suppression[];
  /** Only messages on objects in this namespace (or cluster-scoped ones, or without an object) are kept. */
  namespace?: string;
}

export interface AnalysisResult {
  /** Sorted, de-duplicated, suppressions applied. */
  messages: Message[];
  executed: string[];
  skipped: string[];
}

export function selectAnalyzers(
  names: readonly string[] | undefined,
  available: readonly Analyzer[] = ALL_ANALYZERS,
): readonly Analyzer[] {
  if (!names || names.length === 0) return available;
  const wanted = new Set(names);
  const chosen = available.filter((a) => wanted.has(a.name));
  return chosen.length > 0 ? chosen : available;
}

/** Runs the analyzers over one snapshot. An analyzer that throws yields IST0001 and the rest still run. */
export function runAnalysis(snapshot: ConfigSnapshot, opts: RunOptions = {}): AnalysisResult {
  const available = opts.available ?? ALL_ANALYZERS;
  const selected = selectAnalyzers(opts.analyzers, available);
  const raw: Message[] = [];
  const ctx: AnalysisContext = {
    snapshot,
    report(
      type: MessageType,
      resource: Resource,
      args: readonly unknown[],
      path?: FieldPath,
      fieldPath?: string,
    ) {
      const line = path === undefined ? undefined : resource.origin.lineOf(path);
      raw.push({ type, args, resource, line, fieldPath });
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
    skipped: available
      .map((a) => a.name)
      .filter((n) => !selectedNames.has(n))
      .sort(),
  };
}

function inNamespaces(m: Message, opts: RunOptions): boolean {
  const r = m.resource;
  if (opts.namespace === undefined || !r) return true;
  // A Namespace object counts as being in itself, as istiod's origin says.
  const ns = r.info.kind === 'Namespace' && r.info.group === '' ? r.metadata.name : r.metadata.namespace;
  return !ns || ns === opts.namespace;
}
