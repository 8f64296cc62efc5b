import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { parseConfig } from "@tiermesh/config";
import { encodePolicy, policyDocument } from "@tiermesh/policy";
import { ClassifierService, CompletionInputSchema, WatchPolicyResponseSchema, type WatchPolicyResponse } from "@tiermesh/proto";
import { createLogger } from "@tiermesh/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { PolicySubscription } from "./policy-subscription.js";

const config = (enterpriseTier: string) =>
  parseConfig(
    `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 2, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: a, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
  silver: { rank: 1, executor: { listen: "127.0.0.1:7411" }, models: [{ provider: sim, model: b, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: { enterprise: { default_tier: ${enterpriseTier}, max_tier: gold } }
tenants: { acme: { plan: enterprise } }
`,
    "t.yaml",
    {},
  );

const snapshot = (enterpriseTier: string): WatchPolicyResponse => {
  const { json, version } = encodePolicy(policyDocument(config(enterpriseTier)));
  return create(WatchPolicyResponseSchema, { version, policyJson: json, loadedAtMs: 1n });
};

/** A classifier whose watch stream the test drives: push snapshots, fail the stream, refuse calls. */
function fakeClassifier() {
  let push: ((s: WatchPolicyResponse | Error) => void) | undefined;
  const state = { up: true, watches: 0 };
  const transport = createRouterTransport(({ service }) =>
    service(ClassifierService, {
      classify() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
      async *watchPolicy() {
        if (!state.up) throw new ConnectError("connect ECONNREFUSED", Code.Unavailable);
        state.watches++;
        const queue: (WatchPolicyResponse | Error)[] = [];
        let wake: (() => void) | undefined;
        push = (s) => {
          queue.push(s);
          wake?.();
        };
        for (;;) {
          while (queue.length === 0) await new Promise<void>((r) => (wake = r));
          const next = queue.shift()!;
          if (next instanceof Error) throw next;
          yield next;
        }
      },
    }),
  );
  return { client: createClient(ClassifierService, transport), state, push: (s: WatchPolicyResponse | Error) => push!(s) };
}

const input = create(CompletionInputSchema, { messages: [{ role: "user", content: "hi" }] });
const until = async (check: () => boolean, ms = 2_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("PolicySubscription", () => {
  let sub: PolicySubscription | undefined;
  afterEach(async () => {
    await sub?.close();
  });

  it("has no policy until the first snapshot, then classifies locally with it", async () => {
    const c = fakeClassifier();
    sub = new PolicySubscription({ client: c.client, logger: createLogger("test", "silent"), watcher: "t" });
    sub.start();
    await until(() => c.state.watches === 1);
    expect(sub.classify).toBeUndefined();
    expect(sub.stale).toBe(true);
    c.push(snapshot("silver"));
    await until(() => sub!.classify !== undefined);
    expect(sub.stale).toBe(false);
    expect(sub.classify!("acme", input).tier).toBe("silver");
    expect(() => sub!.classify!("nobody", input)).toThrow(/unknown tenant "nobody"/);
  });

  it("applies a new version as soon as it is pushed", async () => {
    const c = fakeClassifier();
    const changes: string[] = [];
    sub = new PolicySubscription({
      client: c.client,
      logger: createLogger("test", "silent"),
      watcher: "t",
      onChange: () => changes.push(sub!.version),
    });
    sub.start();
    await until(() => c.state.watches === 1);
    c.push(snapshot("silver"));
    await until(() => sub!.classify?.("acme", input).tier === "silver");
    const first = sub.version;
    c.push(snapshot("gold"));
    await until(() => sub!.classify?.("acme", input).tier === "gold");
    expect(sub.version).not.toBe(first);
    expect(changes).toEqual([first, sub.version]);
  });

  it("keeps routing on the last policy while the classifier is away, marked stale, and resyncs when it is back", async () => {
    const c = fakeClassifier();
    sub = new PolicySubscription({
      client: c.client,
      logger: createLogger("test", "silent"),
      watcher: "t",
      retry: { minMs: 10, maxMs: 40 },
    });
    sub.start();
    await until(() => c.state.watches === 1);
    c.push(snapshot("silver"));
    await until(() => !sub!.stale);
    c.state.up = false;
    c.push(new ConnectError("connection reset", Code.Unavailable));
    await until(() => sub!.stale);
    expect(sub.classify!("acme", input).tier).toBe("silver");
    await new Promise((r) => setTimeout(r, 60));
    expect(sub.staleForMs()).toBeGreaterThanOrEqual(50);
    c.state.up = true;
    await until(() => c.state.watches === 2);
    c.push(snapshot("gold"));
    await until(() => !sub!.stale);
    expect(sub.classify!("acme", input).tier).toBe("gold");
    expect(sub.staleForMs()).toBe(0);
  });

  it("refuses a snapshot that does not validate and keeps the running policy", async () => {
    const c = fakeClassifier();
    sub = new PolicySubscription({ client: c.client, logger: createLogger("test", "silent"), watcher: "t" });
    sub.start();
    await until(() => c.state.watches === 1);
    c.push(snapshot("silver"));
    await until(() => sub!.classify !== undefined);
    const version = sub.version;
    const bad = JSON.parse(snapshot("gold").policyJson) as { tenants: Record<string, { plan: string }> };
    bad.tenants["acme"]!.plan = "missing";
    c.push(create(WatchPolicyResponseSchema, { version: "bad", policyJson: JSON.stringify(bad) }));
    await new Promise((r) => setTimeout(r, 30));
    expect(sub.version).toBe(version);
    expect(sub.classify!("acme", input).tier).toBe("silver");
    c.push(snapshot("gold"));
    await until(() => sub!.classify!("acme", input).tier === "gold");
  });
});
