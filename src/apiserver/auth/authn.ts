/**
 * Authentication: a chain of authenticators, each saying who a request is
 * from or passing. Anonymous requests are refused (401), as in k3s, except
 * on the health and version endpoints.
 */
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";

/** Who a request is from, as upstream's user.Info. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** One way to authenticate; undefined means "not mine, ask the next one". */
export interface Authenticator {
  authenticate(req: IncomingMessage): Promise<UserInfo | undefined> | UserInfo | undefined;
}

/** Adds system:authenticated, as upstream does for every authenticated user. */
function withAuthenticatedGroup(u: UserInfo): UserInfo {
  return u.groups.includes("system:authenticated") ? u : { ...u, groups: [...u.groups, "system:authenticated"] };
}

/** Tries each authenticator in order. */
export class AuthenticatorChain implements Authenticator {
  constructor(private readonly chain: readonly Authenticator[]) {}
  async authenticate(req: IncomingMessage): Promise<UserInfo | undefined> {
    for (const a of this.chain) {
      const u = await a.authenticate(req);
      if (u) return withAuthenticatedGroup(u);
    }
    return undefined;
  }
}

/** The identity of each TLS connection, parsed once: a keep-alive connection carries many requests. */
const bySocket = new WeakMap<TLSSocket, UserInfo | null>();

/**
 * Client certificates verified against the client CA by the TLS layer:
 * CN is the user, each O a group.
 */
export const x509Authenticator: Authenticator = {
  authenticate(req) {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized || typeof socket.getPeerCertificate !== "function") return undefined;
    const known = bySocket.get(socket);
    if (known !== undefined) return known ?? undefined;
    const cert = socket.getPeerCertificate();
    const cn = cert?.subject?.CN;
    let user: UserInfo | null = null;
    if (cn) {
      const o = cert.subject.O;
      const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
      user = { username: Array.isArray(cn) ? cn[0]! : cn, groups };
    }
    bySocket.set(socket, user);
    return user ?? undefined;
  },
};

/** The bearer token of a request, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Looks a bearer token up; the token backends (bootstrap, ServiceAccount) implement this. */
export interface TokenAuthenticator {
  authenticateToken(token: string): Promise<UserInfo | undefined> | UserInfo | undefined;
}

/** Adapts token backends to the request chain. */
export function bearerTokenAuthenticator(backends: readonly TokenAuthenticator[]): Authenticator {
  return {
    async authenticate(req) {
      const token = bearerToken(req);
      if (!token) return undefined;
      for (const b of backends) {
        const u = await b.authenticateToken(token);
        if (u) return u;
      }
      return undefined;
    },
  };
}

/** Fixed tokens (`--token-auth-file`), looked up by value. */
export class StaticTokens implements TokenAuthenticator {
  private readonly tokens: Map<string, UserInfo>;
  constructor(entries: Iterable<[string, UserInfo]>) {
    this.tokens = new Map(entries);
  }
  authenticateToken(token: string): UserInfo | undefined {
    return this.tokens.get(token);
  }
}
