import type { SheetBlock } from "./sheet-blocks.js";

/**
 * Backslash-escapes what Markdown would read as markup: emphasis, code, links, raw HTML and
 * table pipes. Underscores inside words (max_tokens) are plain text to CommonMark and stay.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*[\]<>|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, (c) => `\\${c}`);
}

export function renderMarkdown(blocks: readonly SheetBlock[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.kind === "heading") out.push(`${"#".repeat(b.level)} ${escapeMarkdown(b.text)}`);
    else if (b.kind === "paragraph") out.push(escapeMarkdown(b.text));
    else if (b.kind === "list") out.push(b.items.map((i) => `- ${escapeMarkdown(i)}`).join("\n"));
    else {
      const row = (cells: readonly string[]) => `| ${cells.map((c) => escapeMarkdown(c).replace(/\n/g, " ")).join(" | ")} |`;
      out.push([row(b.header), row(b.header.map(() => "---")), ...b.rows.map(row)].join("\n"));
    }
  }
  return `${out.join("\n\n")}\n`;
}
