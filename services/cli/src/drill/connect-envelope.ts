/** Connect streaming framing: 1 flag byte, 4-byte big-endian length, then the message. */
export interface Envelope {
  flags: number;
  data: Uint8Array;
}

/** Set on the last envelope of a response stream, which holds `{error?, metadata?}` as JSON. */
export const END_STREAM_FLAG = 0b10;
const COMPRESSED_FLAG = 0b1;

export function encodeEnvelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.length);
  out.set(data, 5);
  return out;
}

/** Collects chunks as they arrive off the wire and hands back each complete envelope. */
export class EnvelopeReader {
  private buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Envelope[] {
    const joined = new Uint8Array(this.buffer.length + chunk.length);
    joined.set(this.buffer);
    joined.set(chunk, this.buffer.length);
    const out: Envelope[] = [];
    let at = 0;
    while (joined.length - at >= 5) {
      const flags = joined[at]!;
      const length = new DataView(joined.buffer, joined.byteOffset + at + 1, 4).getUint32(0);
      if (joined.length - at - 5 < length) break;
      if (flags & COMPRESSED_FLAG) throw new Error("compressed envelope received, but none was asked for");
      out.push({ flags, data: joined.slice(at + 5, at + 5 + length) });
      at += 5 + length;
    }
    this.buffer = joined.slice(at);
    return out;
  }

  /** Bytes of an envelope that never completed. */
  get pending(): number {
    return this.buffer.length;
  }
}
