#!/usr/bin/env node
/** The `skiff` command: one entry point, one file per subcommand. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerAgent } from "./agent.js";
import { registerImage } from "./image.js";
import { registerKubeconfig } from "./kubeconfig.js";
import { registerServer } from "./server.js";
import { registerSnapshot } from "./snapshot.js";

function version(): string {
  for (const rel of ["../../package.json", "../../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      // try the next layout (source vs dist)
    }
  }
  return "unknown";
}

const program = new Command("skiff")
  .description("skiff: a Kubernetes-compatible cluster on one machine in seconds")
  .version(version())
  .showHelpAfterError("(run with --help for usage)");
registerServer(program);
registerAgent(program);
registerSnapshot(program);
registerKubeconfig(program);
registerImage(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
});
