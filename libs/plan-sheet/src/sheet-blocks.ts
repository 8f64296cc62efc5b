/** A plan sheet as structure, rendered to Markdown or HTML; text is plain (renderers escape it). */
export type SheetBlock =
  | { kind: "heading"; level: 1 | 2 | 3; text: string }
  | { kind: "paragraph"; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "table"; header: string[]; rows: string[][] };
