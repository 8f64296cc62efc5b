import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { TierExecutorService } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { CallAbortController } from "./call-abort.js";
import { createInProcessTransport } from "./in-process-transport.js";

describe("CallAbortController", () => {
  it("keeps the AbortController contract: reason, once, onabort, throwIfAborted", () => {
    const controller = new CallAbortController();
    const { signal } = controller;
    expect(signal.aborted).toBe(false);
    expect(() => signal.throwIfAborted()).not.toThrow();
    const heard: unknown[] = [];
    signal.addEventListener("abort", () => heard.push(`listener ${String(signal.reason)}`), { once: true });
    signal.onabort = (event) => heard.push(`onabort ${event.type}`);
    const removed = () => heard.push("removed listener");
    signal.addEventListener("abort", removed);
    signal.removeEventListener("abort", removed);
    controller.abort("first");
    controller.abort("second");
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe("first");
    expect(heard).toEqual(["onabort abort", "listener first"]);
    expect(() => signal.throwIfAborted()).toThrow("first");
  });

  it("aborts with an AbortError DOMException when given no reason", () => {
    const controller = new CallAbortController();
    controller.abort();
    expect(controller.signal.reason).toBeInstanceOf(DOMException);
    expect((controller.signal.reason as DOMException).name).toBe("AbortError");
  });

  it("is taken as a signal by Node's timers and events", async () => {
    const controller = new CallAbortController();
    const waiting = sleep(60_000, undefined, { signal: controller.signal });
    const event = once(new EventTarget(), "never", { signal: controller.signal });
    controller.abort(new Error("caller left"));
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
    await expect(event).rejects.toMatchObject({ name: "AbortError" });
  });

  it("cancels a connect-es call it is passed to, and the handler sees it", async () => {
    let handlerSignal: AbortSignal | undefined;
    const transport = createInProcessTransport(TierExecutorService, {
      execute: async (_req, ctx) => {
        handlerSignal = ctx.signal;
        await once(ctx.signal, "abort");
        throw new ConnectError("gave up", Code.Canceled);
      },
      async *executeStream() {
        throw new ConnectError("not in this test", Code.Unimplemented);
      },
    });
    const client = createClient(TierExecutorService, transport);
    const controller = new CallAbortController();
    const call = client.execute({ tier: "gold" }, { signal: controller.signal });
    await sleep(10);
    controller.abort(new ConnectError("caller left", Code.Canceled));
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    expect(handlerSignal?.aborted).toBe(true);
  });
});
