/**
 * The embedded etcd cluster's health, from {@link EtcdFacts}: a member that
 * cannot be asked, no leader (quorum lost), members that do not answer and
 * how many more failures the cluster tolerates, learners a join left
 * unpromoted, an even member count, alarms (NOSPACE with its fix: compact,
 * defragment, disarm), members whose data disagree at one revision
 * (hashkv), and otherwise a summary line.
 */
import type { EtcdFacts } from "./etcd-facts.js";
import { humanBytes } from "./quantity.js";
import type { Finding } from "./types.js";

const OBJECT = "etcd cluster";

/** Findings for the cluster (always at least one: a problem or the summary). */
export function diagnoseEtcd(facts: EtcdFacts): Finding[] {
  const ctl = `ETCDCTL_API=3 etcdctl ${facts.etcdctlFlags}`;
  if (facts.error) {
    return [
      {
        object: OBJECT,
        severity: "error",
        cause: `This server's etcd member at ${facts.endpoint} does not answer (${facts.error}), so its API server cannot read or write.`,
        fix: "Check the server's log and <data-dir>/db/etcd.log; skiff server restarts its etcd member itself, so a member that keeps exiting says why there.",
        evidence: [facts.error],
      },
    ];
  }
  const out: Finding[] = [];
  const voters = facts.members.filter((m) => !m.isLearner);
  const answering = voters.filter((m) => m.status);
  const evidence = facts.members.map((m) =>
    m.status
      ? `${m.name || m.id}${m.isLearner ? " (learner)" : ""}: ${m.clientURLs.join(",")}, db ${humanBytes(m.status.dbSize)} (${humanBytes(m.status.dbSizeInUse)} in use), revision ${m.status.revision}, leader ${nameOf(facts, m.status.leader)}`
      : `${m.name || m.id}: ${m.error ?? "no answer"}`,
  );
  const leaders = new Set(answering.map((m) => m.status!.leader).filter((l) => l !== "0"));
  const quorum = Math.floor(voters.length / 2) + 1;
  if (leaders.size === 0) {
    out.push({
      object: OBJECT,
      severity: "error",
      cause: `etcd has no leader: ${answering.length} of ${voters.length} voting members answer and ${quorum} are needed, so the cluster can neither read nor write.`,
      fix: "Bring the stopped servers (or their network) back; if they are gone for good, rebuild from this server with skiff server --cluster-reset (its local data) or --cluster-reset-restore-path (a snapshot).",
      evidence,
    });
  } else if (answering.length < voters.length) {
    const down = voters.filter((m) => !m.status).map((m) => m.name || m.id);
    const tolerates = answering.length - quorum;
    out.push({
      object: OBJECT,
      severity: "warning",
      cause: `etcd member${down.length > 1 ? "s" : ""} ${down.join(", ")} ${down.length > 1 ? "do" : "does"} not answer; ${answering.length} of ${voters.length} keep quorum, so the cluster tolerates ${tolerates} more failure${tolerates === 1 ? "" : "s"}.`,
      fix: "Restart the server(s) holding those members, or remove a server that is gone for good so its member stops counting toward quorum.",
      evidence,
    });
  }
  for (const l of facts.members.filter((m) => m.isLearner)) {
    out.push({
      object: OBJECT,
      severity: "warning",
      cause: `Member ${l.name || l.id} is still a learner: a server's join did not finish (etcd allows one learner at a time, so no other server can join meanwhile).`,
      fix: `Start that server again with --server and --token to finish the join, or remove the learner: ${ctl} member remove ${BigInt(l.id).toString(16)}`,
      evidence,
    });
  }
  if (voters.length % 2 === 0) {
    out.push({
      object: OBJECT,
      severity: "warning",
      cause: `etcd has ${voters.length} voting members; a cluster of ${voters.length} tolerates no more failures than one of ${voters.length - 1}.`,
      fix: "Run an odd number of servers: three tolerate one failure, five tolerate two.",
      evidence,
    });
  }
  for (const a of facts.alarms) {
    out.push({
      object: OBJECT,
      severity: "error",
      cause:
        a.alarm === "Nospace" || a.alarm === "NOSPACE"
          ? `etcd's NOSPACE alarm is raised (member ${a.member}): its database reached its quota, so every write is refused.`
          : `etcd's ${a.alarm} alarm is raised (member ${a.member}).`,
      fix:
        a.alarm === "Nospace" || a.alarm === "NOSPACE"
          ? `Free the space and disarm: compact old history (${ctl} compact $(${ctl} endpoint status -w json | grep -o '"revision":[0-9]*' | head -1 | cut -d: -f2)), defragment every member (${ctl} defrag --cluster), then disarm (${ctl} alarm disarm).`
          : `Inspect the member's log (<data-dir>/db/etcd.log); a CORRUPT member must be removed and joined again from the others.`,
      evidence: [`alarm ${a.alarm} on ${a.member}`],
    });
  }
  const hashed = facts.members.filter((m) => m.hash);
  const byCompact = new Map<number, Set<string>>();
  for (const m of hashed) {
    const set = byCompact.get(m.hash!.compactRevision) ?? new Set<string>();
    set.add(m.hash!.hash);
    byCompact.set(m.hash!.compactRevision, set);
  }
  if ([...byCompact.values()].some((hashes) => hashes.size > 1)) {
    out.push({
      object: OBJECT,
      severity: "error",
      cause: `etcd members disagree about the data at revision ${facts.hashRevision}: their KV hashes differ (hashkv), so one holds corrupt data.`,
      fix: "Find the member whose hash differs from the majority, remove it (etcdctl member remove) and join its server again; take a snapshot from a healthy member first.",
      evidence: hashed.map((m) => `${m.name}: hash ${m.hash!.hash} (compacted at ${m.hash!.compactRevision})`),
    });
  }
  if (out.length === 0) {
    out.push({
      object: OBJECT,
      severity: "info",
      cause: `etcd is healthy: ${voters.length} voting member${voters.length === 1 ? "" : "s"}, leader ${nameOf(facts, [...leaders][0]!)}${facts.hashRevision !== undefined ? `, data identical on every member at revision ${facts.hashRevision}` : ""}.`,
      fix: "Nothing to do.",
      evidence,
    });
  }
  return out;
}

function nameOf(facts: EtcdFacts, id: string): string {
  if (id === "0") return "none";
  return facts.members.find((m) => m.id === id)?.name || id;
}
