/**
 * Creating, updating and deleting a StatefulSet's pods and claims, as
 * upstream's stateful_pod_control.go: claims are created before their pod;
 * a pod whose identity or storage drifted is updated back; claims get the
 * ownerReferences the retention policy asks for. Every pod and claim write
 * is recorded as an event on the set with upstream's reasons and messages
 * ("create Pod web-0 in StatefulSet web successful").
 */
import type { StatefulSet } from "kubernetes-types/apps/v1.js";
import type { ObjectReference, PersistentVolumeClaim, Pod } from "kubernetes-types/core/v1.js";
import { ResourceClient } from "../../client/resource-client.js";
import { PERSISTENT_VOLUME_CLAIMS, PODS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isAlreadyExists, isConflict } from "../../machinery/status-error.js";
import { ownerReference } from "../common/controller-ref.js";
import { aggregate, errorMessage } from "../common/errors.js";
import type { PodEventRecorder } from "../common/pod-control.js";
import { getPersistentVolumeClaimRetentionPolicy, hasStaleOwnerRef, hasUnexpectedController, isClaimOwnerUpToDate, RETAIN, updateClaimOwnerRefForSetAndPod } from "./claim-retention.js";
import { getOrdinal, getPersistentVolumeClaimName, getPersistentVolumeClaims, identityMatches, storageMatches, updateIdentity, updateStorage } from "./identity.js";
import { POD_GVK, STATEFUL_SET_GVK } from "./kinds.js";

/** Pod and claim reads and writes (upstream's `StatefulPodControlObjectManager`); reads come from the caches. */
export interface StatefulPodObjectManager {
  createPod(pod: Pod): Promise<void>;
  /** The cached pod, if any. */
  getPod(namespace: string, name: string): Pod | undefined;
  /** A PUT, conditional on the pod's resourceVersion. */
  updatePod(pod: Pod): Promise<void>;
  deletePod(pod: Pod): Promise<void>;
  createClaim(claim: PersistentVolumeClaim): Promise<void>;
  /** The cached claim, if any. */
  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
  /** A PUT, conditional on the claim's resourceVersion. */
  updateClaim(claim: PersistentVolumeClaim): Promise<void>;
}

/** Cached reads an object manager serves from. */
export interface PodAndClaimListers {
  getPod(namespace: string, name: string): Pod | undefined;
  getClaim(namespace: string, name: string): PersistentVolumeClaim | undefined;
}

/** A {@link StatefulPodObjectManager} writing through the API and reading from `listers`. */
export function restStatefulPodObjectManager(rest: RestClient, listers: PodAndClaimListers): StatefulPodObjectManager {
  const pods = new ResourceClient<Pod>(rest, PODS);
  const claims = new ResourceClient<PersistentVolumeClaim>(rest, PERSISTENT_VOLUME_CLAIMS);
  const ns = (o: { metadata?: { namespace?: string } }) => o.metadata?.namespace ?? "";
  return {
    createPod: async (pod) => void (await pods.namespace(ns(pod)).create(pod)),
    getPod: (n, name) => listers.getPod(n, name),
    updatePod: async (pod) => void (await pods.namespace(ns(pod)).update(pod)),
    deletePod: (pod) => pods.namespace(ns(pod)).delete(pod.metadata?.name ?? ""),
    createClaim: async (claim) => void (await claims.namespace(ns(claim)).create(claim)),
    getClaim: (n, name) => listers.getClaim(n, name),
    updateClaim: async (claim) => void (await claims.namespace(ns(claim)).update(claim)),
  };
}

/** Upstream's `retry.DefaultBackoff` delays between the 4 tries of a conflicting update. */
const CONFLICT_RETRY_DELAYS_MS = [10, 50, 250];

/** Options of {@link StatefulPodControl}. */
export interface StatefulPodControlOptions {
  readonly objects: StatefulPodObjectManager;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
  /** Waits between conflict retries (setTimeout unless given). */
  readonly sleep?: (ms: number) => Promise<void>;
}

const title = (verb: string) => verb.charAt(0).toUpperCase() + verb.slice(1);

function podRef(pod: Pod): ObjectReference {
  const m = pod.metadata ?? {};
  return { apiVersion: "v1", kind: "Pod", namespace: m.namespace, name: m.name, ...(m.uid ? { uid: m.uid } : {}) };
}

function claimRef(claim: PersistentVolumeClaim): ObjectReference {
  return { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: claim.metadata?.namespace, name: claim.metadata?.name };
}

/** Pod and claim management for the StatefulSet controller (upstream's `StatefulPodControl`). */
export class StatefulPodControl {
  private readonly log: Logger;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: StatefulPodControlOptions) {
    this.log = opts.logger ?? silentLogger;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  private get objects(): StatefulPodObjectManager {
    return this.opts.objects;
  }

  /** Creates the pod's claims, then the pod; records the outcome (`CreateStatefulPod`). */
  async createStatefulPod(set: StatefulSet, pod: Pod): Promise<void> {
    try {
      await this.createPersistentVolumeClaims(set, pod);
    } catch (err) {
      this.recordPodEvent("create", set, pod, err);
      throw err;
    }
    let createErr: unknown;
    try {
      await this.objects.createPod(pod);
    } catch (err) {
      // A pod that already exists is no news: no event.
      if (isAlreadyExists(err)) throw err;
      createErr = err;
    }
    try {
      // Set the claims' owners as far as is possible now.
      await this.updatePodClaimForRetentionPolicy(set, pod);
    } catch (err) {
      this.recordPodEvent("update", set, pod, err);
      throw err;
    }
    this.recordPodEvent("create", set, pod, createErr);
    if (createErr !== undefined) throw createErr;
  }

  /**
   * Brings the pod's identity, storage and claim ownership in line with
   * the set, writing the pod when it changed, retrying conflicts with a
   * fresh copy from the cache (`UpdateStatefulPod`).
   */
  async updateStatefulPod(set: StatefulSet, original: Pod): Promise<void> {
    // A copy, so the shared cache is never changed.
    let pod = structuredClone(original);
    let attemptedUpdate = false;
    const once = async (): Promise<unknown> => {
      let consistent = true;
      if (!identityMatches(set, pod)) {
        updateIdentity(set, pod);
        consistent = false;
      }
      if (!storageMatches(set, pod)) {
        updateStorage(set, pod);
        consistent = false;
        try {
          await this.createPersistentVolumeClaims(set, pod);
        } catch (err) {
          this.recordPodEvent("update", set, pod, err);
          return err;
        }
      }
      if (!this.claimsMatchRetentionPolicy(set, pod)) {
        try {
          await this.updatePodClaimForRetentionPolicy(set, pod);
        } catch (err) {
          this.recordPodEvent("update", set, pod, err);
          return err;
        }
        consistent = false;
      }
      if (consistent) return undefined;
      attemptedUpdate = true;
      try {
        await this.objects.updatePod(pod);
        return undefined;
      } catch (err) {
        const cached = this.objects.getPod(set.metadata?.namespace ?? "", pod.metadata?.name ?? "");
        if (cached) pod = structuredClone(cached);
        else this.log.error("error getting updated Pod", { pod: `${set.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}` });
        return err;
      }
    };
    let err: unknown;
    // retry.RetryOnConflict: only conflicts are tried again.
    for (let attempt = 0; ; attempt++) {
      err = await once();
      if (err === undefined || !isConflict(err) || attempt >= CONFLICT_RETRY_DELAYS_MS.length) break;
      await this.sleep(CONFLICT_RETRY_DELAYS_MS[attempt]!);
    }
    if (attemptedUpdate) this.recordPodEvent("update", set, pod, err);
    if (err !== undefined) throw err;
  }

  /** Deletes the pod and records the outcome (`DeleteStatefulPod`). */
  async deleteStatefulPod(set: StatefulSet, pod: Pod): Promise<void> {
    let err: unknown;
    try {
      await this.objects.deletePod(pod);
    } catch (e) {
      err = e;
    }
    this.recordPodEvent("delete", set, pod, err);
    if (err !== undefined) throw err;
  }

  /** Whether the pod's existing claims have the owners the policy asks for (`ClaimsMatchRetentionPolicy`). */
  claimsMatchRetentionPolicy(set: StatefulSet, pod: Pod): boolean {
    const ordinal = getOrdinal(pod);
    for (const template of set.spec?.volumeClaimTemplates ?? []) {
      const name = getPersistentVolumeClaimName(set, template, ordinal);
      const claim = this.objects.getClaim(set.metadata?.namespace ?? "", name);
      // A missing claim is picked up on a later pass.
      if (claim && !isClaimOwnerUpToDate(this.log, claim, set, pod)) return false;
    }
    return true;
  }

  /** Rewrites the ownerReferences of the pod's claims to match the policy (`UpdatePodClaimForRetentionPolicy`). */
  async updatePodClaimForRetentionPolicy(set: StatefulSet, pod: Pod): Promise<void> {
    const ordinal = getOrdinal(pod);
    for (const template of set.spec?.volumeClaimTemplates ?? []) {
      const name = getPersistentVolumeClaimName(set, template, ordinal);
      const cached = this.objects.getClaim(set.metadata?.namespace ?? "", name);
      if (!cached) {
        this.log.debug("Expected claim missing, continuing to pick up in next iteration", { pvc: `${set.metadata?.namespace ?? ""}/${name}` });
        continue;
      }
      if (hasUnexpectedController(cached, set, pod)) {
        // Tell the user about the odd configuration; our refs are cleaned up below.
        this.event(
          set,
          claimRef(cached),
          "Warning",
          "ConflictingController",
          "Update",
          `PersistentVolumeClaim ${name} has a conflicting OwnerReference that acts as a manging controller, the retention policy is ignored for this claim`,
        );
      }
      if (!isClaimOwnerUpToDate(this.log, cached, set, pod)) {
        // A copy, so the shared cache is never changed.
        const claim = structuredClone(cached);
        updateClaimOwnerRefForSetAndPod(this.log, claim, set, pod);
        try {
          await this.objects.updateClaim(claim);
        } catch (err) {
          throw new Error(`could not update claim ${name} for delete policy ownerRefs: ${errorMessage(err)}`, { cause: err });
        }
      }
    }
  }

  /** Whether a claim of the pod belongs to an earlier pod of that name: a stale claim blocks creation (`PodClaimIsStale`). */
  podClaimIsStale(set: StatefulSet, pod: Pod): boolean {
    // Under whenScaled Retain claims are meant to be reused, so none is stale.
    if (getPersistentVolumeClaimRetentionPolicy(set).whenScaled === RETAIN) return false;
    for (const claim of getPersistentVolumeClaims(set, pod).values()) {
      const pvc = this.objects.getClaim(claim.metadata?.namespace ?? "", claim.metadata?.name ?? "");
      if (pvc && hasStaleOwnerRef(pvc, pod.metadata, POD_GVK)) return true;
    }
    return false;
  }

  /** Creates missing claims, then sets their owners (`createMissingPersistentVolumeClaims`). */
  async createMissingPersistentVolumeClaims(set: StatefulSet, pod: Pod): Promise<void> {
    await this.createPersistentVolumeClaims(set, pod);
    try {
      await this.updatePodClaimForRetentionPolicy(set, pod);
    } catch (err) {
      this.recordPodEvent("update", set, pod, err);
      throw err;
    }
  }

  /**
   * Creates every claim of the pod that does not exist; a claim being
   * deleted is an error (`createPersistentVolumeClaims`). Rejects with
   * the aggregated failures.
   */
  async createPersistentVolumeClaims(set: StatefulSet, pod: Pod): Promise<void> {
    const errors: Error[] = [];
    for (const claim of getPersistentVolumeClaims(set, pod).values()) {
      const name = claim.metadata?.name ?? "";
      const existing = this.objects.getClaim(claim.metadata?.namespace ?? "", name);
      if (existing) {
        if (existing.metadata?.deletionTimestamp) errors.push(new Error(`pvc ${name} is being deleted`));
        continue;
      }
      let err: unknown;
      try {
        await this.objects.createClaim(claim);
      } catch (e) {
        err = e;
        errors.push(new Error(`failed to create PVC ${name}: ${errorMessage(e)}`, { cause: e }));
      }
      // A claim that appeared meanwhile is no news.
      if (err === undefined || !isAlreadyExists(err)) this.recordClaimEvent("create", set, pod, claim, err);
    }
    const agg = aggregate(errors);
    if (agg) throw agg;
  }

  private event(set: StatefulSet, related: ObjectReference | undefined, type: "Normal" | "Warning", reason: string, action: string, note: string): void {
    this.opts.recorder.eventf(ownerReference(set.metadata, STATEFUL_SET_GVK), related, type, reason, action, "%s", note);
  }

  /** Successful<Verb> / Failed<Verb> on the set about the pod (`recordPodEvent`). */
  private recordPodEvent(verb: string, set: StatefulSet, pod: Pod, err: unknown): void {
    const podName = pod.metadata?.name ?? "";
    const setName = set.metadata?.name ?? "";
    if (err === undefined) {
      this.event(set, podRef(pod), "Normal", `Successful${title(verb)}`, title(verb), `${verb} Pod ${podName} in StatefulSet ${setName} successful`);
    } else {
      this.event(set, podRef(pod), "Warning", `Failed${title(verb)}`, title(verb), `${verb} Pod ${podName} in StatefulSet ${setName} failed error: ${errorMessage(err)}`);
    }
  }

  /** Successful<Verb> / Failed<Verb> on the set about one of the pod's claims (`recordClaimEvent`). */
  private recordClaimEvent(verb: string, set: StatefulSet, pod: Pod, claim: PersistentVolumeClaim, err: unknown): void {
    const podName = pod.metadata?.name ?? "";
    const setName = set.metadata?.name ?? "";
    const claimName = claim.metadata?.name ?? "";
    if (err === undefined) {
      this.event(set, claimRef(claim), "Normal", `Successful${title(verb)}`, title(verb), `${verb} Claim ${claimName} Pod ${podName} in StatefulSet ${setName} success`);
    } else {
      this.event(
        set,
        claimRef(claim),
        "Warning",
        `Failed${title(verb)}`,
        title(verb),
        `${verb} Claim ${claimName} for Pod ${podName} in StatefulSet ${setName} failed error: ${errorMessage(err)}`,
      );
    }
  }
}
