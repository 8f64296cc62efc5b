import { create } from "@bufbuild/protobuf";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { ledgerSchema, parseConfig, type Config, type LedgerConfig } from "@tiermesh/config";
import { UsageOutcome, UsageRecordSchema, type UsageRecord } from "@tiermesh/proto";

export const quietLogger = { info() {}, warn() {}, error() {} };

/** A ledger config with defaults, short-windowed for tests. */
export const testLedger = (patch: Partial<LedgerConfig> = {}): LedgerConfig => ({ ...ledgerSchema.parse({}), flush_ms: 10, ...patch });

/** A NATS client that reconnects forever (for tests that restart the server). */
export function natsClient(url: string): Promise<NatsConnection> {
  return connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: true });
}

/** A small config: gold (TTFT objective 500 ms) over silver (1000 ms), plan pro. */
export function ledgerTestConfig(extra = ""): Config {
  return parseConfig(
    `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold: { rank: 2, fallback: silver, executor: { listen: "127.0.0.1:5" }, slo: { ttft_p95_ms: 500, availability_target: 0.99 }, models: [{ provider: p, model: g, price: { input_per_mtok: 10, output_per_mtok: 30 } }] }
  silver: { rank: 1, executor: { listen: "127.0.0.1:6" }, slo: { ttft_p95_ms: 1000 }, models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 3 } }] }
plans:
  pro: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 100 } }
tenants: { acme: { plan: pro }, globex: { plan: pro } }
${extra}`,
    "t.yaml",
    {},
  );
}

let n = 0;
/** A usage record with sensible defaults. */
export function usageRecord(init: Partial<Omit<UsageRecord, "$typeName">> = {}): UsageRecord {
  n++;
  return create(UsageRecordSchema, {
    requestId: `req-${process.pid}-${Date.now()}-${n}`,
    tenant: "acme",
    plan: "pro",
    requestedTier: "gold",
    entitledTier: "gold",
    servedTier: "gold",
    model: "g",
    provider: "p",
    promptTokens: 100,
    completionTokens: 50,
    costUsd: 0.0025,
    ttftMs: 100,
    latencyMs: 400,
    outcome: UsageOutcome.OK,
    atMs: BigInt(Date.now()),
    ...init,
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
