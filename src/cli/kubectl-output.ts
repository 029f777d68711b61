/**
 * kubectl's object printers: `-o json` (sorted keys, four-space indent, as Go marshals a map), `-o yaml`
 * (sigs.k8s.io/yaml: sorted keys, lists at their parent's indentation), `-o name`, `-o jsonpath=...`.
 */
import { stringify } from 'yaml';
import type { KindInfo } from '../api/index.js';
import { usageError } from './errors.js';
import type { KubeObject } from './kubectl-client.js';
import { kindDisplayName } from './kubectl-client.js';
import { executeJsonPath } from './kubectl-jsonpath.js';

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

export function toKubectlJson(v: unknown): string {
  const text = JSON.stringify(sortKeys(v), null, 4)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
  return `${text}\n`;
}

export function toKubectlYaml(v: unknown): string {
  return stringify(sortKeys(v), { indentSeq: false, lineWidth: 0, aliasDuplicateObjects: false });
}

/** The List kubectl prints several objects as. */
export function asList(items: readonly KubeObject[]): KubeObject {
  return { apiVersion: 'v1', items, kind: 'List', metadata: { resourceVersion: '' } };
}

export type OutputFormat =
  | { type: 'table'; wide: boolean }
  | { type: 'json' }
  | { type: 'yaml' }
  | { type: 'name' }
  | { type: 'jsonpath'; template: string };

export function parseOutputFormat(value: string | undefined): OutputFormat {
  if (value === undefined || value === '') return { type: 'table', wide: false };
  if (value === 'wide') return { type: 'table', wide: true };
  if (value === 'json' || value === 'yaml' || value === 'name') return { type: value };
  const m = /^jsonpath(?:-as-json)?=(.*)$/s.exec(value);
  if (m) return { type: 'jsonpath', template: m[1] ?? '' };
  throw usageError(
    `unable to match a printer suitable for the output format "${value}", allowed formats are: json,jsonpath,name,wide,yaml`,
  );
}

/** Prints objects in a non-table format; `single` when one object was asked for by name. */
export function printObjects(
  format: Exclude<OutputFormat, { type: 'table' }>,
  objects: readonly { info: KindInfo; object: KubeObject }[],
  single: boolean,
): string {
  const only = objects[0];
  const value = single && objects.length === 1 && only ? only.object : asList(objects.map((o) => o.object));
  switch (format.type) {
    case 'json':
      return toKubectlJson(value);
    case 'yaml':
      return toKubectlYaml(value);
    case 'name':
      return objects
        .map(
          (o) =>
            `${kindDisplayName(o.info)}/${String((o.object['metadata'] as KubeObject | undefined)?.['name'] ?? '')}\n`,
        )
        .join('');
    case 'jsonpath':
      return executeJsonPath(format.template, value);
  }
}
