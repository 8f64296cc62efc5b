import type { Config } from "@tiermesh/config";
import { planPromise } from "./plan-promise.js";
import { changeLines, factChanges, OWN_LIMIT, promiseFacts, type FactChange } from "./promise-facts.js";

/** Changes one group of customers sees: a plan's tenants, one tenant, or the mesh as a whole. */
export interface DiffSection {
  subject: string;
  changes: string[];
}

const tenantsOn = (config: Config, plan: string) => Object.keys(config.tenants).filter((t) => config.tenants[t]!.plan === plan);
const names = (xs: readonly string[]) => (xs.length > 0 ? xs.join(", ") : "none");
const has = (o: object, key: string) => Object.hasOwn(o, key);

/**
 * What changes for customers between two configs: tiers, plans and tenants added or removed;
 * per plan (naming its tenants), every promise that changes (range, rules, objectives, pool
 * models and prices, moves under trouble, limits, budget); per tenant, a change of plan and
 * its own limits. Anything not in a plan sheet (ports, timeouts, breakers) is not a change here.
 */
export function configDiff(before: Config, after: Config): DiffSection[] {
  const sections: DiffSection[] = [];
  const added = (a: object, b: object) => Object.keys(b).filter((k) => !has(a, k));
  const mesh: string[] = [];
  for (const t of added(before.tiers, after.tiers)) mesh.push(`tier ${t} added`);
  for (const t of added(after.tiers, before.tiers)) mesh.push(`tier ${t} removed`);
  for (const p of added(before.plans, after.plans)) mesh.push(`plan ${p} added (tenants: ${names(tenantsOn(after, p))})`);
  for (const p of added(after.plans, before.plans)) mesh.push(`plan ${p} removed (its tenants were: ${names(tenantsOn(before, p))})`);
  for (const t of added(before.tenants, after.tenants))
    mesh.push(`tenant ${t} added, on plan ${after.tenants[t]!.plan}${ownLimitWords(after, t)}`);
  for (const t of added(after.tenants, before.tenants)) mesh.push(`tenant ${t} removed (was on plan ${before.tenants[t]!.plan})`);
  if (mesh.length > 0) sections.push({ subject: "tiers, plans and tenants", changes: mesh });

  const planChanges = new Map<string, FactChange[]>();
  for (const plan of Object.keys(before.plans).filter((p) => has(after.plans, p))) {
    const changes = factChanges(promiseFacts(planPromise(before, plan)), promiseFacts(planPromise(after, plan)));
    planChanges.set(plan, changes);
    if (changes.length === 0) continue;
    const tenants = [...new Set([...tenantsOn(before, plan), ...tenantsOn(after, plan)])];
    sections.push({ subject: `plan ${plan} (tenants: ${names(tenants)})`, changes: changeLines(changes) });
  }

  for (const tenant of Object.keys(before.tenants).filter((t) => has(after.tenants, t))) {
    const [from, to] = [before.tenants[tenant]!.plan, after.tenants[tenant]!.plan];
    const changes = factChanges(promiseFacts(planPromise(before, from, tenant)), promiseFacts(planPromise(after, to, tenant)));
    // What the plan's section already says is not repeated for each of its tenants.
    const planSaid = from === to ? (planChanges.get(to) ?? []) : [];
    const own = changes.filter((c) => !planSaid.some((p) => p.fact === c.fact && p.before === c.before && p.after === c.after));
    if (from === to && own.length === 0) continue;
    const lines = changeLines(own);
    if (from !== to) lines.unshift(`plan: ${from} → ${to}`);
    sections.push({ subject: `tenant ${tenant}`, changes: lines });
  }
  return sections;
}

/** A new tenant's own limits, if it sets any. */
function ownLimitWords(config: Config, tenant: string): string {
  const facts = promiseFacts(planPromise(config, config.tenants[tenant]!.plan, tenant));
  const own = [...facts.values()].filter((v) => v.endsWith(OWN_LIMIT)).map((v) => v.slice(0, -OWN_LIMIT.length));
  return own.length > 0 ? ` with its own limits: ${own.join(", ")}` : "";
}

export function renderDiff(sections: readonly DiffSection[]): string {
  if (sections.length === 0) return "no change a customer can see\n";
  return sections.map((s) => `${s.subject}:\n${s.changes.map((c) => `  ${c}`).join("\n")}\n`).join("");
}
