import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, routerClient, unary } from "../support/grpc-clients.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";

/**
 * Faults seen through the router's edges: a stream cut mid-answer, a full tier bulkhead,
 * and urgency sent as a header.
 */
describe("faults through the router's edges", () => {
  let m: RunningMesh;
  let client: ReturnType<typeof routerClient>;

  beforeAll(async () => {
    m = await startMesh({
      tiers: [
        { name: "gold", rank: 3, fallback: "silver", model: "sim-gold", bulkhead: { max_concurrency: 1, max_queue: 0 } },
        { name: "silver", rank: 2, fallback: "bronze", model: "sim-silver" },
        { name: "bronze", rank: 1, model: "sim-bronze" },
      ],
      patch(raw) {
        // Gold only: the floor keeps in-request fallback from hiding gold's own answers.
        raw.plans.enterprise.min_tier = "gold";
        raw.simulator.models["sim-gold"].output_tokens = { min: 40, max: 40 };
        raw.simulator.models["sim-gold"].inter_token_ms = { median: 5, p99: 5 };
      },
    });
    client = routerClient(m.routerUrl);
  });
  afterAll(async () => {
    client?.close();
    await m?.stop();
  });

  it("a stream cut after the first tokens ends with an error on gRPC, never a clean end", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 1 });
    try {
      const call = client["CompleteStream"]({ input: { messages: [{ role: "user", content: "long answer" }] } }, new grpc.Metadata());
      const deltas: string[] = [];
      let done = false;
      const error = await (async () => {
        try {
          for await (const msg of call as AsyncIterable<{ event: string; delta?: string }>) {
            if (msg.event === "delta") deltas.push(msg.delta!);
            else done = true;
          }
          return undefined;
        } catch (err) {
          return err as grpc.ServiceError;
        }
      })();
      expect(deltas.length).toBeGreaterThan(0);
      expect(done).toBe(false);
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toContain("stream interrupted after the first token");
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 0 });
    }
  });

  it("...and with an error event and no [DONE] on the HTTP edge", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 1 });
    try {
      const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "long answer" }], stream: true }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('"content":');
      expect(text).not.toContain("[DONE]");
      expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: .*stream interrupted/);
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 0 });
    }
  });

  it("a full tier is refused with RESOURCE_EXHAUSTED on gRPC and 429 + Retry-After on HTTP", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { ttft_ms: { median: 1_000, p99: 1_000 } });
    try {
      const hold = unary(client, "Complete", { input: { messages: [{ role: "user", content: "hold the slot" }] } });
      await new Promise((r) => setTimeout(r, 200));
      await expect(unary(client, "Complete", { input: { messages: [{ role: "user", content: "no room" }] } })).rejects.toMatchObject({
        code: grpc.status.RESOURCE_EXHAUSTED,
      });
      const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "no room" }] }),
      });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      await hold;
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { ttft_ms: { median: 5, p99: 20 } });
    }
  });

  it("takes urgency from the x-tiermesh-urgency header when the field is empty", async () => {
    const md = new grpc.Metadata();
    md.set("x-tiermesh-urgency", "sometime");
    await expect(unary(client, "Complete", { input: { messages: [{ role: "user", content: "hi" }] } }, md)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('unknown urgency "sometime"'),
    });
  });
});
