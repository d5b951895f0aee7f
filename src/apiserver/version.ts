/**
 * What `/version` reports. The minor version matches the API surface skiff
 * serves (kubernetes-types 1.30), so the machine's kubectl dispatcher runs
 * kubectl 1.30 against it, and users read a real Kubernetes version.
 */
export const KUBE_MAJOR = "1";
export const KUBE_MINOR = "30";
export const KUBE_PATCH = "14";
export const GIT_VERSION = `v${KUBE_MAJOR}.${KUBE_MINOR}.${KUBE_PATCH}+skiff`;

export function versionInfo(): Record<string, string> {
  return {
    major: KUBE_MAJOR,
    minor: KUBE_MINOR,
    gitVersion: GIT_VERSION,
    gitCommit: "skiff",
    gitTreeState: "clean",
    buildDate: "2026-11-28T00:00:00Z",
    goVersion: `node${process.versions.node}`,
    compiler: "tsc",
    platform: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
  };
}
