// WatchPayment: a payment's state now, then each change as it is appended to PAY_EVT, folded with
// the payment's own evolve (the event store is the source of truth, not the reply inbox): the state
// is loaded as the actor loads it (snapshot, then the tail), and the payment's frames after that
// state's sequence are followed (watch-feed.ts), so nothing appended in between is missed. An update
// goes out when the status or an amount changed; the watch ends after a final status.
import { EventFrame, decodeJson } from "../../streams/envelopes.ts";
import type { Loaded } from "../../actors/payment/journal.ts";
import { evolveAll } from "../../actors/payment/core/evolve.ts";
import type { PaymentState } from "../../actors/payment/core/state.ts";
import { toView, type PaymentView } from "../../actors/payment/core/view.ts";
import { PaymentEvents } from "../../actors/payment/core/wire.ts";
import { ApiError } from "../errors.ts";
import { notFound } from "../payment-service.ts";
import type { FrameFollower, WatchFeed } from "./watch-feed.ts";

/** After these, nothing a watcher waits for happens: the stream ends (settlements and disputes aside). */
export const FINAL_STATUSES: ReadonlySet<string> = new Set([
  "declined",
  "failed",
  "canceled",
  "refunded",
  "expired",
]);

export type WatchDeps = {
  /** The payment as the actor loads it (actors/payment/journal.ts Journal.load). */
  load(paymentId: string): Promise<Pick<Loaded, "state" | "lastSeq" | "eventNo">>;
  follow: FrameFollower;
};

export type WatchUpdate = { view: PaymentView; eventCount: number };

/**
 * One watch: `start` checks the payment is the merchant's and opens the feed; `updates` yields the
 * current state first, then each change; `close` (the client cancelled, the server stops) ends it.
 */
export class PaymentWatch {
  #state: PaymentState;
  #eventNo = 0;
  #feed: WatchFeed | undefined;
  #closed = false;

  constructor(
    private readonly deps: WatchDeps,
    private readonly paymentId: string,
  ) {}

  async start(merchantId: string): Promise<void> {
    let loaded;
    try {
      loaded = await this.deps.load(this.paymentId);
    } catch (cause) {
      throw new ApiError(
        "service_unavailable",
        "payments cannot be read right now; retry later",
        {},
        { cause },
      );
    }
    if (!loaded.state || loaded.state.merchantId !== merchantId) throw notFound();
    this.#state = loaded.state;
    this.#eventNo = loaded.eventNo;
    try {
      this.#feed = await this.deps.follow(this.paymentId, loaded.lastSeq);
    } catch (cause) {
      throw new ApiError(
        "service_unavailable",
        "the payment cannot be watched right now; retry later",
        {},
        { cause },
      );
    }
    // Closed while the feed was opening: it is not left behind.
    if (this.#closed) await this.#feed.close();
  }

  async *updates(): AsyncGenerator<WatchUpdate> {
    let last = this.#current();
    yield last;
    if (FINAL_STATUSES.has(last.view.status) || this.#feed === undefined) return;
    try {
      for await (const msg of this.#feed) {
        if (!this.#apply(msg.data)) {
          // A frame out of order (should not happen: one ordered feed): fold from the store again.
          const loaded = await this.deps.load(this.paymentId);
          this.#state = loaded.state;
          this.#eventNo = loaded.eventNo;
        }
        const now = this.#current();
        if (changed(last.view, now.view)) {
          last = now;
          yield now;
          if (FINAL_STATUSES.has(now.view.status)) return;
        }
      }
    } catch (cause) {
      if (!this.#closed) throw lost(cause);
    }
    // Not the payment's end: the feed ended under the watch (its consumer gone, NATS away).
    if (!this.#closed) throw lost(undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#feed?.close();
  }

  #current(): WatchUpdate {
    return { view: toView(this.#state!), eventCount: this.#eventNo };
  }

  /** Folds one frame; false when it does not follow the events folded so far. */
  #apply(data: Uint8Array): boolean {
    const frame = EventFrame.safeParse(decodeJson(data));
    if (!frame.success) return false;
    const { firstEventNo } = frame.data;
    if (firstEventNo <= this.#eventNo) return true; // already folded (the load saw it)
    if (firstEventNo !== this.#eventNo + 1) return false;
    const events = PaymentEvents.safeParse(frame.data.events);
    if (!events.success) return false;
    this.#state = evolveAll(this.#state, events.data);
    this.#eventNo += events.data.length;
    return true;
  }
}

function lost(cause: unknown): ApiError {
  return new ApiError("service_unavailable", "the watch lost its feed; watch again", {}, { cause });
}

function changed(a: PaymentView, b: PaymentView): boolean {
  return (
    a.status !== b.status ||
    a.captured_amount !== b.captured_amount ||
    a.refunded_amount !== b.refunded_amount ||
    a.operations.length !== b.operations.length
  );
}
