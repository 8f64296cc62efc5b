import type { CompletionInput } from "@tiermesh/proto";
import type { TokenCount, TokenCounter } from "./token-counter.js";

/**
 * A prompt's size in tokens, counted only when a decision needs it: most prompts are far
 * below every threshold, which their byte length (an upper bound of their tokens) shows
 * without running the tokenizer.
 */
export class PromptSize {
  /** Upper bound of the prompt's tokens. */
  readonly bound: number;
  private counted: TokenCount | undefined;

  constructor(
    private readonly contents: readonly string[],
    private readonly counter: TokenCounter,
    /** Counting stops past this many tokens (the largest number any decision compares against). */
    private readonly countLimit: number,
  ) {
    this.bound = counter.bound(contents);
  }

  /** True when the prompt has more than `n` tokens. */
  over(n: number): boolean {
    if (this.bound <= n) return false;
    const c = this.count();
    if (c.exact) return c.tokens > n;
    if (n < this.countLimit) return true;
    // Counting stopped at the count limit, below `n`: count on, up to `n`.
    const further = this.counter.count(this.contents, n);
    return !further.exact || further.tokens > n;
  }

  /** The exact count, or, when `exact` is false, a count known only to be above the count limit. */
  count(): TokenCount {
    this.counted ??= this.counter.count(this.contents, this.countLimit);
    return this.counted;
  }

  /** The count in words: exact when it was counted, else the bound. */
  describe(): string {
    if (this.counted === undefined) return `at most ${this.bound} tokens`;
    return this.counted.exact ? `${this.counted.tokens} tokens` : `more than ${this.countLimit} tokens`;
  }
}

/** What the rules may look at, computed once per request. */
export interface PromptFeatures {
  prompt: PromptSize;
  maxTokens: number;
  model: string;
  hasTools: boolean;
  jsonMode: boolean;
  /** Time left for the request, ms; 0 when the caller gave no deadline. */
  deadlineMs: number;
}

export function promptFeatures(input: CompletionInput, deadlineMs: number, counter: TokenCounter, countLimit: number): PromptFeatures {
  return {
    prompt: new PromptSize(
      input.messages.map((m) => m.content),
      counter,
      countLimit,
    ),
    maxTokens: input.maxTokens,
    model: input.model,
    hasTools: input.tools.length > 0,
    jsonMode: input.jsonMode,
    deadlineMs,
  };
}
