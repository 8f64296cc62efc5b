import { describe, expect, it } from "vitest";
import { EnvelopeReader, encodeEnvelope } from "./connect-envelope.js";

const text = (s: string) => new TextEncoder().encode(s);

describe("EnvelopeReader", () => {
  it("hands back envelopes split across and packed into chunks", () => {
    const a = encodeEnvelope(0, text('{"delta":"Hi"}'));
    const b = encodeEnvelope(2, text("{}"));
    const wire = new Uint8Array([...a, ...b]);
    const reader = new EnvelopeReader();
    expect(reader.push(wire.slice(0, 3))).toEqual([]);
    const first = reader.push(wire.slice(3, a.length + 2));
    expect(first.map((e) => [e.flags, new TextDecoder().decode(e.data)])).toEqual([[0, '{"delta":"Hi"}']]);
    expect(reader.pending).toBe(2);
    const rest = reader.push(wire.slice(a.length + 2));
    expect(rest.map((e) => [e.flags, new TextDecoder().decode(e.data)])).toEqual([[2, "{}"]]);
    expect(reader.pending).toBe(0);
  });

  it("refuses compressed envelopes it did not ask for", () => {
    expect(() => new EnvelopeReader().push(encodeEnvelope(1, text("x")))).toThrow(/compressed/);
  });
});
