import type { ChatCompletionRequest } from "./chat-completion-request.js";
import type { ModelProfile } from "./simulator-config.js";

/** A tool call the simulated model makes: its arguments as JSON text, and the pieces they stream in. */
export interface PlannedToolCall {
  id: string;
  name: string;
  arguments: string;
  /** `arguments` cut into pieces (at least two when it is longer than one character), in order. */
  pieces: string[];
}

/** Pieces a call's arguments stream in. */
const ARGUMENT_PIECES = 3;

/**
 * The tool calls the simulated model makes, decided by a fixed rule so tests can rely on it:
 * none without tools or with `tool_choice: "none"`; the named function for a named choice; every
 * tool (in parallel, unless `parallel_tool_calls` is false: then the first) for `"required"`;
 * for `"auto"` (or none given), the first tool when the last message is the user's and the
 * profile's `tool_use` is "auto" (after a tool result the model answers in text). Arguments fill
 * each property of the tool's JSON schema with a value of its type ("sim" for strings, 1 for
 * numbers, true for booleans, null otherwise).
 */
export function planToolCalls(request: ChatCompletionRequest, profile: ModelProfile, idPrefix: string): PlannedToolCall[] {
  const tools = request.tools ?? [];
  const choice = request.tool_choice ?? "auto";
  if (tools.length === 0 || choice === "none") return [];
  let chosen;
  if (typeof choice === "object") chosen = tools.filter((t) => t.function.name === choice.function.name).slice(0, 1);
  else if (choice === "required") chosen = request.parallel_tool_calls === false ? tools.slice(0, 1) : tools;
  else chosen = profile.tool_use === "auto" && request.messages.at(-1)?.role === "user" ? tools.slice(0, 1) : [];
  return chosen.map((t, i) => {
    const args = JSON.stringify(argumentsFor(t.function.parameters ?? undefined));
    return { id: `call_${idPrefix}_${i}`, name: t.function.name, arguments: args, pieces: cut(args, ARGUMENT_PIECES) };
  });
}

function argumentsFor(schema: Record<string, unknown> | undefined): Record<string, unknown> {
  const properties = schema?.["properties"];
  if (typeof properties !== "object" || properties === null) return {};
  const args: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties as Record<string, { type?: unknown }>)) {
    const type = property?.type;
    args[name] = type === "string" ? "sim" : type === "number" || type === "integer" ? 1 : type === "boolean" ? true : null;
  }
  return args;
}

function cut(text: string, pieces: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}
