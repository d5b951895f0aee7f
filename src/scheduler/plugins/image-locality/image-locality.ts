/**
 * ImageLocality (Score): prefers nodes that already have the pod's images,
 * weighting each image by its size and by how widely it is spread (an image
 * on every node says little), between 23 MB and 1000 MB per container.
 */
import type { Pod } from "kubernetes-types/core/v1.js";
import type { CycleState } from "../../framework/cycle-state.js";
import type { ImageStateSummary, NodeInfo } from "../../framework/node-info.js";
import type { PluginRegistration } from "../../framework/registry.js";
import type { Status } from "../../framework/status.js";
import { type Handle, MaxNodeScore, type ScoreExtensions, type ScorePlugin } from "../../framework/types.js";
import { Names } from "../names.js";

const mb = 1024 * 1024;
/** Below this total the score is 0, so small images do not decide placement. */
export const minThreshold = 23 * mb;
/** Per container; at or above it the score is MaxNodeScore. */
export const maxContainerThreshold = 1000 * mb;

/** normalizedImageName: "nginx" → "nginx:latest"; names with a tag or digest are kept. */
export function normalizedImageName(name: string): string {
  if (name.lastIndexOf(":") <= name.lastIndexOf("/")) return `${name}:latest`;
  return name;
}

function scaledImageScore(state: ImageStateSummary, totalNumNodes: number): number {
  const spread = state.numNodes / totalNumNodes;
  return Math.trunc(state.size * spread);
}

/** The pod's normalized image names, init containers first. */
export function podImageNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) out.push(normalizedImageName(c.image ?? ""));
  for (const c of pod.spec?.containers ?? []) out.push(normalizedImageName(c.image ?? ""));
  return out;
}

/** sumImageScores over init and regular containers whose image the node has. */
export function sumImageScores(nodeInfo: NodeInfo, images: readonly string[], totalNumNodes: number): number {
  let sum = 0;
  for (const image of images) {
    const state = nodeInfo.imageStates.get(image);
    if (state) sum += scaledImageScore(state, totalNumNodes);
  }
  return sum;
}

/** calculatePriority: the clamped sum mapped linearly onto [0, MaxNodeScore]. */
export function calculatePriority(sumScores: number, numContainers: number): number {
  const maxThreshold = maxContainerThreshold * numContainers;
  let s = sumScores;
  if (s < minThreshold) s = minThreshold;
  else if (s > maxThreshold) s = maxThreshold;
  return Math.trunc((MaxNodeScore * (s - minThreshold)) / (maxThreshold - minThreshold));
}

export class ImageLocality implements ScorePlugin {
  readonly name = Names.ImageLocality;

  // Score runs once per node for the same pod: normalize its image names once.
  private lastPod: Pod | undefined;
  private lastImages: string[] = [];

  constructor(private readonly handle: Handle) {}

  score(_state: CycleState, pod: Pod, nodeInfo: NodeInfo): number | Status {
    if (pod !== this.lastPod) {
      this.lastPod = pod;
      this.lastImages = podImageNames(pod);
    }
    const totalNumNodes = this.handle.snapshotSharedLister().nodeInfos().list().length;
    return calculatePriority(sumImageScores(nodeInfo, this.lastImages, totalNumNodes), this.lastImages.length);
  }

  scoreExtensions(): ScoreExtensions | null {
    return null;
  }
}

export const imageLocalityRegistration: PluginRegistration = { factory: (_args, handle) => new ImageLocality(handle) };
