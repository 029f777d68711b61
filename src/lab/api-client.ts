/**
 * A small client of the lab's REST API for `skiff apply`: create, or merge-patch what exists (so fields the
 * server filled in — a Service's cluster IP — stay), with kubectl's result lines (`service/catalog created`,
 * `... configured`, `... unchanged`) and error text (`Error from server (Reason): error when creating
 * "file": message`).
 */
import type { Resource } from '../api/index.js';

export interface ApplyOutcome {
  /** kubectl's line for a success, e.g. `virtualservice.networking.istio.io/catalog-v1-v2 created`. */
  line?: string;
  /** kubectl's error text for a failure. */
  error?: string;
}

interface Status {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/** `deployment.apps`, `service`, `virtualservice.networking.istio.io`. */
export function resourceDisplayName(r: Resource): string {
  const kind = r.kind.toLowerCase();
  return r.info.group ? `${kind}.${r.info.group}` : kind;
}

/** The REST collection path of a resource. */
export function collectionPath(r: Resource): string {
  const base = r.info.group ? `/apis/${r.info.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.info.namespaced ? `/namespaces/${encodeURIComponent(r.metadata.namespace ?? 'default')}` : '';
  return `${base}${ns}/${r.info.plural}`;
}

function errorLine(status: Status, action: string, file: string): string {
  const reason = status.reason ? ` (${status.reason})` : '';
  return `Error from server${reason}: error when ${action} "${file}": ${status.message ?? `HTTP ${status.code ?? '?'}`}`;
}

async function call(
  url: string,
  method: string,
  body: unknown,
  contentType = 'application/json',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': contentType, accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) json = parsed as Record<string, unknown>;
  } catch {
    json = { message: text };
  }
  return { status: res.status, json };
}

/** Applies one object (its body already has apiVersion, kind and metadata with the namespace). */
export async function applyObject(
  apiUrl: string,
  r: Resource,
  body: Record<string, unknown>,
  file: string,
): Promise<ApplyOutcome> {
  const shown = `${resourceDisplayName(r)}/${r.metadata.name}`;
  const collection = `${apiUrl}${collectionPath(r)}`;
  const created = await call(collection, 'POST', body);
  if (created.status >= 200 && created.status < 300) return { line: `${shown} created` };
  const status = created.json as Status;
  if (created.status !== 409 || status.reason !== 'AlreadyExists')
    return { error: errorLine(status, 'creating', file) };
  const item = `${collection}/${encodeURIComponent(r.metadata.name)}`;
  const before = await call(item, 'GET', undefined);
  const patch = { ...body };
  // Status is the server's; a manifest's status must not overwrite it.
  delete patch['status'];
  const patched = await call(item, 'PATCH', patch, 'application/merge-patch+json');
  if (patched.status < 200 || patched.status >= 300)
    return { error: errorLine(patched.json as Status, 'applying patch to', file) };
  const rv = (o: Record<string, unknown>): unknown =>
    (o['metadata'] as Record<string, unknown> | undefined)?.['resourceVersion'];
  return { line: `${shown} ${rv(before.json) === rv(patched.json) ? 'unchanged' : 'configured'}` };
}
