/**
 * Resolves an image's `User` (`name`, `uid`, `name:group`, `uid:gid`) to
 * numeric ids through the container's own /etc/passwd and /etc/group, as
 * containerd and CRI-O do. Paths are resolved inside the root filesystem
 * (symlinks cannot lead out of it), because the image is untrusted.
 */
import { lstatSync, readFileSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";

/** The numeric identity of the container's process (OCI `process.user`). */
export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
}

/**
 * The host path of `path` inside `rootfs`, following symlinks as if
 * `rootfs` were `/` (absolute links and `..` stay inside). Undefined when
 * a component is missing or the links loop.
 */
export function resolveInRoot(rootfs: string, path: string): string | undefined {
  const pending = path.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const host = join(rootfs, ...done, part);
    let st: Stats;
    try {
      st = lstatSync(host);
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) return undefined;
      const target = readlinkSync(host);
      if (target.startsWith("/")) done.length = 0;
      pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    done.push(part);
  }
  return join(rootfs, ...done);
}

function readInRoot(rootfs: string, path: string): string | undefined {
  const host = resolveInRoot(rootfs, path);
  if (!host) return undefined;
  try {
    return readFileSync(host, "utf8");
  } catch {
    return undefined;
  }
}

interface PasswdEntry {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

interface GroupEntry {
  readonly name: string;
  readonly gid: number;
  readonly members: readonly string[];
}

function parsePasswd(text: string | undefined): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    if (line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) });
  }
  return out;
}

function parseGroup(text: string | undefined): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of (text ?? "").split("\n")) {
    if (line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 3 || !/^\d+$/.test(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: (f[3] ?? "").split(",").filter(Boolean) });
  }
  return out;
}

const isNumeric = (s: string) => /^\d+$/.test(s);

/** Resolves `spec` (the image's User; "" means root) inside `rootfs`, or explains why it cannot. */
export function resolveUser(rootfs: string, spec: string): { ok: true; user: ResolvedUser } | { ok: false; message: string } {
  const [userPart = "", groupPart] = spec.split(":", 2) as [string?, string?];
  const passwd = parsePasswd(readInRoot(rootfs, "/etc/passwd"));
  const groups = parseGroup(readInRoot(rootfs, "/etc/group"));

  let uid: number;
  let gid = 0;
  let name: string | undefined;
  if (userPart === "") {
    uid = 0;
    name = passwd.find((p) => p.uid === 0)?.name;
  } else if (isNumeric(userPart)) {
    uid = Number(userPart);
    const entry = passwd.find((p) => p.uid === uid);
    // A uid the image does not list runs with gid 0, as containerd does.
    if (entry) {
      gid = entry.gid;
      name = entry.name;
    }
  } else {
    const entry = passwd.find((p) => p.name === userPart);
    if (!entry) return { ok: false, message: `unable to find user ${userPart}: no matching entries in passwd file` };
    uid = entry.uid;
    gid = entry.gid;
    name = entry.name;
  }
  if (groupPart !== undefined && groupPart !== "") {
    if (isNumeric(groupPart)) gid = Number(groupPart);
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (!g) return { ok: false, message: `unable to find group ${groupPart}: no matching entries in group file` };
      gid = g.gid;
    }
  }
  const additional = name ? groups.filter((g) => g.members.includes(name!) && g.gid !== gid).map((g) => g.gid) : [];
  return { ok: true, user: { uid, gid, additionalGids: [...new Set(additional)] } };
}
