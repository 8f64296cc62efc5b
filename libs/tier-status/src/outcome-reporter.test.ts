import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import { OutcomeStatus, type OutcomeBatch } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsLink } from "./nats-link.js";
import { OutcomeReporter } from "./outcome-reporter.js";
import { decodeOutcomes } from "./status-codec.js";

// A real nats-server on a free port (never a mocked broker).
let server: NatsServer;
let link: NatsLink;
let nc: NatsConnection;
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  server = await startNatsServer();
  link = new NatsLink({ url: server.url, name: "outcome-reporter-test", logger: quiet });
  nc = await link.ready;
});

afterAll(async () => {
  await link?.close();
  await server?.dispose();
});

/** Batches published on `subject`, with when each arrived. */
function listen(subject: string): { batches: { at: number; batch: OutcomeBatch }[] } {
  const seen = { batches: [] as { at: number; batch: OutcomeBatch }[] };
  nc.subscribe(subject, {
    callback: (_err, msg) => {
      seen.batches.push({ at: performance.now(), batch: decodeOutcomes(msg.data) });
    },
  });
  return seen;
}

const outcome = (status: OutcomeStatus) => ({ tier: "gold", deployment: "a", status });

describe("OutcomeReporter", () => {
  it("publishes stalled outcomes at once, with what was buffered, in one batch; others wait for flushMs", async () => {
    const subject = "test.outcomes.urgent";
    const seen = listen(subject);
    await nc.flush();
    const reporter = new OutcomeReporter({ link, subject, executorId: "x", tier: "gold", flushMs: 400, heartbeatMs: 60_000 });
    try {
      const start = performance.now();
      reporter.report(outcome(OutcomeStatus.OK));
      reporter.report(outcome(OutcomeStatus.STALLED));
      reporter.report(outcome(OutcomeStatus.STALLED));
      await nc.flush();
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.batches).toHaveLength(1);
      expect(seen.batches[0]!.batch.outcomes.map((o) => o.status)).toEqual([
        OutcomeStatus.OK,
        OutcomeStatus.STALLED,
        OutcomeStatus.STALLED,
      ]);
      expect(seen.batches[0]!.at - start).toBeLessThan(50);

      reporter.report(outcome(OutcomeStatus.TIMEOUT));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen.batches).toHaveLength(1); // not urgent: waits for the batch delay
      reporter.report(outcome(OutcomeStatus.OK), { urgent: true });
      await nc.flush();
      await new Promise((r) => setTimeout(r, 20));
      expect(seen.batches).toHaveLength(2);
      expect(seen.batches[1]!.batch.outcomes.map((o) => o.status)).toEqual([OutcomeStatus.TIMEOUT, OutcomeStatus.OK]);
    } finally {
      reporter.close();
    }
  });
});
