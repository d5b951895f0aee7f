/**
 * Filesystem errors worded as Go's *os.PathError (`open /x: no such file or
 * directory`), the form upstream's kubelet messages carry, instead of
 * Node's (`ENOENT: no such file or directory, open '/x'`).
 */

/** Go's wording of a Node filesystem error; other errors keep their message. */
export function goError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (!err || typeof err !== "object") return String(e);
  if (err.code && err.syscall && err.path) {
    // Node: "CODE: description, syscall 'path'"; the description is what Go prints.
    const m = /^[A-Z0-9_]+: ([^,]+),/.exec(err.message ?? "");
    const desc = m ? m[1] : err.code;
    return `${err.syscall} ${err.path}: ${desc}`;
  }
  return err.message ?? String(e);
}
