/**
 * One allocation bitmap kept in the cluster store, as upstream's
 * `allocator.AllocationBitmap` persisted by `allocator/storage` under
 * `/registry/ranges/…` (a `RangeAllocation`: the range it covers plus the
 * bitmap as the big-endian bytes of a big integer whose bit i is offset i).
 *
 * Every change is a compare-and-swap of the whole object, retried on
 * conflict, so any number of API servers sharing the store never hand out the
 * same offset twice. Within one process, changes are queued rather than
 * raced, so concurrent requests cost one write each instead of retry storms.
 *
 * Dynamic allocation mirrors upstream's `randomScanStrategyWithOffset`: a
 * random start in the upper band `[offset, max)`, scanning forward with wrap,
 * and only when that band is full a random scan of the lower band
 * `[0, offset)`, which is thereby kept for explicitly requested values.
 */
import { KeyExistsError, KeyNotFoundError, RevisionMismatchError } from "../../storage/errors.js";
import type { KeyValue, Store } from "../../storage/store.js";

export interface RangeBitmapOptions {
  readonly store: Store;
  /** Store key, e.g. `/registry/ranges/serviceips`. */
  readonly key: string;
  /** What `RangeAllocation.range` says, e.g. `10.43.0.0/16` or `30000-32767`. */
  readonly rangeSpec: string;
  /** Number of offsets, [0, max). */
  readonly max: number;
  /** Size of the lower band kept for static allocation (0: none). */
  readonly offset: number;
  /** Message when the stored bitmap covers another range (upstream's ErrMismatchedNetwork). */
  readonly mismatchMessage: string;
  /** Random source in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

/** The stored bitmap covers a different range than the one configured (run a repair). */
export class RangeMismatchError extends Error {
  override name = "RangeMismatchError";
  constructor(
    message: string,
    readonly stored: string,
    readonly configured: string,
  ) {
    super(message);
  }
}

/** The stored object is not a RangeAllocation skiff can read. */
export class RangeCorruptError extends Error {
  override name = "RangeCorruptError";
}

/** The JSON stored at the key, shaped as upstream's core/v1 RangeAllocation. */
interface RangeAllocationJSON {
  kind: "RangeAllocation";
  apiVersion: "v1";
  metadata: { name: string; creationTimestamp: null };
  range: string;
  /** base64 of the big-endian bytes of the bitmap integer. */
  data: string;
}

interface Loaded {
  readonly kv: KeyValue | undefined;
  /** Little-endian bit array: offset i is bit (i & 7) of byte (i >> 3). */
  readonly bits: Uint8Array;
  readonly range: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function bit(bits: Uint8Array, i: number): boolean {
  return ((bits[i >> 3]! >> (i & 7)) & 1) === 1;
}

function setBit(bits: Uint8Array, i: number, on: boolean): void {
  if (on) bits[i >> 3]! |= 1 << (i & 7);
  else bits[i >> 3]! &= ~(1 << (i & 7));
}

function popcount(bits: Uint8Array): number {
  let n = 0;
  for (let b of bits) {
    while (b) {
      n += b & 1;
      b >>= 1;
    }
  }
  return n;
}

/** Result of a mutation: what to return and whether the bitmap changed. */
interface Change<T> {
  readonly value: T;
  readonly changed: boolean;
}

export class RangeBitmap {
  readonly key: string;
  readonly rangeSpec: string;
  readonly max: number;
  readonly offset: number;
  private readonly store: Store;
  private readonly random: () => number;
  private readonly mismatchMessage: string;
  private readonly bytes: number;
  /** Last state this process saw; a CAS against it fails harmlessly when stale. */
  private cache: Loaded | undefined;
  /** In-process queue of mutations. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(opts: RangeBitmapOptions) {
    this.store = opts.store;
    this.key = opts.key;
    this.rangeSpec = opts.rangeSpec;
    this.max = Math.max(0, opts.max);
    this.offset = Math.min(Math.max(0, opts.offset), this.max);
    this.random = opts.random ?? Math.random;
    this.mismatchMessage = opts.mismatchMessage;
    this.bytes = Math.ceil(this.max / 8);
  }

  // ---- encoding ----

  private decode(kv: KeyValue): Loaded {
    let obj: Partial<RangeAllocationJSON>;
    try {
      obj = JSON.parse(dec.decode(kv.value)) as Partial<RangeAllocationJSON>;
    } catch {
      throw new RangeCorruptError(`${this.key}: stored range allocation is not JSON`);
    }
    if (typeof obj.range !== "string" || typeof obj.data !== "string") {
      throw new RangeCorruptError(`${this.key}: stored range allocation has no range or data`);
    }
    const big = Buffer.from(obj.data, "base64");
    const bits = new Uint8Array(this.bytes);
    // Big-endian integer bytes → little-endian bit array; bits past max are ignored.
    for (let i = 0; i < big.length && i < this.bytes; i++) bits[i] = big[big.length - 1 - i]!;
    if (this.max % 8 !== 0 && this.bytes > 0) bits[this.bytes - 1]! &= (1 << this.max % 8) - 1;
    return { kv, bits, range: obj.range };
  }

  private encode(bits: Uint8Array): Uint8Array {
    let hi = bits.length - 1;
    while (hi >= 0 && bits[hi] === 0) hi--;
    const big = new Uint8Array(hi + 1);
    for (let i = 0; i <= hi; i++) big[hi - i] = bits[i]!;
    const obj: RangeAllocationJSON = {
      kind: "RangeAllocation",
      apiVersion: "v1",
      metadata: { name: "", creationTimestamp: null },
      range: this.rangeSpec,
      data: Buffer.from(big).toString("base64"),
    };
    return enc.encode(JSON.stringify(obj));
  }

  private async read(): Promise<Loaded> {
    const { kv } = await this.store.get(this.key);
    return kv ? this.decode(kv) : { kv: undefined, bits: new Uint8Array(this.bytes), range: this.rangeSpec };
  }

  private checkRange(l: Loaded): void {
    if (l.range !== this.rangeSpec) throw new RangeMismatchError(this.mismatchMessage, l.range, this.rangeSpec);
  }

  // ---- mutation ----

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Applies `fn` to a copy of the current bitmap and writes it back with
   * compare-and-swap, re-reading and re-applying on conflict. `fn` must be a
   * pure function of the bitmap it is given.
   */
  private mutate<T>(fn: (bits: Uint8Array) => Change<T>): Promise<T> {
    return this.exclusive(async () => {
      for (let attempt = 0; ; attempt++) {
        const cached = this.cache;
        const cur = cached ?? (await this.read());
        if (cur.range !== this.rangeSpec) {
          this.cache = undefined;
          this.checkRange(cur);
        }
        const bits = cur.bits.slice();
        const r = fn(bits);
        if (!r.changed) {
          // An answer without a write ("taken", "full", "already free") must not
          // rest on a stale cache: confirm it against the store once.
          if (cached) {
            this.cache = undefined;
            continue;
          }
          this.cache = cur;
          return r.value;
        }
        try {
          const value = this.encode(bits);
          const w = cur.kv ? await this.store.update(this.key, value, cur.kv.modRevision) : await this.store.create(this.key, value);
          this.cache = { kv: w.kv, bits, range: this.rangeSpec };
          return r.value;
        } catch (err) {
          if (err instanceof RevisionMismatchError) this.cache = this.decode(err.current);
          else if (err instanceof KeyExistsError) this.cache = err.current ? this.decode(err.current) : undefined;
          else if (err instanceof KeyNotFoundError) this.cache = undefined;
          else {
            this.cache = undefined;
            throw err;
          }
          // Someone else wrote in between: go again on what they wrote. Unbounded
          // contention is not expected; a long loop is a bug worth seeing.
          if (attempt > 1000) throw new Error(`${this.key}: gave up after ${attempt} conflicting updates`);
        }
      }
    });
  }

  /** Reserves `offset`; false when it is already taken. */
  allocate(offset: number): Promise<boolean> {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.max) {
      return Promise.reject(new RangeError(`offset ${offset} out of range [0,${this.max}]`));
    }
    return this.mutate((bits) => {
      if (bit(bits, offset)) return { value: false, changed: false };
      setBit(bits, offset, true);
      return { value: true, changed: true };
    });
  }

  /** Reserves a free offset chosen as upstream does; undefined when the range is full. */
  allocateNext(): Promise<number | undefined> {
    return this.mutate((bits) => {
      const next = this.pick(bits);
      if (next === undefined) return { value: undefined, changed: false };
      setBit(bits, next, true);
      return { value: next, changed: true };
    });
  }

  /** Frees `offset`; a no-op when it is free or outside the range. */
  async release(offset: number): Promise<void> {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.max) return;
    await this.mutate((bits) => {
      if (!bit(bits, offset)) return { value: undefined, changed: false };
      setBit(bits, offset, false);
      return { value: undefined, changed: true };
    });
  }

  private pick(bits: Uint8Array): number | undefined {
    const upper = this.max - this.offset;
    if (upper > 0) {
      const start = Math.floor(this.random() * upper);
      for (let i = 0; i < upper; i++) {
        const at = this.offset + ((start + i) % upper);
        if (!bit(bits, at)) return at;
      }
    }
    if (this.offset > 0) {
      const start = Math.floor(this.random() * this.offset);
      for (let i = 0; i < this.offset; i++) {
        const at = (start + i) % this.offset;
        if (!bit(bits, at)) return at;
      }
    }
    return undefined;
  }

  // ---- reads (always fresh from the store) ----

  /** Whether `offset` is taken now. */
  async has(offset: number): Promise<boolean> {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.max) return false;
    const cur = await this.read();
    this.checkRange(cur);
    return bit(cur.bits, offset);
  }

  /** Every taken offset, ascending. */
  async used(): Promise<number[]> {
    const cur = await this.read();
    this.checkRange(cur);
    const out: number[] = [];
    for (let i = 0; i < this.max; i++) if (bit(cur.bits, i)) out.push(i);
    return out;
  }

  /** Number of free offsets. */
  async free(): Promise<number> {
    const cur = await this.read();
    this.checkRange(cur);
    return this.max - popcount(cur.bits);
  }

  /**
   * The stored state for a repair pass: the range it covers, its taken
   * offsets (empty when it covers another range) and the revision to pass
   * back to {@link replace}.
   */
  async snapshot(): Promise<{ range: string; used: number[]; revision: number }> {
    const cur = await this.read();
    const used: number[] = [];
    if (cur.range === this.rangeSpec) for (let i = 0; i < this.max; i++) if (bit(cur.bits, i)) used.push(i);
    return { range: cur.range, used, revision: cur.kv?.modRevision ?? 0 };
  }

  /**
   * Overwrites the stored bitmap with exactly `used`, for this object's range,
   * only if it is still at `revision` (0: absent). Returns false when someone
   * wrote in between, so the caller can take a fresh snapshot and try again.
   */
  replace(used: Iterable<number>, revision: number): Promise<boolean> {
    return this.exclusive(async () => {
      const bits = new Uint8Array(this.bytes);
      for (const i of used) if (Number.isInteger(i) && i >= 0 && i < this.max) setBit(bits, i, true);
      try {
        const value = this.encode(bits);
        const w = revision > 0 ? await this.store.update(this.key, value, revision) : await this.store.create(this.key, value);
        this.cache = { kv: w.kv, bits, range: this.rangeSpec };
        return true;
      } catch (err) {
        this.cache = undefined;
        if (err instanceof RevisionMismatchError || err instanceof KeyExistsError || err instanceof KeyNotFoundError) return false;
        throw err;
      }
    });
  }
}

/**
 * Size of the lower band kept for static allocation, upstream's
 * `calculateRangeOffset`: min(max(lo, size/step), hi), 0 for tiny ranges.
 */
export function rangeOffset(size: number, lo: number, hi: number, step: number): number {
  if (size <= lo) return 0;
  const off = Math.floor(size / step);
  return Math.min(Math.max(off, lo), hi);
}
