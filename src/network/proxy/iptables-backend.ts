/**
 * kube-proxy's iptables mode as a {@link ProxyBackend}, the fallback for
 * machines without nftables: keeps the rules last applied for each Service
 * and sends one `iptables-restore --noflush` per sync — everything of ours
 * on a full sync (after reading `iptables-save` to find stale chains and
 * old jump rules), otherwise the shared chains plus only the Service chains
 * that changed (iptables-script.ts). With NodePorts on every local address
 * (the iptables mode's default) it sets net.ipv4.conf.all.route_localnet=1
 * so they answer on 127.0.0.1 too, as upstream does.
 */
import type { Logger } from "../../machinery/log.js";
import type { BackendSyncResult, ProxyBackend } from "./backend.js";
import { emptyIptablesRules, type IptablesRuleContext, type IptablesServiceRules, iptablesRulesFromModels } from "./iptables-rules.js";
import type { IptablesRunner } from "./iptables-runner.js";
import {
  fullRestore,
  IPTABLES_TABLES,
  type IptablesConfig,
  type IptablesTable,
  incrementalRestore,
  localhostNodePorts,
  parseSaved,
  type SavedOurs,
} from "./iptables-script.js";
import type { ServicePortModel } from "./model.js";

/** Options of {@link IptablesBackend}. */
export interface IptablesBackendOptions {
  readonly config: IptablesConfig;
  readonly rules: Omit<IptablesRuleContext, "prefix">;
  readonly iptables: IptablesRunner;
  readonly logger: Logger;
}

/** Reads what `iptables-save` shows of ours in both tables. */
export async function savedOurs(iptables: IptablesRunner, prefix: string): Promise<Record<IptablesTable, SavedOurs> | string> {
  const out: Partial<Record<IptablesTable, SavedOurs>> = {};
  for (const t of IPTABLES_TABLES) {
    const s = await iptables.save(t);
    if ("error" in s) return s.error;
    out[t] = parseSaved(s.text, prefix);
  }
  return out as Record<IptablesTable, SavedOurs>;
}

/** The iptables backend. */
export class IptablesBackend implements ProxyBackend {
  readonly #o: IptablesBackendOptions;
  readonly #ctx: IptablesRuleContext;
  /** Rules in the kernel, by Service key. */
  #applied = new Map<string, IptablesServiceRules>();
  #localnetSet = false;

  constructor(o: IptablesBackendOptions) {
    this.#o = o;
    this.#ctx = { ...o.rules, prefix: o.config.prefix };
  }

  get description(): string {
    return `iptables chains ${this.#o.config.prefix}* (filter, nat)`;
  }

  housekeepingDelayMs(): number | undefined {
    // Unused chains are deleted in the same restore that stops using them.
    return undefined;
  }

  async sync(models: ReadonlyMap<string, readonly ServicePortModel[]>, full: boolean): Promise<BackendSyncResult> {
    // Nothing recomputed (a retry or housekeeping tick of the proxier): the kernel already has it all.
    if (!full && models.size === 0) return { changes: 0 };
    const next = new Map(full ? [] : this.#applied);
    for (const [k, m] of models) {
      const r = m.length === 0 ? emptyIptablesRules() : iptablesRulesFromModels(m, this.#ctx);
      if (isEmpty(r)) next.delete(k);
      else next.set(k, r);
    }
    if (full) {
      const saved = await savedOurs(this.#o.iptables, this.#o.config.prefix);
      if (typeof saved === "string") return { error: saved, changes: 0 };
      const err = await this.#o.iptables.restore(fullRestore(this.#o.config, next, saved));
      if (err !== undefined) return { error: err, changes: 0 };
      this.#applied = next;
      if (localhostNodePorts(this.#o.config) && !this.#localnetSet) {
        const e = await this.#o.iptables.sysctl("net.ipv4.conf.all.route_localnet", "1");
        // Upstream logs and goes on: only NodePorts on 127.0.0.1 are affected.
        if (e !== undefined) this.#o.logger.error("cannot enable route_localnet: NodePorts on 127.0.0.1 will not answer", { err: e });
        else {
          this.#localnetSet = true;
          this.#o.logger.info("enabled NodePorts on localhost", { sysctl: "net.ipv4.conf.all.route_localnet=1" });
        }
      }
      return { changes: next.size };
    }
    const r = incrementalRestore(this.#o.config, this.#applied, next);
    const err = await this.#o.iptables.restore(r.text);
    if (err !== undefined) return { error: err, changes: 0 };
    this.#applied = next;
    return { changes: r.changes };
  }
}

function isEmpty(r: IptablesServiceRules): boolean {
  return r.natChains.size === 0 && r.natShared.length === 0 && r.filterShared.length === 0;
}
