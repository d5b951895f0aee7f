/**
 * The OpenAPI of the custom resources being served, per
 * CustomResourceDefinition, for documents.ts to merge into /openapi/v2 and
 * /openapi/v3 (as upstream's apiextensions OpenAPI controllers feed
 * kube-openapi's services). The API server sets a CRD's specs when it starts
 * serving it and removes them when it stops; documents.ts rebuilds what it
 * derived from them only when {@link CustomOpenAPISpecs.generation} moves.
 */
import type { JsonObject } from "./documents.js";
import type { PathItem } from "./paths.js";

/** The OpenAPI of one served version of a CRD (apiextensions' builder output for one version). */
export interface CustomOpenAPISpec {
  /** The /openapi/v3 document the paths belong to: `apis/<group>/<version>`. */
  readonly groupVersion: string;
  /** The REST operations, in the protocol-neutral model of paths.ts. */
  readonly paths: readonly PathItem[];
  /** The kind's and its list's schemas in OpenAPI v2 form (`#/definitions/` refs), by definition name. */
  readonly definitions: Readonly<Record<string, JsonObject>>;
  /** The same schemas in OpenAPI v3 form (`#/components/schemas/` refs), by component name. */
  readonly schemas: Readonly<Record<string, JsonObject>>;
}

/** The custom resources' OpenAPI, by CRD name. */
export class CustomOpenAPISpecs {
  private readonly byCrd = new Map<string, { key: string; specs: readonly CustomOpenAPISpec[] }>();
  private gen = 0;

  /** Moves whenever the set of specs changes; derived documents are stale when it differs. */
  get generation(): number {
    return this.gen;
  }

  /** True when no CRD contributes anything (the documents are the built-in ones). */
  get empty(): boolean {
    return this.byCrd.size === 0;
  }

  /**
   * Publishes exactly `specs` for `crdName` (an empty list removes it).
   * Setting what is already published changes nothing, so the CRD
   * controller's periodic resync does not invalidate the documents.
   */
  set(crdName: string, specs: readonly CustomOpenAPISpec[]): void {
    if (specs.length === 0) {
      this.delete(crdName);
      return;
    }
    const key = JSON.stringify(specs);
    if (this.byCrd.get(crdName)?.key === key) return;
    this.byCrd.set(crdName, { key, specs });
    this.gen++;
  }

  /** Stops publishing `crdName`'s specs. */
  delete(crdName: string): void {
    if (this.byCrd.delete(crdName)) this.gen++;
  }

  /** Every published spec, grouped by /openapi/v3 document, CRDs in name order. */
  byGroupVersion(): Map<string, CustomOpenAPISpec[]> {
    const out = new Map<string, CustomOpenAPISpec[]>();
    for (const name of [...this.byCrd.keys()].sort()) {
      for (const spec of this.byCrd.get(name)!.specs) {
        const list = out.get(spec.groupVersion) ?? [];
        list.push(spec);
        out.set(spec.groupVersion, list);
      }
    }
    return out;
  }
}
