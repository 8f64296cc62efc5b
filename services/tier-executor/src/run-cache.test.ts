import { create } from "@bufbuild/protobuf";
import { ChatMessageSchema, CompletionInputSchema, JsonSchemaFormatSchema, ToolChoiceSchema, ToolSpecSchema } from "@tiermesh/proto";
import { afterEach, describe, expect, it } from "vitest";
import type { RunRequest } from "./run-contract.js";
import { answer, closeFixtures, configOf, deployment, request, runnerFor, seen, served, upstream } from "./http-upstream.test-support.js";

// The response cache around a tier's runs, through TierRunner over real HTTP (see
// http-upstream.test-support.ts).

afterEach(closeFixtures);

describe("TierRunner: response cache", () => {
  it("serves a repeated temperature-0 request from the tier's cache, never others or other tiers", async () => {
    const a = await upstream((res) => answer(res, ["cached", " answer"]));
    const tier = { models: [deployment("a", "a")], cache: { enabled: true, ttl_ms: 60_000 } };
    const config = configOf({ a: a.url }, { gold: tier, silver: tier });
    const gold = runnerFor(config, "gold");
    const silver = runnerFor(config, "silver");

    const first = await served(gold, request({ temperature: 0 }));
    const second = await served(gold, request({ temperature: 0 }));
    expect(first.result.cached).toBe(false);
    expect(second.pieces.join("")).toBe("cached answer");
    expect(second.result).toMatchObject({ cached: true, costUsd: 0, attempts: 0, deployment: { id: "a" } });
    expect(a.calls).toHaveLength(1);
    expect(seen(gold.outcomes)).toEqual(["a:OK"]);

    // Temperature unset is never cached.
    await served(gold, request());
    expect((await served(gold, request())).result.cached).toBe(false);
    expect(a.calls).toHaveLength(3);

    // Another tier's runner has its own cache.
    expect((await served(silver, request({ temperature: 0 }))).result.cached).toBe(false);
    expect(a.calls).toHaveLength(4);
  });

  it("keys on everything that shapes the answer: tools, tool choice, output format, stop, seed, content parts", async () => {
    const a = await upstream((res) => answer(res, ["x"]));
    const h = runnerFor(
      configOf({ a: a.url }, { gold: { models: [deployment("a", "a")], cache: { enabled: true, ttl_ms: 60_000 } } }),
      "gold",
    );
    const base = request({ temperature: 0 });
    const variant = (change: Partial<RunRequest["input"]>): RunRequest => ({
      ...base,
      input: create(CompletionInputSchema, { ...base.input, ...change }),
    });
    const variants = [
      base,
      variant({ tools: [create(ToolSpecSchema, { name: "f", parametersJson: "{}" })] }),
      variant({
        tools: [create(ToolSpecSchema, { name: "f", parametersJson: "{}" })],
        toolChoice: create(ToolChoiceSchema, { mode: "required" }),
      }),
      variant({ jsonMode: true }),
      variant({ jsonSchema: create(JsonSchemaFormatSchema, { name: "s", schemaJson: '{"type":"object"}' }) }),
      variant({ stop: ["END"] }),
      variant({ seed: 7n }),
      variant({
        messages: [
          create(ChatMessageSchema, {
            role: "user",
            content: "Say hello.",
            parts: [{ part: { case: "imageUrl", value: { url: "https://example.com/a.png" } } }],
          }),
        ],
      }),
    ];
    for (const v of variants) expect((await served(h, v)).result.cached).toBe(false);
    expect(a.calls).toHaveLength(variants.length);
    // Each is then served from its own entry.
    for (const v of variants) expect((await served(h, v)).result.cached).toBe(true);
    expect(a.calls).toHaveLength(variants.length);
  });
});
