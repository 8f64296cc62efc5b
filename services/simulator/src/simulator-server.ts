import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { clearRequests, getProfiles, getRequests, patchAllProfiles, patchProfile, resetProfiles, type AdminDeps } from "./admin-api.js";
import { handleChatCompletions, type ChatCompletionsDeps } from "./chat-completions.js";
import { openAIError, sendOpenAIError } from "./openai-error.js";
import { createProfileStore } from "./profile-store.js";
import { RequestLog } from "./request-log.js";
import { sendJson, sendText } from "./send-json.js";
import type { ModelProfile, SimulatorConfig } from "./simulator-config.js";

export interface SimulatorOptions {
  logger?: Logger;
  /** Uniform source in [0, 1) for latencies, lengths and faults; defaults to Math.random. */
  random?: () => number;
}

export interface Simulator {
  server: http.Server;
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host: string): Promise<number>;
  /** Stops accepting, destroys open connections (including hanging requests), resolves when closed. */
  close(): Promise<void>;
  /** A copy of the current runtime profiles, keyed by model. */
  profiles(): Record<string, ModelProfile>;
}

const ADMIN_MODEL_PREFIX = "/admin/models/";

interface Context {
  completions: ChatCompletionsDeps;
  admin: AdminDeps;
  modelsCreated: number;
}

function methodNotAllowed(res: ServerResponse, allow: string): void {
  sendOpenAIError(res, 405, openAIError(`Method not allowed; use ${allow}`, "invalid_request_error"), {
    allow,
  });
}

function listModels(ctx: Context, res: ServerResponse): void {
  const data = ctx.admin.store.models().map((id) => ({
    id,
    object: "model",
    created: ctx.modelsCreated,
    owned_by: "tiermesh-simulator",
  }));
  sendJson(res, 200, { object: "list", data });
}

function decodeModel(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

async function route(ctx: Context, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const path = (req.url ?? "/").split("?", 1)[0] ?? "/";
  const method = req.method ?? "GET";

  if (path === "/v1/chat/completions") {
    if (method !== "POST") return methodNotAllowed(res, "POST");
    return handleChatCompletions(ctx.completions, req, res, signal);
  }
  if (path === "/v1/models") return method === "GET" ? listModels(ctx, res) : methodNotAllowed(res, "GET");
  if (path === "/healthz") return method === "GET" ? sendText(res, 200, "ok") : methodNotAllowed(res, "GET");
  if (path === "/admin/models") {
    if (method === "GET") return getProfiles(ctx.admin, res);
    if (method === "PATCH") return patchAllProfiles(ctx.admin, req, res);
    return methodNotAllowed(res, "GET, PATCH");
  }
  if (path === "/admin/requests") {
    if (method === "GET") return getRequests(ctx.admin, res);
    if (method === "DELETE") return clearRequests(ctx.admin, res);
    return methodNotAllowed(res, "GET, DELETE");
  }
  if (path === "/admin/reset") {
    return method === "POST" ? resetProfiles(ctx.admin, res) : methodNotAllowed(res, "POST");
  }
  if (path.startsWith(ADMIN_MODEL_PREFIX) && path.length > ADMIN_MODEL_PREFIX.length) {
    if (method !== "PATCH") return methodNotAllowed(res, "PATCH");
    const model = decodeModel(path.slice(ADMIN_MODEL_PREFIX.length));
    if (model !== undefined) return patchProfile(ctx.admin, model, req, res);
  }
  sendOpenAIError(res, 404, openAIError(`Unknown path ${path}`, "invalid_request_error", "not_found"));
}

/**
 * Builds the simulated OpenAI-compatible provider. Nothing listens until
 * `listen` is called.
 */
export function createSimulator(config: SimulatorConfig, options: SimulatorOptions = {}): Simulator {
  const logger = options.logger?.child({ component: "simulator" });
  const store = createProfileStore(config.models);
  const requests = new RequestLog();
  const ctx: Context = {
    completions: { profileOf: (model) => store.get(model), random: options.random ?? Math.random, log: requests },
    admin: { store, logger, requests },
    modelsCreated: Math.floor(Date.now() / 1000),
  };

  const server = http.createServer((req, res) => {
    const aborter = new AbortController();
    res.once("close", () => aborter.abort());
    route(ctx, req, res, aborter.signal).catch((err: unknown) => {
      logger?.error({ err, method: req.method, url: req.url }, "simulator request failed");
      if (res.headersSent) res.destroy();
      else sendOpenAIError(res, 500, openAIError("Internal simulator error", "server_error"));
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      return new Promise((resolve, reject) => {
        if (!server.listening) {
          server.closeAllConnections();
          resolve();
          return;
        }
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
    profiles: () => store.snapshot(),
  };
}
