/**
 * `skiff image build`: a Dockerfile built with buildah set up for this host
 * (see src/image/buildah.ts): storage under `<data-dir>/build/`, the layer
 * cache on, multi-stage builds, RUN steps in runc containers on the host's
 * network, and the cluster registry (`localhost:PORT`) trusted and logged
 * in automatically, so `FROM localhost:5000/...` and `FROM scratch` need no
 * internet and no login.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { buildahFor, runStreaming } from "../image/buildah.js";
import { dockerfileImages, isShortName } from "../image/dockerfile-from.js";
import { explainRegistryFailure, localRegistryHostsIn, prepareRegistryAccess } from "../image/registry-access.js";
import { tryParseReference } from "../runtime/images/reference.js";

/** Flags of `skiff image build`. */
export interface ImageBuildFlags {
  readonly dataDir: string;
  readonly tag?: readonly string[];
  readonly file?: string;
  readonly buildArg?: readonly string[];
  readonly target?: string;
  readonly cache?: boolean;
  readonly creds?: string;
  readonly isolation?: string;
}

/** Where build and push write (tests pass their own). */
export interface BuildIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The Dockerfile of a build: `-f` (relative to the working directory, as docker does) or DIR/Dockerfile, else DIR/Containerfile. */
export function dockerfileOf(dir: string, file: string | undefined): string {
  if (file) return resolve(file);
  for (const name of ["Dockerfile", "Containerfile"]) if (existsSync(join(dir, name))) return join(dir, name);
  return join(dir, "Dockerfile");
}

/** Builds `dir`; throws with a plain reason when buildah fails. */
export async function runImageBuild(dir: string, flags: ImageBuildFlags, io: BuildIo): Promise<void> {
  const context = resolve(dir);
  if (!existsSync(context)) throw new Error(`build context ${dir} does not exist`);
  const dockerfile = dockerfileOf(context, flags.file);
  if (!existsSync(dockerfile)) throw new Error(`no Dockerfile: ${dockerfile} does not exist (pass -f FILE)`);
  const tags = flags.tag ?? [];
  for (const t of tags) if (!tryParseReference(t)) throw new Error(`invalid tag ${JSON.stringify(t)}: expected NAME[:TAG], e.g. localhost:5000/team/app:1`);
  const buildArgs = flags.buildArg ?? [];
  for (const a of buildArgs) if (!/^[A-Za-z_][\w]*=/.test(a) && !/^[A-Za-z_][\w]*$/.test(a)) throw new Error(`invalid --build-arg ${JSON.stringify(a)}: expected KEY=VALUE`);

  const text = readFileSync(dockerfile, "utf8");
  const short = dockerfileImages(text, buildArgs).filter((i) => isShortName(i.image));
  if (short.length > 0) {
    const list = short.map((i) => `${i.image} (line ${i.line})`).join(", ");
    throw new Error(
      `${dockerfile}: ${list}: a short image name has no registry to come from here; name images fully, e.g. localhost:5000/skiff/debian:bookworm (made by skiff image base), or use FROM scratch`,
    );
  }
  const buildah = buildahFor(flags.dataDir, (l) => io.err(`skiff: ${l}\n`));
  // The local registries this build pulls from (FROM lines, build args) or is tagged for.
  const hosts = localRegistryHostsIn([text, ...buildArgs, ...tags]);
  const access = await prepareRegistryAccess({
    dataDir: flags.dataDir,
    hosts,
    workDir: buildah.dir,
    ...(flags.creds ? { creds: flags.creds } : {}),
  });
  try {
    const args = [...buildah.globalArgs, "build", "--layers", "--isolation", flags.isolation ?? "oci", "--runtime", "runc", "--network", "host"];
    if (access.certDir) args.push("--cert-dir", access.certDir);
    if (access.authFile) args.push("--authfile", access.authFile);
    if (flags.creds) args.push("--creds", flags.creds);
    for (const t of tags) args.push("-t", t);
    args.push("-f", dockerfile);
    for (const a of buildArgs) args.push("--build-arg", a);
    if (flags.target) args.push("--target", flags.target);
    if (flags.cache === false) args.push("--no-cache");
    args.push(context);
    const r = await runStreaming("buildah", args, { env: buildah.env, out: io.out, err: io.err });
    if (r.code !== 0) {
      const why = explainRegistryFailure(r.stderr, hosts.length === 1 ? hosts[0] : undefined);
      throw new Error(`image build failed (buildah exited with ${r.code})${why ? `: ${why}` : ""}`);
    }
  } finally {
    access.cleanup();
  }
}

/** Options repeated on the command line (`-t a -t b`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
