/**
 * skiff's client library (the client-go of this repo): every component but
 * the API server talks to the cluster through these.
 */
export { type ClientConfig, type ConfigFiles, configFromFiles, configFromKubeconfig } from "./config.js";
export {
  EventRecorder,
  type EventRecorderOptions,
  type EventSink,
  type EventSubject,
  type EventType,
  eventName,
  isomorphicKey,
  referenceOf,
  restEventSink,
} from "./event-recorder.js";
export {
  type EventHandlers,
  type HandlerRegistration,
  InformerFactory,
  type InformerFactoryOptions,
  type InformerOptions,
  type InformerScope,
  SharedInformer,
} from "./informer.js";
export { type LeaderCallbacks, type LeaderElectionOptions, LeaderElector, type LeaseApi } from "./leader-election.js";
export { formatMicroTime, parseMicroTime } from "./micro-time.js";
export {
  BucketRateLimiter,
  defaultControllerRateLimiter,
  ItemExponentialFailureRateLimiter,
  MaxOfRateLimiter,
  type RateLimiter,
} from "./rate-limiter.js";
export {
  type DeleteOptions,
  type KubeList,
  type KubeObject,
  type ListerWatcher,
  type ListOptions,
  type PatchOptions,
  type PatchType,
  ResourceClient,
  type ResourceDescriptor,
  type SubresourceOptions,
  type WatchOptions,
  type WriteOptions,
} from "./resource-client.js";
export * from "./resources.js";
export { encodeQuery, type Query, type QueryValue, type RequestOptions, RestClient, type RestClientOptions, statusFromResponse } from "./rest-client.js";
export { type IndexFunc, Indexer, NAMESPACE_INDEX, namespaceIndexFunc, objectKey, splitKey } from "./store.js";
export { FakeTimers, sleepOn, systemTimers, type Timers } from "./timers.js";
export { TokenBucket } from "./token-bucket.js";
export { decodeWatchStream, isExpired, LineSplitter, parseWatchLine, type WatchEvent, type WatchEventType, WatchExpiredError } from "./watch.js";
export { WorkQueue, type WorkQueueOptions } from "./work-queue.js";
