import { parseConfig, type Config } from "@tiermesh/config";

/**
 * A whole, validated config for the monitor's unit tests around the given `tiers:` entries
 * (YAML indented by two spaces; a tier named gold is required, the plan points at it).
 * Every address is a placeholder: nothing listens or is called.
 */
export function monitorTestConfig(tiers: string, healthMonitor = `{ listen: "127.0.0.1:3" }`): Config {
  return parseConfig(
    `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: ${healthMonitor}
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
${tiers.replace(/^\n/, "").trimEnd()}
plans: { p: { default_tier: gold, max_tier: gold } }
`,
    "t.yaml",
    {},
  );
}
