import { hashApiKey } from "@tiermesh/config";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, routerClient, unary } from "../support/grpc-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

// The HTTP edge through the official OpenAI client, against a whole mesh over the simulator.

const FREE_KEY = "tm_test_key_for_the_free_tenant_openai_client_0123";
const ENTERPRISE_KEY = "tm_test_key_for_the_enterprise_tenant_openai_0123";

const weather: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};
const ask: ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Paris?" }];

describe("the HTTP edge through the official OpenAI client", () => {
  let m: RunningMesh;
  let client: OpenAI;
  let free: OpenAI;

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.plans.free = { default_tier: "bronze", max_tier: "silver" };
        raw.tenants.budget = { plan: "free", api_key_sha256: [hashApiKey(FREE_KEY)] };
        raw.tenants.acme.api_key_sha256 = [hashApiKey(ENTERPRISE_KEY)];
      },
    });
    client = new OpenAI({ baseURL: `${m.routerUrl}/v1`, apiKey: ENTERPRISE_KEY, maxRetries: 0, timeout: 20_000 });
    free = new OpenAI({ baseURL: `${m.routerUrl}/v1`, apiKey: FREE_KEY, maxRetries: 0, timeout: 20_000 });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("lists auto, the plan's tiers and their pool models, each with its owner", async () => {
    const models = [];
    for await (const model of client.models.list()) models.push([model.id, model.owned_by]);
    expect(models).toEqual([
      ["auto", "tiermesh"],
      ["gold", "tiermesh"],
      ["silver", "tiermesh"],
      ["bronze", "tiermesh"],
      ["sim-gold", "sim"],
      ["sim-silver", "sim"],
      ["sim-bronze", "sim"],
    ]);
    const forFree = [];
    for await (const model of free.models.list()) forFree.push(model.id);
    expect(forFree).toEqual(["auto", "silver", "bronze", "sim-silver", "sim-bronze"]);
    expect((await free.models.retrieve("sim-silver")).owned_by).toBe("sim");
  });

  it("serves a model named by tier or pool model at that tier", async () => {
    const bySilver = await client.chat.completions.create({ model: "silver", messages: ask });
    expect(bySilver.model).toBe("sim-silver");
    const byPool = await client.chat.completions.create({ model: "sim-bronze", messages: ask });
    expect(byPool.model).toBe("sim-bronze");
  });

  it("round-trips a tool call, unary: tool_calls out, the tool's result in, a text answer back", async () => {
    const first = await client.chat.completions.create({ model: "auto", messages: ask, tools: [weather] });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls?.[0];
    expect(call?.type).toBe("function");
    if (call?.type !== "function") throw new Error("expected a function call");
    expect(call.function).toEqual({ name: "get_weather", arguments: '{"city":"sim"}' });
    expect(call.id).toMatch(/^call_/);

    const second = await client.chat.completions.create({
      model: "auto",
      tools: [weather],
      messages: [...ask, choice.message, { role: "tool", tool_call_id: call.id, content: '{"celsius":18}' }],
    });
    expect(second.choices[0]!.finish_reason).toBe("stop");
    expect(second.choices[0]!.message.content?.length).toBeGreaterThan(0);
  });

  it("streams a tool call: id and name first, then the arguments in pieces, assembled by the client", async () => {
    const stream = client.chat.completions.stream({ model: "auto", messages: ask, tools: [weather] });
    const pieces: string[] = [];
    stream.on("tool_calls.function.arguments.delta", (e) => pieces.push(e.arguments_delta));
    const final = await stream.finalChatCompletion();
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.join("")).toBe('{"city":"sim"}');
    const message = final.choices[0]!.message;
    expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    expect(message.tool_calls?.[0]).toMatchObject({ type: "function", function: { name: "get_weather", arguments: '{"city":"sim"}' } });
  });

  it("streams parallel tool calls apart by index when the choice is required", async () => {
    const time: ChatCompletionTool = {
      type: "function",
      function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } } } },
    };
    const stream = client.chat.completions.stream({ model: "auto", messages: ask, tools: [weather, time], tool_choice: "required" });
    const final = await stream.finalChatCompletion();
    const calls = final.choices[0]!.message.tool_calls ?? [];
    expect(calls.map((c) => (c.type === "function" ? [c.function.name, c.function.arguments] : []))).toEqual([
      ["get_weather", '{"city":"sim"}'],
      ["get_time", '{"zone":"sim"}'],
    ]);
  });

  it("with include_usage, ends with a chunk of usage and no choices, as OpenAI does", async () => {
    const stream = await client.chat.completions.create({
      model: "auto",
      messages: ask,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
    expect(chunks.slice(0, -1).every((c) => c.choices.length === 1)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(last.usage?.completion_tokens).toBe(text.trim().split(/\s+/).length);
  });

  it("answers 404 model_not_found for a model that does not exist or that the plan may not use", async () => {
    for (const [c, model] of [
      [client, "gpt-nope"],
      [free, "gold"],
      [free, "sim-gold"],
    ] as const) {
      const err = await c.chat.completions.create({ model, messages: ask }).catch((e: unknown) => e);
      expect(err, model).toBeInstanceOf(OpenAI.NotFoundError);
      expect(err).toMatchObject({ status: 404, type: "invalid_request_error", param: "model", code: "model_not_found" });
    }
  });

  it("refuses with 400 naming the parameter: n = 2, an unknown field", async () => {
    const n = await client.chat.completions.create({ model: "auto", messages: ask, n: 2 }).catch((e: unknown) => e);
    expect(n).toBeInstanceOf(OpenAI.BadRequestError);
    expect(n).toMatchObject({ status: 400, param: "n" });
    const unknown = { model: "auto", messages: ask, frobnicate: true } as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming;
    const err = await client.chat.completions.create(unknown).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: "frobnicate", code: "unknown_parameter" });
  });

  it("the Router RPC (gRPC) carries the same: tool calls whole in Complete, tool_call events in CompleteStream, NOT_FOUND for a model", async () => {
    const rpc = routerClient(m.routerUrl);
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${ENTERPRISE_KEY}`);
    const input = {
      model: "silver",
      messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [{ name: "get_weather", parameters_json: JSON.stringify(weather.function.parameters) }],
    };
    try {
      const res = await unary<{ tool_calls: { name: string; arguments_json: string }[]; finish_reason: string; model: string }>(
        rpc,
        "Complete",
        { input },
        metadata,
      );
      expect(res).toMatchObject({
        finish_reason: "tool_calls",
        model: "sim-silver",
        tool_calls: [{ name: "get_weather", arguments_json: '{"city":"sim"}' }],
      });

      const events = await new Promise<{ event: string; tool_call?: { index: number; name: string; arguments: string } }[]>(
        (resolve, reject) => {
          const out: { event: string; tool_call?: { index: number; name: string; arguments: string } }[] = [];
          const call = rpc["CompleteStream"]({ input }, metadata);
          call.on("data", (e: (typeof out)[number]) => out.push(e));
          call.on("end", () => resolve(out));
          call.on("error", reject);
        },
      );
      const pieces = events.filter((e) => e.event === "tool_call").map((e) => e.tool_call!);
      expect(pieces[0]).toMatchObject({ index: 0, name: "get_weather", arguments: "" });
      expect(
        pieces
          .slice(1)
          .map((p) => p.arguments)
          .join(""),
      ).toBe('{"city":"sim"}');
      expect(events.at(-1)!.event).toBe("done");

      await expect(unary(rpc, "Complete", { input: { ...input, model: "gpt-nope" } }, metadata)).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
      });
    } finally {
      rpc.close();
    }
  });
});
