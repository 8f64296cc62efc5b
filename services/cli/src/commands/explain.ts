import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { loadConfig } from "@tiermesh/config";
import { compileTierPolicy, policyDocument } from "@tiermesh/policy";
import { CompletionInputSchema } from "@tiermesh/proto";

export const explainUsage =
  "tiermesh explain [--config <file>] [--tenant <name>] [--prompt <text> | --prompt-file <file>] [--urgency <u>] [--tier-hint <tier>] [--model <m>] [--max-tokens <n>] [--deadline-ms <n>] [--tools] [--json]";

export interface ExplainOptions {
  config?: string | undefined;
  tenant?: string | undefined;
  prompt?: string | undefined;
  "prompt-file"?: string | undefined;
  urgency?: string | undefined;
  "tier-hint"?: string | undefined;
  model?: string | undefined;
  "max-tokens"?: string | undefined;
  "deadline-ms"?: string | undefined;
  tools?: boolean | undefined;
  json?: boolean | undefined;
}

/** Classifies a sample request with the config's rules and prints how each rule fared. */
export function explain(o: ExplainOptions): void {
  const configFile = o.config ?? "deploy/tiermesh.example.yaml";
  const config = loadConfig(configFile);
  const tenant = o.tenant ?? config.router.anonymous_tenant ?? Object.keys(config.tenants)[0] ?? "";
  const prompt = o["prompt-file"] ? readFileSync(o["prompt-file"], "utf8") : (o.prompt ?? "Hello");
  const input = create(CompletionInputSchema, {
    messages: [{ role: "user", content: prompt }],
    urgency: o.urgency ?? "",
    tierHint: o["tier-hint"] ?? "",
    model: o.model ?? "",
    maxTokens: Number(o["max-tokens"] ?? 0),
    jsonMode: o.json ?? false,
    tools: o.tools ? [{ name: "sample_tool" }] : [],
  });
  const { result, rules } = compileTierPolicy(policyDocument(config)).explain(tenant, input, Number(o["deadline-ms"] ?? 0));
  const out = [
    `tenant ${result.tenant} (plan ${result.plan}), urgency ${result.urgency}, prompt ${result.promptTokens} tokens`,
    "rules, in order:",
    ...(rules.length === 0 ? ["  (none)"] : []),
    ...rules.map(
      (r) =>
        `  ${r.matched ? "MATCH" : r.evaluated ? "no   " : "skip "} ${r.id} → ${r.tier}${r.because ? `: ${r.because}` : r.evaluated ? "" : " (an earlier rule decided)"}`,
    ),
    `tier: ${result.tier} (allowed ${result.minTier}..${result.maxTier})`,
    "because:",
    ...result.reasons.map((x) => `  - ${x}`),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
}
