import { TraceFlags, type Attributes, type Context, type Link, type SpanKind } from "@opentelemetry/api";
import { SamplingDecision, TraceIdRatioBasedSampler, type Sampler, type SamplingResult } from "@opentelemetry/sdk-trace-base";

/**
 * Decides for root spans: a root span that links to a sampled span is sampled (a batch of
 * outcomes that holds a traced request's, a status change caused by it), so what the
 * sampled requests caused is recorded with them; any other root span at `ratio`.
 */
export class LinkedRatioSampler implements Sampler {
  private readonly ratio: TraceIdRatioBasedSampler;

  constructor(ratio: number) {
    this.ratio = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(context: Context, traceId: string, _name: string, _kind: SpanKind, _attributes: Attributes, links: Link[]): SamplingResult {
    if (links.some((l) => (l.context.traceFlags & TraceFlags.SAMPLED) !== 0)) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.ratio.shouldSample(context, traceId);
  }

  toString(): string {
    return `LinkedRatioSampler{${this.ratio.toString()}}`;
  }
}
