import { Code, ConnectError } from "@connectrpc/connect";
import { configSchema, hashApiKey } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { ApiKeyAuth } from "./api-key-auth.js";

const ACME_KEY = "tm_acme-key-1";
const ACME_KEY_2 = "tm_acme-key-2";
const GLOBEX_KEY = "tm_globex-key";

const tenants = {
  acme: { plan: "pro", api_key_sha256: [hashApiKey(ACME_KEY), hashApiKey(ACME_KEY_2)] },
  globex: { plan: "free", api_key_sha256: [hashApiKey(GLOBEX_KEY)] },
  demo: { plan: "free", api_key_sha256: [] },
};

const router = configSchema.shape.router.parse({ listen: "127.0.0.1:7400" });
const withAnonymous = new ApiKeyAuth({ tenants, router: { ...router, anonymous_tenant: "demo" } });
const keyRequired = new ApiKeyAuth({ tenants, router });

function unauthenticated(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unauthenticated);
    return (error as ConnectError).rawMessage;
  }
  throw new Error("expected UNAUTHENTICATED");
}

describe("ApiKeyAuth", () => {
  it("maps each key to its tenant", () => {
    expect(keyRequired.tenantOf(`Bearer ${ACME_KEY}`)).toBe("acme");
    expect(keyRequired.tenantOf(`Bearer ${ACME_KEY_2}`)).toBe("acme");
    expect(keyRequired.tenantOf(`Bearer ${GLOBEX_KEY}`)).toBe("globex");
    // Scheme is case-insensitive; surrounding whitespace after the key is tolerated.
    expect(keyRequired.tenantOf(`bearer   ${GLOBEX_KEY}  `)).toBe("globex");
  });

  it("a missing header is the anonymous tenant when one is configured", () => {
    expect(withAnonymous.tenantOf(null)).toBe("demo");
    expect(withAnonymous.tenantOf("")).toBe("demo");
  });

  it("a missing header is unauthenticated when no anonymous tenant is configured", () => {
    expect(unauthenticated(() => keyRequired.tenantOf(null))).toMatch(/^authorization: missing API key/);
    expect(unauthenticated(() => keyRequired.tenantOf(""))).toMatch(/^authorization: missing API key/);
  });

  it("a header with another scheme or no key is rejected, even with an anonymous tenant", () => {
    for (const header of [`Basic ${ACME_KEY}`, ACME_KEY, "Bearer", "Bearer ", `Bearer ${ACME_KEY} extra`]) {
      expect(unauthenticated(() => withAnonymous.tenantOf(header))).toBe('authorization: expected "Bearer <key>"');
    }
  });

  it("an unknown key is rejected, never downgraded to anonymous", () => {
    expect(unauthenticated(() => withAnonymous.tenantOf("Bearer tm_wrong"))).toBe("authorization: unknown API key");
    // The stored digest itself is not a key.
    expect(unauthenticated(() => keyRequired.tenantOf(`Bearer ${hashApiKey(ACME_KEY)}`))).toBe("authorization: unknown API key");
  });
});
