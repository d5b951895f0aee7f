/**
 * {@link PodNetwork} on the standard CNI plugins, as containerd and CRI-O
 * wire pods: a named network namespace per sandbox, `loopback` for `lo`,
 * then the conflist `bridge` (host-local IPAM on the node's podCIDR,
 * gateway on the bridge, masquerade, hairpin) → `portmap` (hostPorts) for
 * `eth0`. Every ADD is recorded on disk with its config and result, so DEL
 * after an agent restart runs with the same config and the cached result.
 */
import { join } from "node:path";
import { type Cidr, cidrContains, formatCidr, tryParseCidr } from "../../machinery/cidr.js";
import type { Logger } from "../../machinery/log.js";
import { silentLogger } from "../../machinery/log.js";
import type { RuntimeCondition, RuntimeResult } from "../../runtime/types.js";
import { fail, ok } from "../../runtime/types.js";
import { type AttachmentRecord, AttachmentStore } from "./attachment-store.js";
import { addNetworkList, checkNetworkList, delNetworkList } from "./chain.js";
import { cniPortMappings, invalidPortMapping, loopbackConfList, podCniArgs, podConfList } from "./conflist.js";
import { removeOwnedRules } from "./iptables-rules.js";
import { createNetns, deleteNetns, netnsExists, netnsPath } from "./netns.js";
import { ensureNodeSafety } from "./node-routes.js";
import { type CniRuntimeArgs, findPlugin, pluginNotFoundMessage } from "./plugin-exec.js";
import { resultIps } from "./result.js";
import { guardTableName } from "./service-guard.js";
import type { PodNetwork, PodNetworkAttachment, PodNetworkRequest } from "./types.js";

/** Plugins the conflist and the loopback network need. */
export const REQUIRED_PLUGINS = ["bridge", "host-local", "loopback", "portmap"] as const;

/** Options of {@link CniPodNetwork}. */
export interface CniPodNetworkOptions {
  /** Records of set-up sandboxes and host-local's reservations live here; keep it across agent restarts. */
  readonly stateDir: string;
  /** Plugin directories; for each plugin the first that has it wins. Default `/usr/lib/cni`, `/opt/cni/bin`. */
  readonly binDirs?: readonly string[];
  /** Sandbox namespaces are `<prefix><first 12 chars of the sandbox id>`; per agent on a shared machine. Default `skiff-`. */
  readonly netnsPrefix?: string;
  /** The pod bridge (and its gateway address); per agent on a shared machine. Default `skiff0`. */
  readonly bridgeName?: string;
  /** The CNI network name (it names the plugins' iptables chains and host-local's files). Default: the bridge name. */
  readonly networkName?: string;
  /** Every node's podCIDR lies in it; the rest of it is routed `unreachable`. Default `10.42.0.0/16`. */
  readonly clusterCidr?: string;
  /** Routed to the service bridge so it never leaves the machine. Default `10.43.0.0/16`. */
  readonly serviceCidr?: string;
  /** The empty bridge the service CIDR is routed to; shared by the agents of one machine. Default `skiff-svc0`. */
  readonly serviceBridgeName?: string;
  /** MTU of the pod bridge and veths; the bridge plugin's default when unset. */
  readonly mtu?: number;
  /** Hairpin mode on the bridge ports (a pod reaching itself through a Service). Default true. */
  readonly hairpin?: boolean;
  /** Masquerade pod traffic leaving the pod CIDR. Default true. */
  readonly ipMasq?: boolean;
  /** A plugin call taking longer is killed. Default 60 s. */
  readonly pluginTimeoutMs?: number;
  readonly logger?: Logger;
}

const NOT_INITIALIZED = "cni plugin not initialized";
const IFNAME = "eth0";
// CNI's rule for container ids (libcni ValidateContainerID).
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const LINK_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;

/** Resolved options, defaults applied. */
export interface ResolvedCniOptions {
  readonly stateDir: string;
  readonly binDirs: readonly string[];
  readonly netnsPrefix: string;
  readonly bridgeName: string;
  readonly networkName: string;
  readonly clusterCidr: Cidr;
  readonly serviceCidr: Cidr;
  readonly serviceBridgeName: string;
  readonly mtu?: number;
  readonly hairpin: boolean;
  readonly ipMasq: boolean;
  readonly pluginTimeoutMs: number;
  readonly logger: Logger;
}

/** Applies defaults and validates; throws on options no caller should pass (a bug, not an outcome). */
export function resolveCniOptions(o: CniPodNetworkOptions): ResolvedCniOptions {
  const cluster = tryParseCidr(o.clusterCidr ?? "10.42.0.0/16");
  if (typeof cluster === "string") throw new Error(`clusterCidr: ${cluster}`);
  const service = tryParseCidr(o.serviceCidr ?? "10.43.0.0/16");
  if (typeof service === "string") throw new Error(`serviceCidr: ${service}`);
  if (cidrContains(cluster, service) || cidrContains(service, cluster)) {
    throw new Error(`serviceCidr ${formatCidr(service)} overlaps clusterCidr ${formatCidr(cluster)}`);
  }
  const bridgeName = o.bridgeName ?? "skiff0";
  const serviceBridgeName = o.serviceBridgeName ?? "skiff-svc0";
  for (const [what, name] of [["bridgeName", bridgeName], ["serviceBridgeName", serviceBridgeName]] as const) {
    if (!LINK_NAME.test(name)) throw new Error(`${what} ${JSON.stringify(name)}: must be 1-15 characters of [a-zA-Z0-9_.-]`);
  }
  if (bridgeName === serviceBridgeName) throw new Error(`bridgeName and serviceBridgeName must differ (both ${bridgeName})`);
  const netnsPrefix = o.netnsPrefix ?? "skiff-";
  if (!/^[a-zA-Z0-9_.-]*$/.test(netnsPrefix)) throw new Error(`netnsPrefix ${JSON.stringify(netnsPrefix)}: only [a-zA-Z0-9_.-]`);
  const networkName = o.networkName ?? bridgeName;
  if (!/^[a-zA-Z0-9_.-]+$/.test(networkName)) throw new Error(`networkName ${JSON.stringify(networkName)}: only [a-zA-Z0-9_.-]`);
  if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 576 || o.mtu > 65535)) throw new Error(`mtu ${o.mtu}: must be 576-65535`);
  return {
    stateDir: o.stateDir,
    binDirs: o.binDirs ?? ["/usr/lib/cni", "/opt/cni/bin"],
    netnsPrefix,
    bridgeName,
    networkName,
    clusterCidr: cluster,
    serviceCidr: service,
    serviceBridgeName,
    ...(o.mtu !== undefined ? { mtu: o.mtu } : {}),
    hairpin: o.hairpin ?? true,
    ipMasq: o.ipMasq ?? true,
    pluginTimeoutMs: o.pluginTimeoutMs ?? 60_000,
    logger: o.logger ?? silentLogger,
  };
}

/** The pod network of one node, on the standard CNI plugins. */
export class CniPodNetwork implements PodNetwork {
  readonly #o: ResolvedCniOptions;
  readonly #store: AttachmentStore;
  readonly #log: Logger;
  #podCidr: Cidr | undefined;
  #nodeReady = false;
  /** Why the network is not ready, past "not initialized" (a missing plugin, a failed route). */
  #initError: string | undefined;
  // Plugins racing each other over shared iptables chains is a known CNI failure mode; one call at a time.
  #tail: Promise<unknown> = Promise.resolve();

  constructor(opts: CniPodNetworkOptions) {
    this.#o = resolveCniOptions(opts);
    this.#store = new AttachmentStore(opts.stateDir);
    this.#log = this.#o.logger.with({ component: "cni", network: this.#o.networkName });
  }

  /** The resolved options (for cleanup and diagnostics). */
  get options(): ResolvedCniOptions {
    return this.#o;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Prepares the node: finds the plugins, routes the service CIDR to its
   * empty bridge and the cluster CIDR `unreachable`, sets the sysctls.
   * Safe to call again; {@link setPodCidr} does it too.
   */
  start(): Promise<RuntimeResult<void>> {
    return this.#serial(() => this.#ensureNode());
  }

  async #ensureNode(): Promise<RuntimeResult<void>> {
    for (const p of REQUIRED_PLUGINS) {
      if (findPlugin(p, this.#o.binDirs) === undefined) {
        this.#nodeReady = false;
        this.#initError = pluginNotFoundMessage(p, this.#o.binDirs);
        return fail("FailedPrecondition", this.#initError);
      }
    }
    const err = await ensureNodeSafety({
      clusterCidr: formatCidr(this.#o.clusterCidr),
      serviceCidr: formatCidr(this.#o.serviceCidr),
      serviceBridge: this.#o.serviceBridgeName,
      guardTable: guardTableName(this.#o.serviceBridgeName),
      logger: this.#log,
    });
    if (err !== undefined) {
      this.#nodeReady = false;
      this.#initError = `cannot keep cluster traffic on this node: ${err}`;
      return fail("Unknown", this.#initError);
    }
    this.#nodeReady = true;
    this.#initError = undefined;
    return ok(undefined);
  }

  setPodCidr(cidr: string): Promise<RuntimeResult<void>> {
    const parsed = tryParseCidr(cidr);
    if (typeof parsed === "string") return Promise.resolve(fail("InvalidArgument", `invalid podCIDR: ${parsed}`));
    if (!cidrContains(this.#o.clusterCidr, parsed)) {
      return Promise.resolve(fail("InvalidArgument", `podCIDR ${formatCidr(parsed)} is not inside the cluster CIDR ${formatCidr(this.#o.clusterCidr)}`));
    }
    if (parsed.prefix > 30) return Promise.resolve(fail("InvalidArgument", `podCIDR ${formatCidr(parsed)} is too small: it needs room for the gateway and pods (at most /30)`));
    return this.#serial(async () => {
      const res = await this.#ensureNode();
      if (!res.ok) return res;
      if (this.#podCidr === undefined || formatCidr(this.#podCidr) !== formatCidr(parsed)) {
        if (this.#podCidr !== undefined) this.#log.warn("podCIDR changed; existing pods keep their addresses", { from: formatCidr(this.#podCidr), to: formatCidr(parsed) });
        else this.#log.info("pod network ready", { podCIDR: formatCidr(parsed), bridge: this.#o.bridgeName });
      }
      this.#podCidr = parsed;
      return ok(undefined);
    });
  }

  condition(): RuntimeCondition {
    if (this.#nodeReady && this.#podCidr !== undefined) return { type: "NetworkReady", status: true };
    // containerd's words, which the kubelet shows in the node's Ready condition.
    return { type: "NetworkReady", status: false, reason: "NetworkPluginNotReady", message: `Network plugin returns error: ${this.#initError ?? NOT_INITIALIZED}` };
  }

  #netnsName(sandboxId: string): string {
    return `${this.#o.netnsPrefix}${sandboxId.slice(0, 12)}`;
  }

  #rt(rec: Pick<AttachmentRecord, "sandboxId" | "netnsPath" | "cniArgs">, ifName: string): CniRuntimeArgs {
    return { containerId: rec.sandboxId, netns: rec.netnsPath, ifName, args: rec.cniArgs, binDirs: this.#o.binDirs, timeoutMs: this.#o.pluginTimeoutMs };
  }

  setUp(req: PodNetworkRequest): Promise<RuntimeResult<PodNetworkAttachment>> {
    if (!CONTAINER_ID.test(req.sandboxId)) {
      return Promise.resolve(fail("InvalidArgument", `invalid sandbox id ${JSON.stringify(req.sandboxId)}: must be alphanumeric plus _ . -`));
    }
    for (const pm of req.portMappings) {
      const why = invalidPortMapping(pm);
      if (why !== undefined) return Promise.resolve(fail("InvalidArgument", `port mapping ${pm.containerPort}/${pm.protocol}: ${why}`));
    }
    return this.#serial(() => this.#setUp(req));
  }

  async #setUp(req: PodNetworkRequest): Promise<RuntimeResult<PodNetworkAttachment>> {
    const id = req.sandboxId;
    const prefix = `failed to setup network for sandbox "${id}"`;
    const existing = this.#store.load(id);
    if (existing !== undefined) {
      if (existing.result !== undefined && existing.ips !== undefined && netnsExists(existing.netnsName)) {
        return ok({ netnsPath: existing.netnsPath, ips: existing.ips });
      }
      // A setUp that did not finish (crash) or a namespace that vanished: undo what is left, then start over.
      const undoErr = await this.#undo(existing);
      if (undoErr !== undefined) return fail("Unknown", `${prefix}: cleaning up an earlier attempt: ${undoErr}`);
    }
    if (!this.#nodeReady || this.#podCidr === undefined) return fail("FailedPrecondition", `${prefix}: ${this.#initError ?? NOT_INITIALIZED}`);
    const netnsName = this.#netnsName(id);
    const holder = this.#store.list().find((other) => other !== id && this.#store.load(other)?.netnsName === netnsName);
    if (holder !== undefined) return fail("AlreadyExists", `${prefix}: network namespace ${netnsName} belongs to sandbox ${holder}`);
    const rec: AttachmentRecord = {
      version: 1,
      sandboxId: id,
      netnsName,
      netnsPath: netnsPath(netnsName),
      ifName: IFNAME,
      cniArgs: podCniArgs(req),
      confList: podConfList({
        networkName: this.#o.networkName,
        bridgeName: this.#o.bridgeName,
        podCidr: formatCidr(this.#podCidr),
        ipamDataDir: join(this.#o.stateDir, "ipam"),
        ...(this.#o.mtu !== undefined ? { mtu: this.#o.mtu } : {}),
        hairpin: this.#o.hairpin,
        ipMasq: this.#o.ipMasq,
      }),
      portMappings: cniPortMappings(req.portMappings),
    };
    const saveErr = this.#save(rec);
    if (saveErr !== undefined) return fail("Unknown", `${prefix}: ${saveErr}`);
    const bail = async (message: string, partial?: unknown): Promise<RuntimeResult<PodNetworkAttachment>> => {
      const undoErr = await this.#undo(partial === undefined ? rec : { ...rec, result: partial });
      if (undoErr !== undefined) this.#log.error("cannot undo a failed pod network setup", { sandbox: id, error: undoErr });
      this.#log.warn("pod network setup failed", { pod: `${req.podNamespace}/${req.podName}`, sandbox: id, error: message });
      return fail("Unknown", `${prefix}: ${message}${undoErr !== undefined ? ` (cleanup also failed: ${undoErr})` : ""}`);
    };
    const nsErr = await createNetns(netnsName);
    if (nsErr !== undefined) return bail(nsErr);
    const lo = await addNetworkList(loopbackConfList(), this.#rt(rec, "lo"), {});
    if (!lo.ok) return bail(lo.message);
    const add = await addNetworkList(rec.confList, this.#rt(rec, IFNAME), { portMappings: rec.portMappings });
    if (!add.ok) return bail(add.message, add.partialResult);
    const ips = resultIps(add.result);
    if (typeof ips === "string") return bail(ips, add.result);
    const done: AttachmentRecord = { ...rec, result: add.result, ips: ips.ips };
    const doneErr = this.#save(done);
    if (doneErr !== undefined) return bail(doneErr, add.result);
    this.#log.info("pod network set up", { pod: `${req.podNamespace}/${req.podName}`, sandbox: id, ip: ips.ips.join(","), netns: netnsName });
    return ok({ netnsPath: done.netnsPath, ips: ips.ips });
  }

  #save(rec: AttachmentRecord): string | undefined {
    try {
      this.#store.save(rec);
      return undefined;
    } catch (err) {
      return `cannot record the sandbox network in ${this.#o.stateDir}: ${(err as Error).message}`;
    }
  }

  /**
   * Undoes a (possibly partial) setup: CNI DEL with the cached result,
   * loopback DEL, the namespace, the record. The record stays when DEL
   * fails so a retry can still find what to undo.
   */
  async #undo(rec: AttachmentRecord): Promise<string | undefined> {
    const hadNetns = netnsExists(rec.netnsName);
    const del = await delNetworkList(rec.confList, this.#rt(rec, rec.ifName), { portMappings: rec.portMappings }, rec.result);
    if (!del.ok) return del.message;
    if (!hadNetns) {
      // Without the namespace the bridge plugin cannot tell which masquerade rules were this sandbox's and skips them.
      const errs = await removeOwnedRules(rec.confList.name, { sandboxId: rec.sandboxId });
      if (errs.length > 0) return errs.join("; ");
    } else {
      const lo = await delNetworkList(loopbackConfList(), this.#rt(rec, "lo"), {}, undefined);
      if (!lo.ok) this.#log.debug("loopback DEL failed; the namespace goes anyway", { sandbox: rec.sandboxId, error: lo.message });
    }
    const nsErr = await deleteNetns(rec.netnsName);
    if (nsErr !== undefined) return nsErr;
    try {
      this.#store.remove(rec.sandboxId);
    } catch (err) {
      return `cannot remove the sandbox network record: ${(err as Error).message}`;
    }
    return undefined;
  }

  tearDown(sandboxId: string): Promise<RuntimeResult<void>> {
    if (!CONTAINER_ID.test(sandboxId)) return Promise.resolve(fail("InvalidArgument", `invalid sandbox id ${JSON.stringify(sandboxId)}`));
    return this.#serial(async () => {
      const rec = this.#store.load(sandboxId);
      if (rec === undefined) return this.#tearDownUnrecorded(sandboxId);
      const err = await this.#undo(rec);
      if (err !== undefined) return fail("Unknown", `failed to destroy network for sandbox "${sandboxId}": ${err}`);
      this.#log.info("pod network torn down", { sandbox: sandboxId, netns: rec.netnsName });
      return ok(undefined);
    });
  }

  /** A namespace by the sandbox's name with no record (the record was lost): DEL with today's config, then remove it. */
  async #tearDownUnrecorded(sandboxId: string): Promise<RuntimeResult<void>> {
    const name = this.#netnsName(sandboxId);
    if (!netnsExists(name)) return ok(undefined);
    if (this.#store.list().some((other) => this.#store.load(other)?.netnsName === name)) return ok(undefined);
    this.#log.warn("tearing down a sandbox network without a record", { sandbox: sandboxId, netns: name });
    const errors: string[] = [];
    if (this.#podCidr !== undefined) {
      const confList = podConfList({
        networkName: this.#o.networkName,
        bridgeName: this.#o.bridgeName,
        podCidr: formatCidr(this.#podCidr),
        ipamDataDir: join(this.#o.stateDir, "ipam"),
        hairpin: this.#o.hairpin,
        ipMasq: this.#o.ipMasq,
      });
      const del = await delNetworkList(confList, this.#rt({ sandboxId, netnsPath: netnsPath(name), cniArgs: "IgnoreUnknown=1" }, IFNAME), {}, undefined);
      if (!del.ok) errors.push(del.message);
    }
    errors.push(...(await removeOwnedRules(this.#o.networkName, { sandboxId })));
    const nsErr = await deleteNetns(name);
    if (nsErr !== undefined) errors.push(nsErr);
    return errors.length === 0 ? ok(undefined) : fail("Unknown", `failed to destroy network for sandbox "${sandboxId}": ${errors.join("; ")}`);
  }

  async attachment(sandboxId: string): Promise<PodNetworkAttachment | undefined> {
    if (!CONTAINER_ID.test(sandboxId)) return undefined;
    const rec = this.#store.load(sandboxId);
    if (rec?.result === undefined || rec.ips === undefined || !netnsExists(rec.netnsName)) return undefined;
    return { netnsPath: rec.netnsPath, ips: rec.ips };
  }

  /** CNI CHECK of a set-up sandbox against its cached ADD result (is its wiring still intact?). */
  check(sandboxId: string): Promise<RuntimeResult<void>> {
    return this.#serial(async () => {
      const rec = CONTAINER_ID.test(sandboxId) ? this.#store.load(sandboxId) : undefined;
      if (rec?.result === undefined) return fail("NotFound", `no network set up for sandbox "${sandboxId}"`);
      const res = await checkNetworkList(rec.confList, this.#rt(rec, rec.ifName), { portMappings: rec.portMappings }, rec.result);
      return res.ok ? ok(undefined) : fail("Unknown", `network check failed for sandbox "${sandboxId}": ${res.message}`);
    });
  }

  /** Ids of every sandbox with a record (set up, or a setup that did not finish). */
  recordedSandboxes(): string[] {
    return this.#store.list();
  }
}
