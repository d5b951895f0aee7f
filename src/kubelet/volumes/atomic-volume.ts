/**
 * The common SetUp of volumes whose content comes from the API
 * (configMap, secret, projected, downwardAPI): a wrapped emptyDir (disk
 * for configMap, memory for the others, as upstream), the files written by
 * the AtomicWriter, the pod's fsGroup applied before they become visible.
 * Called again on every pod sync so the files follow the objects.
 */
import { setUpEmptyDirAt } from "./empty-dir.js";
import { atomicWrite, type Payload } from "./atomic-writer.js";
import { goError } from "./go-errors.js";
import { setVolumeOwnership } from "./ownership.js";
import type { ManagedPlugin } from "./paths.js";
import { type PluginContext, type SetUpResult, setUpFailed } from "./plugin.js";

/** Default file mode when a source has none (the API defaults defaultMode to 0644). */
export const DEFAULT_MODE = 0o644;

/** Writes `payload` as volume `name` of `plugin` (see the file comment). */
export async function writeAtomicVolume(ctx: PluginContext, plugin: ManagedPlugin, name: string, payload: Payload): Promise<SetUpResult> {
  const wrapper = await setUpEmptyDirAt(ctx, plugin, name, { medium: plugin === "configMap" ? "" : "Memory" });
  if (!wrapper.ok) return wrapper;
  const dir = wrapper.volume.path;
  const sc = ctx.pod.spec?.securityContext;
  const written = await atomicWrite(dir, payload, {
    now: new Date(ctx.now()),
    setPerms: async () => {
      try {
        await setVolumeOwnership(dir, sc?.fsGroup, true, sc?.fsGroupChangePolicy);
      } catch (e) {
        throw new Error(goError(e));
      }
    },
  });
  if (!written.ok) return setUpFailed(written.message);
  return { ok: true, volume: { path: dir, readOnly: true, remount: true } };
}
