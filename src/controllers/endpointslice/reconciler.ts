/**
 * The EndpointSlice reconciler, as upstream's (staging
 * k8s.io/endpointslice/reconciler.go): compares the endpoints a Service's
 * pods call for with the slices that exist and writes the least change
 * that gets there. Per address type and per distinct set of ports:
 *
 *  1. existing slices drop endpoints no longer wanted and update changed
 *     ones in place (an endpoint is identified by addresses, hostname and
 *     pod, so a readiness change is an in-place update);
 *  2. new endpoints fill the slices already being updated, fullest first;
 *  3. what is left goes into the unchanged slice it fills most exactly,
 *     else into new slices of at most `maxEndpointsPerSlice`;
 *  4. slices to create replace slices to delete by name (an update, not a
 *     delete plus a create); a Service with no endpoints keeps one empty
 *     placeholder slice.
 *
 * Topology hints and trafficDistribution are not implemented: slices are
 * written without hints.
 */
import type { Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { EndpointSet } from "./endpoint-set.js";
import {
  type AddressType,
  addressTypesForService,
  CONTROLLER_NAME,
  type EndpointMeta,
  endpointSliceLabels,
  endpointsEqualBeyondHash,
  getEndpointPorts,
  getSliceToFill,
  MANAGED_BY_LABEL,
  newEndpointSlice,
  ownedBy,
  podToEndpoint,
  portMapKey,
  samePlaceholder,
  sortPorts,
} from "./slices.js";
import type { EndpointSliceTracker } from "./tracker.js";
import { isNamespaceTerminating } from "./util/errors.js";
import { LAST_CHANGE_TRIGGER_TIME } from "./util/labels.js";
import { shouldPodBeInEndpoints } from "./util/pods.js";
import { formatRFC3339Nano } from "./util/trigger-time-tracker.js";

/** Writes the reconciler makes. */
export interface EndpointSliceWriter {
  /** Creates a slice (named by the server from `generateName`); resolves with the stored slice. */
  create(namespace: string, slice: EndpointSlice): Promise<EndpointSlice>;
  /** Updates a slice (conditional on its resourceVersion); resolves with the stored slice. */
  update(namespace: string, slice: EndpointSlice): Promise<EndpointSlice>;
  delete(namespace: string, name: string): Promise<void>;
}

/** Options of a {@link Reconciler}. */
export interface ReconcilerOptions {
  readonly writer: EndpointSliceWriter;
  /** The cached Node named `name`, for endpoint zones. */
  readonly node: (name: string) => Node | undefined;
  readonly tracker: EndpointSliceTracker;
  /** Endpoints per slice (upstream `--max-endpoints-per-slice`, 100). */
  readonly maxEndpointsPerSlice?: number;
  readonly controllerName?: string;
  readonly logger?: Logger;
}

/** Joins several errors as apimachinery's aggregate does: one is itself, more are `[a, b]`. */
export function aggregate(errs: readonly Error[]): Error | undefined {
  if (errs.length === 0) return undefined;
  if (errs.length === 1) return errs[0];
  return new Error(`[${errs.map((e) => e.message).join(", ")}]`);
}

/** What one reconcile decided, before it is written. */
export interface SliceChanges {
  readonly toCreate: EndpointSlice[];
  readonly toUpdate: EndpointSlice[];
  readonly toDelete: EndpointSlice[];
}

/** Turns the slices of a Service into the desired ones. */
export class Reconciler {
  /** Endpoints per slice at most. */
  readonly maxEndpointsPerSlice: number;
  /** The managed-by label value of the slices it owns. */
  readonly controllerName: string;
  private readonly log: Logger;

  constructor(private readonly opts: ReconcilerOptions) {
    this.maxEndpointsPerSlice = opts.maxEndpointsPerSlice ?? 100;
    this.controllerName = opts.controllerName ?? CONTROLLER_NAME;
    this.log = opts.logger ?? silentLogger;
  }

  /** Whether a slice is managed by this controller. */
  managedByController(slice: EndpointSlice): boolean {
    return slice.metadata?.labels?.[MANAGED_BY_LABEL] === this.controllerName;
  }

  /**
   * Makes the slices of `svc` represent `pods` (the pods its selector
   * matches). `existing` are the Service's slices managed by this
   * controller; `triggerTime` (ms, 0 for none) goes into the
   * last-change-trigger-time annotation of slices written. Rejects with
   * the aggregated errors; what could be written was.
   */
  async reconcile(svc: Service, pods: readonly Pod[], existing: readonly EndpointSlice[], triggerTime: number): Promise<void> {
    const errs: Error[] = [];
    const supported = addressTypesForService(svc);
    const toDelete: EndpointSlice[] = [];
    const byType = new Map<string, EndpointSlice[]>();
    for (const s of existing) {
      // Slices of an address type the Service no longer has go.
      if (!supported.has(s.addressType as AddressType)) {
        toDelete.push(s);
        continue;
      }
      let list = byType.get(s.addressType);
      if (!list) byType.set(s.addressType, (list = []));
      list.push(s);
    }
    for (const addressType of supported) {
      try {
        const changes = this.plan(svc, pods, byType.get(addressType) ?? [], addressType);
        await this.finalize(svc, changes, triggerTime);
      } catch (err) {
        errs.push(err as Error);
      }
    }
    const ns = svc.metadata?.namespace ?? "";
    for (const s of toDelete) {
      try {
        await this.opts.writer.delete(ns, s.metadata?.name ?? "");
        this.opts.tracker.expectDeletion(s);
      } catch (err) {
        errs.push(new Error(`error deleting ${s.metadata?.name} EndpointSlice for Service ${ns}/${svc.metadata?.name}: ${(err as Error).message}`));
      }
    }
    const err = aggregate(errs);
    if (err) throw err;
  }

  /**
   * The creates, updates and deletes that bring one address type's slices
   * to the desired state (upstream's `reconcileByAddressType` up to
   * `finalize`). Pure: reads `existing`, never modifies it.
   */
  plan(svc: Service, pods: readonly Pod[], existing: readonly EndpointSlice[], addressType: AddressType): SliceChanges {
    const toCreate: EndpointSlice[] = [];
    const toUpdate: EndpointSlice[] = [];
    let toDelete: EndpointSlice[] = [];

    const existingByPorts = new Map<string, EndpointSlice[]>();
    for (const s of existing) {
      if (!ownedBy(s, svc)) {
        // A slice of an earlier Service of the same name: it goes (or is reused by name).
        toDelete.push(s);
        continue;
      }
      const key = portMapKey(s.ports);
      let list = existingByPorts.get(key);
      if (!list) existingByPorts.set(key, (list = []));
      list.push(s);
    }

    const desiredMeta = new Map<string, EndpointMeta>();
    const desired = new Map<string, EndpointSet>();
    for (const pod of pods) {
      if (!shouldPodBeInEndpoints(pod, true)) continue;
      const ports = sortPorts(getEndpointPorts(svc, pod));
      const key = portMapKey(ports);
      if (!desired.has(key)) {
        desired.set(key, new EndpointSet());
        desiredMeta.set(key, { ports, addressType });
      }
      // Upstream skips (and retries) a pod whose Node is not in the cache;
      // skiff has no kubelet registering Nodes yet, so such a pod gets an
      // endpoint without a zone, filled in when the Node appears.
      const node = pod.spec?.nodeName ? this.opts.node(pod.spec.nodeName) : undefined;
      const ep = podToEndpoint(pod, node, svc, addressType);
      if (ep.addresses.length > 0) desired.get(key)!.insert(ep);
    }

    for (const [key, set] of desired) {
      const r = this.reconcileByPortMapping(svc, existingByPorts.get(key) ?? [], set, desiredMeta.get(key)!);
      toCreate.push(...r.toCreate);
      toUpdate.push(...r.toUpdate);
      toDelete.push(...r.toDelete);
    }
    // Sets of ports no pod has any more: their slices go.
    for (const [key, slices] of existingByPorts) if (!desired.has(key)) toDelete.push(...slices);

    // A Service with no endpoints keeps one empty placeholder slice.
    if (existing.length === toDelete.length && toCreate.length < 1) {
      const placeholder = newEndpointSlice(svc, { ports: [], addressType }, this.controllerName);
      if (toDelete.length === 1 && samePlaceholder(toDelete[0]!, placeholder)) toDelete = [];
      else toCreate.push(placeholder);
    }

    // No topology hints: slices are written without them.
    for (const s of [...toCreate, ...toUpdate]) for (const ep of s.endpoints ?? []) delete ep.hints;
    return { toCreate, toUpdate, toDelete };
  }

  /** Upstream's `reconcileByPortMapping`: steps 1–3 for the slices of one set of ports. */
  private reconcileByPortMapping(svc: Service, existing: readonly EndpointSlice[], desiredSet: EndpointSet, meta: EndpointMeta): SliceChanges {
    const max = this.maxEndpointsPerSlice;
    const byName = new Map<string, EndpointSlice>();
    const unchanged = new Set<string>();
    const toUpdateNames = new Set<string>();
    const toDeleteNames = new Set<string>();

    // 1. Drop endpoints no longer desired, update changed ones, follow Service labels.
    for (const s of existing) {
      const name = s.metadata?.name ?? "";
      byName.set(name, s);
      const kept = [];
      let endpointUpdated = false;
      for (const ep of s.endpoints ?? []) {
        const want = desiredSet.get(ep);
        if (!want) continue;
        kept.push(want);
        if (!endpointsEqualBeyondHash(want, ep)) endpointUpdated = true;
        desiredSet.delete(ep);
      }
      const { labels, changed } = endpointSliceLabels(s, svc, this.controllerName);
      if (endpointUpdated || (s.endpoints ?? []).length !== kept.length) {
        if (kept.length === 0) {
          toDeleteNames.add(name);
        } else {
          const copy = structuredClone(s);
          copy.endpoints = kept;
          copy.metadata!.labels = labels;
          byName.set(name, copy);
          toUpdateNames.add(name);
        }
      } else if (changed) {
        const copy = structuredClone(s);
        copy.metadata!.labels = labels;
        byName.set(name, copy);
        toUpdateNames.add(name);
      } else {
        unchanged.add(name);
      }
    }

    // 2. Fill the slices being updated anyway, fullest first.
    if (desiredSet.size > 0 && toUpdateNames.size > 0) {
      const slices = [...toUpdateNames].map((n) => byName.get(n)!);
      slices.sort((a, b) => (b.endpoints?.length ?? 0) - (a.endpoints?.length ?? 0));
      for (const s of slices) {
        s.endpoints ??= [];
        while (desiredSet.size > 0 && s.endpoints.length < max) s.endpoints.push(desiredSet.popAny()!);
      }
    }

    // 3. Fit the rest into the unchanged slice they fill best, else new slices.
    const toCreate: EndpointSlice[] = [];
    while (desiredSet.size > 0) {
      let fill: EndpointSlice | undefined;
      if (desiredSet.size < max && unchanged.size > 0) {
        const candidates = [...unchanged].map((n) => byName.get(n)!);
        fill = getSliceToFill(candidates, desiredSet.size, max);
      }
      if (!fill) {
        fill = newEndpointSlice(svc, meta, this.controllerName);
      } else {
        fill = structuredClone(fill);
        byName.set(fill.metadata!.name!, fill);
      }
      fill.endpoints ??= [];
      while (desiredSet.size > 0 && fill.endpoints.length < max) fill.endpoints.push(desiredSet.popAny()!);
      const name = fill.metadata?.name;
      if (name) {
        toUpdateNames.add(name);
        unchanged.delete(name);
      } else {
        toCreate.push(fill);
      }
    }

    return {
      toCreate,
      toUpdate: [...toUpdateNames].map((n) => byName.get(n)!),
      toDelete: [...toDeleteNames].map((n) => byName.get(n)!),
    };
  }

  /**
   * Writes the changes (upstream's `finalize`): creates that can reuse a
   * slice about to be deleted become updates of it; nothing is created for
   * a Service being deleted (the garbage collector is removing its
   * slices); creates refused because the namespace is terminating stop
   * quietly.
   */
  private async finalize(svc: Service, changes: SliceChanges, triggerTime: number): Promise<void> {
    const toCreate = [...changes.toCreate];
    const toUpdate = [...changes.toUpdate];
    const toDelete = [...changes.toDelete];
    for (let i = 0; i < toDelete.length; ) {
      if (toCreate.length === 0) break;
      const del = toDelete[i]!;
      const create = toCreate[toCreate.length - 1]!;
      // Only a slice of this Service (not of a deleted namesake) with the same immutable address type.
      if (del.addressType === create.addressType && ownedBy(del, svc)) {
        // The replaced slice's resourceVersion keeps the update conditional.
        create.metadata = {
          name: del.metadata?.name,
          namespace: create.metadata?.namespace,
          labels: create.metadata?.labels,
          ownerReferences: create.metadata?.ownerReferences,
          resourceVersion: del.metadata?.resourceVersion,
        };
        toCreate.pop();
        toUpdate.push(create);
        toDelete.splice(i, 1);
      } else {
        i++;
      }
    }

    const ns = svc.metadata?.namespace ?? "";
    const name = svc.metadata?.name ?? "";
    const { writer, tracker } = this.opts;
    if (!svc.metadata?.deletionTimestamp) {
      for (const s of toCreate) {
        setTriggerTime(s, triggerTime);
        let created: EndpointSlice;
        try {
          created = await writer.create(ns, s);
        } catch (err) {
          if (isNamespaceTerminating(err)) return;
          throw new Error(`failed to create EndpointSlice for Service ${ns}/${name}: ${(err as Error).message}`);
        }
        tracker.update(created);
      }
    }
    for (const s of toUpdate) {
      setTriggerTime(s, triggerTime);
      let updated: EndpointSlice;
      try {
        updated = await writer.update(ns, s);
      } catch (err) {
        throw new Error(`failed to update ${s.metadata?.name} EndpointSlice for Service ${ns}/${name}: ${(err as Error).message}`);
      }
      tracker.update(updated);
    }
    for (const s of toDelete) {
      try {
        await writer.delete(ns, s.metadata?.name ?? "");
      } catch (err) {
        throw new Error(`failed to delete ${s.metadata?.name} EndpointSlice for Service ${ns}/${name}: ${(err as Error).message}`);
      }
      tracker.expectDeletion(s);
    }
    const changed = toCreate.length + toUpdate.length + toDelete.length;
    if (changed > 0) this.log.debug("endpoint slices written", { service: `${ns}/${name}`, created: toCreate.length, updated: toUpdate.length, deleted: toDelete.length });
  }
}

function setTriggerTime(s: EndpointSlice, triggerTime: number): void {
  const meta = (s.metadata ??= {});
  const annotations = { ...(meta.annotations ?? {}) };
  if (triggerTime > 0) annotations[LAST_CHANGE_TRIGGER_TIME] = formatRFC3339Nano(triggerTime);
  else delete annotations[LAST_CHANGE_TRIGGER_TIME];
  meta.annotations = annotations;
}
