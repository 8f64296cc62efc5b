import { TierState, type TierStatusEvent } from "@tiermesh/proto";

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
      state: TierState[event.state],
      previous_state: TierState[event.previousState],
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
