import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_HEADER, PROVIDER_RATE_LIMITED, RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER } from "@tiermesh/proto";
import { ProviderError } from "./providers/provider-error.js";
import { tierFailure } from "./tier-failure.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  attemptsOf,
  closeFixtures,
  configOf,
  context,
  deployment,
  fixed,
  request,
  runnerFor,
  seen,
  settle,
  simulator,
} from "./http-upstream.test-support.js";

// A tier's capacity refusal through TierRunner over real HTTP (see http-upstream.test-support.ts).

afterEach(closeFixtures);

describe("TierRunner: bulkhead", () => {
  it("refuses a request at once when every slot and queue place is taken, with a retry-after", async () => {
    const sim = await simulator({ slow: fixed(150, 2) });
    const h = runnerFor(
      configOf({ sim: sim.url }, { gold: { models: [deployment("a", "sim", "slow")], bulkhead: { max_concurrency: 1, max_queue: 1 } } }),
    );

    let inFlight = 2;
    const first = settle(h.runner.run(request(), context())).finally(() => inFlight--);
    const queued = settle(h.runner.run(request(), context())).finally(() => inFlight--);
    const refused = await settle(h.runner.run(request(), context()));

    expect(inFlight).toBe(2); // refused at once, not after waiting for a slot
    expect(refused.error).toBeInstanceOf(ConnectError);
    const error = refused.error as ConnectError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(Number(error.metadata.get(RETRY_AFTER_HEADER))).toBeGreaterThanOrEqual(1);
    expect(attemptsOf(error)).toBe("0");

    const [a, b] = await Promise.all([first, queued]);
    expect(a.result?.deployment.id).toBe("a");
    expect(b.result?.deployment.id).toBe("a");
    expect(b.result!.totalMs).toBeGreaterThanOrEqual(290); // waited for the first one's slot
    expect(seen(h.outcomes)).toEqual(["a:OK", "a:OK"]);
  });
});

describe("tierFailure", () => {
  it("marks a provider's rate limit so the router can wait for it, with the wait in ms; a full bulkhead is not marked", () => {
    const limited = tierFailure("bronze", "rate limited", Code.ResourceExhausted, 1, new ProviderError("rate_limited", "429"), 1_250);
    expect(limited.metadata.get(ERROR_REASON_HEADER)).toBe(PROVIDER_RATE_LIMITED);
    expect(limited.metadata.get(RETRY_AFTER_MS_HEADER)).toBe("1250");
    expect(limited.metadata.get(RETRY_AFTER_HEADER)).toBe("2");
    const full = tierFailure("bronze", "over capacity", Code.ResourceExhausted, 0, new Error("bulkhead full"), 500);
    expect(full.metadata.get(ERROR_REASON_HEADER)).toBeNull();
  });
});
