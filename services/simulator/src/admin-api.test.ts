import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator, simulatorConfigSchema, type ModelProfile } from "./index.js";

type Simulator = ReturnType<typeof createSimulator>;

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const config = simulatorConfigSchema.parse({
  models: {
    "sim-a": { ttft_ms: { median: 1, p99: 2 }, inter_token_ms: { median: 0, p99: 0 } },
    "org/sim-b": { ttft_ms: { median: 1, p99: 2 }, inter_token_ms: { median: 0, p99: 0 } },
  },
});

let sim: Simulator;
let base: string;
let logLines: string[];

beforeEach(async () => {
  logLines = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => logLines.push(line) });
  sim = createSimulator(config, { random: () => 0.5, logger });
  base = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
});

afterEach(async () => {
  await sim.close();
});

function send(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function complete(model: string): Promise<Response> {
  return send("POST", "/v1/chat/completions", { model, messages: [{ role: "user", content: "hi" }] });
}

describe("admin API", () => {
  it("lists current profiles keyed by model", async () => {
    const res = await send("GET", "/admin/models");
    expect(res.status).toBe(200);
    const profiles = (await res.json()) as Record<string, ModelProfile>;
    expect(Object.keys(profiles)).toEqual(["sim-a", "org/sim-b"]);
    expect(profiles["sim-a"]?.retry_after_s).toBe(1);
  });

  it("patches one model at runtime, logs it, and resets from config", async () => {
    const patched = await send("PATCH", "/admin/models/sim-a", { outage: true, ttft_ms: { median: 2 } });
    expect(patched.status).toBe(200);
    const profile = (await patched.json()) as ModelProfile;
    expect(profile.outage).toBe(true);
    expect(profile.ttft_ms).toEqual({ median: 2, p99: 2 });
    expect(sim.profiles()["sim-a"]?.outage).toBe(true);
    expect(sim.profiles()["org/sim-b"]?.outage).toBe(false);

    expect((await complete("sim-a")).status).toBe(503);
    expect((await complete("org/sim-b")).status).toBe(200);

    const entries = logLines.map((line) => JSON.parse(line) as { level: number; msg: string; model?: string });
    expect(entries.filter((e) => e.level === 30)).toEqual([expect.objectContaining({ msg: "simulator profile patched", model: "sim-a" })]);

    const reset = await send("POST", "/admin/reset");
    expect(reset.status).toBe(200);
    expect(((await reset.json()) as Record<string, ModelProfile>)["sim-a"]?.outage).toBe(false);
    expect((await complete("sim-a")).status).toBe(200);
  });

  it("patches a model whose name contains a slash", async () => {
    const res = await send("PATCH", `/admin/models/${encodeURIComponent("org/sim-b")}`, { error_rate: 1 });
    expect(res.status).toBe(200);
    expect((await complete("org/sim-b")).status).toBe(500);
  });

  it("patches every model at once", async () => {
    const res = await send("PATCH", "/admin/models", { rate_limit_rate: 1, retry_after_s: 3 });
    expect(res.status).toBe(200);
    const limited = await complete("org/sim-b");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    expect(Object.values(sim.profiles()).every((p) => p.rate_limit_rate === 1)).toBe(true);
  });

  it("answers 400 with the field path and leaves the profile unchanged", async () => {
    const cases: [unknown, string][] = [
      [{ error_rat: 0.5 }, "error_rat"],
      [{ hang_rate: 2 }, "hang_rate"],
      [{ ttft_ms: { median: 500 } }, "ttft_ms.p99"],
      [{ output_tokens: { mx: 3 } }, "output_tokens.mx"],
      [[1, 2], ""],
    ];
    for (const [patch, param] of cases) {
      const res = await send("PATCH", "/admin/models/sim-a", patch);
      expect(res.status).toBe(400);
      const body = (await res.json()) as ErrorBody;
      expect(body.error.param ?? "").toBe(param);
      expect(body.error.message).toContain(param);
    }
    const all = await send("PATCH", "/admin/models", { ttft_ms: { median: 500 } });
    expect(all.status).toBe(400);
    expect(sim.profiles()).toEqual(config.models);
  });

  it("answers 404 for an unknown model", async () => {
    const res = await send("PATCH", "/admin/models/nope", { outage: true });
    expect(res.status).toBe(404);
    expect(((await res.json()) as ErrorBody).error.code).toBe("model_not_found");
  });

  it("does not log requests at info", async () => {
    await complete("sim-a");
    await complete("nope");
    const levels = logLines.map((line) => (JSON.parse(line) as { level: number }).level);
    expect(levels.filter((level) => level >= 30)).toEqual([]);
  });

  it("counts requests per model, probes apart, with when each arrived and how it was answered", async () => {
    const before = Date.now();
    await complete("sim-a");
    await send("PATCH", "/admin/models/sim-a", { rate_limit_rate: 1, retry_after_s: 2 });
    const limited = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-tiermesh-probe": "1" },
      body: JSON.stringify({ model: "sim-a", max_tokens: 1, messages: [{ role: "user", content: "Reply with OK." }] }),
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    await complete("nope");
    const log = (await (await send("GET", "/admin/requests")).json()) as Record<
      string,
      { requests: number; probes: number; recent: { at_ms: number; probe: boolean; max_tokens: number | null; answer: string }[] }
    >;
    expect(Object.keys(log)).toEqual(["sim-a"]);
    expect(log["sim-a"]).toMatchObject({
      requests: 2,
      probes: 1,
      recent: [
        { probe: false, max_tokens: null, answer: "ok" },
        { probe: true, max_tokens: 1, answer: "rate_limit" },
      ],
    });
    expect(log["sim-a"]!.recent[0]!.at_ms).toBeGreaterThanOrEqual(before);
    expect((await send("DELETE", "/admin/requests")).status).toBe(200);
    expect(await (await send("GET", "/admin/requests")).json()).toEqual({});
  });
});
