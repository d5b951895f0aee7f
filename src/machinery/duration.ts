/** Go-style durations as Kubernetes flags take them: "300ms", "50s", "5m", "1h30m". */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a duration to milliseconds; throws with a message naming the flag's expected form. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of t.matchAll(re)) {
    if (m.index !== consumed) break;
    total += Number(m[1]) * UNITS[m[2]!]!;
    consumed += m[0].length;
  }
  if (consumed === 0 || consumed !== t.length) {
    throw new Error(`invalid duration ${JSON.stringify(text)}: use a number with a unit, such as 300ms, 50s, 5m or 1h`);
  }
  return Math.round(total);
}
