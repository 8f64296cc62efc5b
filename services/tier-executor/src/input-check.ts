import { Code, ConnectError } from "@connectrpc/connect";
import type { CompletionInput } from "@tiermesh/proto";

const TOOL_CHOICES = new Set(["", "auto", "none", "required", "function"]);
const MAX_STOP_SEQUENCES = 4;

/**
 * Refuses, naming the field, what no provider could be sent: JSON text that is not JSON (tool
 * parameters, a response schema, a tool call's arguments), a tool choice of an unknown kind or
 * naming a tool the request does not offer, more than four stop sequences, an image without a URL.
 */
export function checkInput(input: CompletionInput): void {
  const bad = (field: string, why: string) => new ConnectError(`input.${field}: ${why}`, Code.InvalidArgument);
  const json = (field: string, text: string) => {
    try {
      JSON.parse(text);
    } catch {
      throw bad(field, "not valid JSON");
    }
  };
  const names = new Set<string>();
  input.tools.forEach((t, i) => {
    if (t.name === "") throw bad(`tools[${i}].name`, "required");
    if (t.parametersJson !== "") json(`tools[${i}].parameters_json`, t.parametersJson);
    names.add(t.name);
  });
  const choice = input.toolChoice;
  if (choice) {
    if (!TOOL_CHOICES.has(choice.mode)) throw bad("tool_choice.mode", `unknown mode "${choice.mode}" (auto, none, required or function)`);
    if (choice.mode === "function" && !names.has(choice.functionName))
      throw bad("tool_choice.function_name", `no tool named "${choice.functionName}" in input.tools`);
    if ((choice.mode === "required" || choice.mode === "function") && names.size === 0)
      throw bad("tool_choice", `"${choice.mode}" needs input.tools`);
  }
  if (input.jsonSchema) json("json_schema.schema_json", input.jsonSchema.schemaJson);
  if (input.stop.length > MAX_STOP_SEQUENCES) throw bad("stop", `at most ${MAX_STOP_SEQUENCES} sequences`);
  input.messages.forEach((m, i) => {
    m.toolCalls.forEach((c, j) => {
      if (c.argumentsJson !== "") json(`messages[${i}].tool_calls[${j}].arguments_json`, c.argumentsJson);
    });
    m.parts.forEach((p, j) => {
      if (p.part.case === "imageUrl" && p.part.value.url === "") throw bad(`messages[${i}].parts[${j}].image_url.url`, "required");
    });
    if (m.role === "tool" && m.toolCallId === "") throw bad(`messages[${i}].tool_call_id`, "required for a tool message");
  });
}
