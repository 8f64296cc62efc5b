import { connect, type NatsConnection } from "@nats-io/transport-node";
import { decodeStatus } from "@tiermesh/tier-status";
import { TierState, type TierStatusEvent } from "@tiermesh/proto";

/** Collects tier-status events from NATS, as any other team's subscriber would. */
export async function watchStatus(natsUrl: string, subject = "tiermesh.status.*") {
  const nc: NatsConnection = await connect({ servers: natsUrl });
  const events: { event: TierStatusEvent; receivedAt: number }[] = [];
  nc.subscribe(subject, { callback: (_err, msg) => void events.push({ event: decodeStatus(msg.data), receivedAt: Date.now() }) });
  return {
    events,
    /** Waits for the first event after `since` that puts `tier` in `state`. */
    async waitFor(tier: string, state: TierState, since: number, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find((e) => e.receivedAt >= since && e.event.tier === tier && e.event.state === state);
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`no ${TierState[state]} event for ${tier} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close: () => nc.close(),
  };
}
