import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { bandConsumerName, consumerName, type JobSubjects } from "./job-names.js";
import type { QueueBell } from "./queue-bell.js";

/** Where a job worker takes its next job from. */
export interface JobSource {
  /** The next job's message, or null when none came within `expires` ms. */
  next(options: { expires: number }): Promise<JsMsg | null>;
}

/** How a tier's executors take jobs. */
export interface TierConsumerOptions {
  tier: string;
  /** Deliveries of one message before the server stops delivering it. */
  maxDeliver: number;
  ackWaitMs: number;
  /** Width of the tier's deadline bands. */
  bandSeconds: number;
}

/** One subject of a tier's queue holding messages: a deadline band, or the subject of jobs queued before bands. */
interface Band {
  /** The band's start in epoch seconds; -1 for the old subject, served first. */
  start: number;
  subject: string;
  consumer: string;
}

/** How long the list of non-empty bands is trusted before the stream is asked again. */
const BANDS_FRESH_MS = 250;
/** How long "nothing queued" is trusted while the queue's bell stays quiet. */
const IDLE_FRESH_MS = 5_000;
/** A ring this recent may be for a message the stream does not show yet: "nothing queued" is then not trusted long. */
const RING_SETTLE_MS = 1_000;
/** How often consumers of past, empty bands are looked for and removed. */
const SWEEP_MS = 30_000;
/** A band is past once its last deadline is this far behind. */
const PAST_GRACE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isNotFound = (err: unknown) =>
  err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.ConsumerNotFound || err.code === JetStreamApiCodes.StreamNotFound);

/**
 * Takes a tier's jobs earliest deadline first. Jobs are queued on one subject per deadline
 * band, each band with its own durable pull consumer shared by the tier's executors (explicit
 * acks, bounded deliveries); a pull goes to the earliest band with a job not yet delivered.
 * When every job left is running or waiting to be delivered again, pulls go to the bands in
 * turn, so redeliveries are never starved. Within a band, order is submission order: deadline
 * order is exact up to the band width. Jobs queued on the subject used before bands are
 * served first. Consumers of bands that are empty and past are removed. With a bell (see
 * QueueBell), an idle consumer waits for it rather than asking the stream every 250 ms: it
 * looks at once when a job is queued, and otherwise every 5 s.
 */
export class DeadlineConsumer implements JobSource {
  private bands: Band[] = [];
  private bandsAt = 0;
  /** Date.now() when the last look at the stream began. */
  private lookedAt = 0;
  private sweptAt = 0;
  private turn = 0;
  private readonly consumers = new Map<string, Promise<Consumer>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly subjects: JobSubjects,
    private readonly options: TierConsumerOptions,
    private readonly bell?: QueueBell,
  ) {}

  async next({ expires }: { expires: number }): Promise<JsMsg | null> {
    const bands = await this.nonEmptyBands();
    if (bands.length === 0) {
      await this.idle(expires);
      return null;
    }
    const waiting: Band[] = [];
    for (const band of bands) {
      const info = await this.guard(band, async () => (await this.consumer(band)).info());
      if (info.num_pending > 0) return this.pull(band, expires);
      if (info.num_ack_pending > 0) waiting.push(band);
    }
    if (waiting.length === 0) {
      // Only messages no delivery will take any more (their deliveries used up): nothing to pull.
      await sleep(Math.min(expires, BANDS_FRESH_MS));
      return null;
    }
    // Nothing undelivered: what is left runs, or waits to be delivered again (a failed attempt, a dead executor's job).
    const band = waiting[this.turn++ % waiting.length]!;
    return this.pull(band, expires);
  }

  /** The tier's subjects holding messages, earliest band first (the old subject before all). */
  async nonEmptyBands(): Promise<Band[]> {
    const fresh = this.bands.length === 0 && this.quiet() ? IDLE_FRESH_MS : BANDS_FRESH_MS;
    if (Date.now() - this.bandsAt < fresh) return this.bands;
    const { tier } = this.options;
    const started = Date.now();
    const counts = await subjectCounts(this.jsm, this.stream, [this.subjects.dueAll(tier), this.subjects.legacy(tier)]);
    const bands: Band[] = [];
    for (const [subject, n] of counts) {
      if (n === 0) continue;
      const start = this.subjects.bandOf(subject);
      if (start !== undefined) bands.push({ start, subject, consumer: bandConsumerName(tier, start) });
      else if (subject === this.subjects.legacy(tier)) bands.push({ start: -1, subject, consumer: consumerName(tier) });
    }
    bands.sort((a, b) => a.start - b.start);
    this.bands = bands;
    this.bandsAt = Date.now();
    this.lookedAt = started;
    if (Date.now() - this.sweptAt > SWEEP_MS) {
      this.sweptAt = Date.now();
      await this.sweep(new Set(bands.map((b) => b.consumer))).catch(() => undefined);
    }
    return bands;
  }

  private async pull(band: Band, expires: number): Promise<JsMsg | null> {
    return this.guard(band, async () => (await this.consumer(band)).next({ expires }));
  }

  /** Stops listening for queued jobs. */
  close(): void {
    this.bell?.close();
  }

  /** Nothing queued: waits for the bell (and then looks at once) or `expires`; without a bell, polls. */
  private async idle(expires: number): Promise<void> {
    if (!this.bell) {
      await sleep(Math.min(expires, BANDS_FRESH_MS));
      return;
    }
    if (await this.bell.wait(this.quiet() ? expires : Math.min(expires, BANDS_FRESH_MS))) this.bandsAt = 0;
  }

  /** The bell has not rung since shortly before the last look began: what it saw still holds. */
  private quiet(): boolean {
    return this.bell?.quietSince(this.lookedAt, RING_SETTLE_MS) ?? false;
  }

  /** Runs `call` on a band's consumer; a consumer found missing (removed meanwhile) is created again on the next call. */
  private async guard<T>(band: Band, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      this.consumers.delete(band.consumer);
      this.bandsAt = 0;
      if (isNotFound(err)) return call();
      throw err;
    }
  }

  private consumer(band: Band): Promise<Consumer> {
    let c = this.consumers.get(band.consumer);
    if (!c) {
      c = this.open(band);
      c.catch(() => this.consumers.delete(band.consumer));
      this.consumers.set(band.consumer, c);
    }
    return c;
  }

  private async open(band: Band): Promise<Consumer> {
    const config = {
      durable_name: band.consumer,
      filter_subject: band.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: this.options.maxDeliver,
      ack_wait: nanos(this.options.ackWaitMs),
      max_ack_pending: 10_000,
    };
    try {
      await this.jsm.consumers.add(this.stream, config);
    } catch {
      await this.jsm.consumers.update(this.stream, band.consumer, config);
    }
    return this.js.consumers.get(this.stream, band.consumer);
  }

  /** Removes the consumers of the tier's bands that are past and hold nothing (whichever executor created them). */
  private async sweep(holding: ReadonlySet<string>): Promise<void> {
    const prefix = bandConsumerName(this.options.tier, 0).slice(0, -1);
    const now = Date.now();
    for await (const info of this.jsm.consumers.list(this.stream)) {
      const name = info.name;
      if (!name.startsWith(prefix) || holding.has(name)) continue;
      const start = Number(name.slice(prefix.length));
      if (!Number.isSafeInteger(start) || (start + this.options.bandSeconds) * 1_000 + PAST_GRACE_MS > now) continue;
      if (info.num_pending > 0 || info.num_ack_pending > 0) continue;
      this.consumers.delete(name);
      await this.jsm.consumers.delete(this.stream, name).catch(() => undefined);
    }
  }
}

/** Messages in the stream per subject, for each subject matching one of `filters`. */
export async function subjectCounts(jsm: JetStreamManager, stream: string, filters: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const infos = await Promise.all(filters.map((f) => jsm.streams.info(stream, { subjects_filter: f })));
  for (const info of infos) for (const [s, n] of Object.entries(info.state.subjects ?? {})) out.set(s, n);
  return out;
}
