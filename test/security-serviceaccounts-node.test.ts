/**
 * The projected ServiceAccount token on a real node (issue 7): ServiceAccount
 * admission adds the kube-api-access volume, the kubelet asks TokenRequest
 * for a pod-bound token and writes token, ca.crt and namespace into the
 * container; that token authenticates as the pod's ServiceAccount (with the
 * pod and node in its extras) and stops working once the pod is deleted.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ok } from "./support/cluster.js";
import { BUSYBOX_IMAGE, type NodeServer, nodeContainers, startNodeServer } from "./support/node-cluster.js";

let srv: NodeServer;
before(async () => {
  srv = await startNodeServer();
});
after(async () => {
  await srv?.stop();
});

const MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

function withToken(token: string, args: string[]) {
  const server = `https://127.0.0.1:${srv.port}`;
  return srv.kubectl(["--kubeconfig=/dev/null", "--server", server, "--certificate-authority", join(srv.dataDir, "tls", "server-ca.crt"), "--token", token, ...args], {
    env: { KUBECONFIG: "" },
  });
}

describe("projected ServiceAccount token in a pod", () => {
  it("authenticates as the pod's ServiceAccount from inside the pod's files, until the pod is deleted", async () => {
    ok(srv.kubectl(["run", "tokened", `--image=${BUSYBOX_IMAGE}`, "--image-pull-policy=Never", "--", "sleep", "3600"]), "run");
    await srv.eventually("the pod to run", () => (srv.kubectl(["get", "pod", "tokened", "-o", "jsonpath={.status.phase}"]).stdout === "Running" ? true : undefined), 120_000);
    const token = ok(srv.kubectl(["exec", "tokened", "--", "cat", `${MOUNT}/token`]), "read token");
    assert.equal(ok(srv.kubectl(["exec", "tokened", "--", "cat", `${MOUNT}/namespace`]), "read namespace"), "default");
    assert.equal(ok(srv.kubectl(["exec", "tokened", "--", "cat", `${MOUNT}/ca.crt`]), "read ca.crt"), readFileSync(join(srv.dataDir, "tls", "server-ca.crt"), "utf8"));
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
    // The admission plugin's 3607 s, extended to a year with a warning time, as upstream.
    assert.equal(payload["kubernetes.io"].warnafter - payload.iat, 3607);
    assert.equal(payload.exp - payload.iat, 365 * 24 * 3600);
    const who = ok(withToken(token, ["auth", "whoami"]), "whoami with the pod's token");
    assert.match(who, /system:serviceaccount:default:default/);
    assert.match(who, /authentication.kubernetes.io\/pod-name\s+\[tokened\]/);
    assert.match(who, new RegExp(`authentication.kubernetes.io/node-name\\s+\\[${srv.nodeName}\\]`));
    ok(srv.kubectl(["delete", "pod", "tokened", "--grace-period=0", "--force"]), "delete pod");
    await srv.eventually("the token to stop working", () => {
      const r = withToken(token, ["auth", "whoami"]);
      return r.status !== 0 && /Unauthorized/.test(r.stderr) ? true : undefined;
    });
    // A force-deleted pod's containers are stopped by the kubelet all the same.
    await srv.eventually("the pod's container to be gone", () => (nodeContainers(srv.dataDir).length === 0 ? true : undefined));
  });
});
