/**
 * kube-proxy's nftables mode as a {@link ProxyBackend}: keeps the rules last
 * applied for each Service, and per sync sends one `nft -f -` transaction:
 * the whole table on a full sync, otherwise only the chains, sets and map
 * elements that changed. Chains no longer used are flushed at once and
 * deleted a second later, as upstream does for kernels before 6.2 (see
 * {@link DiffScript.staleChains}); the deletion rides along with the next
 * transaction, or gets one of its own when things are quiet.
 */
import type { BackendSyncResult, ProxyBackend } from "./backend.js";
import type { ServicePortModel } from "./model.js";
import type { NftRunner } from "../nft-runner.js";
import { deleteChainsScript, type DiffScript, diffScript, fullScript, type RulesChange, type TableConfig } from "./nft-script.js";
import { emptyRules, type RuleContext, rulesFromModels, type ServiceRules } from "./rules.js";

/** How long a flushed chain waits before it is deleted (upstream: one second). */
export const STALE_CHAIN_DELAY_MS = 1000;

/** Options of {@link NftBackend}. */
export interface NftBackendOptions {
  readonly table: TableConfig;
  readonly rules: RuleContext;
  readonly nft: NftRunner;
}

/** The nftables backend. */
export class NftBackend implements ProxyBackend {
  readonly #o: NftBackendOptions;
  /** Rules in the kernel, by Service key. */
  #applied = new Map<string, ServiceRules>();
  /** Flushed chains waiting to be deleted → when they went stale. */
  readonly #stale = new Map<string, number>();

  constructor(o: NftBackendOptions) {
    this.#o = o;
  }

  get description(): string {
    return `nftables table ip ${this.#o.table.table}`;
  }

  housekeepingDelayMs(): number | undefined {
    return this.#stale.size > 0 ? STALE_CHAIN_DELAY_MS : undefined;
  }

  async sync(models: ReadonlyMap<string, readonly ServicePortModel[]>, full: boolean, now: number): Promise<BackendSyncResult> {
    const table = this.#o.table.table;
    const next = new Map<string, ServiceRules>();
    for (const [k, m] of models) next.set(k, rulesFromModels(m, this.#o.rules));
    if (full) {
      const err = await this.#o.nft(fullScript(this.#o.table, next.values()));
      if (err !== undefined) return { error: err, changes: 0 };
      this.#applied = new Map([...next].filter(([, r]) => !isEmpty(r)));
      // The table was recreated: nothing stale is left in it.
      this.#stale.clear();
      return { changes: this.#applied.size };
    }
    const changes: RulesChange[] = [...next].map(([k, r]) => ({ old: this.#applied.get(k) ?? emptyRules(), new: r }));
    const d: DiffScript = diffScript(table, changes);
    // A stale chain used again must not be deleted; the rest is deleted once it has been stale long enough.
    const reused = new Set(d.addedChains);
    const due = [...this.#stale].filter(([c, at]) => !reused.has(c) && at <= now - STALE_CHAIN_DELAY_MS).map(([c]) => c);
    const script = deleteChainsScript(table, due) + d.script;
    if (script !== "") {
      const err = await this.#o.nft(script);
      if (err !== undefined) return { error: err, changes: 0 };
    }
    for (const c of reused) this.#stale.delete(c);
    for (const c of due) this.#stale.delete(c);
    for (const c of d.staleChains) this.#stale.set(c, now);
    for (const [k, r] of next) {
      if (isEmpty(r)) this.#applied.delete(k);
      else this.#applied.set(k, r);
    }
    return { changes: d.changes };
  }
}

function isEmpty(r: ServiceRules): boolean {
  return r.chains.size === 0 && r.elements.size === 0 && r.sets.size === 0;
}
