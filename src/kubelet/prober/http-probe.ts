/**
 * The httpGet handler (upstream pkg/probe/http DoHTTPProbe): 200–299 is
 * success, 300–399 (a redirect the prober did not follow) a success with a
 * warning, anything else a failure `HTTP probe failed with statuscode: N`
 * (never the body, which may hold secrets); a request that fails is a
 * failure with Go's error text.
 */
import { type HttpGetRequest, httpGet } from "./http-get.js";
import { type HandlerOutcome, outcome } from "./types.js";

/** Runs one HTTP probe within `timeoutMs`. */
export async function httpProbe(request: HttpGetRequest, timeoutMs: number): Promise<HandlerOutcome> {
  const r = await httpGet(request, { timeoutMs, readBody: true });
  if (!r.ok) {
    // Upstream converts request errors into failures (timeouts included); a broken body read is an error.
    return r.error.readingBody ? outcome.error(r.error.message, "failure") : outcome.failure(r.error.message);
  }
  const { statusCode, body } = r.response;
  const text = body.toString("utf8");
  if (statusCode >= 200 && statusCode < 400) {
    if (statusCode >= 300) return outcome.warning(`Probe terminated redirects, Response body: ${text}`);
    return outcome.success(text);
  }
  return outcome.failure(`HTTP probe failed with statuscode: ${statusCode}`);
}
