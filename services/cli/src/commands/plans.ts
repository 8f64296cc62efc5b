import { loadConfig } from "@tiermesh/config";
import { planSheet, renderHtml, renderMarkdown } from "@tiermesh/plan-sheet";
import { UsageError } from "../usage-error.js";

export const plansUsage = "tiermesh plans [--config <file>] [--format markdown|html] [--tenant <name>]";

export interface PlansOptions {
  config?: string | undefined;
  format?: string | undefined;
  tenant?: string | undefined;
}

/** Prints what each plan promises (or one tenant's plan, with its own limits), from the config alone. */
export function plans(o: PlansOptions): void {
  const format = o.format ?? "markdown";
  if (format !== "markdown" && format !== "html") throw new UsageError(`--format: expected markdown or html, got "${format}"`);
  const config = loadConfig(o.config ?? "deploy/tiermesh.example.yaml");
  if (o.tenant !== undefined && !Object.hasOwn(config.tenants, o.tenant)) {
    throw new UsageError(`--tenant: unknown tenant "${o.tenant}" (tenants: ${Object.keys(config.tenants).join(", ") || "none"})`);
  }
  const blocks = planSheet(config, { tenant: o.tenant });
  process.stdout.write(format === "html" ? renderHtml(blocks) : renderMarkdown(blocks));
}
