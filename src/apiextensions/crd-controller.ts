/**
 * Serves custom resources as their CustomResourceDefinitions come and go,
 * as upstream's apiextensions controllers do: names are checked against the
 * built-in kinds and other CRDs (NamesAccepted), an accepted CRD becomes
 * Established and its served versions are routed and discovered, and a
 * deleted CRD first has all of its custom resources removed.
 */
import type { CustomOpenAPISpec } from "../api/openapi/custom-specs.js";
import { BUILTIN_RESOURCES, type ResourceType } from "../api/resources.js";
import type { ObjectStore } from "../apiserver/registry/object-store.js";
import { rfc3339 } from "../apiserver/registry/object-store.js";
import type { KObject, Strategy } from "../apiserver/registry/types.js";
import type { Logger } from "../machinery/log.js";
import { isNotFound } from "../machinery/status-error.js";
import { CLEANUP_FINALIZER } from "./crd-strategy.js";
import type { CustomResourceDefinition, CustomResourceDefinitionVersion } from "./crd-validation.js";
import { customResourceStrategy, customResourceType } from "./custom-resource.js";
import { customResourceOpenAPI } from "./openapi-builder.js";

/** One version the controller asks the registry to serve, with the OpenAPI to publish for it. */
export interface ServedCustomResource {
  readonly resource: ResourceType;
  readonly strategy: Strategy;
  /** Published in /openapi/v2 and /openapi/v3 while served; absent while the CRD is only being cleaned up. */
  readonly openapi?: CustomOpenAPISpec;
}

/** Where the controller puts served custom resources (the API server). */
export interface CustomResourceRegistry {
  /** Serves exactly these resources for the named CRD (replacing what it served before, OpenAPI included). */
  serve(crdName: string, resources: readonly ServedCustomResource[]): void;
  /** Stops serving the named CRD's resources. */
  unserve(crdName: string): void;
  /** The store of a served resource, to clean up custom resources. */
  objects(group: string, version: string, plural: string): ObjectStore;
}

export interface CrdControllerOptions {
  readonly crds: ObjectStore;
  readonly registry: CustomResourceRegistry;
  readonly logger: Logger;
  /** How often every CRD is looked at again (deletions waiting on finalizers), ms. */
  readonly resyncMs?: number;
}

type Condition = { type: string; status: string; reason: string; message: string; lastTransitionTime: string };

export class CrdController {
  private readonly known = new Map<string, KObject>();
  private readonly ac = new AbortController();
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: CrdControllerOptions) {}

  async start(): Promise<void> {
    const list = await this.opts.crds.list(undefined);
    for (const crd of list.items) await this.sync(crd);
    void this.follow(list.metadata.resourceVersion);
    this.timer = setInterval(() => void this.resync(), this.opts.resyncMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    this.ac.abort();
    if (this.timer) clearInterval(this.timer);
  }

  private async follow(rv: string): Promise<void> {
    let from = rv;
    while (!this.ac.signal.aborted) {
      try {
        for await (const ev of this.opts.crds.watch(undefined, { resourceVersion: from, signal: this.ac.signal })) {
          if (ev.type === "ERROR") throw new Error("watch expired");
          const crd = ev.object as KObject;
          from = crd.metadata?.resourceVersion ?? from;
          if (ev.type === "DELETED") {
            this.known.delete(crd.metadata!.name!);
            this.opts.registry.unserve(crd.metadata!.name!);
          } else if (ev.type !== "BOOKMARK") {
            await this.sync(crd);
          }
        }
      } catch {
        if (this.ac.signal.aborted) return;
        const list = await this.opts.crds.list(undefined).catch(() => undefined);
        if (!list) {
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        for (const crd of list.items) await this.sync(crd);
        from = list.metadata.resourceVersion;
      }
    }
  }

  private async resync(): Promise<void> {
    for (const name of [...this.known.keys()]) {
      try {
        await this.sync(await this.opts.crds.get(undefined, name));
      } catch (err) {
        if (isNotFound(err)) {
          this.known.delete(name);
          this.opts.registry.unserve(name);
        }
      }
    }
  }

  /** Names another CRD or a built-in kind already uses in this group. */
  private conflicts(crd: CustomResourceDefinition): string | undefined {
    const { group, names } = crd.spec;
    for (const r of BUILTIN_RESOURCES) {
      if (r.group === group && (r.plural === names.plural || r.kind === names.kind)) return `"${names.plural}" is already in use`;
    }
    for (const [name, other] of this.known) {
      if (name === crd.metadata?.name) continue;
      const o = other as unknown as CustomResourceDefinition;
      if (o.spec.group !== group) continue;
      if (o.spec.names.plural === names.plural) return `"${names.plural}" is already in use`;
      if (o.spec.names.kind === names.kind) return `"${names.kind}" is already in use`;
    }
    return undefined;
  }

  private async sync(obj: KObject): Promise<void> {
    const name = obj.metadata!.name!;
    this.known.set(name, obj);
    const crd = obj as unknown as CustomResourceDefinition;
    if (obj.metadata?.deletionTimestamp) return this.finalize(obj, crd);
    const conflict = this.conflicts(crd);
    const now = rfc3339(Date.now());
    const wanted: Condition[] = conflict
      ? [{ type: "NamesAccepted", status: "False", reason: "NameConflict", message: conflict, lastTransitionTime: now }]
      : [
          { type: "NamesAccepted", status: "True", reason: "NoConflicts", message: "no conflicts found", lastTransitionTime: now },
          { type: "Established", status: "True", reason: "InitialNamesAccepted", message: "the initial names have been accepted", lastTransitionTime: now },
        ];
    const storage = crd.spec.versions.find((v) => v.storage)?.name;
    await this.opts.crds
      .guaranteedUpdate(
        undefined,
        name,
        (cur) => {
          const status = ((cur.status ??= {}) as { conditions?: Condition[]; acceptedNames?: unknown; storedVersions?: string[] });
          const old = status.conditions ?? [];
          status.conditions = wanted.map((w) => {
            const prev = old.find((c) => c.type === w.type);
            // Keep the transition time while the status does not change.
            return prev && prev.status === w.status ? { ...w, lastTransitionTime: prev.lastTransitionTime } : w;
          });
          if (!conflict) status.acceptedNames = { ...crd.spec.names };
          const stored = new Set(status.storedVersions ?? []);
          if (storage) stored.add(storage);
          status.storedVersions = [...stored];
          return cur;
        },
        { subresource: "status" },
      )
      .catch((err) => this.opts.logger.warn("could not update CRD status", { crd: name, err: (err as Error).message }));
    if (conflict) {
      this.opts.registry.unserve(name);
      return;
    }
    this.opts.registry.serve(
      name,
      crd.spec.versions
        .filter((v) => v.served)
        .map((v) => ({ resource: customResourceType(crd, v), strategy: customResourceStrategy(v), openapi: this.openapi(crd, v) })),
    );
  }

  /** The OpenAPI of a served version; a schema the builder cannot handle costs the version its OpenAPI, not its serving. */
  private openapi(crd: CustomResourceDefinition, v: CustomResourceDefinitionVersion): CustomOpenAPISpec | undefined {
    try {
      return customResourceOpenAPI(crd, v);
    } catch (err) {
      this.opts.logger.warn("could not build OpenAPI for CRD", { crd: crd.metadata?.name, version: v.name, err: (err as Error).message });
      return undefined;
    }
  }

  /** Deletes every custom resource of a CRD being deleted, then lets the CRD go. */
  private async finalize(obj: KObject, crd: CustomResourceDefinition): Promise<void> {
    const name = obj.metadata!.name!;
    if (!(obj.metadata?.finalizers ?? []).includes(CLEANUP_FINALIZER)) return;
    const storage = crd.spec.versions.find((v) => v.storage) ?? crd.spec.versions[0];
    let remaining = 0;
    if (storage) {
      // Serve the storage version for the cleanup even if it was not established.
      this.opts.registry.serve(name, [{ resource: customResourceType(crd, storage), strategy: customResourceStrategy(storage) }]);
      const store = this.opts.registry.objects(crd.spec.group, storage.name, crd.spec.names.plural);
      for (const item of (await store.list(undefined)).items) {
        const r = await store.delete(item.metadata?.namespace, item.metadata!.name!).catch(() => undefined);
        if (r && !r.deleted) remaining++;
      }
    }
    if (remaining > 0) return; // finalizers of custom resources still pending; the resync comes back
    this.opts.registry.unserve(name);
    await this.opts.crds
      .guaranteedUpdate(undefined, name, (cur) => {
        cur.metadata!.finalizers = (cur.metadata!.finalizers ?? []).filter((f) => f !== CLEANUP_FINALIZER);
        return cur;
      })
      .catch((err) => {
        if (!isNotFound(err)) this.opts.logger.warn("could not finalize CRD", { crd: name, err: (err as Error).message });
      });
  }
}
