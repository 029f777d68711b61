import { groupKindKey } from './kinds.js';
import type { JsonObject, Resource } from './resource.js';
import { specOf } from './resource.js';
import { specDecodeProblems } from './validate-decode.js';

export interface ValidationIssue {
  level: 'error' | 'warning';
  /** Field path from the object root, e.g. `spec.http[0].timeout`. */
  path: string;
  message: string;
  /**
   * Set on Istio's "analysis aware" warnings (VirtualService rule analysis), which istioctl analyze reports
   * as their own message (IST0130 / IST0131) with these template parameters instead of a schema warning.
   */
  analysis?: { type: AnalysisType; parameters: string[] };
}

export type AnalysisType = 'VirtualServiceUnreachableRule' | 'VirtualServiceIneffectiveMatch';

/** Collects errors and warnings while a validator walks a spec. */
export class IssueCollector {
  readonly issues: ValidationIssue[] = [];

  error(path: string, message: string): void {
    this.issues.push({ level: 'error', path, message });
  }

  warn(path: string, message: string): void {
    this.issues.push({ level: 'warning', path, message });
  }

  get hasErrors(): boolean {
    return this.issues.some((i) => i.level === 'error');
  }
}

/** Validates one kind's spec; `path` is the spec's own path (`spec`). */
export type SpecValidator = (spec: JsonObject, v: IssueCollector, r: Resource) => void;

const validators = new Map<string, SpecValidator>();

/** Registers the validator for a kind (group/kind key); each kind's module calls this once. */
export function registerValidator(kindKey: string, fn: SpecValidator): void {
  validators.set(kindKey, fn);
}

export function hasValidator(kindKey: string): boolean {
  return validators.has(kindKey);
}

/**
 * Validates an object the way Istio's validating webhook would, returning every error and warning
 * with its field path. Never throws: a validator bug becomes an error on the object.
 */
export function validateResource(r: Resource): ValidationIssue[] {
  const v = new IssueCollector();
  validateTopLevel(r, v);
  const key = groupKindKey(r.info);
  const fn = validators.get(key);
  try {
    // Istio decodes the spec into its proto before any rule runs and never validates an object it cannot
    // decode; so the rules below only ever see values of the types the proto gives.
    const problems = specDecodeProblems(key, specOf(r));
    for (const p of problems) v.error(p.path, p.message);
    if (fn && problems.length === 0) fn(specOf(r), v, r);
  } catch (err) {
    v.error('spec', `internal validation failure: ${(err as Error).message}`);
  }
  return v.issues;
}

const ALLOWED_TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);

function validateTopLevel(r: Resource, v: IssueCollector): void {
  if (!r.info.istio) return;
  for (const key of Object.keys(r.object)) {
    if (!ALLOWED_TOP_LEVEL.has(key)) {
      v.error(key, `unknown field "${key}" on ${r.kind} resource ${r.metadata.namespace}/${r.metadata.name}`);
    }
  }
  const spec = r.object['spec'];
  if (spec !== undefined && spec !== null && (typeof spec !== 'object' || Array.isArray(spec))) {
    v.error('spec', `cannot decode configuration: spec must be an object`);
  }
}
