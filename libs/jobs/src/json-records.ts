import { StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { bucketKeys } from "./bucket-keys.js";
import { isWrongSequence, MAX_CAS_ROUNDS, JobContentionError } from "./job-store.js";

/**
 * JSON records under `<kind>.<tenant>.<id>` in the jobs bucket (Batch API batches), read back
 * through `parse` (which validates them). Changes are compare-and-set on the key's revision.
 */
export class JsonRecords<T> {
  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    private readonly kind: string,
    private readonly parse: (value: unknown) => T,
  ) {}

  static async open<T>(
    nc: NatsConnection,
    bucket: string,
    retentionMs: number,
    kind: string,
    parse: (value: unknown) => T,
  ): Promise<JsonRecords<T>> {
    const kv = await new Kvm(nc).create(bucket, { history: 1, ttl: retentionMs, storage: StorageType.File });
    return new JsonRecords(kv, nc, bucket, kind, parse);
  }

  private key(tenant: string, id: string) {
    return `${this.kind}.${tenant}.${id}`;
  }

  async get(tenant: string, id: string): Promise<T | undefined> {
    const entry = await this.kv.get(this.key(tenant, id));
    return entry && entry.operation === "PUT" && entry.value.length > 0 ? this.parse(entry.json()) : undefined;
  }

  async create(tenant: string, id: string, value: T): Promise<void> {
    await this.kv.create(this.key(tenant, id), JSON.stringify(value));
  }

  /** Changes a record (undefined from `change` leaves it); returns it as stored afterwards. */
  async update(tenant: string, id: string, change: (value: T) => T | undefined): Promise<T | undefined> {
    const key = this.key(tenant, id);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== "PUT" || entry.value.length === 0) return undefined;
      const value = this.parse(entry.json());
      const next = change(value);
      if (next === undefined) return value;
      try {
        await this.kv.update(key, JSON.stringify(next), entry.revision);
        return next;
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
      }
    }
    throw new JobContentionError(`${key}: ${MAX_CAS_ROUNDS} concurrent changes in a row`);
  }

  /** Ids of a tenant's records, in descending order. */
  async ids(tenant: string): Promise<string[]> {
    const prefix = `${this.kind}.${tenant}.`;
    const keys = await bucketKeys(this.nc, this.bucket, `${prefix}*`);
    return keys
      .map((k) => k.slice(prefix.length))
      .sort()
      .reverse();
  }

  /** Every record's tenant and id, whatever its tenant (a snapshot of the bucket's keys). */
  async all(): Promise<{ tenant: string; id: string }[]> {
    const keys = await bucketKeys(this.nc, this.bucket, `${this.kind}.*.*`);
    return keys.map((k) => {
      const rest = k.slice(this.kind.length + 1);
      const dot = rest.lastIndexOf(".");
      return { tenant: rest.slice(0, dot), id: rest.slice(dot + 1) };
    });
  }
}
