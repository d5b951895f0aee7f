import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Node } from "kubernetes-types/core/v1.js";
import { parseCidr } from "../../machinery/cidr.js";
import { BACKEND_DATA_ANNOTATION, BACKEND_TYPE_ANNOTATION, PUBLIC_IP_ANNOTATION, peerEntries, peerVtep, vtepAddress, vtepAnnotations, vxlanDeviceName } from "./vxlan.js";

const annotated = (annotations: Record<string, string>): Node => ({ metadata: { name: "b", annotations } });

describe("vxlanDeviceName", () => {
  it("is the pod bridge's name with flannel's .<VNI>, hashed down to 15 characters when that is too long", () => {
    assert.equal(vxlanDeviceName("skiff0"), "skiff0.1");
    const long = vxlanDeviceName("a-very-long-br0");
    assert.ok(long.length <= 15, long);
    assert.match(long, /^vx[0-9a-f]{11}\.1$/);
    assert.notEqual(long, vxlanDeviceName("a-very-long-br1"), "different bridges, different devices");
  });
});

describe("VTEP annotations", () => {
  it("are flannel's: backend-type vxlan, backend-data with VNI and VtepMAC, public-ip", () => {
    assert.deepEqual(vtepAnnotations("0a:1b:2c:3d:4e:5f", "192.0.2.1"), {
      [BACKEND_TYPE_ANNOTATION]: "vxlan",
      [BACKEND_DATA_ANNOTATION]: '{"VNI":1,"VtepMAC":"0a:1b:2c:3d:4e:5f"}',
      [PUBLIC_IP_ANNOTATION]: "192.0.2.1",
    });
    assert.equal(vtepAddress("10.42.3.0/24"), "10.42.3.0");
    assert.equal(vtepAddress("nonsense"), undefined);
  });

  it("read back as a peer's VTEP (MAC lower-cased); anything else is a reason, not a VTEP", () => {
    assert.deepEqual(peerVtep(annotated(vtepAnnotations("0A:1B:2C:3D:4E:5F", "192.0.2.2"))), { mac: "0a:1b:2c:3d:4e:5f", publicIP: "192.0.2.2" });
    assert.match(peerVtep(annotated({})) as string, /backend-type/);
    assert.match(peerVtep(annotated({ [BACKEND_TYPE_ANNOTATION]: "host-gw" })) as string, /backend-type/);
    assert.match(peerVtep(annotated({ [BACKEND_TYPE_ANNOTATION]: "vxlan", [BACKEND_DATA_ANNOTATION]: "{" })) as string, /not JSON/);
    assert.match(peerVtep(annotated({ ...vtepAnnotations("0a:1b:2c:3d:4e:5f", "192.0.2.2"), [BACKEND_DATA_ANNOTATION]: '{"VNI":2,"VtepMAC":"0a:1b:2c:3d:4e:5f"}' })) as string, /VNI 2, not 1/);
    assert.match(peerVtep(annotated({ ...vtepAnnotations("0a:1b:2c:3d:4e:5f", "192.0.2.2"), [BACKEND_DATA_ANNOTATION]: '{"VNI":1,"VtepMAC":"zz"}' })) as string, /VtepMAC/);
    assert.match(peerVtep(annotated({ ...vtepAnnotations("0a:1b:2c:3d:4e:5f", "192.0.2.2"), [PUBLIC_IP_ANNOTATION]: "fd00::1" })) as string, /public-ip/);
  });
});

describe("peerEntries", () => {
  it("maps a peer's .0 to its MAC, its MAC to its public IP, and its podCIDR via its .0", () => {
    assert.deepEqual(peerEntries(parseCidr("10.42.7.0/24"), { mac: "0a:00:00:00:00:07", publicIP: "198.51.100.7" }), [
      { kind: "neigh", ip: "10.42.7.0", mac: "0a:00:00:00:00:07" },
      { kind: "fdb", mac: "0a:00:00:00:00:07", dst: "198.51.100.7" },
      { kind: "route", cidr: "10.42.7.0/24", gateway: "10.42.7.0" },
    ]);
  });
});
