/**
 * `skiff image push NAME:TAG`: sends an image `skiff image build` made to
 * the registry its name says, with buildah's copy progress. For the
 * cluster registry (`localhost:PORT/...`) the cluster CA is trusted and a
 * login password minted from the data dir, as for builds.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { readFileSync, rmSync } from "node:fs";
import { buildahFor, runStreaming } from "../image/buildah.js";
import { explainRegistryFailure, prepareRegistryAccess, registryHostOf } from "../image/registry-access.js";
import { formatReference, parseReference, repository } from "../runtime/images/reference.js";
import type { BuildIo } from "./image-build.js";

/** Flags of `skiff image push`. */
export interface ImagePushFlags {
  readonly dataDir: string;
  readonly creds?: string;
}

/** Pushes `name`; throws with a plain reason (not built, unreachable, unauthorized). */
export async function runImagePush(name: string, flags: ImagePushFlags, io: BuildIo): Promise<void> {
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(name);
  } catch (err) {
    throw new Error(`invalid image name ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  if (ref.digest) throw new Error(`push a tag, not a digest: ${name}`);
  const buildah = buildahFor(flags.dataDir, (l) => io.err(`skiff: ${l}\n`));
  // buildah keeps names as given; `app:1` is stored as localhost/app:1, so ask for the name the user gave.
  const known = spawnSync("buildah", [...buildah.globalArgs, "inspect", "--type", "image", "--format", "{{.FromImageID}}", name], {
    env: buildah.env,
    encoding: "utf8",
    timeout: 60_000,
  });
  if (known.status !== 0) {
    throw new Error(`image ${name} is not built here (${join(buildah.dir, "storage")}): build it first with skiff image build -t ${name} DIR`);
  }
  const host = registryHostOf(name);
  const access = await prepareRegistryAccess({ dataDir: flags.dataDir, hosts: [host], workDir: buildah.dir, ...(flags.creds ? { creds: flags.creds } : {}) });
  const digestFile = join(buildah.dir, `push-digest-${process.pid}`);
  try {
    const args = [...buildah.globalArgs, "push", "--retry", "0", "--digestfile", digestFile];
    if (access.certDir) args.push("--cert-dir", access.certDir);
    if (access.authFile) args.push("--authfile", access.authFile);
    if (flags.creds) args.push("--creds", flags.creds);
    args.push(name, `docker://${formatReference(ref)}`);
    const r = await runStreaming("buildah", args, { env: buildah.env, out: io.err, err: io.err });
    if (r.code !== 0) {
      const why = explainRegistryFailure(r.stderr, host);
      throw new Error(`push of ${name} failed${why ? `: ${why}` : ` (buildah exited with ${r.code})`}`);
    }
    let digest = "";
    try {
      digest = readFileSync(digestFile, "utf8").trim();
    } catch {
      // older buildah without --digestfile output: the name alone is still right
    }
    // REPO@DIGEST: the pinned name a manifest, skopeo or a pull can use as it is (a tag beside a digest is not for all).
    io.out(digest ? `${repository(ref)}@${digest}\n` : `${formatReference(ref)}\n`);
  } finally {
    rmSync(digestFile, { force: true });
    access.cleanup();
  }
}
