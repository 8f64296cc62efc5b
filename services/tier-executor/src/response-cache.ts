import { createHash } from "node:crypto";
import type { CacheConfig } from "@tiermesh/config";

interface Entry<V> {
  value: V;
  bytes: number;
  expiresAt: number;
}

/**
 * In-memory LRU cache of responses with a time to live.
 *
 * Guarantees: an entry is never returned `ttl_ms` or more after it was set (expired
 * entries read as missing and are dropped); the cache never holds more than
 * `max_entries` entries nor more than `max_bytes` bytes as measured by `sizeOf`,
 * evicting least recently used entries (reads count as use) to make room; a value
 * larger than `max_bytes` on its own is not stored, and replaces nothing but the old
 * entry under its key, which is dropped. `enabled` is not consulted here: the caller
 * decides whether to use the cache at all (see `isDeterministic`).
 */
export class ResponseCache<V> {
  /** Map iteration order is insertion order: the first key is the least recently used. */
  private readonly entries = new Map<string, Entry<V>>();
  private totalBytes = 0;

  constructor(
    private readonly config: CacheConfig,
    private readonly sizeOf: (value: V) => number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Entries held, expired ones not yet noticed included. */
  get size(): number {
    return this.entries.size;
  }

  /** Bytes held, by `sizeOf`. */
  get bytes(): number {
    return this.totalBytes;
  }

  /** The live value under `key`, marking it most recently used; `undefined` when missing or expired. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (this.now() >= entry.expiresAt) {
      this.totalBytes -= entry.bytes;
      return undefined;
    }
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` under `key` for `ttl_ms`, evicting as needed; returns whether it was stored. */
  set(key: string, value: V): boolean {
    const bytes = this.sizeOf(value);
    if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`sizeOf returned ${bytes}; expected a finite non-negative number`);
    this.delete(key);
    if (bytes > this.config.max_bytes) return false;
    this.entries.set(key, { value, bytes, expiresAt: this.now() + this.config.ttl_ms });
    this.totalBytes += bytes;
    while (this.entries.size > this.config.max_entries || this.totalBytes > this.config.max_bytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
    return true;
  }

  /** Drops the entry under `key`, if any. */
  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.totalBytes -= entry.bytes;
  }
}

/**
 * SHA-256 hex digest of `parts` serialised as JSON with object keys sorted, so equal
 * data gives the same key whatever the key order. Serialisation follows JSON.stringify:
 * `undefined` members are dropped, `toJSON` is honoured, Maps and Sets read as `{}`,
 * and bigints throw.
 */
export function cacheKey(parts: unknown): string {
  return createHash("sha256").update(stableJson(parts)).digest("hex");
}

/** Whether a request's answer may be cached: only when temperature is explicitly 0. */
export function isDeterministic(temperature: number | undefined): boolean {
  return temperature === 0;
}

function stableJson(value: unknown): string {
  const json: string | undefined = JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const source = v as Record<string, unknown>;
    const sorted: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const k of Object.keys(source).sort()) sorted[k] = source[k];
    return sorted;
  });
  return json ?? "undefined";
}
