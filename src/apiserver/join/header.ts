/**
 * The join protocol's node-name header, in a module of its own so an agent
 * (which sends it) does not load the server's join routes and what they
 * import (the X.509 library, request body decoding).
 */

/** The node-name header (k3s: `k3s-Node-Name`). */
export const NODE_NAME_HEADER = "skiff-node-name";
