import { generateApiKey, hashApiKey } from "@tiermesh/config";

export const keygenUsage = "tiermesh keygen <tenant>";

/** Prints a new API key once, and the config line that stores only its hash. */
export function keygen(tenant: string | undefined): void {
  if (!tenant || !/^[a-z][a-z0-9_-]{0,62}$/.test(tenant)) throw new Error(`tenant: expected a lowercase identifier; usage: ${keygenUsage}`);
  const key = generateApiKey();
  process.stdout.write(
    [
      `API key for tenant "${tenant}" (shown once, store it now):`,
      `  ${key}`,
      "",
      `Add its hash to tenants.${tenant}.api_key_sha256 in your config:`,
      `  api_key_sha256: ["${hashApiKey(key)}"]`,
      "",
    ].join("\n"),
  );
}
