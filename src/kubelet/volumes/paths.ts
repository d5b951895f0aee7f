/**
 * Where the kubelet keeps a pod's files under its root directory (upstream
 * --root-dir, /var/lib/kubelet), with upstream's layout so tools and
 * habits carry over:
 *
 *   pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>   prepared volumes
 *   pods/<uid>/volume-subpaths/<volume>/<container>/<i>  subPath bind mounts
 *   pods/<uid>/containers/<container>/<8 hex>            termination messages
 *   pods/<uid>/etc-hosts                                 the managed /etc/hosts
 */
import { join } from "node:path";

/** Plugin directory names (upstream's escaped plugin names). */
export const PLUGIN_DIR = {
  emptyDir: "kubernetes.io~empty-dir",
  configMap: "kubernetes.io~configmap",
  secret: "kubernetes.io~secret",
  projected: "kubernetes.io~projected",
  downwardAPI: "kubernetes.io~downward-api",
} as const;

/** A plugin that keeps its volumes under the pod directory. */
export type ManagedPlugin = keyof typeof PLUGIN_DIR;

/** `<root>/pods`. */
export function podsDir(root: string): string {
  return join(root, "pods");
}

/** `<root>/pods/<uid>`. */
export function podDir(root: string, uid: string): string {
  return join(root, "pods", uid);
}

/** `<root>/pods/<uid>/volumes`. */
export function podVolumesDir(root: string, uid: string): string {
  return join(podDir(root, uid), "volumes");
}

/** `<root>/pods/<uid>/volumes/<plugin dir>/<name>`. */
export function podVolumeDir(root: string, uid: string, plugin: ManagedPlugin, name: string): string {
  return join(podVolumesDir(root, uid), PLUGIN_DIR[plugin], name);
}

/** `<root>/pods/<uid>/volume-subpaths`. */
export function podSubpathsDir(root: string, uid: string): string {
  return join(podDir(root, uid), "volume-subpaths");
}

/** `<root>/pods/<uid>/containers/<name>`: where termination message files live. */
export function podContainerDir(root: string, uid: string, container: string): string {
  return join(podDir(root, uid), "containers", container);
}

/** `<root>/pods/<uid>/etc-hosts`. */
export function podEtcHostsPath(root: string, uid: string): string {
  return join(podDir(root, uid), "etc-hosts");
}

/**
 * Whether `name` can be one path segment (a pod UID, volume or container
 * name): the API validates these as DNS labels or UUIDs, but the kubelet
 * builds host paths from them, so it checks again.
 */
export function isSafeSegment(name: string): boolean {
  return name.length > 0 && name.length <= 255 && !name.includes("/") && !name.includes("\0") && name !== "." && name !== "..";
}
