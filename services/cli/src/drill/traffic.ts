import { callRouter, UNANSWERED, type CallerShape } from "./router-call.js";
import type { Sample } from "./sample.js";

export interface TrafficOptions {
  routerUrl: string;
  ratePerSecond: number;
  /** Distinct end users; every fourth request goes without a user. */
  users: number;
  /** Prefix of the user ids, unique per drill so stickiness left by an earlier drill does not leak in. */
  userPrefix: string;
  shape: CallerShape;
  now: () => number;
}

/** The caller of request `seq`: a user id for three requests in four, none for the fourth. */
export function userOf(seq: number, users: number, prefix: string): string {
  if (seq % 4 === 3) return "";
  const k = seq - Math.floor(seq / 4);
  return `${prefix}-u${String(k % users).padStart(String(users - 1).length, "0")}`;
}

/**
 * Open-loop traffic: request n leaves at start + n / rate whatever happened to earlier ones,
 * as independent callers do, so a slow tier shows up as latency rather than as fewer requests.
 */
export class OpenLoopTraffic {
  readonly samples: Sample[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private sent = 0;
  private stopped = false;

  constructor(private readonly o: TrafficOptions) {}

  start(): void {
    this.startedAt = this.o.now();
    this.tick();
  }

  /** Sends no more requests; answers still on their way keep coming in. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Waits for requests in flight, at most `timeoutMs`; the rest are given up and recorded as unanswered. */
  async drain(timeoutMs: number): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([Promise.all(this.inflight), deadline]);
    clearTimeout(timer);
    this.cancel(UNANSWERED);
    await Promise.all(this.inflight);
  }

  /** Cancels every request in flight (they are recorded as cancelled, or with `reason` as their code). */
  cancel(reason?: string): void {
    this.stop();
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  get inFlight(): number {
    return this.inflight.size;
  }

  private tick(): void {
    if (this.stopped) return;
    const intervalMs = 1_000 / this.o.ratePerSecond;
    // Catch up when the event loop was late: send every request already due.
    while (this.startedAt + this.sent * intervalMs <= this.o.now()) {
      this.send(this.sent, this.startedAt + this.sent * intervalMs);
      this.sent++;
    }
    const wait = Math.max(0, this.startedAt + this.sent * intervalMs - this.o.now());
    this.timer = setTimeout(() => this.tick(), wait);
  }

  private send(seq: number, scheduledAt: number): void {
    const { routerUrl, users, userPrefix, shape, now } = this.o;
    const call = callRouter(routerUrl, scheduledAt, seq, userOf(seq, users, userPrefix), shape, now, this.abort.signal).then((sample) => {
      this.samples.push(sample);
      this.inflight.delete(call);
    });
    this.inflight.add(call);
  }
}
