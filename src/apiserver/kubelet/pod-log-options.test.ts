import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fieldErrorMessage } from "../../machinery/status-error.js";
import { decodePodLogOptions, kubeletLogQuery, LogOptionsDecodeError, parseRfc3339, validatePodLogOptions } from "./pod-log-options.js";

const q = (s: string) => new URLSearchParams(s);

describe("PodLogOptions", () => {
  test("decodes as upstream's parameter codec: only 0/false are false", () => {
    const o = decodePodLogOptions(q("container=app&follow=1&previous=false&timestamps=&tailLines=10&limitBytes=5&sinceSeconds=3&stream=Stdout"));
    assert.deepEqual(o, {
      container: "app",
      follow: true,
      previous: false,
      sinceSeconds: 3,
      sinceTime: undefined,
      timestamps: true,
      tailLines: 10,
      limitBytes: 5,
      insecureSkipTLSVerifyBackend: false,
      stream: "Stdout",
    });
  });

  test("int64 and time errors worded as Go's", () => {
    assert.throws(() => decodePodLogOptions(q("tailLines=ten")), new LogOptionsDecodeError('strconv.ParseInt: parsing "ten": invalid syntax'));
    assert.throws(() => decodePodLogOptions(q("limitBytes=99999999999999999999")), /value out of range/);
    assert.throws(() => decodePodLogOptions(q("sinceTime=yesterday")), /parsing time "yesterday"/);
    assert.equal(decodePodLogOptions(q("sinceTime=2024-01-02T03:04:05%2B01:00")).sinceTime, Date.UTC(2024, 0, 2, 2, 4, 5));
  });

  test("the kubelet's legacy tail parameter", () => {
    assert.equal(decodePodLogOptions(q("tail=5"), { legacyTail: true }).tailLines, 5);
    assert.equal(decodePodLogOptions(q("tail=all&tailLines=5"), { legacyTail: true }).tailLines, undefined);
    assert.equal(decodePodLogOptions(q("tail=5")).tailLines, undefined);
  });

  test("validation messages as upstream's", () => {
    const msgs = (s: string) => validatePodLogOptions(decodePodLogOptions(q(s))).map(fieldErrorMessage);
    assert.deepEqual(msgs("tailLines=-1&limitBytes=0"), ["tailLines: Invalid value: -1: must be greater than or equal to 0", "limitBytes: Invalid value: 0: must be greater than 0"]);
    assert.deepEqual(msgs("sinceSeconds=0"), ["sinceSeconds: Invalid value: 0: must be greater than 0"]);
    assert.deepEqual(msgs("sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z"), [": Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"]);
    assert.deepEqual(msgs("stream=Both"), ['stream: Unsupported value: "Both": supported values: "All", "Stderr", "Stdout"']);
    assert.deepEqual(msgs("stream=Stderr&tailLines=1"), [": Forbidden: `tailLines` and specific `stream` are mutually exclusive for now"]);
    assert.deepEqual(msgs("stream=All&tailLines=1"), []);
  });

  test("the kubelet query is upstream's LogLocation encoding, sorted", () => {
    const o = decodePodLogOptions(q("container=c&timestamps=true&follow=true&tailLines=3&sinceTime=2024-01-02T03:04:05.5Z&insecureSkipTLSVerifyBackend=true"));
    assert.equal(kubeletLogQuery(o), "follow=true&sinceTime=2024-01-02T03%3A04%3A05Z&tailLines=3&timestamps=true");
  });

  test("RFC 3339 parsing rejects impossible dates", () => {
    assert.equal(parseRfc3339("2024-02-30T00:00:00Z"), undefined);
    assert.equal(parseRfc3339("2024-02-29T00:00:00Z"), Date.UTC(2024, 1, 29));
  });
});
