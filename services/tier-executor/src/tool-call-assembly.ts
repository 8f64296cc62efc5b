import type { ToolCall, ToolCallPiece } from "./providers/provider-adapter.js";

/** Whole tool calls put together from their streamed pieces (by index; arguments appended in order). */
export class ToolCallAssembly {
  private readonly byIndex = new Map<number, ToolCall>();

  add(piece: ToolCallPiece): void {
    const call = this.byIndex.get(piece.index);
    if (!call) {
      this.byIndex.set(piece.index, { id: piece.id, name: piece.name, arguments: piece.arguments });
      return;
    }
    if (piece.id) call.id = piece.id;
    if (piece.name) call.name = piece.name;
    call.arguments += piece.arguments;
  }

  get size(): number {
    return this.byIndex.size;
  }

  /** The calls so far, in index order. */
  get calls(): ToolCall[] {
    return [...this.byIndex.entries()].sort(([a], [b]) => a - b).map(([, c]) => ({ ...c }));
  }
}

/** The pieces that replay `calls` whole: one per call. */
export function piecesOf(calls: readonly ToolCall[]): ToolCallPiece[] {
  return calls.map((c, index) => ({ index, ...c }));
}
