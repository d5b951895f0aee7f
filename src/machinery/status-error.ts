/**
 * The one error type that carries a Kubernetes `Status` (DESIGN.md §4.3).
 * Build it with the constructors below; test it with the `is…` helpers.
 * Messages and reasons mirror k8s.io/apimachinery/pkg/api/errors.
 */

/** A field error cause, as in `Status.details.causes`. */
export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

/** The meta/v1 Status object. */
export interface Status {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never> | { resourceVersion?: string };
  status: "Success" | "Failure";
  message?: string;
  reason?: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** Names the object an error is about: its group and resource (plural). */
export interface Qualified {
  readonly group: string;
  readonly resource: string;
}

function qualified(q: Qualified): string {
  return q.group ? `${q.resource}.${q.group}` : q.resource;
}

export class StatusError extends Error {
  override name = "StatusError";
  constructor(readonly status: Status) {
    super(status.message ?? status.reason ?? "error");
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

function failure(code: number, reason: string, message: string, details?: Status["details"]): StatusError {
  return new StatusError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

export function notFound(q: Qualified, name: string): StatusError {
  return failure(404, "NotFound", `${qualified(q)} "${name}" not found`, { name, group: q.group, kind: q.resource });
}

export function alreadyExists(q: Qualified, name: string): StatusError {
  return failure(409, "AlreadyExists", `${qualified(q)} "${name}" already exists`, { name, group: q.group, kind: q.resource });
}

/** Optimistic-concurrency conflict, with upstream's wording. */
export function conflict(q: Qualified, name: string, why: string): StatusError {
  return failure(409, "Conflict", `Operation cannot be fulfilled on ${qualified(q)} "${name}": ${why}`, {
    name,
    group: q.group,
    kind: q.resource,
  });
}

/** The message upstream uses when a resourceVersion precondition fails. */
export const OPTIMISTIC_LOCK_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again";

/** A field-level validation failure. */
export interface FieldError {
  /** Upstream's cause type: FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, FieldValueDuplicate, FieldValueForbidden, FieldValueTooLong, FieldValueTypeInvalid. */
  readonly type: string;
  /** Path such as `metadata.name` or `spec.containers[0].image`. */
  readonly field: string;
  /** Full upstream-style message for the cause, e.g. `Required value`. */
  readonly detail: string;
  readonly value?: unknown;
}

function describeValue(v: unknown): string {
  if (v === undefined) return "";
  if (typeof v === "string") return `"${v}"`;
  return JSON.stringify(v);
}

/** Formats one field error as upstream's `field.Error.Error()` does. */
export function fieldErrorMessage(e: FieldError): string {
  if (e.type === "FieldValueRequired" || e.type === "FieldValueForbidden" || e.type === "FieldValueTooLong" || e.value === undefined) {
    return `${e.field}: ${e.detail}`;
  }
  return `${e.field}: Invalid value: ${describeValue(e.value)}: ${e.detail}`;
}

/** 422 Invalid with one cause per field error. */
export function invalid(kind: string, group: string, name: string, errors: readonly FieldError[]): StatusError {
  const list = errors.map(fieldErrorMessage);
  const agg = list.length === 1 ? list[0]! : `[${list.join(", ")}]`;
  return failure(422, "Invalid", `${kind}${group ? `.${group}` : ""} "${name}" is invalid: ${agg}`, {
    name,
    group,
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorMessage(e).slice(e.field.length + 2), field: e.field })),
  });
}

export function badRequest(message: string): StatusError {
  return failure(400, "BadRequest", message);
}

export function unauthorized(message = "Unauthorized"): StatusError {
  return failure(401, "Unauthorized", message);
}

export function forbidden(message: string, details?: Status["details"]): StatusError {
  return failure(403, "Forbidden", message, details);
}

export function methodNotSupported(q: Qualified, verb: string): StatusError {
  return failure(405, "MethodNotAllowed", `${verb} is not supported on resources of kind "${qualified(q)}"`, {
    group: q.group,
    kind: q.resource,
  });
}

export function notAcceptable(message: string): StatusError {
  return failure(406, "NotAcceptable", message);
}

export function gone(message: string): StatusError {
  return failure(410, "Gone", message);
}

/** 410 Expired: a watch or list asked for a compacted resourceVersion. */
export function expired(message: string): StatusError {
  return failure(410, "Expired", message);
}

export function requestEntityTooLarge(message: string): StatusError {
  return failure(413, "RequestEntityTooLarge", message);
}

/** 415, upstream's message listing what the endpoint takes. */
export function unsupportedMediaType(accepted: readonly string[]): StatusError {
  return failure(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`);
}

export function tooManyRequests(message: string, retryAfterSeconds: number): StatusError {
  return failure(429, "TooManyRequests", message, { retryAfterSeconds });
}

export function internalError(message: string): StatusError {
  return failure(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function serviceUnavailable(message: string): StatusError {
  return failure(503, "ServiceUnavailable", message);
}

export function timeout(message: string, retryAfterSeconds = 0): StatusError {
  return failure(504, "Timeout", message, { retryAfterSeconds });
}

export const isNotFound = (e: unknown): boolean => e instanceof StatusError && e.reason === "NotFound";
export const isAlreadyExists = (e: unknown): boolean => e instanceof StatusError && e.reason === "AlreadyExists";
export const isConflict = (e: unknown): boolean => e instanceof StatusError && e.reason === "Conflict";
export const isInvalid = (e: unknown): boolean => e instanceof StatusError && e.reason === "Invalid";
