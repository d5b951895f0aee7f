/**
 * Structured logging: one line per event, `level=… msg="…" key=value …`,
 * objects named as `ns/name` by the caller. Quiet by default below `info`.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined | null>;

/** What components log through; inject it, never write to the console directly. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` (for example `component=store`) to every line. */
  with(fields: LogFields): Logger;
}

const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function formatValue(v: string | number | boolean): string {
  const s = String(v);
  return /^[\w./:@+,-]+$/.test(s) ? s : JSON.stringify(s);
}

/** Formats one log line (without the trailing newline). */
export function formatLine(level: LogLevel, msg: string, fields: LogFields, now: Date): string {
  let line = `time=${now.toISOString()} level=${level} msg=${JSON.stringify(msg)}`;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    line += ` ${k}=${formatValue(v)}`;
  }
  return line;
}

export interface ConsoleLoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; standard error by default. */
  readonly write?: (line: string) => void;
}

/** A logger writing key=value lines to standard error. */
export function consoleLogger(opts: ConsoleLoggerOptions = {}, base: LogFields = {}): Logger {
  const min = order[opts.level ?? (process.env.SKIFF_LOG_LEVEL as LogLevel | undefined) ?? "info"] ?? 1;
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const emit = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (order[level] < min) return;
    write(formatLine(level, msg, { ...base, ...fields }, new Date()));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    with: (fields) => consoleLogger(opts, { ...base, ...fields }),
  };
}

/** A logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  with() {
    return silentLogger;
  },
};
