import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Ingress, IngressClass } from "kubernetes-types/networking/v1.js";
import { isOurs, skiffIngressClass } from "./ingress-class.js";
import { hostOf, RouteTable } from "./routes.js";

type P = { path: string; type: "Exact" | "Prefix" | "ImplementationSpecific"; svc: string };

function ing(name: string, rules: { host?: string; paths: P[] }[], extra: Partial<Ingress["spec"]> = {}, created = "2026-01-01T00:00:00Z"): Ingress {
  return {
    metadata: { namespace: "ns", name, creationTimestamp: created },
    spec: {
      ...extra,
      rules: rules.map((r) => ({
        ...(r.host ? { host: r.host } : {}),
        http: { paths: r.paths.map((p) => ({ path: p.path, pathType: p.type, backend: { service: { name: p.svc, port: { number: 80 } } } })) },
      })),
    },
  };
}

function svcOf(t: RouteTable, host: string, path: string): string | undefined {
  const m = t.match(host, path);
  return m?.backend.type === "service" ? m.backend.service : m?.backend.type;
}

describe("ingress routes", () => {
  it("matches Prefix paths element-wise, as the spec's examples", () => {
    const cases: [string, string, boolean][] = [
      ["/", "/anything", true],
      ["/foo", "/foo", true],
      ["/foo", "/foo/", true],
      ["/foo/", "/foo", true],
      ["/foo/", "/foo/", true],
      ["/aaa/bb", "/aaa/bbb", false],
      ["/aaa/bbb", "/aaa/bbb", true],
      ["/aaa/bbb/", "/aaa/bbb", true],
      ["/aaa/bbb", "/aaa/bbb/", true],
      ["/aaa/bbb", "/aaa/bbb/ccc", true],
      ["/aaa/bbb", "/aaa/bbbxyz", false],
    ];
    for (const [path, req, want] of cases) {
      const t = new RouteTable([ing("a", [{ paths: [{ path, type: "Prefix", svc: "s" }] }])]);
      assert.equal(svcOf(t, "", req) === "s", want, `Prefix ${path} vs ${req}`);
    }
  });

  it("matches Exact paths exactly and prefers them at equal length; the longest path wins", () => {
    const t = new RouteTable([
      ing("a", [
        {
          paths: [
            { path: "/foo", type: "Exact", svc: "exact" },
            { path: "/foo", type: "Prefix", svc: "prefix" },
            { path: "/foo/bar", type: "ImplementationSpecific", svc: "impl" },
            { path: "/", type: "Prefix", svc: "root" },
          ],
        },
      ]),
    ]);
    assert.equal(svcOf(t, "", "/foo"), "exact");
    assert.equal(svcOf(t, "", "/foo/"), "prefix");
    assert.equal(svcOf(t, "", "/FOO"), "root");
    assert.equal(svcOf(t, "", "/foo/bar/baz"), "impl");
    assert.equal(svcOf(t, "", "/other"), "root");
  });

  it("matches precise hosts, then one-label wildcards, then host-less rules, then the defaultBackend", () => {
    const t = new RouteTable([
      ing(
        "a",
        [
          { host: "foo.bar.com", paths: [{ path: "/api", type: "Prefix", svc: "exact-host" }] },
          { host: "*.bar.com", paths: [{ path: "/", type: "Prefix", svc: "wild" }] },
          { paths: [{ path: "/api", type: "Prefix", svc: "any" }] },
        ],
        { defaultBackend: { service: { name: "default", port: { name: "http" } } } },
      ),
    ]);
    assert.equal(svcOf(t, "foo.bar.com", "/api/x"), "exact-host");
    assert.equal(svcOf(t, "foo.bar.com", "/web"), "wild");
    assert.equal(svcOf(t, "baz.bar.com", "/"), "wild");
    assert.equal(svcOf(t, "bar.com", "/api"), "any");
    assert.equal(svcOf(t, "a.baz.bar.com", "/api"), "any", "a wildcard covers one label only");
    assert.equal(svcOf(t, "a.baz.bar.com", "/web"), "default");
    const d = t.match("x", "/none");
    assert.deepEqual(d?.backend, { type: "service", namespace: "ns", service: "default", port: "http", ingress: "ns/a" });
  });

  it("resolves conflicts for the oldest Ingress and reports resource backends", () => {
    const older = ing("old", [{ host: "h", paths: [{ path: "/", type: "Prefix", svc: "old" }] }], {}, "2026-01-01T00:00:00Z");
    const newer = ing("new", [{ host: "h", paths: [{ path: "/", type: "Prefix", svc: "new" }] }], {}, "2026-01-02T00:00:00Z");
    assert.equal(svcOf(new RouteTable([newer, older]), "h", "/"), "old");
    const res: Ingress = {
      metadata: { namespace: "ns", name: "r" },
      spec: { defaultBackend: { resource: { apiGroup: "k8s.example.com", kind: "StorageBucket", name: "static" } } },
    };
    const m = new RouteTable([res]).match("h", "/");
    assert.deepEqual(m?.backend, { type: "resource", ingress: "ns/r", description: "k8s.example.com/StorageBucket static" });
  });

  it("reads the host of a Host header", () => {
    assert.equal(hostOf("Foo.Example.COM:8080"), "foo.example.com");
    assert.equal(hostOf("[::1]:80"), "[::1]");
    assert.equal(hostOf("example.com."), "example.com");
    assert.equal(hostOf(undefined), "");
  });

  it("serves Ingresses of its class, its legacy annotation, and class-less ones while its class is the default", () => {
    const ours = skiffIngressClass();
    const other: IngressClass = { metadata: { name: "nginx" }, spec: { controller: "k8s.io/ingress-nginx" } };
    const notDefault: IngressClass = { ...ours, metadata: { name: "skiff" } };
    const withClass = (c?: string, annotation?: string): Ingress => ({
      metadata: { name: "i", namespace: "ns", ...(annotation ? { annotations: { "kubernetes.io/ingress.class": annotation } } : {}) },
      spec: c ? { ingressClassName: c } : {},
    });
    assert.equal(isOurs(withClass("skiff"), [ours, other]), true);
    assert.equal(isOurs(withClass("nginx"), [ours, other]), false);
    assert.equal(isOurs(withClass("missing"), [ours, other]), false);
    assert.equal(isOurs(withClass(undefined, "skiff"), [notDefault, other]), true);
    assert.equal(isOurs(withClass(undefined, "nginx"), [ours, other]), false);
    assert.equal(isOurs(withClass(), [ours, other]), true);
    assert.equal(isOurs(withClass(), [notDefault, other]), false);
  });
});
