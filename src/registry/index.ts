/** The cluster image registry: {@link startRegistry} and {@link mintLoginPassword}. */
export { DEFAULT_LOGIN_TTL_SECONDS, LOGIN_USERNAME, mintLoginPassword, SERVICE, type SigningKey } from "./auth.js";
export type { GcResult } from "./gc.js";
export { type RegistryOptions, type RunningRegistry, startRegistry } from "./server.js";
export {
  LOCAL_REGISTRY_HOSTING,
  type LocalRegistryHostingV1,
  localRegistryHost,
  localRegistryHosting,
  localRegistryHostingConfigMap,
  localRegistryPort,
  parseLocalRegistryHosting,
} from "./hosting.js";
