import { tenantBudget, type Config } from "@tiermesh/config";
import { TierState, type CompleteResponse } from "@tiermesh/proto";
import { Counter, createMetricsRegistry, Gauge, Histogram, type Registry } from "@tiermesh/runtime";
import type { TierView } from "./tier-view.js";
import type { TierStatusTable } from "./tier-status-table.js";
import type { PolicySubscription } from "./policy-subscription.js";
import type { RoutingPolicy } from "./routing-policy.js";
import type { BudgetGuard } from "./budget-guard.js";
import type { RateDecision, SharingMode } from "./rate-limiter.js";

export interface RouterMetrics {
  readonly registry: Registry;
  /** Counts a finished request. `served` is empty when it failed. */
  request(requested: string, served: string, code: string, seconds: number): void;
  /** Times an answer's first token and its pace (GenAI server metrics). */
  answered(response: CompleteResponse): void;
  /** Counts a rate-limit decision about a tenant that has limits. */
  rateDecision(tenant: string, decision: RateDecision): void;
  /** Counts a usage record the ledger buffer refused. */
  ledgerDropped(): void;
}

// Bucket boundaries the OpenTelemetry GenAI metric conventions advise.
const GENAI_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const GENAI_TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
const GENAI_PER_TOKEN_BUCKETS = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];

export interface RouterMetricsSources {
  tiers: readonly string[];
  status: TierStatusTable;
  policy: RoutingPolicy;
  view: (tier: string) => TierView;
  natsConnected: () => boolean;
  classifierPolicy: PolicySubscription;
  budget: Pick<BudgetGuard, "spentUsd" | "localDecisions">;
  /** The config in force (tenants and their budgets). */
  config: () => Pick<Config, "plans" | "tenants">;
  ledger: { readonly bufferedCount: number };
  /** How rate limits are shared right now. */
  rateMode?: () => SharingMode;
}

/** The router's Prometheus metrics: traffic by requested and served tier, and what it believes of each tier. */
export function createRouterMetrics(sources: RouterMetricsSources): RouterMetrics {
  const registry = createMetricsRegistry("router");
  const requests = new Counter({
    name: "tiermesh_router_requests_total",
    help: "Requests by the tier the classifier assigned, the tier that served them and the result code",
    labelNames: ["requested_tier", "served_tier", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "tiermesh_router_request_seconds",
    help: "Time from receiving a request to its last byte, by served tier",
    labelNames: ["served_tier"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  // The router serves a GenAI API: the OpenTelemetry GenAI server metrics, in Prometheus naming.
  const genAiDuration = new Histogram({
    name: "gen_ai_server_request_duration_seconds",
    help: "GenAI server request duration (gen_ai.server.request.duration): receiving a request to its last byte",
    labelNames: ["gen_ai_operation_name", "error_type"],
    buckets: GENAI_DURATION_BUCKETS,
    registers: [registry],
  });
  const genAiTtft = new Histogram({
    name: "gen_ai_server_time_to_first_token_seconds",
    help: "Time to the first token of an answer (gen_ai.server.time_to_first_token), by the model and provider that served it",
    labelNames: ["gen_ai_operation_name", "gen_ai_response_model", "gen_ai_provider_name"],
    buckets: GENAI_TTFT_BUCKETS,
    registers: [registry],
  });
  const genAiPerToken = new Histogram({
    name: "gen_ai_server_time_per_output_token_seconds",
    help: "Time per output token after the first (gen_ai.server.time_per_output_token), by the model and provider that served it",
    labelNames: ["gen_ai_operation_name", "gen_ai_response_model", "gen_ai_provider_name"],
    buckets: GENAI_PER_TOKEN_BUCKETS,
    registers: [registry],
  });
  new Gauge({
    name: "tiermesh_router_nats_connected",
    help: "1 while the router's NATS connection is up; 0 means it routes on the last known tier status",
    registers: [registry],
    collect() {
      this.set(sources.natsConnected() ? 1 : 0);
    },
  });
  new Gauge({
    name: "tiermesh_router_policy_stale_seconds",
    help: "How long the classifier's policy watch has been down (0 while in sync); the router classifies on its last policy meanwhile",
    registers: [registry],
    collect() {
      this.set(sources.classifierPolicy.staleForMs() / 1_000);
    },
  });
  new Gauge({
    name: "tiermesh_router_policy_info",
    help: "1 for the classifier policy version in force (label version), with stale=1 while the classifier cannot be reached",
    labelNames: ["version", "stale"],
    registers: [registry],
    collect() {
      this.reset();
      const p = sources.classifierPolicy;
      if (p.version !== "") this.set({ version: p.version, stale: p.stale ? "1" : "0" }, 1);
    },
  });
  new Gauge({
    name: "tiermesh_router_tier_status_age_seconds",
    help: "Age of the newest tier status the router holds",
    labelNames: ["tier"],
    registers: [registry],
    collect() {
      for (const tier of sources.tiers) {
        const age = sources.status.ageMs(tier);
        if (age !== undefined) this.set({ tier }, age / 1_000);
      }
    },
  });
  new Gauge({
    name: "tiermesh_router_tier_state",
    help: "The router's view of each tier (1 healthy, 2 degraded, 3 down, 0 unknown) and where it comes from",
    labelNames: ["tier", "source"],
    registers: [registry],
    collect() {
      this.reset();
      for (const tier of sources.tiers) {
        const v = sources.view(tier);
        this.set({ tier, source: v.source }, v.state === TierState.UNSPECIFIED ? 0 : v.state);
      }
    },
  });
  new Gauge({
    name: "tiermesh_router_promoted_in_flight",
    help: "Promoted requests in flight, by target tier",
    labelNames: ["tier"],
    registers: [registry],
    collect() {
      for (const tier of sources.tiers) this.set({ tier }, sources.policy.promotedInFlight(tier));
    },
  });
  new Gauge({
    name: "tiermesh_router_tenant_spend_usd",
    help: "Month-to-date spend per tenant in US dollars as this router sees it: the shared usage aggregates plus its own requests not aggregated yet (every router shows the tenant's total: take the max, not the sum)",
    labelNames: ["tenant"],
    registers: [registry],
    collect() {
      this.reset();
      for (const tenant of Object.keys(sources.config().tenants)) this.set({ tenant }, sources.budget.spentUsd(tenant));
    },
  });
  new Gauge({
    name: "tiermesh_router_tenant_monthly_budget_usd",
    help: "Monthly budget of the tenant (its plan's budget.monthly_usd or its own override), for tenants that have one",
    labelNames: ["tenant"],
    registers: [registry],
    collect() {
      this.reset();
      const config = sources.config();
      for (const tenant of Object.keys(config.tenants)) {
        const usd = tenantBudget(config, tenant)?.monthly_usd;
        if (usd !== undefined) this.set({ tenant }, usd);
      }
    },
  });
  const admitted = new Counter({
    name: "tiermesh_router_rate_limit_admitted_total",
    help: "Requests of tenants with rate limits that this router admitted",
    labelNames: ["tenant"],
    registers: [registry],
  });
  const admittedTokens = new Counter({
    name: "tiermesh_router_rate_limit_admitted_tokens_total",
    help: "Tokens charged against tokens_per_minute for the requests this router admitted (prompt plus max_tokens or the output estimate)",
    labelNames: ["tenant"],
    registers: [registry],
  });
  const limited = new Counter({
    name: "tiermesh_router_rate_limited_total",
    help: "Requests this router refused (RESOURCE_EXHAUSTED, HTTP 429) because the tenant was over a rate limit, by limit",
    labelNames: ["tenant", "limit"],
    registers: [registry],
  });
  new Gauge({
    name: "tiermesh_router_rate_limit_replicas",
    help: "Router replicas sharing each tenant's rate limits as this router sees them (itself included)",
    registers: [registry],
    collect() {
      if (sources.rateMode) this.set(sources.rateMode().replicas);
    },
  });
  new Gauge({
    name: "tiermesh_router_rate_limit_shared",
    help: "1 while rate limits are shared with the other replicas over NATS; 0 while each replica keeps to limit / replicas alone",
    registers: [registry],
    collect() {
      if (sources.rateMode) this.set(sources.rateMode().shared ? 1 : 0);
    },
  });
  new Gauge({
    name: "tiermesh_router_ledger_buffered",
    help: "Usage records accepted and not yet stored by JetStream (retried until they are)",
    registers: [registry],
    collect() {
      this.set(sources.ledger.bufferedCount);
    },
  });
  new Counter({
    name: "tiermesh_router_budget_local_decisions_total",
    help: "Budget decisions this router took on its own view because the shared budget holds did not answer (NATS away): across routers, spend may then pass a budget by more than one request per router",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.budget.localDecisions);
    },
  });
  const ledgerDropped = new Counter({
    name: "tiermesh_router_ledger_dropped_total",
    help: "Usage records refused because the ledger buffer (ledger.max_buffered) was full while JetStream could not store them",
    registers: [registry],
  });
  return {
    registry,
    rateDecision(tenant, decision) {
      if (decision.admitted) {
        admitted.inc({ tenant });
        if (decision.cost && decision.cost.tokens > 0) admittedTokens.inc({ tenant }, decision.cost.tokens);
      } else {
        limited.inc({ tenant, limit: decision.limit });
      }
    },
    request(requested, served, code, seconds) {
      requests.inc({ requested_tier: requested, served_tier: served, code });
      if (served) duration.observe({ served_tier: served }, seconds);
      genAiDuration.observe({ gen_ai_operation_name: "chat", error_type: code === "ok" ? "" : code }, seconds);
    },
    answered(r) {
      const labels = { gen_ai_operation_name: "chat", gen_ai_response_model: r.model, gen_ai_provider_name: r.provider };
      const ttft = Number(r.timings?.ttftUs ?? 0n) / 1e6;
      const total = Number(r.timings?.totalUs ?? 0n) / 1e6;
      genAiTtft.observe(labels, ttft);
      const tokens = r.usage?.completionTokens ?? 0;
      if (tokens > 1 && total > ttft) genAiPerToken.observe(labels, (total - ttft) / (tokens - 1));
    },
    ledgerDropped: () => ledgerDropped.inc(),
  };
}
