import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { baseCacheKey, defaultBaseName, mmdebstrapArgs, normalizePackages } from "./debian-base.js";
import { dockerfileImages, isShortName } from "./dockerfile-from.js";
import { explainRegistryFailure, isLocalRegistryHost, localRegistryHostsIn } from "./registry-access.js";

describe("dockerfileImages", () => {
  it("lists external FROM and COPY --from images, not scratch or earlier stages", () => {
    const df = [
      "# syntax comment",
      "ARG BASE=localhost:5000/skiff/debian:bookworm",
      `FROM \${BASE} AS build`,
      "RUN make \\",
      "  all",
      "FROM scratch",
      "COPY --from=build /out /out",
      "COPY --from=0 /out /out2",
      "COPY --from=localhost:5000/tools:1 /bin/tool /bin/tool",
      "FROM build",
      "FROM --platform=linux/amd64 node:20",
    ].join("\n");
    assert.deepEqual(dockerfileImages(df), [
      { image: "localhost:5000/skiff/debian:bookworm", line: 3 },
      { image: "localhost:5000/tools:1", line: 9 },
      { image: "node:20", line: 11 },
    ]);
  });

  it("takes --build-arg values over ARG defaults", () => {
    assert.deepEqual(dockerfileImages("ARG BASE=debian\nFROM $BASE\n", ["BASE=localhost:5000/x:1"]), [{ image: "localhost:5000/x:1", line: 2 }]);
  });

  it("tells short names from full ones", () => {
    for (const s of ["debian", "node:20", "library/debian", "bitnami/redis:7"]) assert.ok(isShortName(s), s);
    for (const s of ["localhost:5000/x:1", "localhost/app", "registry.example/x", "127.0.0.1:5000/a/b", `\${BASE}`]) assert.ok(!isShortName(s), s);
  });
});

describe("the cluster registry's names", () => {
  it("finds localhost registries in Dockerfiles, build args and tags", () => {
    assert.deepEqual(localRegistryHostsIn(["FROM localhost:5000/a:1\nCOPY --from=127.0.0.1:6000/b /x /x", "BASE=localhost:5000/c", "notlocalhost:7000/x"]), [
      "127.0.0.1:6000",
      "localhost:5000",
    ]);
    assert.ok(isLocalRegistryHost("localhost:5000"));
    assert.ok(isLocalRegistryHost("[::1]:5000"));
    assert.ok(!isLocalRegistryHost("registry.example:5000"));
  });

  it("explains failures in plain words", () => {
    assert.match(explainRegistryFailure("dial tcp 127.0.0.1:5000: connect: connection refused", "localhost:5000") ?? "", /unreachable.*skiff server running/);
    assert.match(explainRegistryFailure("received unexpected HTTP status: 401 Unauthorized", "localhost:5000") ?? "", /unauthorized at registry localhost:5000/);
    assert.match(explainRegistryFailure("x509: certificate signed by unknown authority", "localhost:5000") ?? "", /not trusted/);
    assert.equal(explainRegistryFailure("something else"), undefined);
  });
});

describe("Debian base images", () => {
  it("names and keys images by suite and sorted packages", () => {
    assert.equal(defaultBaseName({ suite: "bookworm", packages: [] }), "localhost:5000/skiff/debian:bookworm");
    assert.equal(defaultBaseName({ suite: "bookworm", packages: ["nodejs"] }, "localhost:5001"), "localhost:5001/skiff/debian-nodejs:bookworm");
    assert.equal(defaultBaseName({ suite: "trixie", packages: ["nodejs", "mariadb-server", "nodejs"] }), "localhost:5000/skiff/debian-mariadb-server-nodejs:trixie");
    assert.equal(defaultBaseName({ suite: "bookworm", packages: ["g++"] }), "localhost:5000/skiff/debian-gplusplus:bookworm");
    assert.equal(baseCacheKey({ suite: "bookworm", packages: ["nodejs,mariadb-server"], architecture: "amd64" }), "bookworm-amd64-with-mariadb-server+nodejs");
    assert.deepEqual(normalizePackages(["bb aa", "aa"]), ["aa", "bb"]);
    assert.throws(() => normalizePackages(["Bad_Name"]), /invalid Debian package name/);
    assert.throws(() => baseCacheKey({ suite: "../x", packages: [] }), /invalid Debian suite/);
  });

  it("asks mmdebstrap for minbase without docs, recommends or apt lists", () => {
    const args = mmdebstrapArgs({ suite: "bookworm", packages: ["nodejs"], architecture: "amd64" }, "/tmp/r.tar");
    assert.ok(args.includes("--variant=minbase"));
    assert.ok(args.includes("--include=nodejs"));
    assert.ok(args.includes("--dpkgopt=path-exclude=/usr/share/doc/*"));
    assert.ok(args.some((a) => a.includes("APT::Install-Recommends")));
    assert.ok(args.some((a) => a.includes("/var/lib/apt/lists")));
    assert.deepEqual(args.slice(-2), ["bookworm", "/tmp/r.tar"]);
  });
});
