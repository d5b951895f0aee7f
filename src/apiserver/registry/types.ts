/** Shapes shared by the registry layer. */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import type { FieldError } from "../../machinery/status-error.js";

/** kubernetes-types' ObjectMeta, writable (the registry fills it in). */
export type Meta = { -readonly [K in keyof ObjectMeta]: ObjectMeta[K] };

/** Any Kubernetes object as JSON. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata?: Meta;
  [field: string]: unknown;
}

/** A list as the API returns it. */
export interface KList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KObject[];
}

/**
 * Per-resource behaviour, as upstream's REST strategies: defaulting,
 * validation and the few switches that differ between kinds.
 */
export interface Strategy {
  /** metadata.generation counts spec changes (workloads, CRDs, …). */
  readonly tracksGeneration?: boolean;
  /** PUT of a missing object creates it (Endpoints, Events, Leases, …). */
  readonly allowCreateOnUpdate?: boolean;
  /** DELETE answers with the object instead of a Success Status (pods, services). */
  readonly returnDeletedObject?: boolean;
  /** Fills defaults in place, on create and update (upstream's defaulting functions). */
  defaults?(obj: KObject): void;
  /** Resets fields a create may not set (e.g. status). */
  prepareForCreate?(obj: KObject): void;
  /** Field errors for a new object. */
  validateCreate?(obj: KObject): FieldError[];
  /** Field errors for an update (immutable fields and the like). */
  validateUpdate?(obj: KObject, old: KObject): FieldError[];
  /**
   * For graceful deletion (pods): the grace period to wait in seconds, or
   * undefined to delete at once.
   */
  gracePeriod?(obj: KObject, requested: number | undefined): number | undefined;
  /**
   * Kind-specific finalizers beyond metadata.finalizers: while true, an
   * object marked for deletion stays (namespaces: `spec.finalizers`, emptied
   * through the `finalize` subresource by the namespace controller).
   */
  blocksDeletion?(obj: KObject): boolean;
  /** Adjusts an object being marked for deletion (namespaces: `status.phase: Terminating`). */
  prepareForDeletion?(obj: KObject): void;
  /**
   * Runs after defaulting and validation, before a create is written
   * (allocations such as ClusterIPs). May change `obj` or throw a
   * StatusError. Returns an undo run if the write then fails.
   */
  beforeCreate?(obj: KObject, opts: WriteOptions): Promise<Undo | undefined>;
  /** As beforeCreate, for an update of `old` to `obj`. */
  beforeUpdate?(obj: KObject, old: KObject, opts: WriteOptions): Promise<Undo | undefined>;
  /** Runs after an object is gone from the store (release allocations). */
  afterDelete?(obj: KObject): Promise<void>;
  /** Objects expire this many seconds after their last write (Events: upstream --event-ttl, 1 h). */
  readonly ttlSeconds?: number;
  /**
   * Paths of fields the kind's schema does not have (custom resources);
   * absent: the built-in OpenAPI definitions decide.
   */
  unknownFields?(obj: KObject): string[];
}

/**
 * Converts between the served form and the stored form when a resource is
 * stored in another version's shape (events.k8s.io/v1 Events are stored as
 * core/v1 Events).
 */
export interface Codec {
  /** Stored form -> served form. */
  decode(stored: KObject): KObject;
  /** Served form -> stored form. */
  encode(served: KObject): KObject;
}

/** Reverses what a before-hook did, when the write it prepared fails. */
export type Undo = () => Promise<void>;

/** Options every write takes from the query string. */
export interface WriteOptions {
  readonly dryRun?: boolean;
  readonly fieldManager?: string;
  /**
   * The caller hands the body over (it was parsed for this request alone):
   * the store may fill it in place and keep it instead of copying it first.
   */
  readonly bodyOwned?: boolean;
}

/** DeleteOptions as sent in a DELETE body or query. */
export interface DeleteOptions extends WriteOptions {
  readonly gracePeriodSeconds?: number;
  readonly propagationPolicy?: "Orphan" | "Background" | "Foreground";
  readonly preconditions?: { uid?: string; resourceVersion?: string };
}
