import {
  GenAI,
  propagation,
  recordCarrier,
  SpanKind,
  SpanStatusCode,
  Tiermesh,
  trace,
  traceFieldsOf,
  type Context,
  type Span,
  type TraceFields,
  type Tracer,
} from "@tiermesh/telemetry";
import type { Deployment } from "./deployment-state.js";
import type { ProviderRequest } from "./providers/provider-adapter.js";

/** Where an attempt's span goes: the tier's tracer and the call's server span. */
export interface AttemptTracing {
  tracer: Tracer;
  parent: Context;
}

/**
 * The CLIENT span of one provider call (one attempt on one deployment), named and described
 * after the OpenTelemetry GenAI conventions (`chat <model>`, `gen_ai.*`), with the tier's own
 * attributes. Its W3C trace context goes to the provider in the request headers (a provider
 * that traces, vLLM say, joins the trace) and with the attempt's outcome to the monitor.
 */
export class AttemptSpan {
  private readonly span: Span;
  /** Headers for the provider call. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(t: AttemptTracing, tierName: string, deployment: Deployment, request: ProviderRequest, baseUrl: URL, probe: boolean) {
    this.span = t.tracer.startSpan(
      `chat ${deployment.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [GenAI.operationName]: "chat",
          [GenAI.providerName]: deployment.provider,
          [GenAI.system]: deployment.provider,
          [GenAI.requestModel]: deployment.model,
          [GenAI.requestMaxTokens]: request.maxTokens,
          // Providers are always asked to stream, so time to first token is seen for unary callers too.
          [GenAI.requestStream]: true,
          ...(request.temperature !== undefined ? { [GenAI.requestTemperature]: request.temperature } : {}),
          ...(request.jsonMode ? { [GenAI.outputType]: "json" } : {}),
          "server.address": baseUrl.hostname,
          "server.port": Number(baseUrl.port || (baseUrl.protocol === "https:" ? 443 : 80)),
          [Tiermesh.tier]: tierName,
          [Tiermesh.deployment]: deployment.id,
          [Tiermesh.probe]: probe,
        },
      },
      t.parent,
    );
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(t.parent, this.span), headers, recordCarrier);
    this.headers = headers;
  }

  /** The span's context for the outcome report (empty when it is not sampled). */
  get fields(): TraceFields {
    return traceFieldsOf(this.span);
  }

  firstToken(ms: number): void {
    this.span.setAttribute(GenAI.responseTimeToFirstChunk, ms / 1_000);
  }

  answered(model: string, finishReason: string, inputTokens: number, outputTokens: number, estimated: boolean): void {
    this.span.setAttributes({
      [GenAI.responseModel]: model,
      [GenAI.responseFinishReasons]: [finishReason],
      [GenAI.usageInputTokens]: inputTokens,
      [GenAI.usageOutputTokens]: outputTokens,
      "tiermesh.usage.estimated": estimated,
    });
  }

  /** Ends the span with the attempt's outcome; `failure` (the provider failure kind) marks it failed. */
  end(statusName: string, failure: string | undefined, message?: string): void {
    this.span.setAttribute(Tiermesh.outcomeStatus, statusName);
    if (failure !== undefined && failure !== "cancelled") {
      this.span.setAttribute("error.type", failure);
      this.span.setStatus({ code: SpanStatusCode.ERROR, ...(message ? { message } : {}) });
    }
    this.span.end();
  }
}
