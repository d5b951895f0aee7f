import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Command } from "commander";
import { buildTestImage, tempDir } from "../../test/support/test-images.js";
import { humanSize, registerImage, shortId } from "./image.js";

const dir = tempDir("cli-image");
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<string> {
  let out = "";
  const program = new Command("skiff").exitOverride();
  registerImage(program, { out: (t) => void (out += t) });
  await program.parseAsync(["node", "skiff", ...args]);
  return out;
}

describe("skiff image", () => {
  it("formats sizes and ids as crictl", () => {
    assert.equal(humanSize(0), "0B");
    assert.equal(humanSize(999), "999B");
    assert.equal(humanSize(1000), "1kB");
    assert.equal(humanSize(1_056_862), "1.06MB");
    assert.equal(humanSize(772_300), "772kB");
    assert.equal(humanSize(2_000_000_000), "2GB");
    assert.equal(shortId(`sha256:${"0123456789ab".repeat(5)}abcd`), "0123456789ab");
  });

  it("imports archives and lists them in crictl's columns", async () => {
    const dataDir = join(dir, "data");
    const oci = buildTestImage({ dir, name: "skiff.test/busybox:1.0" });
    const docker = buildTestImage({ dir, name: "tools:2", format: "docker", gzipArchive: true, cmd: ["true"] });
    const imported = await run(["image", "import", "--data-dir", dataDir, oci.path, docker.path]);
    assert.equal(
      imported,
      `unpacking skiff.test/busybox:1.0 (${oci.id})...done\nunpacking docker.io/library/tools:2 (${docker.id})...done\n`,
    );
    const ls = await run(["image", "ls", "--data-dir", dataDir]);
    const lines = ls.trimEnd().split("\n");
    assert.equal(lines[0], "IMAGE                     TAG                 IMAGE ID            SIZE");
    assert.match(lines[1]!, new RegExp(`^docker\\.io/library/tools {3}2 {19}${shortId(docker.id)} {8}\\d[\\d.]*[kM]B$`));
    assert.match(lines[2]!, new RegExp(`^skiff\\.test/busybox {8}1\\.0 {17}${shortId(oci.id)} {8}\\d[\\d.]*[kM]B$`));
    assert.equal(lines.length, 3);
    const quiet = await run(["image", "ls", "-q", "--data-dir", dataDir]);
    assert.deepEqual(quiet.trimEnd().split("\n").sort(), [docker.id, oci.id].sort());
    const digests = await run(["image", "ls", "--digests", "--data-dir", dataDir]);
    assert.match(digests, /^IMAGE {21}TAG {17}DIGEST {14}IMAGE ID {12}SIZE\n/);
    assert.match(digests, new RegExp(`skiff\\.test/busybox {8}1\\.0 {17}${shortId(oci.digest!)} {8}${shortId(oci.id)}`));
  });

  it("fails an import of a missing file with the store's message", async () => {
    await assert.rejects(run(["image", "import", "--data-dir", join(dir, "data2"), join(dir, "nope.tar")]), /failed to import .*nope\.tar: open .*nope\.tar: no such file/);
  });
});
