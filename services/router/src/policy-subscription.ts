import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@connectrpc/connect";
import { compileTierPolicy, decodePolicy, type CompiledPolicy } from "@tiermesh/policy";
import type { ClassifierService } from "@tiermesh/proto";
import type { Logger } from "@tiermesh/runtime";

export interface PolicySubscriptionOptions {
  client: Client<typeof ClassifierService>;
  logger: Logger;
  /** Names this router in the classifier's logs. */
  watcher: string;
  /** Called when the policy arrives, changes, goes stale or is fresh again. */
  onChange?: () => void;
  /** Reconnect delays: doubled from `minMs` up to `maxMs`, with jitter. */
  retry?: { minMs: number; maxMs: number };
}

/**
 * The router's copy of the classifier's policy. The router classifies every request
 * locally with it; the classifier pushes a new version whenever its config changes.
 * When the classifier cannot be reached, the last version stays in force (marked stale)
 * and the watch is retried with backoff; before the first version arrives there is nothing
 * to route with, and `classify` is undefined.
 */
export class PolicySubscription {
  private compiled: CompiledPolicy | undefined;
  private currentVersion = "";
  private connected = false;
  private staleSince: number | undefined = Date.now();
  private readonly controller = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly options: PolicySubscriptionOptions) {}

  /** The classification function (with the model names per plan), once a policy has arrived. */
  get classify(): CompiledPolicy | undefined {
    return this.compiled;
  }

  get version(): string {
    return this.currentVersion;
  }

  /** True while the classifier's watch is not delivering (the last policy may be out of date). */
  get stale(): boolean {
    return !this.connected;
  }

  /** How long the policy has been stale, ms (0 while fresh). */
  staleForMs(now = Date.now()): number {
    return this.staleSince === undefined ? 0 : now - this.staleSince;
  }

  start(): void {
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const { minMs, maxMs } = this.options.retry ?? { minMs: 100, maxMs: 2_000 };
    const { logger } = this.options;
    let delay = minMs;
    while (!this.controller.signal.aborted) {
      try {
        const stream = this.options.client.watchPolicy({ watcher: this.options.watcher }, { signal: this.controller.signal });
        for await (const snapshot of stream) {
          delay = minMs;
          this.apply(snapshot.version, snapshot.policyJson);
        }
      } catch (err) {
        if (this.controller.signal.aborted) break;
        if (!this.connected && this.compiled === undefined && delay === minMs)
          logger.warn({ err: (err as Error).message }, "classifier not answering; waiting for a policy");
        else if (this.connected)
          logger.warn({ err: (err as Error).message, version: this.currentVersion }, "classifier lost; routing on the last policy");
      }
      this.markStale();
      if (this.controller.signal.aborted) break;
      await sleep(delay * (0.5 + Math.random() / 2), undefined, { signal: this.controller.signal }).catch(() => undefined);
      delay = Math.min(maxMs, delay * 2);
    }
  }

  private apply(version: string, json: string): void {
    const { logger } = this.options;
    if (version !== this.currentVersion) {
      try {
        this.compiled = compileTierPolicy(decodePolicy(json));
      } catch (err) {
        logger.error({ err: (err as Error).message, version }, "policy refused; keeping the running one");
        return;
      }
      logger.info({ version, previous: this.currentVersion || undefined }, "policy in force");
      this.currentVersion = version;
    } else if (!this.connected) {
      logger.info({ version }, "classifier back; policy in sync");
    }
    this.connected = true;
    this.staleSince = undefined;
    this.options.onChange?.();
  }

  private markStale(): void {
    if (!this.connected) return;
    this.connected = false;
    this.staleSince = Date.now();
    this.options.onChange?.();
  }
}
