/**
 * What a simulated container does, read from its spec (KWOK-style knobs), so
 * tests ask for outcomes with ordinary pod manifests:
 *
 * | knob | effect |
 * |---|---|
 * | `command`/`args` `sh -c "exit 3"` | exits 3 right after it starts |
 * | `sh -c "sleep 5; exit 1"`, `sleep 5`, `true`, `false`, `echo …` | the script's sleeps add up to the run time, its last status is the exit code |
 * | anything else (`nginx`, `sleep infinity`, no command) | runs until stopped |
 * | env `SKIFF_SIM_EXIT_CODE=N` | exits N (after `SKIFF_SIM_RUN_SECONDS`, else at once) |
 * | env `SKIFF_SIM_RUN_SECONDS=S` | runs S seconds (fractions allowed), then exits (0 unless told) |
 * | env `SKIFF_SIM_OOM=true` | is OOM-killed (exit 137, reason OOMKilled) after the run time |
 * | env `SKIFF_SIM_READY=false` | its readinessProbe (if it has one) never succeeds |
 * | env `SKIFF_SIM_TERM_SECONDS=S` | takes S seconds to exit after the stop signal; killed (137) at the grace period |
 * | env `SKIFF_SIM_TERM_EXIT_CODE=N` | exit code when stopped in time (0 unless told) |
 * | env `SKIFF_SIM_START_ERROR=msg` | `startContainer` fails with that message (RunContainerError) |
 * | image tag `:missing` | pull fails: not found (ErrImagePull → ImagePullBackOff) |
 * | image tag `:unauthorized` | pull fails: unauthorized |
 */
import type { ContainerConfig } from "../types.js";

/** The simulated behaviour of one container. */
export interface SimBehaviour {
  /** How long it runs before exiting by itself; undefined: until stopped. */
  readonly runMs?: number;
  /** Exit code when it exits by itself. */
  readonly exitCode: number;
  /** Exits as the OOM killer's victim (137, OOMKilled). */
  readonly oomKilled: boolean;
  /** The readiness probe's simulated result (undefined: succeeds). */
  readonly ready?: boolean;
  /** Time to exit after the stop signal. */
  readonly termMs: number;
  /** Exit code when it exits in time after the stop signal. */
  readonly termExitCode: number;
  /** When set, starting the container fails with this message. */
  readonly startError?: string;
}

/** The outcome a pull of `image` simulates: undefined for success. */
export function simulatedPullFailure(image: string): { code: "NotFound" | "Unauthenticated"; message: string } | undefined {
  const tag = imageTag(image);
  if (tag === "missing") {
    return { code: "NotFound", message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found` };
  }
  if (tag === "unauthorized") {
    return {
      code: "Unauthenticated",
      message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization: authorization failed`,
    };
  }
  return undefined;
}

/** The tag of an image reference ("" when it has none or only a digest). */
export function imageTag(image: string): string {
  const at = image.indexOf("@");
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", slash + 1);
  return colon >= 0 ? ref.slice(colon + 1) : "";
}

const SHELLS = new Set(["sh", "bash", "ash", "dash", "zsh"]);

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i >= 0 ? p.slice(i + 1) : p;
}

/** A finite script's outcome, or undefined when it would run until stopped (or is not understood). */
interface ScriptOutcome {
  readonly ms: number;
  readonly status: number;
}

/** One simple command: its run time and exit status, or undefined when not simulated. */
function simpleCommand(words: readonly string[]): ScriptOutcome | "exit" | undefined {
  const cmd = basename(words[0] ?? "");
  switch (cmd) {
    case "":
    case ":":
    case "true":
    case "echo":
    case "printf":
    case "date":
    case "hostname":
    case "env":
      return { ms: 0, status: 0 };
    case "false":
      return { ms: 0, status: 1 };
    case "sleep": {
      const s = Number(words[1]);
      return Number.isFinite(s) && s >= 0 ? { ms: s * 1000, status: 0 } : undefined;
    }
    case "exit":
      return "exit";
    default:
      return undefined;
  }
}

/**
 * A tiny reading of `sh -c` scripts: statements split on `;`, newlines,
 * `&&` and `||`, each one of the simple commands above. Anything else makes
 * the script run until stopped, as a server would.
 */
export function simulateScript(script: string): ScriptOutcome | undefined {
  const parts = script.split(/(;|&&|\|\||\n)/);
  let ms = 0;
  let status = 0;
  let skip = false;
  for (let i = 0; i < parts.length; i += 2) {
    const stmt = parts[i]!.trim();
    const connector = i > 0 ? parts[i - 1] : ";";
    if (connector === "&&") skip = status !== 0;
    else if (connector === "||") skip = status === 0;
    else skip = false;
    if (skip || stmt === "") continue;
    const words = stmt.split(/\s+/).map((w) => w.replace(/^["']|["']$/g, ""));
    const r = simpleCommand(words);
    if (r === undefined) return undefined;
    if (r === "exit") {
      const code = words[1] === undefined ? status : Number(words[1]);
      return { ms, status: Number.isInteger(code) ? code & 255 : 2 };
    }
    ms += r.ms;
    status = r.status;
  }
  return { ms, status };
}

/** The outcome of the container's command line, or undefined when it runs until stopped. */
function commandOutcome(argv: readonly string[]): ScriptOutcome | undefined {
  if (argv.length === 0) return undefined;
  const cmd = basename(argv[0]!);
  if (SHELLS.has(cmd)) {
    const c = argv.indexOf("-c");
    return c >= 0 && argv[c + 1] !== undefined ? simulateScript(argv[c + 1]!) : undefined;
  }
  const r = simpleCommand(argv);
  return r === "exit" ? undefined : r;
}

function envOf(config: ContainerConfig, key: string): string | undefined {
  let v: string | undefined;
  for (const e of config.envs) if (e.key === key) v = e.value;
  return v;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a container's simulated behaviour from its command line and environment. */
export function behaviourOf(config: ContainerConfig): SimBehaviour {
  const fromCommand = commandOutcome([...config.command, ...config.args]);
  const envExit = num(envOf(config, "SKIFF_SIM_EXIT_CODE"));
  const envRun = num(envOf(config, "SKIFF_SIM_RUN_SECONDS"));
  const oom = envOf(config, "SKIFF_SIM_OOM") === "true";
  let runMs = fromCommand?.ms;
  let exitCode = fromCommand?.status ?? 0;
  if (envRun !== undefined) runMs = Math.max(0, envRun * 1000);
  if (envExit !== undefined) {
    exitCode = Math.trunc(envExit) & 255;
    runMs ??= 0;
  }
  if (oom) {
    exitCode = 137;
    runMs ??= 0;
  }
  const ready = envOf(config, "SKIFF_SIM_READY");
  return {
    runMs,
    exitCode,
    oomKilled: oom,
    ready: ready === undefined ? undefined : ready !== "false",
    termMs: Math.max(0, (num(envOf(config, "SKIFF_SIM_TERM_SECONDS")) ?? 0) * 1000),
    termExitCode: Math.trunc(num(envOf(config, "SKIFF_SIM_TERM_EXIT_CODE")) ?? 0) & 255,
    startError: envOf(config, "SKIFF_SIM_START_ERROR") || undefined,
  };
}
