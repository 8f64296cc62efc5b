import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findExecutable } from "./find-executable.js";
import { freePort } from "./free-port.js";
import { boundToParent } from "./parent-bound.js";
import type { ProcessExit } from "./supervisor.js";

export class NatsServerMissingError extends Error {
  override readonly name = "NatsServerMissingError";
  constructor() {
    super(
      "nats-server binary not found (looked in $NATS_SERVER_BIN, $PATH and /usr/sbin). " +
        "Install it with `sudo apt-get install nats-server` (Debian/Ubuntu) or from https://github.com/nats-io/nats-server/releases, " +
        "or pass an existing server with --nats <url>.",
    );
  }
}

/** Path of the nats-server binary, or throws NatsServerMissingError. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["NATS_SERVER_BIN"];
  if (explicit) {
    if (existsSync(explicit)) return explicit;
    throw new NatsServerMissingError();
  }
  const found = findExecutable("nats-server", env, ["/usr/sbin", "/usr/local/sbin", "/usr/local/bin"]);
  if (found === undefined) throw new NatsServerMissingError();
  return found;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Pid of the running server, if one runs. */
  readonly pid: number | undefined;
  /** Calls `listener` every time a server process ends (stopped through this handle, or not). */
  onExit(listener: (exit: ProcessExit) => void): void;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s). Its data stays for `start`. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same JetStream data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

export interface NatsServerOptions {
  port?: number;
  /** Forward the server's output to this process's stderr. */
  verbose?: boolean;
}

/** Starts a private nats-server with JetStream on loopback. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const bin = findNatsServer();
  const port = options.port ?? (await freePort());
  const storeDir = mkdtempSync(join(tmpdir(), "tiermesh-nats-"));
  let child: ChildProcess | undefined;
  const listeners: ((exit: ProcessExit) => void)[] = [];
  const stopping = new WeakSet<ChildProcess>();

  const start = async () => {
    // Bound to this process: a launcher killed with -9 leaves no nats-server holding the port.
    const { command, args } = boundToParent(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir]);
    const proc = spawn(command, args, {
      stdio: ["ignore", options.verbose ? "inherit" : "ignore", options.verbose ? "inherit" : "pipe"],
    });
    child = proc;
    const startedAt = Date.now();
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2_000)));
    const exited = new Promise<never>((_, reject) => {
      let reported = false;
      const report = (code: number | null, signal: string | null) => {
        if (reported) return;
        reported = true;
        if (child === proc) child = undefined;
        const exit = { pid: proc.pid, code, signal, uptimeMs: Date.now() - startedAt, requested: stopping.has(proc) };
        for (const listener of listeners) listener(exit);
        reject(new Error(`nats-server exited with ${signal ?? `code ${code}`}: ${stderr.trim()}`));
      };
      proc.once("exit", (code, signal) => report(code, signal));
      proc.once("error", (err) => {
        stderr += String(err);
        report(null, "spawn-error");
      });
    });
    exited.catch(() => undefined);
    await Promise.race([waitForPort(port, 10_000), exited]);
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    stopping.add(proc);
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    onExit(listener) {
      listeners.push(listener);
    },
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Resolves when something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
