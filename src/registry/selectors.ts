/** Label matching as Kubernetes and Istio do it. */
import type { Labels } from './values.js';
import { asArray, asLabels, asRecord, asString, asStringList } from './values.js';

/**
 * Istio's `labels.Instance.SubsetOf`: every selector label is present with the same value. An empty
 * selector selects everything; callers decide what an absent selector means.
 */
export function labelsMatch(selector: Labels, labels: Labels): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) return false;
  return true;
}

type Requirement = (labels: Labels) => boolean;

/**
 * A metav1.LabelSelector (`matchLabels` and `matchExpressions`, ANDed) as a predicate, or undefined when
 * it is malformed (unknown operator, `In` without values, ...), as LabelSelectorAsSelector would fail.
 */
export function compileLabelSelector(selector: unknown): ((labels: Labels) => boolean) | undefined {
  const rec = asRecord(selector);
  // As LabelSelectorAsSelector: a nil selector selects nothing, a non-object is malformed.
  if (!rec) return selector === undefined || selector === null ? () => false : undefined;
  const matchLabels = asLabels(rec['matchLabels']);
  const requirements: Requirement[] = [];
  for (const raw of asArray(rec['matchExpressions'])) {
    const expr = asRecord(raw);
    const key = asString(expr?.['key']);
    const operator = asString(expr?.['operator']);
    const values = asStringList(expr?.['values']);
    if (!key) return undefined;
    switch (operator) {
      case 'In':
        if (values.length === 0) return undefined;
        requirements.push((l) => l[key] !== undefined && values.includes(l[key]));
        break;
      case 'NotIn':
        if (values.length === 0) return undefined;
        requirements.push((l) => l[key] === undefined || !values.includes(l[key]));
        break;
      case 'Exists':
        requirements.push((l) => l[key] !== undefined);
        break;
      case 'DoesNotExist':
        requirements.push((l) => l[key] === undefined);
        break;
      default:
        return undefined;
    }
  }
  return (labels) => labelsMatch(matchLabels, labels) && requirements.every((req) => req(labels));
}
