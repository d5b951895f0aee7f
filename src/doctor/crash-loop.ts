/**
 * CrashLoopBackOff (and containers that keep restarting): the last exit
 * code and what it means, OOM kills against the memory limit, failing
 * liveness probes, the last log lines and what connection errors in them
 * point at.
 */
import type { ContainerStatus, Event, Pod } from "kubernetes-types/core/v1.js";
import { findConnectionErrors, judgeTarget } from "./connection-errors.js";
import { describeEvent } from "./events.js";
import { exitCodeMeaning } from "./exit-codes.js";
import { type ClusterView, type Finding, logKey, objectRef } from "./types.js";

/** How many log lines go into the evidence. */
const SHOWN_LOG_LINES = 10;

/** Whether the container is crash-looping or last died badly and is not running again yet. */
export function isCrashing(cs: ContainerStatus): boolean {
  const reason = cs.state?.waiting?.reason;
  if (reason === "CrashLoopBackOff" || reason === "RunContainerError") return true;
  const t = cs.state?.terminated;
  return !!t && t.exitCode !== 0 && (cs.restartCount ?? 0) > 0;
}

/** The findings for one crash-looping container (the crash, then one per connection target). */
export function diagnoseCrashLoop(pod: Pod, cs: ContainerStatus, podEvents: readonly Event[], view: ClusterView): Finding[] {
  const ns = pod.metadata?.namespace ?? "";
  const name = pod.metadata?.name ?? "";
  const object = objectRef("Pod", name, ns);
  const spec = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === cs.name);
  const last = cs.state?.terminated ?? cs.lastState?.terminated;
  const waiting = cs.state?.waiting;
  const evidence: string[] = [];
  if (waiting) evidence.push(`container ${cs.name} waiting: ${waiting.reason ?? ""}${waiting.message ? `: ${waiting.message}` : ""}`);
  evidence.push(`restarts: ${cs.restartCount ?? 0}`);

  // Liveness probe failures: the kubelet's Unhealthy events, and Killing "failed liveness probe".
  const liveness = podEvents.filter(
    (e) =>
      (e.reason === "Unhealthy" && /^Liveness probe/i.test(e.message ?? "") && (e.involvedObject.fieldPath ?? "").includes(`{${cs.name}}`)) ||
      (e.reason === "Killing" && /failed liveness probe/i.test(e.message ?? "") && (e.message ?? "").includes(cs.name)),
  );
  const startError = waiting?.reason === "RunContainerError" ? waiting.message : undefined;

  let cause: string;
  let fix: string;
  if (startError !== undefined) {
    cause = `Container ${cs.name} cannot start: ${startError}`;
    fix = "Fix the command, image or security settings named in the error.";
  } else if (last) {
    const oom = last.reason === "OOMKilled";
    evidence.push(
      `last termination: exit code ${last.exitCode}${last.reason ? `, reason ${last.reason}` : ""}${last.signal ? `, signal ${last.signal}` : ""}${last.finishedAt ? ` at ${last.finishedAt}` : ""}`,
    );
    if (last.message) evidence.push(`termination message: ${last.message.trim().split("\n").slice(-3).join(" | ")}`);
    const meaning = exitCodeMeaning(last.exitCode, oom);
    if (oom) {
      const limit = spec?.resources?.limits?.memory;
      cause = `Container ${cs.name} keeps being OOM-killed (exit code ${last.exitCode}): it needs more memory than its limit${limit ? ` of ${limit}` : ""}.`;
      fix = limit
        ? `Raise resources.limits.memory above ${limit} (and the request with it), or make the program use less memory.`
        : "Set a memory limit that fits the program, or find what makes it use so much memory (the node itself ran out).";
    } else if (liveness.length > 0 && (last.exitCode === 137 || last.exitCode === 143 || last.exitCode === 0)) {
      cause = `Container ${cs.name} is restarted because its liveness probe fails (exit code ${last.exitCode}: ${meaning}).`;
      fix =
        "Check the probe's path/port/command against what the program serves, give a slow start more time (initialDelaySeconds or a startupProbe), or fix the program so it answers.";
    } else {
      cause = `Container ${cs.name} keeps exiting with code ${last.exitCode}: ${meaning}.`;
      fix =
        last.exitCode === 0
          ? "Run a program that stays in the foreground, or use a Job for work that finishes."
          : last.exitCode === 126 || last.exitCode === 127
            ? "Fix the container's command/args (or the image's entrypoint)."
            : "Read its last log lines (kubectl logs --previous) and fix what makes the program fail.";
    }
  } else {
    cause = `Container ${cs.name} keeps restarting (${waiting?.reason ?? "no termination recorded"}).`;
    fix = "Read its logs with kubectl logs --previous.";
  }
  for (const e of liveness.slice(0, 2)) evidence.push(describeEvent(e));

  const tail = view.logs.get(logKey(ns, name, cs.name));
  const lines = tail && "lines" in tail ? tail.lines : [];
  if (tail && "lines" in tail) {
    if (lines.length > 0) {
      evidence.push(`last log lines${tail.previous ? " (previous run)" : ""}:`, ...lines.slice(-SHOWN_LOG_LINES).map((l) => `  ${l}`));
    } else {
      evidence.push("the container logged nothing");
    }
  } else if (tail) {
    evidence.push(`logs unavailable: ${tail.error}`);
  }
  const findings: Finding[] = [{ object, severity: "error", cause, fix, evidence }];

  // Connection errors: one finding per distinct target the cluster can explain.
  const seen = new Set<string>();
  for (const err of findConnectionErrors(lines)) {
    const key = `${err.target ?? ""}:${err.port ?? ""}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const verdict = judgeTarget(err, ns, view.services, view.endpointSlices);
    if (verdict.cause && verdict.fix) {
      findings.push({ object, severity: "error", cause: `Container ${cs.name} fails to connect: ${verdict.cause}`, fix: verdict.fix, evidence: [`log: ${err.line}`] });
    } else if (err.target && verdict.service) {
      findings.push({
        object,
        severity: "warning",
        cause: `Container ${cs.name} fails to connect to ${err.target}, but Service ${verdict.service.metadata?.namespace}/${verdict.service.metadata?.name} has ${verdict.readyEndpoints} ready endpoint(s).`,
        fix: "Check the port, the credentials and any NetworkPolicy between the two; the server side may refuse the client.",
        evidence: [`log: ${err.line}`],
      });
    }
  }
  return findings;
}
