/**
 * Field errors worded byte-for-byte as upstream's `field.Error.ErrorBody()`
 * (apimachinery/pkg/util/validation/field/errors.go), including the Go `%#v`
 * rendering of non-scalar bad values (`[]string{"10.43.0.5"}`).
 *
 * Prefer these builders for new validation code: each error carries the
 * whole upstream body in `detail` and no `value`, which `fieldErrorMessage`
 * prints as is (given a `value`, that formatter words every type as
 * "Invalid value" with the value as JSON).
 */
import type { FieldError } from "./status-error.js";

/** A bad value already rendered as Go's fmt would print it. */
export interface GoValue {
  readonly go: string;
}

/** Go's `%q` of a string (JSON escaping agrees for everything but rare control characters). */
export const goString = (s: string): GoValue => ({ go: JSON.stringify(s) });

/** An int32/int64/bool, printed with `%v`. */
export const goNumber = (n: number | boolean): GoValue => ({ go: String(n) });

/** Go's `%#v` of a `[]string`: `[]string{"a", "b"}`, `[]string(nil)` when unset. */
export function goStrings(v: readonly string[] | undefined | null): GoValue {
  if (v === undefined || v === null) return { go: "[]string(nil)" };
  return { go: `[]string{${v.map((s) => JSON.stringify(s)).join(", ")}}` };
}

/** A nil pointer. */
export const goNull: GoValue = { go: "null" };

/** A possibly-nil pointer to a (named) string type: dereferenced and quoted, or `null`. */
export const goStringPtr = (s: string | undefined | null): GoValue => (s === undefined || s === null ? goNull : goString(s));

/** `field.Required`: "Required value" plus an optional detail. */
export function required(field: string, detail = ""): FieldError {
  return { type: "FieldValueRequired", field, detail: detail ? `Required value: ${detail}` : "Required value" };
}

/** `field.Forbidden`. */
export function forbidden(field: string, detail: string): FieldError {
  return { type: "FieldValueForbidden", field, detail: detail ? `Forbidden: ${detail}` : "Forbidden" };
}

/** `field.Invalid`. */
export function invalidValue(field: string, value: GoValue, detail: string): FieldError {
  return { type: "FieldValueInvalid", field, detail: `Invalid value: ${value.go}${detail ? `: ${detail}` : ""}` };
}

/** `field.NotSupported` with the sorted list of valid values. */
export function notSupported(field: string, value: GoValue, valid: readonly string[]): FieldError {
  const list = valid.length > 0 ? `: supported values: ${valid.map((v) => JSON.stringify(v)).join(", ")}` : "";
  return { type: "FieldValueNotSupported", field, detail: `Unsupported value: ${value.go}${list}` };
}

/** `field.Duplicate`. */
export function duplicate(field: string, value: GoValue): FieldError {
  return { type: "FieldValueDuplicate", field, detail: `Duplicate value: ${value.go}` };
}
