import { TierStateSchema, type TierState, type TierStatusEvent } from "@tiermesh/proto";

/** The proto enum value name, e.g. "TIER_STATE_DOWN", as the NATS payload documents it. */
const stateName = (state: TierState) => TierStateSchema.value[state]?.name ?? String(state);

interface WebhookLogger {
  warn(obj: object, msg: string): void;
}

/** POSTs tier state changes as JSON to a configured URL; never blocks or throws. */
export class AlertWebhook {
  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly logger: WebhookLogger,
  ) {}

  send(event: TierStatusEvent): void {
    const body = JSON.stringify({
      tier: event.tier,
      state: stateName(event.state),
      previous_state: stateName(event.previousState),
      reason: event.reason,
      sequence: event.sequence.toString(),
      at: new Date(Number(event.atMs)).toISOString(),
      monitor_id: event.monitorId,
      sli: event.sli
        ? {
            samples: event.sli.sampleCount,
            error_rate: event.sli.errorRate,
            timeout_rate: event.sli.timeoutRate,
            ttft_p95_ms: event.sli.ttftP95Ms,
          }
        : undefined,
    });
    fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(this.timeoutMs),
    }).then(
      (res) => {
        if (!res.ok) this.logger.warn({ status: res.status, tier: event.tier }, "alert webhook refused the alert");
      },
      (err: unknown) => this.logger.warn({ err: String(err), tier: event.tier }, "alert webhook unreachable"),
    );
  }
}
