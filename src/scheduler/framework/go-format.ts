/**
 * The few Go `fmt` renderings that upstream's scheduler messages embed, so
 * messages built here read byte-for-byte as kube-scheduler's.
 */

/** `%v` of a []string: `[a b c]`. */
export function goSlice(values: readonly string[]): string {
  return `[${values.join(" ")}]`;
}

function trimFraction(n: number, decimals: number): string {
  return n.toFixed(decimals).replace(/\.?0+$/, "");
}

/** `%v` of a time.Duration given in milliseconds: "0s", "500ms", "10s", "1.5s", "1m0s", "15m0s", "1h0m0s". */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  const neg = ms < 0;
  const abs = Math.abs(ms);
  let out: string;
  if (abs < 1000) {
    out = `${trimFraction(abs, 6)}ms`;
  } else {
    const totalSeconds = abs / 1000;
    const h = Math.floor(totalSeconds / 3600);
    const m = Math.floor((totalSeconds - h * 3600) / 60);
    const s = totalSeconds - h * 3600 - m * 60;
    const sec = `${trimFraction(s, 9)}s`;
    if (h > 0) out = `${h}h${m}m${sec}`;
    else if (m > 0) out = `${m}m${sec}`;
    else out = sec;
  }
  return neg ? `-${out}` : out;
}
