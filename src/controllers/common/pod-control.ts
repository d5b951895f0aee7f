/**
 * Creating and deleting a controller's pods, as upstream's `RealPodControl`
 * (pkg/controller/controller_utils.go): pods are made from the template
 * (labels, annotations and finalizers copied, `generateName:
 * <owner-name>-`, the controllerRef as ownerReference), and every create
 * and delete is recorded as an event on the owner with upstream's reasons
 * and messages.
 */
import type { ObjectReference, Pod, PodSpec, PodTemplateSpec } from "kubernetes-types/core/v1.js";
import type { OwnerReference } from "kubernetes-types/meta/v1.js";
import type { EventSubject, EventType } from "../../client/event-recorder.js";
import { ResourceClient } from "../../client/resource-client.js";
import { PODS } from "../../client/resources.js";
import type { RestClient } from "../../client/rest-client.js";
import { type Logger, silentLogger } from "../../machinery/log.js";
import { isNotFound, StatusError } from "../../machinery/status-error.js";
import { errorMessage } from "./errors.js";

/** Event reason (and ReplicaFailure condition reason) when a pod could not be created. */
export const FAILED_CREATE_POD_REASON = "FailedCreate";
/** Event reason when a pod was created. */
export const SUCCESSFUL_CREATE_POD_REASON = "SuccessfulCreate";
/** Event reason (and ReplicaFailure condition reason) when a pod could not be deleted. */
export const FAILED_DELETE_POD_REASON = "FailedDelete";
/** Event reason when a pod was deleted. */
export const SUCCESSFUL_DELETE_POD_REASON = "SuccessfulDelete";

/** The Status cause the API server gives for a create in a terminating namespace (`v1.NamespaceTerminatingCause`). */
export const NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating";

/** events.k8s.io `action`s of the events recorded here (upstream's core/v1 events have none). */
export const CREATE_ACTION = "Create";
export const DELETE_ACTION = "Delete";

/** True when `err` is a Status with a cause of type `cause` (apimachinery's `HasStatusCause`). */
export function hasStatusCause(err: unknown, cause: string): boolean {
  return err instanceof StatusError && (err.status.details?.causes ?? []).some((c) => c.reason === cause);
}

/** The pod API calls pod control makes; {@link restPodApi} for a real server. */
export interface PodApi {
  create(namespace: string, pod: Pod): Promise<Pod>;
  /** Rejects with a NotFound StatusError when the pod is gone. */
  delete(namespace: string, name: string): Promise<void>;
  /** A strategic-merge patch. */
  patch(namespace: string, name: string, patch: unknown): Promise<Pod>;
}

/** A {@link PodApi} over the core/v1 pods API. */
export function restPodApi(rest: RestClient): PodApi {
  const pods = new ResourceClient<Pod>(rest, PODS);
  return {
    create: (ns, pod) => pods.namespace(ns).create(pod),
    delete: (ns, name) => pods.namespace(ns).delete(name),
    patch: (ns, name, patch) => pods.namespace(ns).patch(name, patch, { type: "strategic" }),
  };
}

/** Where pod control records events; an {@link EventRecorder} is one. */
export interface PodEventRecorder {
  eventf(regarding: EventSubject, related: EventSubject | undefined, type: EventType, reason: string, action: string, note: string, ...args: unknown[]): void;
}

/** What controllers call to manage pods (upstream's `PodControlInterface`); fake it in tests. */
export interface PodControl {
  /**
   * Creates one pod from `template` in `namespace`, owned through
   * `controllerRef`; `controllerObject` (the owner, with apiVersion and
   * kind, or a reference to it) names it and gets the events.
   */
  createPods(namespace: string, template: PodTemplateSpec | undefined, controllerObject: EventSubject, controllerRef: OwnerReference): Promise<void>;
  /** {@link createPods} with an explicit `generateName`. */
  createPodsWithGenerateName(
    namespace: string,
    template: PodTemplateSpec | undefined,
    controllerObject: EventSubject,
    controllerRef: OwnerReference,
    generateName: string,
  ): Promise<void>;
  /** Deletes pod `name`; rejects with NotFound (unwrapped) when it is already gone. */
  deletePod(namespace: string, name: string, controllerObject: EventSubject): Promise<void>;
  /** Strategic-merge patches a pod. */
  patchPod(namespace: string, name: string, patch: unknown): Promise<void>;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Whether `prefix` is a valid pod generateName (`ValidatePodName(prefix, true)` finds nothing). */
function validPodNamePrefix(prefix: string): boolean {
  // As upstream's maskTrailingDash: a generateName may end in '-'.
  const name = prefix.length > 1 && prefix.endsWith("-") ? `${prefix.slice(0, -1)}a` : prefix;
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

/** `<name>-`, or `<name>` when the dash would make it invalid (upstream's `getPodsPrefix`). */
export function getPodsPrefix(controllerName: string): string {
  const prefix = `${controllerName}-`;
  return validPodNamePrefix(prefix) ? prefix : controllerName;
}

/** Upstream's `validateControllerRef`: the messages of a controllerRef pods must not be created with. */
export function validateControllerRef(ref: OwnerReference | undefined): string | undefined {
  if (!ref) return "controllerRef is nil";
  if (!ref.apiVersion) return "controllerRef has empty APIVersion";
  if (!ref.kind) return "controllerRef has empty Kind";
  if (ref.controller !== true) return "controllerRef.Controller is not set to true";
  if (ref.blockOwnerDeletion !== true) return "controllerRef.BlockOwnerDeletion is not set";
  return undefined;
}

/**
 * The pod an event is about besides its owner (events.k8s.io `related`).
 * Upstream's core/v1 events tell pods apart by message alone; with
 * events.k8s.io, events that differ only in their note would merge into one
 * series, so "Created pod: a" and "Created pod: b" need the pod as `related`
 * to stay two events, as they are upstream.
 */
function podReference(namespace: string, name: string, uid?: string): ObjectReference {
  return { apiVersion: "v1", kind: "Pod", namespace, name, ...(uid ? { uid } : {}) };
}

function subjectName(s: EventSubject): string {
  return ("metadata" in s && s.metadata ? s.metadata.name : (s as { name?: string }).name) ?? "";
}

/**
 * The pod a controller creates from `template` (upstream's
 * `GetPodFromTemplate`): copies of the template's labels, annotations and
 * finalizers (empty ones left out, as Go's omitempty), `generateName`
 * from the owner's name, the controllerRef, and a deep copy of the spec.
 */
export function getPodFromTemplate(template: PodTemplateSpec | undefined, ownerName: string, controllerRef: OwnerReference | undefined): Pod {
  const meta = template?.metadata;
  const pod: Pod = { apiVersion: "v1", kind: "Pod", metadata: { generateName: getPodsPrefix(ownerName) } };
  const m = pod.metadata!;
  if (meta?.labels && Object.keys(meta.labels).length > 0) m.labels = { ...meta.labels };
  if (meta?.annotations && Object.keys(meta.annotations).length > 0) m.annotations = { ...meta.annotations };
  if (meta?.finalizers && meta.finalizers.length > 0) m.finalizers = [...meta.finalizers];
  if (controllerRef) m.ownerReferences = [{ ...controllerRef }];
  // Go copies a zero PodSpec when the template has none; the server then rejects the pod.
  pod.spec = template?.spec ? structuredClone(template.spec) : ({} as PodSpec);
  return pod;
}

/** Options of {@link RealPodControl}. */
export interface RealPodControlOptions {
  /** The pod API: a REST client or any {@link PodApi}. */
  readonly pods: PodApi;
  readonly recorder: PodEventRecorder;
  readonly logger?: Logger;
}

/** Pod control against the API server (upstream's `RealPodControl`). */
export class RealPodControl implements PodControl {
  private readonly log: Logger;

  constructor(private readonly opts: RealPodControlOptions) {
    this.log = opts.logger ?? silentLogger;
  }

  createPods(namespace: string, template: PodTemplateSpec | undefined, controllerObject: EventSubject, controllerRef: OwnerReference): Promise<void> {
    return this.createPodsWithGenerateName(namespace, template, controllerObject, controllerRef, "");
  }

  async createPodsWithGenerateName(
    namespace: string,
    template: PodTemplateSpec | undefined,
    controllerObject: EventSubject,
    controllerRef: OwnerReference,
    generateName: string,
  ): Promise<void> {
    const invalid = validateControllerRef(controllerRef);
    if (invalid) throw new Error(invalid);
    const pod = getPodFromTemplate(template, subjectName(controllerObject), controllerRef);
    if (generateName) pod.metadata!.generateName = generateName;
    await this.createPod(namespace, pod, controllerObject);
  }

  private async createPod(namespace: string, pod: Pod, controllerObject: EventSubject): Promise<void> {
    if (!pod.metadata?.labels || Object.keys(pod.metadata.labels).length === 0) throw new Error("unable to create pods, no labels");
    let created: Pod;
    try {
      created = await this.opts.pods.create(namespace, pod);
    } catch (err) {
      // Every create in a terminating namespace fails; one event per attempt would be noise.
      if (!hasStatusCause(err, NAMESPACE_TERMINATING_CAUSE)) {
        this.opts.recorder.eventf(controllerObject, undefined, "Warning", FAILED_CREATE_POD_REASON, CREATE_ACTION, "Error creating: %s", errorMessage(err));
      }
      throw err;
    }
    const name = created.metadata?.name ?? "";
    this.log.debug("controller created pod", { owner: subjectName(controllerObject), pod: `${namespace}/${name}` });
    this.opts.recorder.eventf(controllerObject, podReference(namespace, name, created.metadata?.uid), "Normal", SUCCESSFUL_CREATE_POD_REASON, CREATE_ACTION, "Created pod: %s", name);
  }

  async deletePod(namespace: string, name: string, controllerObject: EventSubject): Promise<void> {
    this.log.debug("deleting pod", { owner: subjectName(controllerObject), pod: `${namespace}/${name}` });
    try {
      await this.opts.pods.delete(namespace, name);
    } catch (err) {
      if (isNotFound(err)) {
        this.log.debug("pod has already been deleted", { pod: `${namespace}/${name}` });
        throw err;
      }
      this.opts.recorder.eventf(controllerObject, undefined, "Warning", FAILED_DELETE_POD_REASON, DELETE_ACTION, "Error deleting: %s", errorMessage(err));
      throw new Error(`unable to delete pods: ${errorMessage(err)}`, { cause: err });
    }
    this.opts.recorder.eventf(controllerObject, podReference(namespace, name), "Normal", SUCCESSFUL_DELETE_POD_REASON, DELETE_ACTION, "Deleted pod: %s", name);
  }

  async patchPod(namespace: string, name: string, patch: unknown): Promise<void> {
    await this.opts.pods.patch(namespace, name, patch);
  }
}
