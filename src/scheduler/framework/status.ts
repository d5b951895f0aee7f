/**
 * The result of running a plugin (k8s.io/kubernetes/pkg/scheduler/framework
 * `Status`). Expected outcomes — a node that does not fit, a pod that must
 * wait — are Status values, never exceptions. `null` is a successful Status,
 * as Go's nil *Status is: the hot Filter/Score paths allocate nothing on
 * success.
 */

/** Status codes, in upstream's order (their numeric values match). */
export const Code = {
  /** The plugin ran correctly and found the pod schedulable. */
  Success: 0,
  /** An internal plugin error, an unexpected input, etc. */
  Error: 1,
  /** The plugin finds the pod unschedulable; preemption may help. */
  Unschedulable: 2,
  /** Unschedulable, and preemption would not change that (e.g. a node selector mismatch). */
  UnschedulableAndUnresolvable: 3,
  /** A Permit plugin asks to wait before binding. */
  Wait: 4,
  /** The plugin has nothing to do for this pod (PreFilter/PreScore/Bind). */
  Skip: 5,
  /** The pod waits for something outside the scheduler; it is retried when that event comes, without backoff. */
  Pending: 6,
} as const;

export type Code = (typeof Code)[keyof typeof Code];

const CODE_NAMES = ["Success", "Error", "Unschedulable", "UnschedulableAndUnresolvable", "Wait", "Skip", "Pending"];

/** Code.String(): "Success", "Unschedulable", … */
export function codeString(c: Code): string {
  return CODE_NAMES[c] ?? `Unknown Code(${c})`;
}

/** A non-success outcome of a plugin; `null` stands for Success. */
export class Status {
  readonly code: Code;
  private readonly reasonList: string[];
  private errorValue: Error | undefined;
  private pluginName: string;

  private constructor(code: Code, reasons: string[], err?: Error, plugin = "") {
    this.code = code;
    this.reasonList = reasons;
    this.errorValue = err;
    this.pluginName = plugin;
  }

  /** NewStatus(code, reasons...). */
  static of(code: Code, ...reasons: string[]): Status {
    return new Status(code, reasons);
  }

  /** AsStatus(err): an Error status carrying `err`. */
  static asStatus(err: Error | string): Status {
    return new Status(Code.Error, [], typeof err === "string" ? new Error(err) : err);
  }

  /** The status' error, if it was built from one. */
  get error(): Error | undefined {
    return this.errorValue;
  }

  /** WithError: sets the error (its message becomes the first reason). */
  withError(err: Error | string): Status {
    this.errorValue = typeof err === "string" ? new Error(err) : err;
    return this;
  }

  /** The plugin that produced the status ("" when unset). */
  get plugin(): string {
    return this.pluginName;
  }

  setPlugin(plugin: string): void {
    this.pluginName = plugin;
  }

  withPlugin(plugin: string): Status {
    this.pluginName = plugin;
    return this;
  }

  /** Reasons(): the error's message first (when set), then the reasons. */
  reasons(): string[] {
    if (this.errorValue) return [this.errorValue.message, ...this.reasonList];
    return this.reasonList;
  }

  appendReason(reason: string): void {
    this.reasonList.push(reason);
  }

  /** Message(): the reasons joined by ", ". */
  message(): string {
    return this.reasons().join(", ");
  }

  isSuccess(): boolean {
    return this.code === Code.Success;
  }

  isWait(): boolean {
    return this.code === Code.Wait;
  }

  isSkip(): boolean {
    return this.code === Code.Skip;
  }

  /** Unschedulable, UnschedulableAndUnresolvable or Pending. */
  isRejected(): boolean {
    return this.code === Code.Unschedulable || this.code === Code.UnschedulableAndUnresolvable || this.code === Code.Pending;
  }

  /** AsError(): undefined for Success/Wait/Skip, else the error (or one made from the message). */
  asError(): Error | undefined {
    if (this.isSuccess() || this.isWait() || this.isSkip()) return undefined;
    return this.errorValue ?? new Error(this.message());
  }

  /** Equal(): same code, reasons, plugin and error message. */
  equal(other: Status | null): boolean {
    if (other === null) return this.isSuccess();
    if (this.code !== other.code || this.pluginName !== other.pluginName) return false;
    const a = this.reasons();
    const b = other.reasons();
    return a.length === b.length && a.every((r, i) => r === b[i]);
  }

  toString(): string {
    return this.message();
  }
}

/** Code() of a possibly-nil status. */
export function statusCode(s: Status | null | undefined): Code {
  return s ? s.code : Code.Success;
}

export function isSuccess(s: Status | null | undefined): boolean {
  return !s || s.code === Code.Success;
}

export function isRejected(s: Status | null | undefined): boolean {
  return !!s && s.isRejected();
}

export function isSkip(s: Status | null | undefined): boolean {
  return !!s && s.code === Code.Skip;
}

export function isWait(s: Status | null | undefined): boolean {
  return !!s && s.code === Code.Wait;
}

/** Message() of a possibly-nil status ("" for nil). */
export function statusMessage(s: Status | null | undefined): string {
  return s ? s.message() : "";
}

/** AsError() of a possibly-nil status. */
export function statusError(s: Status | null | undefined): Error | undefined {
  return s ? s.asError() : undefined;
}

/** Go's fmt.Errorf("<prefix>: %w", err): a new error whose message wraps the cause's. */
export function wrapError(prefix: string, cause: Error | undefined): Error {
  return new Error(cause ? `${prefix}: ${cause.message}` : prefix, cause ? { cause } : undefined);
}
