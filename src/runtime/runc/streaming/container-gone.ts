/**
 * Telling "the exec'd command died of a signal" from "the container went
 * away under it": when a container stops, the kernel kills every process of
 * its pid namespace, exec'd ones included, and runc reports that as the
 * usual 128+signal exit code. Only asking runc afterwards tells them apart.
 */
import { fail, type RuntimeResult } from "../../types.js";
import type { RuncStreamTarget } from "../stream-target.js";
import { runcStatus } from "./runc-exec.js";

/**
 * A failure when an exec ended by a signal (`exitCode` ≥ 128) because its
 * container is no longer running; undefined when the exit code stands.
 */
export async function containerGoneFailure<T>(target: RuncStreamTarget, exitCode: number): Promise<RuntimeResult<T> | undefined> {
  if (exitCode < 128) return undefined;
  const status = await runcStatus(target);
  if (status === "running" || status === "paused" || status === "created") return undefined;
  return fail(
    "NotFound",
    status === undefined
      ? `container ${target.containerId} was removed while the exec was running`
      : `container ${target.containerId} stopped while the exec was running`,
  );
}
