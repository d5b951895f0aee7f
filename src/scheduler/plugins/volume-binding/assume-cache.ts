/**
 * AssumeCache (scheduler/util/assumecache, simplified): an informer lister
 * overlaid with objects the scheduler has assumed (a PV prebound to a claim,
 * a claim annotated with its node) until the API reports a newer version,
 * so pods scheduled meanwhile do not pick the same volume.
 */
interface Meta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

/** Compares resourceVersions numerically when both are integers (etcd's are); else only equality is known. */
export function compareResourceVersion(a: string | undefined, b: string | undefined): number {
  const x = a ?? "";
  const y = b ?? "";
  if (/^\d+$/.test(x) && /^\d+$/.test(y)) {
    const d = BigInt(x) - BigInt(y);
    return d > 0n ? 1 : d < 0n ? -1 : 0;
  }
  return x === y ? 0 : 1;
}

export class AssumeCache<T extends Meta> {
  /** key → the assumed object and the API object's resourceVersion it was made from. */
  private readonly assumed = new Map<string, { obj: T; apiVersion: string | undefined }>();

  constructor(
    /** The informer's current object, by key. */
    private readonly getAPIObj: (key: string) => T | undefined,
    private readonly listAPIObjs: () => T[],
    private readonly keyOf: (obj: T) => string,
    /** "v1.PersistentVolume", for messages. */
    private readonly description: string,
  ) {}

  /** Get: the assumed object while the API has nothing newer, else the API object. */
  get(key: string): T | undefined {
    const api = this.getAPIObj(key);
    const a = this.assumed.get(key);
    if (!a) return api;
    if (!api || api.metadata?.resourceVersion !== a.apiVersion) {
      // The informer caught up (or the object went away): the API object wins.
      this.assumed.delete(key);
      return api;
    }
    return a.obj;
  }

  /** GetAPIObj: the informer's object, ignoring assumptions. */
  getAPI(key: string): T | undefined {
    return this.getAPIObj(key);
  }

  /** The not-found message of a Get. */
  notFound(key: string): string {
    return `could not find ${this.description} ${JSON.stringify(key)}`;
  }

  /** Assume: overlay `obj` (a modified copy of the current object); an error message when it is stale. */
  assume(obj: T): string | undefined {
    const key = this.keyOf(obj);
    const current = this.get(key);
    if (!current) return this.notFound(key);
    if (compareResourceVersion(obj.metadata?.resourceVersion, current.metadata?.resourceVersion) < 0) {
      return `${this.description} ${JSON.stringify(key)} is out of sync (stored: ${current.metadata?.resourceVersion}, assume: ${obj.metadata?.resourceVersion})`;
    }
    this.assumed.set(key, { obj, apiVersion: this.getAPIObj(key)?.metadata?.resourceVersion });
    return undefined;
  }

  /** Restore: drop the assumption, back to the API object. */
  restore(key: string): void {
    this.assumed.delete(key);
  }

  /** Every object (assumed ones in place of theirs) passing `keep`. */
  list(keep: (obj: T) => boolean): T[] {
    const out: T[] = [];
    for (const api of this.listAPIObjs()) {
      const obj = this.assumed.size > 0 ? (this.get(this.keyOf(api)) ?? api) : api;
      if (keep(obj)) out.push(obj);
    }
    return out;
  }
}
