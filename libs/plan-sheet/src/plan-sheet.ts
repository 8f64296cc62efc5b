import type { Config } from "@tiermesh/config";
import { planPromises, type PlanPromise } from "./plan-promise.js";
import {
  availabilityObjective,
  budgetWords,
  count,
  fallbackWords,
  hintWords,
  modelWords,
  moveWords,
  outputEstimateWords,
  returnWords,
  rpmWords,
  tpmWords,
  ttftObjective,
} from "./promise-wording.js";
import type { SheetBlock } from "./sheet-blocks.js";

export interface PlanSheetOptions {
  /** Render this tenant's plan only, with the tenant's own limits. */
  tenant?: string | undefined;
}

/** What each plan promises, in words a customer can read, from the config alone. */
export function planSheet(config: Config, options: PlanSheetOptions = {}): SheetBlock[] {
  const promises = planPromises(config, options.tenant);
  const title = options.tenant === undefined ? "What each plan promises" : `What tenant ${options.tenant} is promised`;
  return [
    { kind: "heading", level: 1, text: title },
    {
      kind: "paragraph",
      text: "Every request is served on one service tier. Each tier has its own models and objectives; the plan decides which tiers a request may use and what happens when a tier is in trouble.",
    },
    ...promises.flatMap(planBlocks),
  ];
}

function planBlocks(p: PlanPromise): SheetBlock[] {
  const own = (key: PlanPromise["ownLimits"][number]) => (p.ownLimits.includes(key) ? " (this tenant's own limit)" : "");
  const limited = p.limits.requestsPerMinute !== undefined || p.limits.tokensPerMinute !== undefined;
  return [
    { kind: "heading", level: 2, text: p.tenant === undefined ? `Plan ${p.plan}` : `Plan ${p.plan}, for tenant ${p.tenant}` },
    {
      kind: "list",
      items: [
        p.floor === p.ceiling
          ? `Tier: ${p.ceiling} only.`
          : `Tiers: ${p.floor} to ${p.ceiling}. ${p.ceiling} is the ceiling: no request is served above it, whatever it asks for. ${p.floor} is the floor: no request is served below it.`,
        `Default tier: ${p.defaultTier}, unless a rule below says otherwise.`,
        `Urgencies: ${p.urgencies.join(", ")} (default ${p.defaultUrgency}).`,
        `A tier asked for above ${p.ceiling}: ${hintWords(p)}.`,
        `Prompts up to ${count(p.maxPromptTokens)} tokens.`,
      ],
    },
    { kind: "heading", level: 3, text: "Rules" },
    p.rules.length === 0
      ? { kind: "paragraph", text: `None: every request goes to ${p.defaultTier}.` }
      : {
          kind: "list",
          items: p.rules.map((r) => {
            const when = r.when.length > 0 ? r.when.join(" and ") : "every request";
            const clamp = r.clampedFrom === undefined ? "" : ` (the rule says ${r.clampedFrom}; the plan's range makes it ${r.tier})`;
            return `${when}: ${r.tier}${clamp}${r.reason ? `, because ${r.reason}` : ""}.`;
          }),
        },
    { kind: "heading", level: 3, text: "Rate limits" },
    {
      kind: "list",
      items: [
        `${capitalise(rpmWords(p.limits))}${own("requestsPerMinute")}.`,
        `${capitalise(tpmWords(p.limits))}${own("tokensPerMinute")}${
          p.limits.tokensPerMinute === undefined
            ? "."
            : `: a request counts its prompt and its max_tokens, or ${outputEstimateWords(p.limits, p.tiers)} when it sets none${own("outputTokensEstimate")}.`
        }`,
        ...(limited
          ? [
              "Counted over a sliding minute across every router. Over a limit, a request is refused with HTTP 429 (RESOURCE_EXHAUSTED) and a Retry-After.",
            ]
          : []),
      ],
    },
    { kind: "heading", level: 3, text: "Budget" },
    { kind: "paragraph", text: `${capitalise(budgetWords(p))}.` },
    { kind: "heading", level: 3, text: "Tiers" },
    {
      kind: "table",
      header: ["tier", "role", "time to first token", "availability", "models"],
      rows: p.tiers.map((t) => [
        t.tier,
        t.roles.join(", "),
        ttftObjective(t),
        availabilityObjective(t),
        t.models.map(modelWords).join("; "),
      ]),
    },
    { kind: "heading", level: 3, text: "When a tier is in trouble" },
    {
      kind: "table",
      header: ["tier", "while degraded", "while down", "a request that fails before its answer starts", "after an outage"],
      rows: p.tiers.map((t) => [
        t.tier,
        moveWords(t.tier, t.onDegraded, false),
        moveWords(t.tier, t.onDown, true),
        fallbackWords(t),
        returnWords(t),
      ]),
    },
    {
      kind: "paragraph",
      text: `An answer that breaks off mid-stream ${
        p.tiers.every((t) => t.continuation)
          ? "is continued from its text on another model or tier, so it arrives whole"
          : "is continued from its text where its tier allows it; otherwise it ends with an error"
      }. Objectives are what each tier is watched against: a tier that misses them is marked degraded or down, and requests move as above.`,
    },
  ];
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
