import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator, simulatorConfigSchema } from "./index.js";

// The simulated model's tool calls, over HTTP.

const config = simulatorConfigSchema.parse({
  models: {
    "sim-tools": { ttft_ms: { median: 1, p99: 2 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 4, max: 4 } },
    "sim-texty": {
      ttft_ms: { median: 1, p99: 2 },
      inter_token_ms: { median: 0, p99: 0 },
      output_tokens: { min: 4, max: 4 },
      tool_use: "never",
    },
  },
});

let sim: ReturnType<typeof createSimulator>;
let base: string;
beforeEach(async () => {
  sim = createSimulator(config, { random: () => 0.5 });
  base = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
});
afterEach(async () => {
  await sim.close();
});

const post = (body: unknown) =>
  fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

const weather = {
  type: "function",
  function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer" } } } },
};
const time = { type: "function", function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string" } } } } };
const ask = [{ role: "user", content: "Weather in Paris?" }];

interface Chunk {
  choices: {
    delta: { content?: string | null; tool_calls?: { index: number; id?: string; function: { name?: string; arguments: string } }[] };
    finish_reason: string | null;
  }[];
}

async function chunks(res: Response): Promise<Chunk[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
    .map((e) => JSON.parse(e.slice(6)) as Chunk);
}

describe("simulated tool calls", () => {
  it("calls the first tool when the user asks and tools are offered, with arguments from its schema", async () => {
    const body = (await (await post({ model: "sim-tools", messages: ask, tools: [weather, time] })).json()) as {
      choices: {
        message: { content: string | null; tool_calls: { id: string; function: { name: string; arguments: string } }[] };
        finish_reason: string;
      }[];
    };
    const choice = body.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls.map((c) => [c.function.name, c.function.arguments])).toEqual([
      ["get_weather", '{"city":"sim","days":1}'],
    ]);
  });

  it("streams each call's id and name, then its arguments in several pieces", async () => {
    const all = await chunks(await post({ model: "sim-tools", messages: ask, tools: [weather], stream: true }));
    const calls = all.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, function: { name: "get_weather", arguments: "" } });
    expect(calls[0]!.id).toMatch(/^call_/);
    const pieces = calls.slice(1).map((c) => c.function.arguments);
    expect(pieces.length).toBeGreaterThanOrEqual(2);
    expect(pieces.join("")).toBe('{"city":"sim","days":1}');
    expect(all.at(-1)!.choices[0]!.finish_reason).toBe("tool_calls");
  });

  it("honours tool_choice: none answers in text, a named function is called, required calls every tool in parallel", async () => {
    const none = (await (await post({ model: "sim-tools", messages: ask, tools: [weather], tool_choice: "none" })).json()) as {
      choices: { message: { content: string } }[];
    };
    expect(none.choices[0]!.message.content.length).toBeGreaterThan(0);
    const named = (await (
      await post({
        model: "sim-texty",
        messages: ask,
        tools: [weather, time],
        tool_choice: { type: "function", function: { name: "get_time" } },
      })
    ).json()) as {
      choices: { message: { tool_calls: { function: { name: string } }[] } }[];
    };
    expect(named.choices[0]!.message.tool_calls.map((c) => c.function.name)).toEqual(["get_time"]);
    const all = await chunks(
      await post({ model: "sim-tools", messages: ask, tools: [weather, time], tool_choice: "required", stream: true }),
    );
    const names = all
      .flatMap((c) => c.choices[0]?.delta.tool_calls ?? [])
      .flatMap((c) => (c.function.name ? [[c.index, c.function.name]] : []));
    expect(names).toEqual([
      [0, "get_weather"],
      [1, "get_time"],
    ]);
  });

  it("answers in text after a tool result, and with tool_use never unless a call is required", async () => {
    const round = [
      ...ask,
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", content: "18 °C", tool_call_id: "call_1" },
    ];
    const after = (await (await post({ model: "sim-tools", messages: round, tools: [weather] })).json()) as {
      choices: { message: { content: string }; finish_reason: string }[];
    };
    expect(after.choices[0]).toMatchObject({ finish_reason: "stop" });
    expect(after.choices[0]!.message.content.length).toBeGreaterThan(0);
    const texty = (await (await post({ model: "sim-texty", messages: ask, tools: [weather] })).json()) as {
      choices: { finish_reason: string }[];
    };
    expect(texty.choices[0]!.finish_reason).toBe("stop");
  });
});
