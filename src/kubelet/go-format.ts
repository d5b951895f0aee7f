/**
 * The Go `fmt` renderings upstream's kubelet messages embed, so statuses and
 * events read byte-for-byte as a real kubelet's.
 */

/** `%v` of a []string: `[a b c]`. */
export function goSlice(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}

function trimFraction(n: number, decimals: number): string {
  return n.toFixed(decimals).replace(/\.?0+$/, "");
}

/** `%v` of a time.Duration given in milliseconds: "0s", "500ms", "10s", "1m20s", "5m0s", "1h0m0s". */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  const abs = Math.abs(ms);
  let out: string;
  if (abs < 1000) out = `${trimFraction(abs, 6)}ms`;
  else {
    const total = abs / 1000;
    const h = Math.floor(total / 3600);
    const m = Math.floor((total - h * 3600) / 60);
    const sec = `${trimFraction(total - h * 3600 - m * 60, 9)}s`;
    out = h > 0 ? `${h}h${m}m${sec}` : m > 0 ? `${m}m${sec}` : sec;
  }
  return ms < 0 ? `-${out}` : out;
}

/** Upstream's format.Pod: `name_namespace(uid)`. */
export function formatPod(pod: { metadata?: { name?: string; namespace?: string; uid?: string } }): string {
  const m = pod.metadata ?? {};
  return `${m.name ?? ""}_${m.namespace ?? ""}(${m.uid ?? ""})`;
}
