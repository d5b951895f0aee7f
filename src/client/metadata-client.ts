/**
 * Metadata-only list and watch (client-go's metadata client): the server
 * answers `as=PartialObjectMetadata(List)`, so a controller that needs only
 * names, uids, owners and finalizers of every object (the garbage
 * collector) does not hold every pod's spec and status in memory.
 */
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { StatusError } from "../machinery/status-error.js";
import type { KubeList, ListerWatcher, ListOptions, ResourceDescriptor, WatchOptions } from "./resource-client.js";
import { ResourceClient } from "./resource-client.js";
import type { RestClient } from "./rest-client.js";
import { decodeWatchStream, type WatchEvent, WatchExpiredError } from "./watch.js";

/** An object's metadata with its type, as the server sends it. */
export interface PartialObjectMetadata {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

const LIST_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
const WATCH_ACCEPT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";

/** List and watch of one resource's metadata; a {@link ListerWatcher} for informers. */
export class MetadataClient implements ListerWatcher<PartialObjectMetadata> {
  private readonly paths: ResourceClient<PartialObjectMetadata>;

  constructor(
    private readonly rest: RestClient,
    readonly descriptor: ResourceDescriptor,
  ) {
    this.paths = new ResourceClient(rest, descriptor);
  }

  list(opts: ListOptions = {}): Promise<KubeList<PartialObjectMetadata>> {
    return this.rest.request<KubeList<PartialObjectMetadata>>("GET", this.paths.collectionPath(), {
      query: {
        labelSelector: opts.labelSelector || undefined,
        fieldSelector: opts.fieldSelector || undefined,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
      },
      headers: { Accept: LIST_ACCEPT },
      signal: opts.signal,
    });
  }

  async *watch(opts: WatchOptions = {}, signal?: AbortSignal): AsyncGenerator<WatchEvent<PartialObjectMetadata>> {
    if (signal?.aborted) return;
    let res: Awaited<ReturnType<RestClient["stream"]>> | undefined;
    try {
      try {
        res = await this.rest.stream("GET", this.paths.collectionPath(), {
          query: {
            watch: "1",
            allowWatchBookmarks: opts.allowWatchBookmarks === false ? undefined : "true",
            resourceVersion: opts.resourceVersion,
            timeoutSeconds: opts.timeoutSeconds,
            labelSelector: opts.labelSelector || undefined,
            fieldSelector: opts.fieldSelector || undefined,
          },
          headers: { Accept: WATCH_ACCEPT },
          signal,
        });
      } catch (err) {
        if (err instanceof StatusError && err.code === 410 && !(err instanceof WatchExpiredError)) throw new WatchExpiredError(err.status);
        throw err;
      }
      res.setEncoding("utf8");
      yield* decodeWatchStream<PartialObjectMetadata>(res);
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    } finally {
      res?.destroy();
    }
  }
}
