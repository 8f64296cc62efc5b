import { create } from "@bufbuild/protobuf";
import { createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { createClassifierServer } from "@tiermesh/classifier";
import { hashApiKey, parseConfig, type Config } from "@tiermesh/config";
import {
  ClassifierService,
  ExecuteResponseSchema,
  RouterService,
  TierExecutorService,
  type ExecuteRequest,
  type ExecuteResponse,
} from "@tiermesh/proto";
import { createRouterServer, type RouterServer } from "@tiermesh/router";
import { createLogger, createMeshTransport } from "@tiermesh/runtime";
import { eventually } from "./ledger-fixture.js";

/** Cost in USD and delay of an answer, per tier. */
export type TierAnswers = Record<string, { costUsd: number; delayMs: number }>;

export const apiKey = (tenant: string) => `tm-test-key-${tenant}`;

/**
 * A config for routers whose executors answer in memory: tiers gold over silver (output priced
 * so that a request with max_tokens 100 is estimated at $0.10), plans and tenants given as YAML.
 */
export function replicaConfig(natsUrl: string, tenancy: { plans: string; tenants: string[] }, ledgerPatch = ""): Config {
  const tenants = tenancy.tenants.map((t) => {
    const [name, plan] = t.split(":");
    return `  ${name}: { plan: ${plan}, api_key_sha256: ["${hashApiKey(apiKey(name!))}"] }`;
  });
  return parseConfig(
    `
log: { level: warn }
nats: { url: "${natsUrl}" }
router: { listen: "127.0.0.1:0" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
ledger: { flush_ms: 10 ${ledgerPatch} }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold: { rank: 2, fallback: silver, executor: { listen: "127.0.0.1:5" }, slo: { ttft_p95_ms: 500 }, models: [{ provider: p, model: g, price: { input_per_mtok: 0, output_per_mtok: 1000 } }] }
  silver: { rank: 1, executor: { listen: "127.0.0.1:6" }, slo: { ttft_p95_ms: 1000 }, models: [{ provider: p, model: s, price: { input_per_mtok: 0, output_per_mtok: 500 } }] }
plans:
${tenancy.plans}
tenants:
${tenants.join("\n")}
`,
    "replicas.yaml",
    {},
  );
}

function answer(req: ExecuteRequest, answers: TierAnswers): ExecuteResponse {
  const a = answers[req.tier]!;
  return create(ExecuteResponseSchema, {
    tier: req.tier,
    model: req.tier === "gold" ? "g" : "s",
    provider: "p",
    content: `from ${req.tier}`,
    finishReason: "stop",
    usage: { promptTokens: 10, completionTokens: 20, totalTokens: 30 },
    costUsd: a.costUsd,
    attempts: 1,
    timings: { ttftUs: BigInt(a.delayMs * 1_000), totalUs: BigInt(a.delayMs * 1_000) },
  });
}

export interface Replica {
  server: RouterServer;
  url: string;
  client: Client<typeof RouterService>;
  close(): Promise<void>;
}

/** One router replica, as its own server on a free port, with in-memory executors and classifier. */
export async function startReplica(config: Config, answers: TierAnswers): Promise<Replica> {
  const logger = createLogger("router", "warn");
  const classifier = createClassifierServer(config, logger);
  const executor = createRouterTransport(({ service }) =>
    service(TierExecutorService, {
      async execute(req) {
        await new Promise((r) => setTimeout(r, answers[req.tier]!.delayMs));
        return answer(req, answers);
      },
      async *executeStream(req) {
        await new Promise((r) => setTimeout(r, answers[req.tier]!.delayMs));
        yield { event: { case: "delta", value: `from ${req.tier}` } };
        yield { event: { case: "done", value: answer(req, answers) } };
      },
    }),
  );
  const server = createRouterServer(config, logger, {
    classifierTransport: createRouterTransport(({ service }) => service(ClassifierService, classifier.service)),
    executorTransport: () => executor,
  });
  const port = await server.rpc.listen("127.0.0.1:0");
  const url = `http://127.0.0.1:${port}`;
  await eventually(() => server.classifierPolicy.classify !== undefined && server.natsConnected, 10_000, "router ready");
  // The aggregates watch and the budget holds open right after the connection.
  await new Promise((r) => setTimeout(r, 300));
  return {
    server,
    url,
    client: createClient(RouterService, createMeshTransport(url)),
    close: () => server.close(),
  };
}
