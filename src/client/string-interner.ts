/**
 * One copy of each repeated string in an informer cache. `JSON.parse`
 * makes a new string for every value it reads, so 10,000 cached pods hold
 * 10,000 copies of "True", "Ready", their image, their owner's uid and
 * name, the same few timestamps… The interner hands back the copy it
 * already holds, so the duplicates become garbage: about a quarter of a
 * cached pod's heap.
 *
 * Bounded: a string is kept only once seen twice within one generation of
 * candidates (so a pod's unique uid or name is never kept), and both
 * tables start over when full (objects keep the strings they have; only
 * sharing with later objects is lost). Strings are immutable, so sharing
 * them changes nothing a reader or writer of the objects can see.
 */

/** Options of a {@link StringInterner}. */
export interface StringInternerOptions {
  /** Strings kept for sharing before the table starts over (16,384). */
  readonly maxStrings?: number;
  /** Strings seen once remembered before they are forgotten (16,384). */
  readonly maxCandidates?: number;
  /** Longer strings are never kept: long values are rarely repeated (256). */
  readonly maxLength?: number;
}

/** Interns the string values of parsed JSON objects, in place. */
export class StringInterner {
  private table = new Map<string, string>();
  private candidates = new Set<string>();
  private readonly maxStrings: number;
  private readonly maxCandidates: number;
  private readonly maxLength: number;

  constructor(opts: StringInternerOptions = {}) {
    this.maxStrings = opts.maxStrings ?? 16_384;
    this.maxCandidates = opts.maxCandidates ?? 16_384;
    this.maxLength = opts.maxLength ?? 256;
  }

  /** How many strings are kept for sharing now. */
  get size(): number {
    return this.table.size;
  }

  /** The shared copy of `s` (or `s`, which may become the shared copy). */
  intern(s: string): string {
    const kept = this.table.get(s);
    if (kept !== undefined) return kept;
    if (s.length > this.maxLength) return s;
    if (!this.candidates.has(s)) {
      if (this.candidates.size >= this.maxCandidates) this.candidates = new Set();
      this.candidates.add(s);
      return s;
    }
    this.candidates.delete(s);
    if (this.table.size >= this.maxStrings) this.table = new Map();
    this.table.set(s, s);
    return s;
  }

  /**
   * Replaces every string value inside `value` (objects and arrays,
   * walked in place) with its shared copy; returns `value`. Only for
   * freshly parsed JSON no one else holds yet: it writes to the objects.
   */
  internAll<T>(value: T): T {
    this.walk(value as unknown);
    return value;
  }

  private walk(v: unknown): void {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === "string") v[i] = this.intern(item);
        else if (item !== null && typeof item === "object") this.walk(item);
      }
      return;
    }
    if (v === null || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    for (const k in o) {
      const item = o[k];
      if (typeof item === "string") o[k] = this.intern(item);
      else if (item !== null && typeof item === "object") this.walk(item);
    }
  }
}
