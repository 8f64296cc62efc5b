import type { z } from "zod";

/** A config file that cannot be used. The message is one line naming the file and the bad fields' paths. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`config error in ${file}: ${problems.join("; ")}`, options);
  }

  static fromZod(file: string, error: z.ZodError, prefix: readonly PropertyKey[] = []): ConfigError {
    return new ConfigError(
      file,
      error.issues.map((issue) => {
        const path = [...prefix, ...issue.path].map(String).join(".") || "(root)";
        return `${path}: ${issue.message}`;
      }),
      { cause: error },
    );
  }
}
