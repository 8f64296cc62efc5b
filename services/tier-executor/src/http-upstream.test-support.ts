// TierRunner over real HTTP (test support, not built): the in-process simulator, plus tiny
// node:http upstreams for behaviours the simulator lacks. Tier configs are YAML parsed by
// @tiermesh/config. Every runner uses random = () => 0, so the first listed deployment is
// always picked first (weighted strategy) and backoff is half of backoff_ms.
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { parseConfig, type Config } from "@tiermesh/config";
import { ATTEMPTS_HEADER, CompletionInputSchema, OutcomeStatus } from "@tiermesh/proto";
import { createSimulator, simulatorConfigSchema } from "@tiermesh/simulator";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { expect } from "vitest";
import { stringify } from "yaml";
import type { ProviderAdapter } from "./providers/provider-adapter.js";
import { createProviders } from "./providers/registry.js";
import { TierRunner, type RunContext, type RunEvent, type RunRequest, type RunResult } from "./tier-runner.js";

const servers: Server[] = [];
const simulators: { close(): Promise<void> }[] = [];
const adapters: ProviderAdapter[] = [];
const timers: NodeJS.Timeout[] = [];

/** Closes every server, simulator and adapter the fixtures opened; for `afterEach`. */
export async function closeFixtures(): Promise<void> {
  for (const t of timers.splice(0)) clearTimeout(t);
  // Servers first: closing an undici pool waits for requests still in flight (hung upstreams).
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await Promise.all(simulators.splice(0).map((s) => s.close()));
  await Promise.all(adapters.splice(0).map((a) => a.close()));
}

export interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature?: number;
  stream: boolean;
}

/** One request as the upstream saw it. */
export interface UpstreamCall {
  body: ChatBody;
  /** The connection closed. */
  closed: boolean;
  /** The connection closed before the answer was complete: the client went away. */
  abandoned: boolean;
}

export type Behaviour = (res: ServerResponse, call: UpstreamCall) => void;

/** A provider speaking the OpenAI chat completions stream, on 127.0.0.1:0. */
export async function upstream(behaviour: Behaviour): Promise<{ url: string; calls: UpstreamCall[] }> {
  const calls: UpstreamCall[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const call: UpstreamCall = { body: JSON.parse(text) as ChatBody, closed: false, abandoned: false };
      calls.push(call);
      res.on("close", () => {
        call.closed = true;
        call.abandoned = !res.writableFinished;
      });
      behaviour(res, call);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

/** Runs `fn` after `ms` unless the client has gone away by then. */
export function later(ms: number, call: UpstreamCall, fn: () => void): void {
  timers.push(setTimeout(() => call.closed || fn(), ms));
}

export function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

export function openStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
}

export function textChunk(content: string): unknown {
  return { object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] };
}

/** Streams `pieces`, a finish chunk, usage and [DONE] (opening the stream if not yet open). */
export function answer(res: ServerResponse, pieces: readonly string[]): void {
  if (!res.headersSent) openStream(res);
  for (const text of pieces) sse(res, textChunk(text));
  sse(res, { object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  sse(res, { object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 11, completion_tokens: pieces.length } });
  res.end("data: [DONE]\n\n");
}

export function httpError(res: ServerResponse, status: number, message: string, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ error: { message, type, code: null } }));
}

export const ok: Behaviour = (res) => answer(res, ["Hello", " there"]);

export type SimProfile = Record<string, unknown>;

/** The simulator with the given model profiles; `patch` changes one at run time over HTTP. */
export async function simulator(
  models: Record<string, SimProfile>,
): Promise<{ url: string; patch(model: string, change: SimProfile): Promise<void> }> {
  const sim = createSimulator(simulatorConfigSchema.parse({ models }));
  simulators.push(sim);
  const url = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
  return {
    url,
    async patch(model, change) {
      const res = await fetch(`${url}/admin/models/${model}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(change),
      });
      expect(res.status).toBe(200);
    },
  };
}

/** Simulator profile with fixed latencies (median = p99) and a fixed answer length. */
export function fixed(ttftMs: number, tokens: number, more: SimProfile = {}): SimProfile {
  return {
    ttft_ms: { median: ttftMs, p99: ttftMs },
    inter_token_ms: { median: 0, p99: 0 },
    output_tokens: { min: tokens, max: tokens },
    ...more,
  };
}

export const PRICE = { input_per_mtok: 5, output_per_mtok: 15 };

export function deployment(id: string, provider: string, model = "m"): Record<string, unknown> {
  return { id, provider, model, price: PRICE };
}

/** A whole config, as YAML text, around the given providers (name → base URL) and tiers. */
export function configOf(providers: Record<string, string>, tiers: Record<string, Record<string, unknown>>): Config {
  const text = stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: Object.fromEntries(Object.entries(providers).map(([name, url]) => [name, { kind: "openai", base_url: `${url}/v1` }])),
    tiers: Object.fromEntries(
      Object.entries(tiers).map(([name, tier], i) => [name, { rank: i + 1, executor: { listen: `127.0.0.1:${7410 + i}` }, ...tier }]),
    ),
    plans: {},
  });
  return parseConfig(text, "test.yaml", {});
}

export interface Harness {
  runner: TierRunner;
  outcomes: OutcomeInit[];
}

export function runnerFor(config: Config, tierName = "gold"): Harness {
  const providers = createProviders(config, [tierName], {});
  adapters.push(...providers.values());
  const outcomes: OutcomeInit[] = [];
  const runner = new TierRunner({ tierName, tier: config.tiers[tierName]!, providers, report: (o) => outcomes.push(o), random: () => 0 });
  return { runner, outcomes };
}

/** `deployment:STATUS` per reported outcome, in report order. */
export function seen(outcomes: readonly OutcomeInit[]): string[] {
  return outcomes.map((o) => `${o.deployment}:${OutcomeStatus[o.status ?? OutcomeStatus.UNSPECIFIED]}`);
}

export interface RequestOptions {
  content?: string;
  tenant?: string;
  temperature?: number;
  maxTokens?: number;
  maxAttempts?: number;
  probe?: boolean;
}

export function request(o: RequestOptions = {}): RunRequest {
  return {
    input: create(CompletionInputSchema, {
      messages: [{ role: "user", content: o.content ?? "Say hello." }],
      maxTokens: o.maxTokens ?? 8,
      ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    }),
    probe: o.probe ?? false,
    tenant: o.tenant ?? "acme",
    maxAttempts: o.maxAttempts ?? 0,
  };
}

export function context(timeoutMs = 5_000, signal = new AbortController().signal): RunContext {
  return { deadline: Date.now() + timeoutMs, signal };
}

export interface Settled {
  pieces: string[];
  /** Every event, advice included, in order. */
  events: RunEvent[];
  result?: RunResult;
  error?: unknown;
}

/** Pulls a run to its end; text yielded before a failure stays in `pieces`. */
export async function settle(run: AsyncGenerator<RunEvent, RunResult>): Promise<Settled> {
  const pieces: string[] = [];
  const events: RunEvent[] = [];
  try {
    for (;;) {
      const step = await run.next();
      if (step.done) return { pieces, events, result: step.value };
      events.push(step.value);
      if (step.value.type === "text") pieces.push(step.value.text);
    }
  } catch (error) {
    return { pieces, events, error };
  }
}

export async function served(h: Harness, req = request(), ctx = context()): Promise<{ pieces: string[]; result: RunResult }> {
  const s = await settle(h.runner.run(req, ctx));
  if (s.error !== undefined) throw s.error;
  return { pieces: s.pieces, result: s.result! };
}

export async function failed(h: Harness, req = request(), ctx = context()): Promise<{ pieces: string[]; error: ConnectError }> {
  const s = await settle(h.runner.run(req, ctx));
  expect(s.result, "expected the run to fail").toBeUndefined();
  expect(s.error).toBeInstanceOf(ConnectError);
  return { pieces: s.pieces, error: s.error as ConnectError };
}

export const attemptsOf = (err: ConnectError) => err.metadata.get(ATTEMPTS_HEADER);
