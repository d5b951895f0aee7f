/** What a container's exit code usually means (shell and signal conventions). */

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  4: "SIGILL",
  6: "SIGABRT",
  7: "SIGBUS",
  8: "SIGFPE",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  15: "SIGTERM",
};

/** A plain-words meaning of `code`; `oomKilled` when the runtime reported reason OOMKilled. */
export function exitCodeMeaning(code: number, oomKilled = false): string {
  if (oomKilled) return "killed by the kernel's OOM killer: the container used more memory than its limit";
  switch (code) {
    case 0:
      return "the program finished successfully, but the pod's restartPolicy restarts it; a long-running container must not exit";
    case 1:
      return "the program exited with a general error (read its last log lines)";
    case 2:
      return "misuse of a shell builtin or bad command-line arguments";
    case 126:
      return "the command was found but is not executable (permissions, or not a binary for this architecture)";
    case 127:
      return "the command was not found in the image (wrong command or PATH)";
    case 137:
      return "killed with SIGKILL (9): by a failing liveness probe, a stop that outlived its grace period, or a kill; not the OOM killer, which the runtime would have reported";
    case 139:
      return "segmentation fault (SIGSEGV): the program crashed";
    case 143:
      return "terminated with SIGTERM (15): something stopped it";
    default:
      if (code > 128 && code < 160) return `killed by signal ${code - 128}${SIGNALS[code - 128] ? ` (${SIGNALS[code - 128]})` : ""}`;
      return `the program exited with status ${code} (its own error code: read its last log lines)`;
  }
}
