/**
 * What skiff's local-path provisioner makes and removes, as Rancher's
 * local-path-provisioner (the one k3s ships) does: a claim gets the
 * directory `<storageDir>/<pv>_<namespace>_<claim>` on the node the
 * scheduler chose, served by a PersistentVolume pinned to that node
 * (`kubernetes.io/hostname` In [node]), a `hostPath` of type
 * DirectoryOrCreate unless the class (`defaultVolumeType`) or claim
 * (`volumeType`) annotation asks for a `local` one.
 *
 * Where the directory is made: upstream runs a helper pod on the node.
 * skiff has no helper image every node holds, so the provisioner works on
 * the filesystem it shares with one node only, the server's own
 * (`localNodeName`): there it makes the directory (mode 0777, as the
 * helper's `mkdir -m 0777 -p`) before the PV exists and removes it when the
 * volume is deleted. For any other node the hostPath DirectoryOrCreate PV
 * is enough to make it — that node's kubelet creates the directory when a
 * pod first mounts it — but nothing here can remove it later: deleting
 * such a volume deletes the PV object and reports (event and log) the
 * directory left on the node. A `local` PV, which the kubelet does not
 * create, is only provisioned on the server's own node.
 */
import { chmod, mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { Node, PersistentVolume, PersistentVolumeClaim, PersistentVolumeSpec } from "kubernetes-types/core/v1.js";
import type { StorageClass } from "kubernetes-types/storage/v1.js";
import { LabelHostname } from "../volume/annotations.js";

/** On the PV: the node it was provisioned for (local-path-provisioner's annotation). */
export const AnnProvisionerSelectedNode = "local.path.provisioner/selected-node";
/** On the class: the default volume type (`hostPath` or `local`). */
export const AnnDefaultVolumeType = "defaultVolumeType";
/** On the claim: the volume type it wants. */
export const AnnVolumeType = "volumeType";

/** The filesystem calls the provisioner makes (tests replace them). */
export interface LocalPathFs {
  /** `mkdir -m 0777 -p`. */
  makeDirectory(path: string): Promise<void>;
  /** `rm -rf`. */
  removeDirectory(path: string): Promise<void>;
}

export const nodeFs: LocalPathFs = {
  async makeDirectory(path) {
    await mkdir(path, { recursive: true });
    // mkdir's mode is cut by the umask; the helper's `mkdir -m` is not.
    await chmod(path, 0o777);
  },
  async removeDirectory(path) {
    await rm(path, { recursive: true, force: true });
  },
};

/** Options of a {@link LocalPathProvisioner}. */
export interface LocalPathProvisionerOptions {
  /** Where volumes' directories live on every node (`<data-dir>/storage`). */
  readonly storageDir: string;
  /** The node whose filesystem this process shares (the server's own), if any. */
  readonly localNodeName?: string;
  readonly fs?: LocalPathFs;
}

/** What provisioning asks for (sig-storage-lib-external-provisioner's ProvisionOptions). */
export interface ProvisionOptions {
  readonly storageClass: StorageClass;
  readonly pvName: string;
  readonly pvc: PersistentVolumeClaim;
  readonly selectedNode?: Node;
}

/** A provisioned volume, or why not (always final: the scheduler's node choice stands). */
export type ProvisionResult = { readonly ok: true; readonly pv: PersistentVolume } | { readonly ok: false; readonly error: string };

/** What deleting did: removed the directory here, or left it on another node. */
export type DeleteResult = { readonly removed: string } | { readonly leftOn: string; readonly path: string };

export class LocalPathProvisioner {
  private readonly fs: LocalPathFs;
  private readonly storageDir: string;

  constructor(private readonly opts: LocalPathProvisionerOptions) {
    this.fs = opts.fs ?? nodeFs;
    this.storageDir = resolve(opts.storageDir);
  }

  /** provisionFor: checks the claim, makes the directory when the node is ours, returns the PV to create. */
  async provision(o: ProvisionOptions): Promise<ProvisionResult> {
    const pvc = o.pvc;
    if (pvc.spec?.selector) return fail("claim.Spec.Selector is not supported");
    for (const mode of pvc.spec?.accessModes ?? []) {
      if (mode !== "ReadWriteOnce" && mode !== "ReadWriteOncePod") return fail("NodePath only supports ReadWriteOnce and ReadWriteOncePod (1.22+) access modes");
    }
    const node = o.selectedNode;
    if (!node) return fail("configuration error, no node was specified");
    if (pvc.spec?.volumeMode === "Block") return fail("local-path volumes are directories: volumeMode Block is not supported");
    const request = pvc.spec?.resources?.requests?.storage;
    if (request === undefined) return fail("the claim requests no storage (spec.resources.requests.storage)");
    const nodeName = node.metadata?.name ?? "";
    const path = join(this.storageDir, [o.pvName, pvc.metadata?.namespace ?? "", pvc.metadata?.name ?? ""].join("_"));
    const volumeType = pvc.metadata?.annotations?.[AnnVolumeType] ?? o.storageClass.metadata?.annotations?.[AnnDefaultVolumeType] ?? "hostPath";
    let source: Pick<PersistentVolumeSpec, "hostPath" | "local">;
    switch (volumeType.toLowerCase()) {
      case "hostpath":
        source = { hostPath: { path, type: "DirectoryOrCreate" } };
        break;
      case "local":
        if (nodeName !== this.opts.localNodeName) {
          return fail(
            `volumeType "local" needs its directory made on node ${JSON.stringify(nodeName)} before use, and skiff's local-path provisioner can only make ` +
              `directories on the server's own node${this.opts.localNodeName ? ` (${JSON.stringify(this.opts.localNodeName)})` : ""}; use volumeType hostPath`,
          );
        }
        source = { local: { path } };
        break;
      default:
        return fail(`failed to create persistent volume source: ${JSON.stringify(volumeType)} is not a recognised volume type`);
    }
    if (nodeName === this.opts.localNodeName) {
      try {
        await this.fs.makeDirectory(path);
      } catch (err) {
        return fail(`failed to make ${path}: ${(err as Error).message}`);
      }
    }
    // The hostname label is what the kubelet and scheduler match; upstream falls back to the name.
    const hostname = node.metadata?.labels?.[LabelHostname] ?? nodeName;
    const pv: PersistentVolume = {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: o.pvName, annotations: { [AnnProvisionerSelectedNode]: nodeName } },
      spec: {
        persistentVolumeReclaimPolicy: o.storageClass.reclaimPolicy ?? "Delete",
        accessModes: [...(pvc.spec?.accessModes ?? [])],
        volumeMode: "Filesystem",
        capacity: { storage: request },
        ...source,
        nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: LabelHostname, operator: "In", values: [hostname] }] }] } },
      },
    };
    return { ok: true, pv };
  }

  /** deleteFor: removes the volume's directory when its node is ours; says where it was left otherwise. Throws on a PV it cannot place. */
  async delete(pv: PersistentVolume): Promise<DeleteResult> {
    const name = pv.metadata?.name ?? "";
    const { path, node } = pathAndNodeOf(pv);
    const nodeName = pv.metadata?.annotations?.[AnnProvisionerSelectedNode] ?? node;
    if (nodeName !== this.opts.localNodeName) return { leftOn: nodeName, path };
    // Only ever a direct child of the storage directory: a PV edited to point elsewhere is refused.
    if (dirname(resolve(path)) !== this.storageDir) {
      throw new Error(`failed to delete volume ${name}: ${path} is not in the storage directory ${this.storageDir}`);
    }
    try {
      await this.fs.removeDirectory(resolve(path));
    } catch (err) {
      throw new Error(`failed to delete volume ${name}: ${(err as Error).message}`);
    }
    return { removed: path };
  }
}

function fail(error: string): ProvisionResult {
  return { ok: false, error };
}

/** getPathAndNodeForPV: the volume's directory and the node its affinity names. */
export function pathAndNodeOf(pv: PersistentVolume): { path: string; node: string } {
  const name = pv.metadata?.name ?? "";
  const err = (m: string) => new Error(`failed to delete volume ${name}: ${m}`);
  const spec = pv.spec ?? {};
  let path: string;
  if (spec.hostPath && !spec.local) path = spec.hostPath.path;
  else if (spec.local && !spec.hostPath) path = spec.local.path;
  else throw err("no path set");
  const required = spec.nodeAffinity?.required;
  if (!spec.nodeAffinity) throw err("no NodeAffinity set");
  if (!required) throw err("no NodeAffinity.Required set");
  for (const term of required.nodeSelectorTerms ?? []) {
    for (const e of term.matchExpressions ?? []) {
      if (e.key !== LabelHostname || e.operator !== "In") continue;
      if ((e.values ?? []).length !== 1) throw err("multiple values for the node affinity");
      return { path, node: e.values![0]! };
    }
  }
  throw err("cannot find affinited node");
}
