import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";

/** A plain HTTP request handler on an RPC server's port (HTTP/1.1 or HTTP/2). */
export type HttpHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
export type HttpRequest = Parameters<HttpHandler>[0];
export type HttpResponse = Parameters<HttpHandler>[1];
