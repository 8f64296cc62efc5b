import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, routerClient, unary } from "../support/grpc-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

interface CompleteResponse {
  content: string;
  routing: { requested_tier: string; served_tier: string; reasons: string[]; rule_ids: string[] };
  model: string;
  provider: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  cost_usd: number;
  timings: { ttft_us: string; total_us: string };
}

const hello = { input: { messages: [{ role: "user", content: "Say hello to tiermesh." }] } };

describe("the mesh, as separate processes over real HTTP/2 and NATS", () => {
  let m: RunningMesh;
  let client: ReturnType<typeof routerClient>;

  beforeAll(async () => {
    m = await startMesh();
    client = routerClient(m.routerUrl);
  });
  afterAll(async () => {
    client?.close();
    await m?.stop();
  });

  it("serves Router.Complete from the classified tier, with model, usage and cost", async () => {
    const res = await unary<CompleteResponse>(client, "Complete", hello);
    expect(res.routing.requested_tier).toBe("gold");
    expect(res.routing.served_tier).toBe("gold");
    expect(res.model).toBe("sim-gold");
    expect(res.provider).toBe("sim");
    expect(res.usage.prompt_tokens).toBeGreaterThan(0);
    expect(res.usage.completion_tokens).toBeGreaterThan(0);
    expect(res.usage.total_tokens).toBe(res.usage.prompt_tokens + res.usage.completion_tokens);
    expect(res.cost_usd).toBeGreaterThan(0);
    expect(res.content.split(" ").length).toBe(res.usage.completion_tokens);
    expect(Number(res.timings.total_us)).toBeGreaterThan(0);
  });

  it("routes by rule: batch urgency is served by bronze", async () => {
    const res = await unary<CompleteResponse>(client, "Complete", { input: { ...hello.input, urgency: "batch" } });
    expect(res.routing.served_tier).toBe("bronze");
    expect(res.routing.rule_ids).toEqual(["batch-to-bronze"]);
    expect(res.model).toBe("sim-bronze");
  });

  it("streams Router.CompleteStream: deltas in order, then one done with usage", async () => {
    const call = client["CompleteStream"](hello, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    const deltas: string[] = [];
    let done: CompleteResponse | undefined;
    for await (const msg of call as AsyncIterable<{ event: string; delta?: string; done?: CompleteResponse }>) {
      if (msg.event === "delta") deltas.push(msg.delta!);
      else if (msg.event === "done") done = msg.done;
    }
    expect(deltas.length).toBeGreaterThan(1);
    expect(done).toBeDefined();
    expect(done!.routing.served_tier).toBe("gold");
    expect(done!.model).toBe("sim-gold");
    expect(done!.usage.completion_tokens).toBeGreaterThan(0);
    expect(deltas.join("").trim().split(/\s+/).length).toBe(done!.usage.completion_tokens);
  });

  it("rejects bad input with a code and a message naming the field", async () => {
    await expect(unary(client, "Complete", { input: { messages: [] } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("input.messages"),
    });
    await expect(unary(client, "Complete", { input: { ...hello.input, urgency: "asap" } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining("input.urgency"),
    });
    const bad = new grpc.Metadata();
    bad.set("authorization", "Bearer not-a-key");
    await expect(unary(client, "Complete", hello, bad)).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });
});
