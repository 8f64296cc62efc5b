import { Code, ConnectError } from "@connectrpc/connect";
import { hashApiKey, type Config } from "@tiermesh/config";

/**
 * Resolves the tenant of a call from its `authorization: Bearer <key>` header.
 * Keys are looked up by their SHA-256 digest, so the work done does not depend on how
 * much of a guessed key is right, and clear keys are never held.
 */
export class ApiKeyAuth {
  private readonly tenantsByDigest: ReadonlyMap<string, string>;
  private readonly anonymous: string | undefined;

  constructor(config: Pick<Config, "tenants" | "router">) {
    const entries: [string, string][] = [];
    for (const [tenant, t] of Object.entries(config.tenants)) for (const digest of t.api_key_sha256) entries.push([digest, tenant]);
    this.tenantsByDigest = new Map(entries);
    this.anonymous = config.router.anonymous_tenant;
  }

  /** The tenant name, or throws UNAUTHENTICATED. */
  tenantOf(authorization: string | null): string {
    if (authorization === null || authorization === "") {
      if (this.anonymous !== undefined) return this.anonymous;
      throw new ConnectError('authorization: missing API key (send "authorization: Bearer <key>")', Code.Unauthenticated);
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new ConnectError('authorization: expected "Bearer <key>"', Code.Unauthenticated);
    const tenant = this.tenantsByDigest.get(hashApiKey(match[1]!));
    if (tenant === undefined) throw new ConnectError("authorization: unknown API key", Code.Unauthenticated);
    return tenant;
  }
}
