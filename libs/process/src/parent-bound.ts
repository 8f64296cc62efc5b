import { findExecutable } from "./find-executable.js";

/** A command and its arguments, as `spawn` takes them. */
export interface Command {
  command: string;
  args: string[];
}

let setpriv: string | null | undefined;

/** util-linux's `setpriv` (Linux only), looked up once. */
function findSetpriv(): string | null {
  if (setpriv === undefined) setpriv = process.platform === "linux" ? (findExecutable("setpriv") ?? null) : null;
  return setpriv;
}

/**
 * `command` made to end with the process that starts it, however that one ends (`kill -9`
 * included), so that a launcher that dies leaves no service or nats-server holding its ports.
 * util-linux's `setpriv --pdeathsig TERM` sets the kernel's parent-death signal and then execs
 * the command: the same pid, nothing in between, and SIGTERM is the signal services already
 * drain on. Where `setpriv` is missing (other systems), the command runs as given.
 */
export function boundToParent(command: string, args: readonly string[]): Command {
  const bin = findSetpriv();
  return bin === null ? { command, args: [...args] } : { command: bin, args: ["--pdeathsig", "TERM", "--", command, ...args] };
}
