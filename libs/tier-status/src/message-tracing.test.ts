import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import { create } from "@bufbuild/protobuf";
import { OutcomeStatus, TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { SpanKind, traceFieldsOf, tracerFor } from "@tiermesh/telemetry";
import { startTestTracing, type TestTracing } from "@tiermesh/telemetry/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { isSampled, senderOf, startSend } from "./message-tracing.js";
import { NatsLink } from "./nats-link.js";
import { OutcomeReporter } from "./outcome-reporter.js";
import { encodeStatus } from "./status-codec.js";
import { TierStatusFeed } from "./status-feed.js";

// Trace context over a real nats-server: outcome batches (executor → monitor) and status events (monitor → router).
let server: NatsServer;
let link: NatsLink;
let nc: NatsConnection;
let tracing: TestTracing;
const quiet = { info: () => undefined, warn: () => undefined };

beforeAll(async () => {
  tracing = await startTestTracing();
  server = await startNatsServer();
  link = new NatsLink({ url: server.url, name: "message-tracing-test", logger: quiet });
  nc = await link.ready;
});
afterAll(async () => {
  await link?.close();
  await server?.dispose();
  await tracing.stop();
});
afterEach(() => tracing.reset());

function next(subject: string): Promise<Msg> {
  return new Promise((resolve) => nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) }));
}

describe("outcome batches", () => {
  it("a batch holding traced outcomes leaves with a send span, linked to each, its context in the headers", async () => {
    const tracer = tracerFor("tier-executor")!;
    const attempts = [tracer.startSpan("chat a"), tracer.startSpan("chat b")];
    const subject = "test.outcomes.traced";
    const got = next(subject);
    await nc.flush();
    const reporter = new OutcomeReporter({ link, subject, executorId: "x", tier: "gold", flushMs: 5, heartbeatMs: 60_000, tracer });
    for (const span of attempts) reporter.report({ tier: "gold", deployment: "a", status: OutcomeStatus.OK, ...traceFieldsOf(span) });
    reporter.report({ tier: "gold", deployment: "a", status: OutcomeStatus.OK });
    const msg = await got;
    reporter.close();
    const [send] = tracing.spans().filter((s) => s.name === `send ${subject}`);
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(send!.links.map((l) => l.context.spanId)).toEqual(attempts.map((a) => a.spanContext().spanId));
    expect(send!.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.destination.name": subject,
      "messaging.batch.message_count": 3,
    });
    expect(senderOf(msg.headers)?.spanId).toBe(send!.spanContext().spanId);
  });

  it("a batch with no traced outcome goes without headers or span", async () => {
    const subject = "test.outcomes.plain";
    const got = next(subject);
    await nc.flush();
    const reporter = new OutcomeReporter({
      link,
      subject,
      executorId: "x",
      tier: "gold",
      flushMs: 5,
      heartbeatMs: 60_000,
      tracer: tracerFor("tier-executor"),
    });
    reporter.report({ tier: "gold", deployment: "a", status: OutcomeStatus.OK });
    const msg = await got;
    reporter.close();
    expect(msg.headers).toBeUndefined();
    expect(tracing.spans()).toEqual([]);
  });
});

describe("tier status events", () => {
  it("an event sent with a trace context is applied under a process span in that trace; one without, untraced", async () => {
    const applied: string[] = [];
    const feed = new TierStatusFeed({
      prefix: "feedtest",
      bucket: "feedtest_status",
      tiers: ["gold"],
      onStatus: (e) => applied.push(TierState[e.state]),
      tracer: tracerFor("router"),
    });
    feed.attach(nc);
    await nc.flush();
    const event = create(TierStatusEventSchema, { tier: "gold", state: TierState.DOWN, previousState: TierState.HEALTHY, sequence: 7n });
    const { span, headers } = startSend(tracerFor("health-monitor")!, "feedtest.status.gold", []);
    span.end();
    nc.publish("feedtest.status.gold", encodeStatus(event), { headers });
    nc.publish("feedtest.status.gold", encodeStatus({ ...event, state: TierState.HEALTHY, sequence: 8n }));
    await nc.flush();
    await new Promise((r) => setTimeout(r, 50));
    feed.close();
    expect(applied.slice(-2)).toEqual(["DOWN", "HEALTHY"]);
    const processed = tracing.spans().filter((s) => s.kind === SpanKind.CONSUMER);
    expect(processed).toHaveLength(1);
    expect(processed[0]!.parentSpanContext?.spanId).toBe(span.spanContext().spanId);
    expect(processed[0]!.attributes).toMatchObject({
      "tiermesh.tier": "gold",
      "tiermesh.tier.state": "DOWN",
      "tiermesh.tier.previous_state": "HEALTHY",
    });
    expect(isSampled(span.spanContext())).toBe(true);
  });
});
