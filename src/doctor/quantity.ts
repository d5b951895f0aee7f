/**
 * Quantities and durations as doctor prints them ("1.5 GiB", "3d4h"); the
 * parsing is machinery/quantity.ts's.
 */
import { quantityNumber } from "../machinery/quantity.js";

/** The value of a quantity such as `1Gi`, `250m` or `1e3`; undefined when it is not one. */
export function quantityValue(q: string | number | undefined | null): number | undefined {
  return q === undefined || q === null ? undefined : quantityNumber(q);
}

/** Bytes in the largest binary unit that keeps a whole part (`1.5 GiB`). */
export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A duration as `3d4h`, `5h2m`, `4m10s`, `12s`. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s % 60}s`;
  return `${s}s`;
}
