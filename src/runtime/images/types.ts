/**
 * The node's image store as the runc runtime sees it: the CRI
 * {@link ImageService} plus what creating a container needs from an image
 * (its unpacked root filesystem and its OCI config).
 */
import type { ImageService, RuntimeResult } from "../types.js";
import type { ImageGcOptions, ImageGcReport } from "./gc.js";

export type { ImageGcOptions, ImageGcReport } from "./gc.js";

/** The parts of an OCI image config (`config` of application/vnd.oci.image.config.v1+json) a container needs. */
export interface ImageRunConfig {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** `KEY=value` entries. */
  readonly env: readonly string[];
  readonly workingDir: string;
  /** `user`, `uid`, `user:group` or `uid:gid`, as in the image; "" for root. */
  readonly user: string;
  readonly stopSignal?: string;
  /** Paths declared as volumes in the image (informational). */
  readonly volumes: readonly string[];
}

/** An image resolved for running a container. */
export interface ResolvedImage {
  /** Image id: the config digest, `sha256:…` (what `imageID` reports in the repo-digest form when known). */
  readonly id: string;
  /** `repo@sha256:…` when the image was pulled by or recorded with a digest, else the id. */
  readonly imageRef: string;
  /**
   * Read-only directories, top-most first, to stack as overlayfs lowerdirs
   * for a container's root. They must never be written to.
   */
  readonly lowerDirs: readonly string[];
  readonly config: ImageRunConfig;
}

/** Progress of a pull, for the log ("pulled 12 MB of 40 MB"). */
export interface PullProgress {
  readonly image: string;
  readonly doneBytes: number;
  readonly totalBytes: number;
}

/** Credentials and options of a pull. */
export interface PullOptions {
  readonly auth?: import("../types.js").AuthConfig;
  readonly onProgress?: (p: PullProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * A content-addressed local image store (`<data-dir>/agent/images`), with
 * pulls from registries and imports from archives.
 */
export interface LocalImageStore extends ImageService {
  /** The image ready to run, or undefined when it is not present (or cannot be made ready: see resolveImage). */
  resolve(image: string): Promise<ResolvedImage | undefined>;
  /**
   * As {@link resolve}, telling "not present" (undefined) from "present but
   * unusable" (a failure, e.g. its content was damaged and cannot be unpacked).
   * Marks the image as used now (for image GC order).
   */
  resolveImage(image: string): Promise<RuntimeResult<ResolvedImage | undefined>>;
  /** Pull with progress and cancellation (ImageService.pullImage is this without options). */
  pull(image: string, opts?: PullOptions): Promise<RuntimeResult<string>>;
  /** Imports an OCI archive or docker-archive (tar, optionally gzip); resolves with the tags imported. */
  importArchive(file: string): Promise<RuntimeResult<readonly string[]>>;
  /**
   * Image garbage collection with the kubelet's semantics (85/80 thresholds
   * by default): removes unused images, least recently used first, until the
   * image filesystem is under the low threshold. Fails with ResourceExhausted
   * (the kubelet's message) when not enough was eligible.
   */
  garbageCollect(opts: ImageGcOptions): Promise<RuntimeResult<ImageGcReport>>;
}
