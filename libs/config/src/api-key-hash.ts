import { createHash, randomBytes } from "node:crypto";

/** SHA-256 hex digest of an API key, the only form in which keys are stored in config. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** A new high-entropy API key (256 random bits). */
export function generateApiKey(): string {
  return `tm_${randomBytes(32).toString("base64url")}`;
}
