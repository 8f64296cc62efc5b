import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashApiKey } from "@tiermesh/config";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

const KEY = "tm_test_key_for_the_free_tenant_0123456789abcdef";

describe("the OpenAI-compatible HTTP edge", () => {
  let m: RunningMesh;
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${m.routerUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.plans.free = { default_tier: "bronze", max_tier: "silver", limits: { max_prompt_tokens: 200 } };
        raw.tenants.budget = { plan: "free", api_key_sha256: [hashApiKey(KEY)] };
      },
    });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("answers a chat completion with usage and the routing decision", async () => {
    const res = await post({ model: "auto", messages: [{ role: "user", content: "hello" }] });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-tiermesh-served-tier")).toBe("gold");
    const body = (await res.json()) as any;
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("sim-gold");
    expect(body.choices[0].message.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBeGreaterThan(0);
    expect(body.tiermesh).toMatchObject({ requested_tier: "gold", served_tier: "gold" });
  });

  it("streams server-sent events ending in [DONE], with usage on the last chunk", async () => {
    const res = await post({ messages: [{ role: "user", content: "hello" }], stream: true });
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = (await res.text()).split("\n\n").filter(Boolean);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")));
    const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
    const last = chunks.at(-1);
    expect(last.usage.completion_tokens).toBe(text.trim().split(/\s+/).length);
    expect(last.model).toBe("sim-gold");
  });

  it("authenticates with the key whose hash is in config; body fields cannot raise the tier", async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const priority = await post({ messages: [{ role: "user", content: "hi" }], service_tier: "priority" }, auth);
    expect(priority.status).toBe(400);
    expect(((await priority.json()) as any).error.param).toBe("service_tier");
    const gold = await post({ model: "gold", messages: [{ role: "user", content: "hi" }] }, auth);
    expect(gold.status).toBe(404);
    expect(((await gold.json()) as any).error.code).toBe("model_not_found");

    const res = await post(
      { messages: [{ role: "user", content: "hi" }] },
      { ...auth, "x-tiermesh-tier": "gold", "x-tiermesh-urgency": "interactive" },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.tiermesh.served_tier).toBe("silver");
    expect(body.tiermesh.reasons.join(" ")).toContain("clamped gold to silver");
  });

  it("gives every bad input a clear status and a message naming the field", async () => {
    const unknownKey = await post({ messages: [{ role: "user", content: "hi" }] }, { authorization: "Bearer nope" });
    expect(unknownKey.status).toBe(401);
    expect(((await unknownKey.json()) as any).error.type).toBe("authentication_error");

    const noMessages = await post({ messages: [] });
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as any).error).toMatchObject({ param: "messages" });

    const badRole = await post({ messages: [{ role: "wizard", content: "hi" }] });
    expect(badRole.status).toBe(400);
    expect(((await badRole.json()) as any).error.param).toBe("messages.0.role");

    const notJson = await post("{not json");
    expect(notJson.status).toBe(400);

    const badUrgency = await post({ messages: [{ role: "user", content: "hi" }] }, { "x-tiermesh-urgency": "yesterday" });
    expect(badUrgency.status).toBe(400);
    expect(((await badUrgency.json()) as any).error.message).toContain("input.urgency");

    const tooLarge = await post({ messages: [{ role: "user", content: "many words ".repeat(400) }] }, { authorization: `Bearer ${KEY}` });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as any).error.message).toContain('exceeds plan "free" limit of 200');

    const wrongPath = await fetch(`${m.routerUrl}/v1/embeddings`, { method: "POST", body: "{}" });
    expect(wrongPath.status).toBe(404);
  });
});
