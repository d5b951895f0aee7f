/**
 * `npm test`: every *.test.ts under src/ and test/ with node's built-in
 * runner and the tsx loader, so CI prints node's normal summary. Host tools
 * the tests drive (etcd, …) are installed from Debian's packages first when
 * missing, and a whole run builds the Debian base images it uses when they
 * are not cached yet. Arguments narrow the run to files whose path contains
 * one of them.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensureHostTools, type HostTool } from "../src/machinery/debian-packages.js";
import { ensureTestBaseImages } from "../test/support/base-images.js";

/** What the suite drives for real; CI's .ci/run installs the same packages. */
const TEST_TOOLS: HostTool[] = [
  { command: "etcd", debianPackage: "etcd-server", neededFor: "etcd backend tests" },
  { command: "etcdctl", debianPackage: "etcd-client", neededFor: "etcd snapshot restore tests" },
  { command: "sqlite3", debianPackage: "sqlite3", neededFor: "inspecting stores in tests" },
  { command: "runc", debianPackage: "runc", neededFor: "containers" },
  { command: "conmon", debianPackage: "conmon", neededFor: "watching containers" },
  { command: "nft", debianPackage: "nftables", neededFor: "the service guard and kube-proxy rules" },
  { command: "iptables", debianPackage: "iptables", neededFor: "CNI portmap and masquerade rules" },
  { command: "conntrack", debianPackage: "conntrack", neededFor: "flushing UDP service entries" },
  { command: "busybox", debianPackage: "busybox-static", neededFor: "test images" },
  { command: "docker-registry", debianPackage: "docker-registry", neededFor: "image pull tests" },
  { command: "skopeo", debianPackage: "skopeo", neededFor: "pushing test images" },
  { command: "buildah", debianPackage: "buildah", neededFor: "registry tests with a real client" },
  { command: "ctr", debianPackage: "containerd", neededFor: "ctr images pull from the cluster registry" },
  { command: "umoci", debianPackage: "umoci", neededFor: "OCI image layout tests" },
  { command: "htpasswd", debianPackage: "apache2-utils", neededFor: "registry auth tests" },
];

function find(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
ensureHostTools(TEST_TOOLS, (line) => console.log(`skiff tests: ${line}`));
// The whole suite needs the Debian base images (image builds, the expense app); tests never download them.
if (filters.length === 0) await ensureTestBaseImages((line) => console.log(`skiff tests: ${line}`));
const files = ["src", "test"]
  .flatMap((d) => find(d))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=300000", ...flags, ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
