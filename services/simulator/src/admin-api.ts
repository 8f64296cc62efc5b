import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { invalidRequestFromZod, openAIError, sendOpenAIError } from "./openai-error.js";
import type { ProfileStore } from "./profile-store.js";
import { readJsonOrReply } from "./read-json-body.js";
import type { RequestLog } from "./request-log.js";
import { sendJson } from "./send-json.js";
import { modelProfilePatchSchema, type ModelProfilePatch } from "./simulator-config.js";

export interface AdminDeps {
  store: ProfileStore;
  logger: Logger | undefined;
  requests: RequestLog;
}

async function readPatch(req: IncomingMessage, res: ServerResponse): Promise<ModelProfilePatch | undefined> {
  const body = await readJsonOrReply(req, res);
  if (body === undefined) return undefined;
  const parsed = modelProfilePatchSchema.safeParse(body.value);
  if (!parsed.success) {
    sendOpenAIError(res, 400, invalidRequestFromZod(parsed.error, "profile patch"));
    return undefined;
  }
  return parsed.data;
}

/** `GET /admin/models`: current profiles keyed by model. */
export function getProfiles(deps: AdminDeps, res: ServerResponse): void {
  sendJson(res, 200, deps.store.snapshot());
}

/** `PATCH /admin/models/:model`: applies a partial profile to one model; answers the new profile. */
export async function patchProfile(deps: AdminDeps, model: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!deps.store.has(model)) {
    return sendOpenAIError(res, 404, openAIError(`The model \`${model}\` does not exist`, "invalid_request_error", "model_not_found"));
  }
  const patch = await readPatch(req, res);
  if (patch === undefined) return;
  const result = deps.store.preview(model, patch);
  if (!result.ok) return sendOpenAIError(res, 400, invalidRequestFromZod(result.error, "profile"));
  deps.store.set(model, result.profile);
  deps.logger?.info({ model, patch, profile: result.profile }, "simulator profile patched");
  sendJson(res, 200, result.profile);
}

/** `PATCH /admin/models`: applies one partial profile to every model, all or nothing. */
export async function patchAllProfiles(deps: AdminDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const patch = await readPatch(req, res);
  if (patch === undefined) return;
  const models = deps.store.models();
  const updated = [];
  for (const model of models) {
    const result = deps.store.preview(model, patch);
    if (!result.ok) {
      return sendOpenAIError(res, 400, invalidRequestFromZod(result.error, `profile of \`${model}\``));
    }
    updated.push({ model, profile: result.profile });
  }
  for (const { model, profile } of updated) deps.store.set(model, profile);
  deps.logger?.info({ models, patch }, "simulator profiles patched");
  sendJson(res, 200, deps.store.snapshot());
}

/** `POST /admin/reset`: restores every profile from the config. */
export function resetProfiles(deps: AdminDeps, res: ServerResponse): void {
  deps.store.reset();
  deps.logger?.info("simulator profiles reset to config");
  sendJson(res, 200, deps.store.snapshot());
}

/** `GET /admin/requests`: per model, requests and probes received, and the latest of them. */
export function getRequests(deps: AdminDeps, res: ServerResponse): void {
  sendJson(res, 200, deps.requests.snapshot());
}

/** `DELETE /admin/requests`: forgets every counted request. */
export function clearRequests(deps: AdminDeps, res: ServerResponse): void {
  deps.requests.clear();
  sendJson(res, 200, {});
}
