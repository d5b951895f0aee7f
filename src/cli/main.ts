#!/usr/bin/env node
/**
 * The `skiff` command: one entry point, one file per subcommand. Only the
 * subcommand being run is loaded, so `skiff agent` does not carry the API
 * server and store in its memory (about 30 MB of an idle agent's RSS).
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";

type Register = (program: Command) => void;

/** Each subcommand's module, in `skiff --help` order. */
const COMMANDS: Record<string, () => Promise<Register>> = {
  server: async () => (await import("./server.js")).registerServer,
  agent: async () => (await import("./agent.js")).registerAgent,
  "controller-manager": async () => (await import("./controller-manager.js")).registerControllerManager,
  snapshot: async () => (await import("./snapshot.js")).registerSnapshot,
  kubeconfig: async () => (await import("./kubeconfig.js")).registerKubeconfig,
  image: async () => (await import("./image.js")).registerImage,
  "secrets-encrypt": async () => (await import("./secrets-encrypt.js")).registerSecretsEncrypt,
  doctor: async () => (await import("./doctor.js")).registerDoctor,
  registry: async () => (await import("./registry.js")).registerRegistry,
  uninstall: async () => (await import("./uninstall.js")).registerUninstall,
};

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
// The first word that is not an option names the subcommand; without one (--help, a typo) all are loaded.
const sub = process.argv.slice(2).find((a) => !a.startsWith("-"));
const wanted = sub !== undefined && Object.hasOwn(COMMANDS, sub) ? [COMMANDS[sub]!] : Object.values(COMMANDS);
Promise.all(wanted.map((load) => load()))
  .then((registers) => {
    for (const register of registers) register(program);
    return program.parseAsync(process.argv);
  })
  .catch((err: unknown) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exit(1);
  });
