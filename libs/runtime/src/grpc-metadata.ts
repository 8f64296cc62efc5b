import { Metadata } from "@grpc/grpc-js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** Headers gRPC itself sets on the wire; a service's own headers never carry them. */
const RESERVED = new Set([
  "content-type",
  "te",
  "user-agent",
  "grpc-status",
  "grpc-message",
  "grpc-status-details-bin",
  "grpc-timeout",
  "grpc-encoding",
  "grpc-accept-encoding",
]);

/**
 * Web headers as gRPC metadata: `-bin` values travel base64 in Headers (as Connect keeps them)
 * and as bytes in Metadata. Reserved and pseudo headers stay out.
 */
export function metadataOf(header: HeadersInit | undefined): Metadata {
  const md = new Metadata();
  if (header === undefined) return md;
  const entries = header instanceof Headers ? header : new Headers(header);
  for (const [key, value] of entries) {
    if (RESERVED.has(key) || key.startsWith(":")) continue;
    if (key.endsWith("-bin")) {
      for (const part of value.split(/,\s*/)) md.add(key, Buffer.from(part, "base64"));
    } else {
      md.add(key, value);
    }
  }
  return md;
}

/** gRPC metadata as web headers (`-bin` values base64, unpadded, as gRPC's HTTP mapping writes them). */
export function headersOf(md: Metadata | undefined): Headers {
  const headers = new Headers();
  if (md === undefined) return headers;
  const map = md.toJSON();
  for (const key in map) {
    for (const value of map[key]!) {
      headers.append(key, typeof value === "string" ? value : Buffer.from(value).toString("base64").replace(/=+$/, ""));
    }
  }
  return headers;
}

/** Whether a Headers object holds anything (sending empty metadata would cost a frame for nothing). */
export function hasEntries(headers: Headers): boolean {
  return !headers.keys().next().done;
}
