import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/** Fetch-style headers (Connect's request and response headers). */
export const fetchHeaders: TextMapGetter<Headers> & TextMapSetter<Headers> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  set: (carrier, key, value) => carrier.set(key, value),
  keys: (carrier) => [...carrier.keys()],
};

/** Node's incoming HTTP headers (lower-case names; a repeated header is an array). */
export const nodeHeaders: TextMapGetter<NodeJS.Dict<string | string[]>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
};

/** The part of nats.js `MsgHdrs` a trace context needs. */
export interface NatsHeaderLike {
  get(key: string): string;
  set(key: string, value: string): void;
  keys(): string[];
}

/** NATS message headers (`headers()` from nats.js); an absent key reads as "". */
export const natsHeaders: TextMapGetter<NatsHeaderLike> & TextMapSetter<NatsHeaderLike> = {
  get: (carrier, key) => carrier.get(key) || undefined,
  set: (carrier, key, value) => carrier.set(key, value),
  keys: (carrier) => carrier.keys(),
};

/** A plain record, for trace context carried as message fields. */
export const recordCarrier: TextMapGetter<Record<string, string>> & TextMapSetter<Record<string, string>> = {
  get: (carrier, key) => carrier[key],
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
  keys: (carrier) => Object.keys(carrier),
};
