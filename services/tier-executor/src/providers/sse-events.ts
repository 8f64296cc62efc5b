import { StringDecoder } from "node:string_decoder";
import { createParser, type EventSourceMessage } from "eventsource-parser";

/**
 * The server-sent events of a response body, in order. The body is decoded as one UTF-8
 * stream, so a character split across network chunks arrives whole. An event not closed
 * by a blank line before the body ends is dropped, as the SSE spec says.
 */
export async function* sseEvents(body: AsyncIterable<unknown>): AsyncGenerator<EventSourceMessage> {
  let events: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event) });
  // Not TextDecoder: each one opens an ICU converter, about 10 µs per response under load.
  const decoder = new StringDecoder("utf8");
  for await (const chunk of body) {
    parser.feed(decoder.write(chunk as Uint8Array));
    // Yielded one by one: `yield*` over an array wraps every event in an async-from-sync step.
    const parsed = events;
    // A new array rather than `length = 0` (shrinking an array is a runtime call in V8, once per chunk).
    events = [];
    for (let i = 0; i < parsed.length; i++) yield parsed[i]!;
  }
}

/** The start of an event's data, quoted, for logs and skip reasons. */
export function excerpt(data: string): string {
  return JSON.stringify(data.length > 60 ? `${data.slice(0, 60)}…` : data);
}
