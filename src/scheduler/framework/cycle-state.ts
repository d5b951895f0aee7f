/**
 * framework.CycleState: per-scheduling-cycle key/value storage that plugins
 * use to pass data from PreFilter to Filter, PreScore to Score, and so on.
 * Preemption clones it to evaluate "what if these pods were gone".
 */

/** Data a plugin stores in the cycle state; Clone must copy whatever the plugin mutates later. */
export interface StateData {
  clone(): StateData;
}

/** The error message of Read for a missing key (framework.ErrNotFound). */
export const ErrNotFound = "not found";

export class CycleState {
  private readonly storage = new Map<string, StateData>();
  /** Plugins whose PreFilter returned Skip: their Filter (and PreFilterExtensions) are not run. */
  skipFilterPlugins: ReadonlySet<string> = new Set();
  /** Plugins whose PreScore returned Skip: their Score is not run. */
  skipScorePlugins: ReadonlySet<string> = new Set();

  /** Read: the data under `key`, or undefined when nothing was written (upstream's ErrNotFound). */
  read(key: string): StateData | undefined {
    return this.storage.get(key);
  }

  write(key: string, data: StateData): void {
    this.storage.set(key, data);
  }

  delete(key: string): void {
    this.storage.delete(key);
  }

  /** Clone: every datum cloned; the skip sets are shared, as they are never mutated. */
  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.storage) c.storage.set(k, v.clone());
    c.skipFilterPlugins = this.skipFilterPlugins;
    c.skipScorePlugins = this.skipScorePlugins;
    return c;
  }
}

/** Reads typed state, or an error message worded as upstream's getPreFilterState helpers. */
export function readState<T extends StateData>(state: CycleState, key: string, isT: (d: StateData) => d is T): T | string {
  const d = state.read(key);
  if (d === undefined) return `error reading "${key}" from cycleState: ${ErrNotFound}`;
  if (!isT(d)) return `invalid state data under "${key}"`;
  return d;
}
