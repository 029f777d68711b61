// Kubernetes `Status` bodies and the errors that carry them. Messages follow k8s.io/apimachinery's
// `errors.New*` constructors, so clients (and people) used to the API server read the same text.

/** `metav1.Status` as the API server writes it. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message: string;
  /** Omitted when empty, as the API server does (admission webhook denials have none). */
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

/** An error the store and the REST API return to clients: an HTTP code, a reason and a message. */
export class StoreError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = 'StoreError';
  }

  toStatus(): KubeStatus {
    const status: KubeStatus = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      code: this.code,
    };
    if (this.reason) status.reason = this.reason;
    if (this.details) status.details = this.details;
    return status;
  }
}

/** A resource's name in errors: `pods`, `virtualservices.networking.istio.io`. */
export interface GroupResource {
  group: string;
  plural: string;
  kind: string;
}

export function groupResourceText(gr: GroupResource): string {
  return gr.group ? `${gr.plural}.${gr.group}` : gr.plural;
}

function detailsOf(gr: GroupResource, name: string): StatusDetails {
  const details: StatusDetails = { name, kind: gr.plural };
  if (gr.group) details.group = gr.group;
  return details;
}

export function notFound(gr: GroupResource, name: string): StoreError {
  return new StoreError(404, 'NotFound', `${groupResourceText(gr)} "${name}" not found`, detailsOf(gr, name));
}

export function alreadyExists(gr: GroupResource, name: string): StoreError {
  return new StoreError(
    409,
    'AlreadyExists',
    `${groupResourceText(gr)} "${name}" already exists`,
    detailsOf(gr, name),
  );
}

/** errors.NewConflict with the optimistic-concurrency message (storage.NewResourceVersionConflictsError). */
export function conflict(gr: GroupResource, name: string, why: string): StoreError {
  return new StoreError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${groupResourceText(gr)} "${name}": ${why}`,
    detailsOf(gr, name),
  );
}

export const STALE_OBJECT =
  'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string): StoreError {
  return new StoreError(400, 'BadRequest', message);
}

/** errors.NewInvalid: `<Kind> "<name>" is invalid: <cause>` or `[<cause>, <cause>]` for several. */
export function invalid(
  gr: GroupResource,
  name: string,
  causes: readonly { field: string; message: string }[],
): StoreError {
  const texts = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const qualified = gr.group ? `${gr.kind}.${gr.group}` : gr.kind;
  const list = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  return new StoreError(422, 'Invalid', `${qualified} "${name}" is invalid: ${list}`, {
    name,
    ...(gr.group ? { group: gr.group } : {}),
    kind: gr.kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

/** A validating admission webhook's denial as the API server returns it (webhook/errors.ToStatusErr). */
export function admissionDenied(webhook: string, message: string): StoreError {
  return new StoreError(400, '', `admission webhook "${webhook}" denied the request: ${message}`);
}

export function gone(message: string): StoreError {
  return new StoreError(410, 'Expired', message);
}

export function entityTooLarge(limit: number): StoreError {
  return new StoreError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limit}`);
}

export function methodNotSupported(gr: GroupResource | undefined, method: string): StoreError {
  const what = gr ? groupResourceText(gr) : 'this resource';
  return new StoreError(405, 'MethodNotAllowed', `${method} is not supported on ${what}`);
}

export function unsupportedMediaType(contentType: string, accepted: readonly string[]): StoreError {
  return new StoreError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${contentType || 'none'}) - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function unprocessable(message: string): StoreError {
  return new StoreError(422, 'UnprocessableEntity', message);
}

export function pathNotFound(): StoreError {
  return new StoreError(404, 'NotFound', 'the server could not find the requested resource');
}

export function internalError(err: unknown): StoreError {
  const message = err instanceof Error ? err.message : String(err);
  return new StoreError(500, 'InternalError', `Internal error occurred: ${message}`);
}

export function asStoreError(err: unknown): StoreError {
  return err instanceof StoreError ? err : internalError(err);
}
