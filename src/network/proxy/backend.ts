/**
 * Where the service proxy's rules go. The proxier (service-proxy.ts) owns
 * what is the same for every backend: watching Services and EndpointSlices,
 * the {@link ServicePortModel} of each Service, rate limiting, full versus
 * partial syncs, conntrack cleanup. A backend turns models into kernel
 * rules: `NftBackend` (nft-backend.ts, kube-proxy's nftables mode, the
 * default) and `IptablesBackend` (iptables-backend.ts, upstream's iptables
 * mode: `--proxy-mode iptables`, and the fallback where nftables does not
 * work).
 */
import type { ServicePortModel } from "./model.js";

/** What one backend sync did. */
export interface BackendSyncResult {
  /** Set when nothing was applied (the proxier then asks for a full sync). */
  readonly error?: string;
  /** Objects (chains, sets, elements, rules) added, changed or removed; for a full sync, the Services written. */
  readonly changes: number;
}

/** A proxy backend: models in, kernel rules out. */
export interface ProxyBackend {
  /** What it programs, for logs (e.g. `nftables table ip skiff_proxy_cni0`). */
  readonly description: string;
  /**
   * Makes the kernel match `models` for the Services named in it (a Service
   * with no port models has no rules). With `full`, `models` holds every
   * Service and the whole ruleset is rewritten, whatever was there;
   * otherwise only what differs from the last successful sync is applied,
   * in one atomic transaction. `now` is the proxier's clock (ms).
   */
  sync(models: ReadonlyMap<string, readonly ServicePortModel[]>, full: boolean, now: number): Promise<BackendSyncResult>;
  /**
   * How long after the last sync the backend wants one more even if nothing
   * changes (housekeeping, e.g. deleting chains a second after they went
   * stale); undefined when it needs none.
   */
  housekeepingDelayMs(): number | undefined;
}
