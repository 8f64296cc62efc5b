import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateApiKey, hashApiKey } from "./api-key-hash.js";

describe("hashApiKey", () => {
  it("is the SHA-256 hex digest of the UTF-8 key", () => {
    // Known vector: sha256("abc").
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashApiKey("clé")).toBe(createHash("sha256").update(Buffer.from("clé", "utf8")).digest("hex"));
    expect(hashApiKey("tm_x")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is deterministic and differs per key", () => {
    expect(hashApiKey("tm_a")).toBe(hashApiKey("tm_a"));
    expect(hashApiKey("tm_a")).not.toBe(hashApiKey("tm_b"));
  });
});

describe("generateApiKey", () => {
  it("makes long, distinct, header-safe keys", () => {
    const keys = Array.from({ length: 50 }, () => generateApiKey());
    expect(new Set(keys).size).toBe(50);
    for (const key of keys) {
      // "tm_" + 32 random bytes in base64url (43 characters).
      expect(key).toMatch(/^tm_[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set(keys.map(hashApiKey)).size).toBe(50);
  });
});
