/** The report as text for people (JSON is the {@link Report} itself). */
import type { Report } from "./types.js";

const LABEL = { error: "ERROR", warning: "WARNING", info: "INFO" } as const;

export function formatReport(report: Report): string {
  const lines: string[] = [];
  for (const f of report.findings) {
    lines.push(`${LABEL[f.severity]}  ${f.object}`, `  Cause: ${f.cause}`, `  Fix:   ${f.fix}`);
    if (f.evidence.length > 0) {
      lines.push("  Evidence:");
      for (const e of f.evidence) lines.push(`    ${e}`);
    }
    lines.push("");
  }
  const problems = report.findings.filter((f) => f.severity !== "info").length;
  lines.push(report.healthy ? "No problems found: every pod looked at is Running and Ready, and the cluster is healthy." : `${problems} problem(s) found.`);
  return `${lines.join("\n")}\n`;
}
