/** Which resources are stored in another version's shape, and how to convert. */
import { coreToEventsV1, eventsV1ToCore } from "../../api/conversion/events.js";
import { hpaV1ToV2, hpaV2ToV1 } from "../../api/conversion/hpa.js";
import type { ResourceType } from "../../api/resources.js";
import type { Codec, KObject } from "./types.js";

const EVENTS_V1: Codec = {
  decode: (stored) => coreToEventsV1(stored) as KObject,
  encode: (served) => eventsV1ToCore(served) as KObject,
};

const HPA_V1: Codec = {
  decode: (stored) => hpaV2ToV1(stored) as KObject,
  encode: (served) => hpaV1ToV2(served) as KObject,
};

/** The codec of a resource, or undefined when it is stored as served. */
export function codecFor(r: ResourceType): Codec | undefined {
  if (r.group === "events.k8s.io" && r.plural === "events") return EVENTS_V1;
  if (r.group === "autoscaling" && r.version === "v1" && r.plural === "horizontalpodautoscalers") return HPA_V1;
  return undefined;
}
