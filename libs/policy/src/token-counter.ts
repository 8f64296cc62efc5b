import { o200k } from "./o200k.js";

/** Tokens a chat format adds per message for role and separators. */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Messages at least this long are remembered: chat histories resend them every turn. */
const CACHE_MIN_CHARS = 512;

export interface TokenCount {
  tokens: number;
  /** False when counting stopped early because the count passed the limit. */
  exact: boolean;
}

/**
 * Counts prompt tokens with a real BPE tokenizer (o200k_base), kept cheap two ways:
 * long messages are remembered in a bounded LRU (a conversation's history is counted once,
 * not every turn), and counting stops as soon as the total passes `limit`, the largest
 * number any rule or plan limit compares against.
 */
export class TokenCounter {
  private readonly cache = new Map<string, number>();
  private cachedChars = 0;

  /** Bounded by entries and by the characters held (about 2 bytes each). */
  constructor(
    private readonly maxEntries = 2_048,
    private readonly maxChars = 16 * 1024 * 1024,
  ) {}

  /**
   * A cheap upper bound of `count`: no token of a byte-level BPE is shorter than one byte,
   * so a prompt has at most as many tokens as UTF-8 bytes (plus each message's overhead).
   */
  bound(contents: readonly string[]): number {
    let total = contents.length * MESSAGE_OVERHEAD_TOKENS;
    for (const text of contents) total += Buffer.byteLength(text, "utf8");
    return total;
  }

  count(contents: readonly string[], limit: number): TokenCount {
    let total = contents.length * MESSAGE_OVERHEAD_TOKENS;
    for (const text of contents) {
      if (total > limit) return { tokens: total, exact: false };
      if (text.length === 0) continue;
      const cached = text.length >= CACHE_MIN_CHARS ? this.cache.get(text) : undefined;
      if (cached !== undefined) {
        this.cache.delete(text);
        this.cache.set(text, cached);
        total += cached;
        continue;
      }
      if (text.length < CACHE_MIN_CHARS) {
        total += o200k().countTokens(text);
        continue;
      }
      const room = limit - total;
      const within = o200k().isWithinTokenLimit(text, room);
      if (within === false) return { tokens: limit + 1, exact: false };
      this.remember(text, within);
      total += within;
    }
    return { tokens: total, exact: true };
  }

  private remember(text: string, tokens: number): void {
    if (text.length > this.maxChars) return;
    this.cache.set(text, tokens);
    this.cachedChars += text.length;
    while (this.cache.size > this.maxEntries || this.cachedChars > this.maxChars) {
      const oldest = this.cache.keys().next().value!;
      this.cache.delete(oldest);
      this.cachedChars -= oldest.length;
    }
  }
}
