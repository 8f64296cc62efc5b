#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConnectError } from "@connectrpc/connect";
import { ConfigError } from "@tiermesh/config";
import { NatsServerMissingError } from "@tiermesh/process";
import { configDiffCommand, configDiffUsage } from "./commands/config-diff.js";
import { drill, drillUsage } from "./commands/drill.js";
import { explain, explainUsage } from "./commands/explain.js";
import { jobs, jobsUsage } from "./commands/jobs.js";
import { keygen, keygenUsage } from "./commands/keygen.js";
import { ledger, ledgerUsage } from "./commands/ledger.js";
import { report, reportUsage } from "./commands/report.js";
import { plans, plansUsage } from "./commands/plans.js";
import { run, runUsage } from "./commands/run.js";
import { status, statusUsage } from "./commands/status.js";
import { up, upUsage } from "./commands/up.js";
import { UsageError } from "./usage-error.js";

const usage = [
  "usage:",
  `  ${upUsage}`,
  `  ${runUsage}`,
  `  ${statusUsage}`,
  `  ${reportUsage}`,
  `  ${ledgerUsage}`,
  `  ${jobsUsage}`,
  `  ${keygenUsage}`,
  `  ${explainUsage}`,
  `  ${drillUsage}`,
  `  ${plansUsage}`,
  `  ${configDiffUsage}`,
].join("\n");

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up": {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: "string" },
          nats: { type: "string" },
          quiet: { type: "boolean" },
          "single-process": { type: "boolean" },
          "start-timeout": { type: "string" },
        },
      });
      return up(values);
    }
    case "run": {
      const [service, ...args] = rest;
      return run(service ?? "", args);
    }
    case "status":
    case "watch": {
      const { values } = parseArgs({ args: rest, options: { config: { type: "string" } } });
      return status(values.config ?? "deploy/tiermesh.example.yaml", command === "watch");
    }
    case "report": {
      const s = { type: "string" } as const;
      const { values } = parseArgs({ args: rest, options: { config: s, tenant: s, period: s, from: s, to: s, format: s } });
      return report(values);
    }
    case "ledger": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { config: { type: "string" } } });
      return ledger(positionals[0], values.config);
    }
    case "jobs":
      return jobs(rest);
    case "keygen":
      return keygen(rest[0]);
    case "explain": {
      const s = { type: "string" } as const;
      const b = { type: "boolean" } as const;
      const { values } = parseArgs({
        args: rest,
        options: {
          config: s,
          tenant: s,
          prompt: s,
          "prompt-file": s,
          urgency: s,
          "tier-hint": s,
          model: s,
          "max-tokens": s,
          "deadline-ms": s,
          tools: b,
          json: b,
        },
      });
      return explain(values);
    }
    case "drill":
      return drill(rest);
    case "config": {
      const [sub, ...args] = rest;
      if (sub !== "diff") throw new UsageError(`config: unknown subcommand "${sub ?? ""}"\nusage: ${configDiffUsage}`);
      process.exitCode = configDiffCommand(args);
      return;
    }
    case "plans": {
      const { values } = parseArgs({
        args: rest,
        options: { config: { type: "string" }, format: { type: "string" }, tenant: { type: "string" } },
      });
      return plans(values);
    }
    case undefined:
    case "help":
    case "--help":
      process.stdout.write(`${usage}\n`);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${usage}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message =
    err instanceof ConfigError || err instanceof NatsServerMissingError || err instanceof ConnectError
      ? err.message
      : String((err as Error)?.message ?? err);
  process.stderr.write(`tiermesh: ${message}\n`);
  process.exit(err instanceof ConfigError || err instanceof UsageError ? 2 : 1);
});
