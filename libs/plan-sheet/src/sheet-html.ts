import type { SheetBlock } from "./sheet-blocks.js";

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** A complete HTML page; every piece of config text is escaped. */
export function renderHtml(blocks: readonly SheetBlock[]): string {
  const title = blocks.find((b) => b.kind === "heading")?.text ?? "Plans";
  const body = blocks.map((b) => {
    if (b.kind === "heading") return `<h${b.level}>${escapeHtml(b.text)}</h${b.level}>`;
    if (b.kind === "paragraph") return `<p>${escapeHtml(b.text)}</p>`;
    if (b.kind === "list") return `<ul>\n${b.items.map((i) => `  <li>${escapeHtml(i)}</li>`).join("\n")}\n</ul>`;
    const cells = (tag: string, row: readonly string[]) => `<tr>${row.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join("")}</tr>`;
    return `<table>\n<thead>${cells("th", b.header)}</thead>\n<tbody>\n${b.rows.map((r) => cells("td", r)).join("\n")}\n</tbody>\n</table>`;
  });
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title>`,
    "<style>body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;line-height:1.45}table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}</style>",
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
