/**
 * Several errors as one, worded as apimachinery's `utilerrors.NewAggregate`:
 * one error reads as itself, several as `[a, b]` with duplicates dropped.
 */

/** An error standing for several (`errors`), e.g. every failed adoption of a sync. */
export class AggregateErrors extends Error {
  override name = "AggregateErrors";
  constructor(readonly errors: readonly unknown[]) {
    super(aggregateMessage(errors));
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function aggregateMessage(errors: readonly unknown[]): string {
  if (errors.length === 0) return "";
  if (errors.length === 1) return messageOf(errors[0]);
  const seen = [...new Set(errors.map(messageOf))];
  return seen.length === 1 ? seen[0]! : `[${seen.join(", ")}]`;
}

/** `undefined` for no errors, the error itself for one, an {@link AggregateErrors} for more. */
export function aggregate(errors: readonly unknown[]): Error | undefined {
  if (errors.length === 0) return undefined;
  if (errors.length === 1 && errors[0] instanceof Error) return errors[0];
  return new AggregateErrors(errors);
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return messageOf(err);
}
