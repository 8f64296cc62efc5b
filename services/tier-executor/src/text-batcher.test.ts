import { describe, expect, it } from "vitest";
import { batchText } from "./text-batcher.js";

type E = { type: "text"; text: string } | { type: "other"; n: number };
const isText = (e: E): e is E & { text: string } => e.type === "text";
const withText = (_e: E & { text: string }, text: string): E => ({ type: "text", text });

/** Emits events after the given delays (ms), then returns "end". */
async function* timed(plan: [number, E][]): AsyncGenerator<E, string> {
  for (const [delay, e] of plan) {
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    yield e;
  }
  return "end";
}

async function drain(g: AsyncGenerator<E, string>) {
  const out: { e: E; at: number }[] = [];
  const t0 = performance.now();
  for (;;) {
    const s = await g.next();
    if (s.done) return { out, result: s.value };
    out.push({ e: s.value, at: performance.now() - t0 });
  }
}

const t = (text: string): E => ({ type: "text", text });

describe("batchText", () => {
  it("sends the first token at once and joins the tokens that follow within the window", async () => {
    const { out, result } = await drain(
      batchText(
        timed([
          [0, t("a")],
          [2, t("b")],
          [2, t("c")],
          [2, t("d")],
          [60, t("e")],
        ]),
        30,
        isText,
        withText,
      ),
    );
    expect(out.map((o) => o.e)).toEqual([t("a"), t("bcd"), t("e")]);
    expect(out[0]!.at).toBeLessThan(10);
    expect(result).toBe("end");
  });

  it("never holds text longer than the window", async () => {
    const plan: [number, E][] = [[0, t("x")], ...Array.from({ length: 20 }, (): [number, E] => [5, t(".")])];
    const { out } = await drain(batchText(timed(plan), 20, isText, withText));
    expect(out.map((o) => (o.e as { text: string }).text).join("")).toBe(`x${".".repeat(20)}`);
    expect(out.length).toBeGreaterThan(3);
    expect(out.length).toBeLessThan(12);
    for (let i = 1; i < out.length; i++) expect(out[i]!.at - out[i - 1]!.at).toBeLessThan(20 + 25);
  });

  it("flushes waiting text before any other event, keeping order", async () => {
    const { out } = await drain(
      batchText(
        timed([
          [0, t("a")],
          [1, t("b")],
          [1, { type: "other", n: 1 }],
          [1, t("c")],
        ]),
        50,
        isText,
        withText,
      ),
    );
    expect(out.map((o) => o.e)).toEqual([t("a"), t("b"), { type: "other", n: 1 }, t("c")]);
  });

  it("passes everything through with a window of 0", async () => {
    const { out } = await drain(
      batchText(
        timed([
          [0, t("a")],
          [0, t("b")],
          [0, t("c")],
        ]),
        0,
        isText,
        withText,
      ),
    );
    expect(out.map((o) => o.e)).toEqual([t("a"), t("b"), t("c")]);
  });

  it("closes the source when the consumer stops early", async () => {
    let closed = false;
    async function* source(): AsyncGenerator<E, string> {
      try {
        yield t("a");
        yield t("b");
        await new Promise((r) => setTimeout(r, 5));
        yield t("c");
        return "end";
      } finally {
        closed = true;
      }
    }
    const g = batchText(source(), 100, isText, withText);
    expect((await g.next()).value).toEqual(t("a"));
    await g.return("stopped");
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(true);
  });

  it("sends the text waiting when the source fails, then the failure", async () => {
    async function* source(): AsyncGenerator<E, string> {
      yield t("a");
      yield t("b");
      yield t("c");
      throw new Error("cut");
    }
    const seen: E[] = [];
    const g = batchText(source(), 1_000, isText, withText);
    const error = await (async () => {
      for (;;) {
        const s = await g.next();
        if (s.done) return undefined;
        seen.push(s.value);
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([t("a"), t("bc")]);
    expect((error as Error).message).toBe("cut");
  });
});
