/** Entries kept per model; older ones are dropped (the counters keep counting). */
const MAX_RECENT = 5_000;

/** Request header by which tiermesh marks a canary probe. */
export const PROBE_HEADER = "x-tiermesh-probe";

/** One chat completion request as it arrived, for tests that count what reached a model. */
export interface LoggedRequest {
  /** Epoch ms of arrival. */
  at_ms: number;
  /** Marked as a canary probe (`x-tiermesh-probe: 1`). */
  probe: boolean;
  /** The tightest of max_tokens / max_completion_tokens; null when unset. */
  max_tokens: number | null;
  /** How it was answered: normally, with the injected fault, refused as over the model's context window, or refusing its assistant prefix. */
  answer: "ok" | "outage" | "hang" | "rate_limit" | "error" | "context_length_exceeded" | "prefix_refused";
}

export interface ModelRequests {
  requests: number;
  probes: number;
  /** The latest requests, oldest first. */
  recent: LoggedRequest[];
}

/** Per-model request counters and recent requests, readable through `GET /admin/requests`. */
export class RequestLog {
  private readonly byModel = new Map<string, ModelRequests>();

  record(model: string, entry: LoggedRequest): void {
    let m = this.byModel.get(model);
    if (!m) {
      m = { requests: 0, probes: 0, recent: [] };
      this.byModel.set(model, m);
    }
    m.requests++;
    if (entry.probe) m.probes++;
    m.recent.push(entry);
    if (m.recent.length > MAX_RECENT) m.recent.splice(0, m.recent.length - MAX_RECENT);
  }

  snapshot(): Record<string, ModelRequests> {
    return structuredClone(Object.fromEntries(this.byModel));
  }

  clear(): void {
    this.byModel.clear();
  }
}
