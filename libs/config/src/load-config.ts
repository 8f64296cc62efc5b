import { readFileSync } from "node:fs";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { configSchema, type Config } from "./config-schema.js";
import { ConfigError } from "./config-error.js";

export type Env = Readonly<Record<string, string | undefined>>;

/** Reads, validates and defaults a config file. Throws ConfigError. */
export function loadConfig(file: string, env: Env = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    throw new ConfigError(file, [`cannot read file: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`], { cause });
  }
  return parseConfig(text, file, env);
}

/** Validates config text; `file` is only used in messages. */
export function parseConfig(text: string, file: string, env: Env = process.env): Config {
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (cause) {
    const where = cause instanceof YAMLParseError && cause.linePos ? ` at line ${cause.linePos[0].line}` : "";
    throw new ConfigError(file, [`invalid YAML${where}: ${(cause as Error).message.split("\n")[0]}`], { cause });
  }
  const parsed = configSchema.safeParse(raw ?? {});
  if (!parsed.success) throw ConfigError.fromZod(file, parsed.error);
  return applyEnv(parsed.data, env, file);
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function applyEnv(config: Config, env: Env, file: string): Config {
  const natsUrl = env["TIERMESH_NATS_URL"];
  const level = env["TIERMESH_LOG_LEVEL"];
  if (level && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(file, [`TIERMESH_LOG_LEVEL: "${level}" is not one of ${LOG_LEVELS.join(", ")}`]);
  }
  return {
    ...config,
    nats: natsUrl ? { ...config.nats, url: natsUrl } : config.nats,
    log: level ? { level: level as Config["log"]["level"] } : config.log,
  };
}
