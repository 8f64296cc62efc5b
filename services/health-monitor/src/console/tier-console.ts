import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "@tiermesh/config";
import type { Outcome, TierSli, TierStatusEvent } from "@tiermesh/proto";
import { TierStatusFeed } from "@tiermesh/tier-status";
import { ConsoleAssets } from "./console-assets.js";
import { ConsoleHub } from "./console-hub.js";
import { createConsoleRoutes, type ConsoleRoutes } from "./console-routes.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

export interface TierConsoleOptions {
  config: Config;
  monitorId: string;
  slis: (now: number) => ReadonlyMap<string, TierSli>;
  leading: () => boolean;
  natsConnected: () => boolean;
  logger: { warn(obj: object, msg: string): void };
}

/**
 * The live tier console of one monitor replica: follows published tier status on NATS
 * (every replica sees it, so any replica can serve the console), takes the outcomes and local
 * statuses the monitor hands it, samples once a second, and serves the page and its feeds.
 */
export class TierConsole {
  readonly hub: ConsoleHub;
  private readonly feed: TierStatusFeed;
  private readonly routes: ConsoleRoutes;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: TierConsoleOptions) {
    const { config, logger } = options;
    this.hub = new ConsoleHub(options);
    this.feed = new TierStatusFeed({
      prefix: config.nats.subject_prefix,
      bucket: config.nats.kv_bucket,
      tiers: Object.keys(config.tiers),
      onStatus: (event) => this.hub.fromPublished(event, Date.now()),
      onError: (err) => logger.warn({ err }, "console: tier status feed error"),
    });
    this.routes = createConsoleRoutes(this.hub, new ConsoleAssets());
  }

  /** Follows published status on this connection (call on every (re)connect). */
  attach(nc: NatsConnection): void {
    this.feed.attach(nc);
  }

  outcome(outcome: Outcome, now: number): void {
    this.hub.recordOutcome(outcome, now);
  }

  localStatus(event: TierStatusEvent): void {
    this.hub.fromLocal(event, Date.now());
  }

  /** Answers console paths; false for any other. */
  handle(req: HttpRequest, res: HttpResponse): boolean {
    return this.routes.handle(req, res);
  }

  start(): void {
    this.timer ??= setInterval(() => this.hub.tick(Date.now()), 1_000);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.routes.close();
    this.feed.close();
  }
}
