/**
 * Header manipulation from route config (request_headers_to_add/remove, response_headers_to_add/remove on
 * routes, virtual hosts and route configurations), compiled once per update.
 */
import type { JsonObject } from './json.js';
import { bool, record, records, str, strings } from './json.js';

export type OutgoingHeaders = Record<string, string | string[]>;

type AppendAction = 'append' | 'add-if-absent' | 'overwrite' | 'overwrite-if-exists';

interface HeaderAdd {
  name: string;
  value: string;
  action: AppendAction;
}

export interface HeaderMutation {
  add: HeaderAdd[];
  remove: string[];
}

export const NO_MUTATION: HeaderMutation = { add: [], remove: [] };

function appendAction(option: JsonObject): AppendAction {
  switch (str(option['appendAction'])) {
    case 'ADD_IF_ABSENT':
      return 'add-if-absent';
    case 'OVERWRITE_IF_EXISTS_OR_ADD':
      return 'overwrite';
    case 'OVERWRITE_IF_EXISTS':
      return 'overwrite-if-exists';
    case 'APPEND_IF_EXISTS_OR_ADD':
      return 'append';
    default:
      // The deprecated `append` BoolValue defaults to true.
      return bool(option['append']) === false ? 'overwrite' : 'append';
  }
}

/** Compiles the `<x>HeadersToAdd` / `<x>HeadersToRemove` pair of one config object. */
export function compileMutation(obj: JsonObject, addKey: string, removeKey: string): HeaderMutation {
  const add: HeaderAdd[] = [];
  for (const option of records(obj[addKey])) {
    const header = record(option['header']);
    const name = str(header?.['key'])?.toLowerCase();
    if (!name) continue;
    add.push({ name, value: str(header?.['value']) ?? '', action: appendAction(option) });
  }
  const remove = strings(obj[removeKey]).map((h) => h.toLowerCase());
  if (add.length === 0 && remove.length === 0) return NO_MUTATION;
  return { add, remove };
}

/** Applies mutations in order (most specific first, as Envoy does by default). Removals run first. */
export function applyMutations(headers: OutgoingHeaders, mutations: readonly HeaderMutation[]): void {
  for (const m of mutations) for (const name of m.remove) delete headers[name];
  for (const m of mutations) {
    for (const { name, value, action } of m.add) {
      const existing = headers[name];
      if (action === 'append') {
        if (existing === undefined) headers[name] = value;
        else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
      } else if (action === 'add-if-absent') {
        if (existing === undefined) headers[name] = value;
      } else if (action === 'overwrite') {
        headers[name] = value;
      } else if (existing !== undefined) {
        headers[name] = value;
      }
    }
  }
}
