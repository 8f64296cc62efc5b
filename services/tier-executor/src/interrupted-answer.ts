import { ConnectError } from "@connectrpc/connect";
import { InterruptedAnswerSchema } from "@tiermesh/proto";

/**
 * The error of a run that failed after producing `delivered`, with that text attached as an
 * InterruptedAnswer detail (code, message and metadata unchanged). Nothing delivered: the
 * error as it was.
 */
export function withDelivered(cause: unknown, delivered: string): unknown {
  if (delivered === "") return cause;
  const err = ConnectError.from(cause);
  return new ConnectError(err.rawMessage, err.code, err.metadata, [{ desc: InterruptedAnswerSchema, value: { delivered } }], err.cause);
}
