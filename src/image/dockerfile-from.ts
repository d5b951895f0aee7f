/**
 * The images a Dockerfile starts from (`FROM`, `COPY --from=`), read before
 * buildah runs so a short name such as `FROM debian` is refused with a clear
 * message: buildah would resolve it through the machine's short-name
 * aliases to a registry on the internet, which a skiff build never assumes.
 */

/** An image a Dockerfile pulls, with its line for the message. */
export interface DockerfileImage {
  readonly image: string;
  readonly line: number;
}

/** `${NAME}`, `${NAME:-default}` and `$NAME` replaced from `vars` (unknown ones left as they are). */
function substitute(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (all, a: string | undefined, def: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const v = vars.get(name);
    if (v !== undefined && v !== "") return v;
    return def ?? all;
  });
}

/** Logical lines (backslash continuations joined, comments dropped) with their first line numbers. */
function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let current = "";
  let start = 0;
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (current === "" && /^\s*#/.test(line)) return;
    if (current === "") start = i + 1;
    if (/\\\s*$/.test(line)) {
      current += `${line.replace(/\\\s*$/, "")} `;
      return;
    }
    current += line;
    if (current.trim() !== "") out.push({ text: current.trim(), line: start });
    current = "";
  });
  if (current.trim() !== "") out.push({ text: current.trim(), line: start });
  return out;
}

/**
 * The external images of a Dockerfile: FROM images that are not `scratch`
 * or an earlier stage, and `COPY --from=` values that are not stages.
 * ARG defaults before the first FROM and `buildArgs` are substituted.
 */
export function dockerfileImages(text: string, buildArgs: readonly string[] = []): DockerfileImage[] {
  const given = new Map<string, string>();
  for (const a of buildArgs) {
    const i = a.indexOf("=");
    if (i > 0) given.set(a.slice(0, i), a.slice(i + 1));
  }
  const vars = new Map<string, string>();
  const stages = new Set<string>();
  const out: DockerfileImage[] = [];
  let sawFrom = false;
  for (const { text: l, line } of logicalLines(text)) {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (op === "ARG" && !sawFrom) {
      for (const decl of rest.split(/\s+/)) {
        const [k, ...v] = decl.split("=");
        if (!k) continue;
        vars.set(k, given.get(k) ?? (v.length ? v.join("=").replace(/^["']|["']$/g, "") : ""));
      }
    } else if (op === "FROM") {
      sawFrom = true;
      const words = rest.split(/\s+/).filter((w) => !w.startsWith("--"));
      const image = substitute(words[0] ?? "", vars);
      if (image !== "scratch" && !stages.has(image.toLowerCase())) out.push({ image, line });
      if (words[1]?.toUpperCase() === "AS" && words[2]) stages.add(words[2].toLowerCase());
      stages.add(String(stages.size));
    } else if (op === "COPY" || op === "ADD") {
      const from = /--from=(\S+)/.exec(rest)?.[1];
      if (from) {
        const v = substitute(from, vars);
        if (!stages.has(v.toLowerCase()) && !/^\d+$/.test(v)) out.push({ image: v, line });
      }
    }
  }
  return out;
}

/** True when `image` names no registry (`debian`, `library/node:20`): buildah would look it up by short name. */
export function isShortName(image: string): boolean {
  if (image.includes("$")) return false; // left for buildah: an ARG set in a later stage
  const first = image.split("/")[0]!;
  if (!image.includes("/")) return true;
  return !(first.includes(".") || first.includes(":") || first === "localhost");
}
