/**
 * Static bearer tokens from a file, as kube-apiserver's `--token-auth-file`:
 * CSV lines `token,user,uid[,"group1,group2"]`. Read once at start, as
 * upstream (changing it needs a restart).
 */
import { readFileSync } from "node:fs";
import type { UserInfo } from "./authn.js";

/** One CSV record: fields split on commas, with double-quoted fields that may hold commas. */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/**
 * Parses a token file into token → user. Throws with upstream's wording for
 * a record of fewer than 3 columns; blank lines are skipped.
 */
export function parseTokenFile(text: string, path: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "") return;
    const f = csvFields(line).map((s) => s.trim());
    if (f.length < 3) throw new Error(`token file '${path}' must have at least 3 columns (token, user name, user uid), found ${f.length} on line ${i + 1}`);
    const [token, username, uid, groups] = f as [string, string, string, string | undefined];
    if (token === "") throw new Error(`token file '${path}': line ${i + 1} has an empty token`);
    tokens.set(token, { username, uid, groups: groups ? groups.split(",").map((g) => g.trim()).filter(Boolean) : [] });
  });
  return tokens;
}

/** Reads `--token-auth-file`; errors say which file and why. */
export function loadTokenFile(path: string): Map<string, UserInfo> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`--token-auth-file ${path}: ${(err as Error).message}`);
  }
  return parseTokenFile(text, path);
}

