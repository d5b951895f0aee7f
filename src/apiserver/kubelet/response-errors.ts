/**
 * Kubelet answers turned into API errors, as upstream's
 * GenericHttpResponseChecker and errors.NewGenericServerResponse do: the
 * kubelet's text becomes the message of a 400 or 500 as is, and other codes
 * get apimachinery's generic message with the resource and name appended
 * (`Forbidden (user=…) ( pods/log web)`), which is what kubectl prints.
 */
import { badRequest, internalError, type Qualified, StatusError } from "../../machinery/status-error.js";

const GENERIC: Record<number, [reason: string, message: string]> = {
  401: ["Unauthorized", "the server has asked for the client to provide credentials"],
  404: ["NotFound", "the server could not find the requested resource"],
  405: ["MethodNotAllowed", "the server does not allow this method on the requested resource"],
  406: ["NotAcceptable", "the server was unable to respond with a content type that the client supports"],
  409: ["Conflict", "the server reported a conflict"],
  415: ["UnsupportedMediaType", "the server was unable to handle the media type requested"],
  422: ["Invalid", "the server rejected our request due to an error in our request"],
  429: ["TooManyRequests", "the server has received too many requests and has asked us to try again later"],
  503: ["ServiceUnavailable", "the server is currently unavailable"],
  504: ["Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"],
};

/** apimachinery's NewGenericServerResponse with an empty verb. */
export function genericServerResponse(code: number, q: Qualified, name: string, serverMessage: string): StatusError {
  let [reason, message] = GENERIC[code] ?? ["", `the server responded with the status code ${code} but did not return more information`];
  if (code === 403) {
    reason = "Forbidden";
    // The server's text says who tried what; upstream keeps it.
    message = serverMessage;
  } else if (!GENERIC[code] && code >= 500) {
    reason = "InternalError";
    message = `an error on the server (${JSON.stringify(serverMessage)}) has prevented the request from succeeding`;
  }
  const resource = q.group ? `${q.resource}.${q.group}` : q.resource;
  message = name ? `${message} ( ${resource} ${name})` : `${message} ( ${resource})`;
  return new StatusError({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    ...(reason ? { reason } : {}),
    details: { name, group: q.group, kind: q.resource },
    code,
  });
}

/** Upstream's GenericHttpResponseChecker for a non-2xx kubelet answer with body `text`. */
export function kubeletResponseError(code: number, text: string, q: Qualified, name: string): StatusError {
  if (code === 500) return internalError(text);
  if (code === 400) return badRequest(text);
  return genericServerResponse(code, q, name, text);
}
