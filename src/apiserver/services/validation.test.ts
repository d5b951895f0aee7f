import assert from "node:assert/strict";
import { test } from "node:test";
import { fieldErrorMessage, invalid } from "../../machinery/status-error.js";
import type { KObject } from "../registry/types.js";
import { validateService, validateServiceUpdate } from "./validation.js";

/** A defaulted, allocated ClusterIP Service with `spec` merged in. */
function service(spec: Record<string, unknown>): KObject {
  return {
    metadata: { name: "s", namespace: "default" },
    spec: {
      type: "ClusterIP",
      clusterIP: "10.43.0.5",
      clusterIPs: ["10.43.0.5"],
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      sessionAffinity: "None",
      internalTrafficPolicy: "Cluster",
      ports: [{ port: 80, protocol: "TCP", targetPort: 80 }],
      ...spec,
    },
  };
}

const messages = (o: KObject) => validateService(o).map(fieldErrorMessage);

test("a well-formed Service has no errors", () => {
  assert.deepEqual(messages(service({})), []);
  assert.deepEqual(
    messages(
      service({
        ports: [
          { name: "http", port: 80, protocol: "TCP", targetPort: "web" },
          { name: "dns", port: 53, protocol: "UDP", targetPort: 5353 },
        ],
      }),
    ),
    [],
  );
});

test("ports: required, range, protocol, names, duplicates — upstream's paths and words", () => {
  assert.deepEqual(messages(service({ ports: [] })), ["spec.ports: Required value"]);
  // Headless and ExternalName need no ports.
  assert.deepEqual(messages(service({ ports: [], clusterIP: "None", clusterIPs: ["None"] })), []);
  assert.deepEqual(messages(service({ ports: [{ port: 0, protocol: "TCP", targetPort: 1 }] })), [
    "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
  ]);
  assert.deepEqual(messages(service({ ports: [{ port: 70000, protocol: "TCP", targetPort: 80 }] })), [
    "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
  ]);
  assert.deepEqual(messages(service({ ports: [{ port: 80, protocol: "HTTP", targetPort: 80 }] })), [
    'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
  ]);
  assert.deepEqual(
    messages(
      service({
        ports: [
          { port: 80, protocol: "TCP", targetPort: 80 },
          { name: "b", port: 81, protocol: "TCP", targetPort: 81 },
        ],
      }),
    ),
    ["spec.ports[0].name: Required value"],
  );
  assert.deepEqual(
    messages(
      service({
        ports: [
          { name: "a", port: 80, protocol: "TCP", targetPort: 80 },
          { name: "a", port: 81, protocol: "TCP", targetPort: 81 },
        ],
      }),
    ),
    ['spec.ports[1].name: Duplicate value: "a"'],
  );
  assert.deepEqual(
    messages(
      service({
        ports: [
          { name: "a", port: 80, protocol: "TCP", targetPort: 80 },
          { name: "b", port: 80, protocol: "TCP", targetPort: 81 },
        ],
      }),
    ),
    [
      'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}',
    ],
  );
  assert.deepEqual(messages(service({ ports: [{ name: "Web", port: 80, protocol: "TCP", targetPort: 80 }] })), [
    "spec.ports[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
  assert.deepEqual(messages(service({ ports: [{ port: 80, protocol: "TCP", targetPort: "my_port" }] })), [
    'spec.ports[0].targetPort: Invalid value: "my_port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
  ]);
});

test("type, externalName, nodePort on ClusterIP", () => {
  assert.deepEqual(messages(service({ type: "Foo" })), ['spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']);
  assert.deepEqual(messages({ metadata: { name: "x" }, spec: { type: "ExternalName", sessionAffinity: "None" } }), ["spec.externalName: Required value"]);
  assert.deepEqual(messages({ metadata: { name: "x" }, spec: { type: "ExternalName", sessionAffinity: "None", externalName: "example.com." } }), []);
  assert.deepEqual(
    messages({ metadata: { name: "x" }, spec: { type: "ExternalName", sessionAffinity: "None", externalName: "a.b", clusterIP: "10.43.0.1", clusterIPs: ["10.43.0.1"] } }),
    ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"],
  );
  assert.deepEqual(messages(service({ ports: [{ port: 80, protocol: "TCP", targetPort: 80, nodePort: 30001 }] })), [
    "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
  ]);
  assert.deepEqual(messages(service({ type: "NodePort", clusterIP: "None", clusterIPs: ["None"], externalTrafficPolicy: "Cluster" })), [
    "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
  ]);
  assert.deepEqual(messages(service({ externalTrafficPolicy: "Local" })), [
    'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
  ]);
});

test("the aggregate Status reads as upstream's", () => {
  const err = invalid("Service", "", "s", validateService(service({ type: "Foo", ports: [] })));
  assert.equal(
    err.status.message,
    'Service "s" is invalid: [spec.ports: Required value, spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]',
  );
  assert.deepEqual(err.status.details?.causes?.[1], {
    reason: "FieldValueNotSupported",
    message: 'Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    field: "spec.type",
  });
});

test("update: clusterIPs[0] may not change", () => {
  const old = service({});
  const next = service({ clusterIP: "10.43.0.6", clusterIPs: ["10.43.0.6"] });
  assert.deepEqual(validateServiceUpdate(next, old).map(fieldErrorMessage), ['spec.clusterIPs[0]: Invalid value: []string{"10.43.0.6"}: may not change once set']);
  // To and from ExternalName is allowed.
  const ext = { metadata: { name: "s" }, spec: { type: "ExternalName", externalName: "a.b", sessionAffinity: "None" } };
  assert.deepEqual(validateServiceUpdate(ext, old).map(fieldErrorMessage), []);
});
