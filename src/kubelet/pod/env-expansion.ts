/**
 * `$(VAR)` expansion exactly as upstream's third_party/forked/golang/expansion:
 * `$(NAME)` becomes the mapping's value, `$$` is an escaped `$`, and a
 * reference the mapping does not know stays as written (`$(NAME)`).
 * Used for env values, command and args, and subPathExpr.
 */

const OPERATOR = "$";
const OPENER = "(";
const CLOSER = ")";

/** upstream syntaxWrap: `$(input)`. */
function syntaxWrap(input: string): string {
  return `${OPERATOR}${OPENER}${input}${CLOSER}`;
}

/**
 * upstream MappingFuncFor: looks `name` up in each context in order; an
 * unknown name maps to its own reference, so it is left as written.
 */
export function mappingFuncFor(...contexts: ReadonlyMap<string, string>[]): (name: string) => string {
  return (name) => {
    for (const vars of contexts) {
      const v = vars.get(name);
      if (v !== undefined) return v;
    }
    return syntaxWrap(name);
  };
}

/** upstream tryReadVariableName: [read, isVar, advance]. */
function tryReadVariableName(input: string): [string, boolean, number] {
  const c = input[0];
  if (c === OPERATOR) return [c, false, 1];
  if (c === OPENER) {
    for (let i = 1; i < input.length; i++) {
      if (input[i] === CLOSER) return [input.slice(1, i), true, i + 1];
    }
    // Incomplete reference: the operator and opener are kept as they are.
    return [OPERATOR + OPENER, false, 1];
  }
  return [OPERATOR + c, false, 1];
}

/** upstream Expand: replaces `$(VAR)` references in `input` through `mapping`. */
export function expand(input: string, mapping: (name: string) => string): string {
  let out = "";
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] === OPERATOR && cursor + 1 < input.length) {
      out += input.slice(checkpoint, cursor);
      const [read, isVar, advance] = tryReadVariableName(input.slice(cursor + 1));
      out += isVar ? mapping(read) : read;
      cursor += advance;
      checkpoint = cursor + 1;
    }
  }
  return out + input.slice(checkpoint);
}
