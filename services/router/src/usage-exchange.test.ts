import { fromBinary } from "@bufbuild/protobuf";
import { UsageReportSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";
import { UsageExchange } from "./usage-exchange.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

const SUBJECT = "tiermesh.limits.usage";
const SYNC_MS = 100;

const nats = useNatsServer();

/** Router replicas exchanging on one subject, each sharing while `sharing.on` says so; `sent` counts each one's reports. */
function replicas(count: number, sharing: { on: boolean }) {
  const sent = new Map<string, number>();
  const sub = nats.nc.subscribe(SUBJECT, {
    callback: (_err, msg) => {
      const { replica } = fromBinary(UsageReportSchema, msg.data);
      sent.set(replica, (sent.get(replica) ?? 0) + 1);
    },
  });
  const exchanges = Array.from({ length: count }, () => {
    const exchange = new UsageExchange({
      subject: SUBJECT,
      connection: () => nats.nc,
      connected: () => true,
      syncMs: SYNC_MS,
      sharing: () => sharing.on,
    });
    const limits = () => ({ requestsPerMinute: 600, tokensPerMinute: undefined, outputTokensEstimate: undefined });
    exchange.bind(new RateLimiter({ limits, mode: exchange.mode, syncMs: SYNC_MS }));
    exchange.attach(nats.nc);
    return exchange;
  });
  const reset = () => sent.clear();
  const close = () => {
    for (const e of exchanges) e.close();
    sub.unsubscribe();
  };
  return { exchanges, sent, reset, close };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("UsageExchange", () => {
  it("reports every sync period while some tenant has a rate limit", async () => {
    const r = replicas(2, { on: true });
    try {
      await sleep(300);
      r.reset();
      await sleep(1_000);
      for (const e of r.exchanges) expect(r.sent.get(e.replica) ?? 0).toBeGreaterThanOrEqual(7);
      for (const e of r.exchanges) expect(e.mode().replicas).toBe(2);
    } finally {
      r.close();
    }
  });

  it("sends only heartbeats while no tenant has one, the replicas still counting each other, and reports again at once when one is set", async () => {
    const sharing = { on: false };
    const r = replicas(2, sharing);
    try {
      await sleep(300);
      r.reset();
      await sleep(2_000);
      // Half the peer lifetime (max(1 s, 5 periods)) apart: 4 in 2 s, one more at the edge.
      for (const e of r.exchanges) {
        expect(r.sent.get(e.replica) ?? 0).toBeGreaterThanOrEqual(3);
        expect(r.sent.get(e.replica) ?? 0).toBeLessThanOrEqual(5);
        expect(e.mode().replicas).toBe(2);
      }
      sharing.on = true;
      r.reset();
      await sleep(SYNC_MS * 2 + 50);
      for (const e of r.exchanges) expect(r.sent.get(e.replica) ?? 0).toBeGreaterThanOrEqual(1);
    } finally {
      r.close();
    }
  });
});
