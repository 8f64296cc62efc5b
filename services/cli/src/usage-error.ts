/** A command line that cannot be run as given; the message names the bad flag. The CLI exits 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
