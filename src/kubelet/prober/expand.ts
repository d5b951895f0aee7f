/**
 * Upstream's ExpandContainerCommandOnlyStatic for exec probes and hooks:
 * `$(VAR)` takes the value of the container's env entry VAR (its literal
 * `value` only: exec probes do not see valueFrom, downward API or service
 * variables), `$$` is a literal `$`, and a reference to an unknown
 * variable stays as written (third_party/forked/golang/expansion).
 */
import type { EnvVar } from "kubernetes-types/core/v1.js";

/** Expands `$(VAR)` references in one string with `lookup`. */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== "$" || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === "$") out += "$";
    else if (rest[0] === "(") {
      const close = rest.indexOf(")", 1);
      if (close >= 0) {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      } else out += "$(";
    } else out += `$${rest[0]}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A command with `$(VAR)` expanded from the container's literal env values (upstream EnvVarsToMap: valueFrom entries count as ""). */
export function expandCommandOnlyStatic(command: readonly string[], env: readonly EnvVar[] | undefined): string[] {
  const vars = new Map<string, string>();
  for (const e of env ?? []) vars.set(e.name, e.value ?? "");
  return command.map((c) => expand(c, (n) => vars.get(n)));
}
