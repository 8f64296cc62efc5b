import { parseArgs } from "node:util";
import { ConfigError, loadConfig, type Config } from "@tiermesh/config";
import { startTracing, type Tracing } from "@tiermesh/telemetry";
import { onAfterReplyError } from "./after-reply.js";
import { leanAsyncResourceBind } from "./lean-async-bind.js";
import { createLogger, type Logger } from "./logger.js";

export interface ServiceArgs {
  config: Config;
  configFile: string;
  logger: Logger;
  /** Options other than --config, as given on the command line. */
  options: Readonly<Record<string, string | undefined>>;
}

export interface RunningService {
  /** Graceful stop: stop accepting, finish in-flight work, release resources. */
  close(): Promise<void>;
}

/** A problem a service reports as one line before exiting non-zero (bad flag, unknown tier...). */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/**
 * The body of every service's main.ts: reads flags and config, starts the service,
 * and stops it gracefully on SIGTERM/SIGINT. Config and startup problems are printed
 * as a single line on stderr with a non-zero exit code.
 */
export async function runService(
  name: string,
  extraOptions: readonly string[],
  start: (args: ServiceArgs) => Promise<RunningService>,
): Promise<void> {
  // Before any HTTP/2 stream is opened (see leanAsyncResourceBind).
  leanAsyncResourceBind();
  const fail = (message: string, code: number): never => {
    process.stderr.write(`tiermesh-${name}: ${message}\n`);
    process.exit(code);
  };
  let values: Record<string, string | boolean | undefined>;
  try {
    const optionSpec = Object.fromEntries(["config", ...extraOptions].map((o) => [o, { type: "string" as const }]));
    values = parseArgs({ options: optionSpec, strict: true, allowPositionals: false }).values;
  } catch (cause) {
    return fail((cause as Error).message, 2);
  }
  const configFile = (values["config"] as string | undefined) ?? process.env["TIERMESH_CONFIG"];
  if (!configFile) return fail("missing --config <file> (or TIERMESH_CONFIG)", 2);
  let config: Config;
  try {
    config = loadConfig(configFile);
  } catch (cause) {
    if (cause instanceof ConfigError) return fail(cause.message, 2);
    throw cause;
  }
  const logger = createLogger(name, config.log.level);
  onAfterReplyError((err) => logger.error({ err }, "book-keeping after a reply failed"));
  let running: RunningService;
  let tracing: Tracing;
  try {
    // Before any service is built: services take their tracers as they are built.
    tracing = await startTracing(config.observability.tracing);
  } catch (cause) {
    return fail(`tracing: ${(cause as Error).message}`, 1);
  }
  if (tracing.enabled)
    logger.info({ endpoint: config.observability.tracing.endpoint, sampleRatio: config.observability.tracing.sample_ratio }, "tracing on");
  try {
    const options = Object.fromEntries(extraOptions.map((o) => [o, values[o] as string | undefined]));
    running = await start({ config, configFile, logger, options });
  } catch (cause) {
    if (cause instanceof StartupError || cause instanceof ConfigError) return fail(cause.message, 2);
    const err = cause as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE" || err.code === "EACCES") return fail(`cannot listen: ${err.message}`, 1);
    logger.fatal({ err: cause }, "start failed");
    return fail(`start failed: ${(cause as Error).message}`, 1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    running
      .close()
      // The spans of the last calls leave before the process does.
      .then(() => tracing.shutdown().catch((err: unknown) => logger.warn({ err }, "span export at shutdown failed")))
      .then(
        () => {
          logger.info("stopped");
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
