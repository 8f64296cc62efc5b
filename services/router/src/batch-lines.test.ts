import { describe, expect, it } from "vitest";
import { readBatchLines } from "./batch-lines.js";

const line = (
  customId: unknown,
  body: unknown = { model: "auto", messages: [{ role: "user", content: "hi" }] },
  url = "/v1/chat/completions",
) => JSON.stringify({ custom_id: customId, method: "POST", url, body });

describe("readBatchLines", () => {
  it("makes each good line a job keyed by batch and custom_id, and each bad line an error that names it", () => {
    const text = [
      line("a"),
      "not json",
      line(""),
      line("a"),
      line("b", undefined, "/v1/embeddings"),
      line("c", { model: "auto", messages: [], n: 2 }),
      line("d", { model: "auto", messages: [{ role: "user", content: "x" }], stream: true }),
      line("e"),
      "",
    ].join("\n");
    const { lines, errors, total } = readBatchLines(text, "batch_x", 86_400);
    expect(total).toBe(8);
    expect(lines.map((l) => [l.line, l.customId, l.spec.idempotencyKey])).toEqual([
      [1, "a", "batch_x/a"],
      [8, "e", "batch_x/e"],
    ]);
    expect(lines[0]!.spec.metadata).toEqual({ batch_id: "batch_x", custom_id: "a" });
    expect(lines[0]!.spec.completionWindowSeconds).toBe(86_400);
    expect(errors.map((e) => [e.line, e.custom_id, e.code])).toEqual([
      [2, null, "invalid_json"],
      [3, null, "missing_custom_id"],
      [4, "a", "duplicate_custom_id"],
      [5, "b", "invalid_url"],
      [6, "c", "unsupported_parameter"],
      [7, "d", "invalid_request"],
    ]);
  });

  it("reads an empty file as no lines", () => {
    expect(readBatchLines("", "batch_x", 1)).toEqual({ lines: [], errors: [], total: 0 });
  });
});
