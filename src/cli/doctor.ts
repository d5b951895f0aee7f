/**
 * `skiff doctor [-n NS | -A] [POD] [-o text|json]`: explains why pods are
 * not Running and Ready, and what is wrong with the cluster, in plain
 * words. It reads the kubeconfig as kubectl does (--kubeconfig, else
 * KUBECONFIG, else ~/.kube/config) and, when the server's data dir is on
 * this machine, the store and its snapshots. Exits 0 only when healthy.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { type ClientConfig, configFromKubeconfig } from "../client/config.js";
import { RestClient } from "../client/rest-client.js";
import { collectAndDiagnose } from "../doctor/collect.js";
import { formatReport } from "../doctor/format.js";
import type { Report } from "../doctor/types.js";
import { defaultDataDir } from "./data-dir.js";
import { kubeconfigChain } from "./kubeconfig-file.js";

interface DoctorFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output: string;
  kubeconfig?: string;
  context?: string;
  dataDir?: string;
}

/**
 * The client config kubectl would use. With several files in KUBECONFIG,
 * kubectl merges them (first wins); doctor takes the first file that sets
 * a current-context (or has the named context), which is what that merge
 * picks for the context itself.
 */
export function doctorClientConfig(explicitPath: string | undefined, context: string | undefined): ClientConfig {
  const chain = kubeconfigChain({ explicitPath }).filter((p) => existsSync(p));
  if (chain.length === 0) throw new Error(explicitPath ? `kubeconfig ${explicitPath} does not exist` : "no kubeconfig: set KUBECONFIG or pass --kubeconfig");
  const pick = chain.find((p) => {
    const doc = parseYaml(readFileSync(p, "utf8")) as { "current-context"?: string; contexts?: { name?: string }[] } | null;
    return context ? (doc?.contexts ?? []).some((c) => c?.name === context) : !!doc?.["current-context"];
  });
  return configFromKubeconfig(pick ?? chain[0]!, context);
}

export async function runDoctor(pod: string | undefined, flags: DoctorFlags, out: (s: string) => void): Promise<Report> {
  if (flags.output !== "text" && flags.output !== "json") throw new Error(`unable to match a printer suitable for the output format "${flags.output}", allowed formats are: json,text`);
  if (pod && flags.allNamespaces) throw new Error("a pod name cannot be combined with --all-namespaces");
  const config = doctorClientConfig(flags.kubeconfig, flags.context);
  const rest = new RestClient({ ...config, userAgent: "skiff-doctor" });
  try {
    // The default data dir only counts when it exists (doctor run from a workstation has none).
    const dataDir = flags.dataDir ?? (existsSync(defaultDataDir()) ? defaultDataDir() : undefined);
    const report = await collectAndDiagnose(rest, {
      namespace: flags.namespace ?? config.namespace ?? "default",
      allNamespaces: flags.allNamespaces,
      pod,
      dataDir,
    });
    out(flags.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report;
  } finally {
    rest.close();
  }
}

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("explain why pods are not running and what is wrong with the cluster, and what to do")
    .argument("[pod]", "diagnose only this pod")
    .option("-n, --namespace <ns>", "namespace to look at (default: the kubeconfig context's, else default)")
    .option("-A, --all-namespaces", "look at every namespace")
    .option("-o, --output <format>", "text or json", "text")
    .option("--kubeconfig <file>", "kubeconfig to use (default: KUBECONFIG, else ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .option("--data-dir <dir>", `the server's data directory, for store and snapshot checks (default ${defaultDataDir()} when it exists)`)
    .action(async (pod: string | undefined, flags: DoctorFlags) => {
      const report = await runDoctor(pod, flags, (s) => process.stdout.write(s));
      process.exitCode = report.healthy ? 0 : 1;
    });
}
