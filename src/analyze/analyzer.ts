import type { KindKey, Resource } from '../api/index.js';
import type { ConfigSnapshot } from '../model/index.js';
import type { MessageType } from './messages.js';

export type FieldPath = string | readonly (string | number)[];

/** One finding, attached to a resource and (when known) to the line of the field it is about. */
export interface Message {
  type: MessageType;
  args: readonly unknown[];
  resource?: Resource;
  /** Line of the offending field; the resource's own line is used when absent. */
  line?: number;
  /** The field the message is about, as a path (`spec.http[0].timeout`), when the analyzer names one. */
  fieldPath?: string;
}

export interface AnalysisContext {
  readonly snapshot: ConfigSnapshot;
  /**
   * Reports a message on a resource. `path` (Istio style, e.g. `{.spec.http[0].route[0].destination.host}`)
   * points the reference at the field's line when the resource came from a file. Pass segments
   * (`['spec', 'selector', 'app.kubernetes.io/name']`) when a key contains dots.
   */
  report(
    type: MessageType,
    resource: Resource,
    args: readonly unknown[],
    path?: FieldPath,
    fieldPath?: string,
  ): void;
}

export interface Analyzer {
  /** The name `--analyzer` and `-L` use, e.g. `virtualservice.DestinationRuleAnalyzer`. */
  readonly name: string;
  readonly description: string;
  /** Kinds the analyzer reads; informational, shown with `-v`. */
  readonly inputs: readonly KindKey[];
  analyze(ctx: AnalysisContext): void;
}
