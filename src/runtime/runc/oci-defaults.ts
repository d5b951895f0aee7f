/**
 * Defaults every container gets, as containerd's CRI plugin sets them
 * (oci.populateDefaultUnixSpec and the CRI spec options): capabilities,
 * masked and read-only /proc and /sys paths, and the kernel filesystems.
 */
import { readFileSync } from "node:fs";

/** containerd's default capability set (bounding = effective = permitted). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Paths hidden from containers (bind-mounted over with /dev/null or an empty tmpfs by runc). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  "/proc/scsi",
];

/** Paths containers see read-only. */
export const DEFAULT_READONLY_PATHS: readonly string[] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/** PATH when the image sets none (containerd's default). */
export const DEFAULT_PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Open-files limit of container processes. containerd's default spec says
 * 1024, but its CRI plugin and CRI-O hand containers the runtime's own
 * (high) limit; servers in pods expect that.
 */
export const DEFAULT_NOFILE = 1048576;

/**
 * The NOFILE limit containers get: {@link DEFAULT_NOFILE}, capped at the
 * agent's own hard limit (raising it above that needs privileges a
 * confined agent may not have, and runc then fails every create).
 */
export function containerNofile(limitsText?: string): number {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync("/proc/self/limits", "utf8");
    } catch {
      return DEFAULT_NOFILE;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m || m[2] === "unlimited") return DEFAULT_NOFILE;
  const hard = Number(m[2]);
  return Number.isFinite(hard) && hard > 0 ? Math.min(DEFAULT_NOFILE, hard) : DEFAULT_NOFILE;
}

/** Size of a pod's shared /dev/shm (64 MiB, as the pause-container runtimes make it). */
export const POD_SHM_SIZE_BYTES = 64 * 1024 * 1024;
