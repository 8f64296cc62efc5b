/** A refusal of the HTTP edge itself (bad body, unknown route), with OpenAI's `param` and `code` where they apply. */
export class EdgeError extends Error {
  override readonly name = "EdgeError";
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}
