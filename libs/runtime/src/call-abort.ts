/**
 * The AbortSignal of one call, for controllers made per request on the hot path.
 *
 * Node makes an AbortController's signal as an EventTarget whose prototype it then swaps
 * (`Object.setPrototypeOf`); on Node 20 such a signal survives the young-generation collector
 * and is promoted to old space, to be freed only by a mark-compact, which pauses every call in
 * the process: 574 bytes promoted per signal, against 65 for this one
 * (test/bench/promotion-patterns.mjs). A request makes about five. This signal is an ordinary
 * EventTarget subclass and dies young.
 *
 * It is an AbortSignal for every consumer that works by its interface: `aborted`, `reason`,
 * `throwIfAborted()`, `onabort` and "abort" listeners (connect-es, undici, Node's timers and
 * streams). It is not one for brand checks (`fetch`, `AbortSignal.any`): pass those a native one.
 */
class CallAbortSignal extends EventTarget implements AbortSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((this: AbortSignal, ev: Event) => unknown) | null = null;

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
}

/** An AbortController whose signal is a CallAbortSignal; the same contract as the global one. */
export class CallAbortController implements AbortController {
  readonly signal: AbortSignal;
  private readonly own: CallAbortSignal;

  constructor() {
    this.own = new CallAbortSignal();
    this.signal = this.own;
  }

  abort(reason?: unknown): void {
    const signal = this.own;
    if (signal.aborted) return;
    signal.aborted = true;
    signal.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
    const event = new Event("abort");
    signal.onabort?.call(signal, event);
    signal.dispatchEvent(event);
  }
}
