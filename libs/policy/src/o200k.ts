import { createRequire } from "node:module";

interface Encoding {
  countTokens(text: string): number;
  isWithinTokenLimit(text: string, limit: number): number | false;
}

let encoding: Encoding | undefined;

/**
 * The o200k_base tokenizer, loaded on first use: its tables cost about 70 MB of memory, and
 * most requests are decided without counting (see `PromptSize`), so a process that never
 * needs an exact count never holds them.
 */
export function o200k(): Encoding {
  encoding ??= createRequire(import.meta.url)("gpt-tokenizer/encoding/o200k_base") as Encoding;
  return encoding;
}

/** True once the tables are loaded (for tests and memory reports). */
export function o200kLoaded(): boolean {
  return encoding !== undefined;
}
