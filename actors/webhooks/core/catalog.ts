// The merchant events (the outgoing webhooks' catalog): what a merchant hears of a payment, derived
// from its payment events. Pure: from one PAY_EVT frame's events and the payment's state before the
// frame to the merchant events the frame causes, each with the payment's view right after the event
// that caused it. An event's id is a digest of (payment, event number, type), so the same frame read
// twice (a redelivered message, a second dispatcher) yields the same ids: storing them is idempotent.
import { createHash } from "node:crypto";
import type { PaymentEvent } from "../../payment/core/events.ts";
import { evolve } from "../../payment/core/evolve.ts";
import type { PaymentState } from "../../payment/core/state.ts";
import { z } from "zod";
import { PaymentView, toView } from "../../payment/core/view.ts";
import { EVENT_TYPES, type EventType } from "./event-types.ts";

/**
 * The event object merchants receive (the webhook body), read from GET /v1/events, and published on
 * PAY_OUT for internal systems: one schema for all three (schemas/merchant-event).
 */
export const MerchantEvent = z.object({
  id: z.string(),
  object: z.literal("event"),
  type: z.enum(EVENT_TYPES),
  created: z.string(),
  data: z.object({ object: PaymentView }),
});
export type MerchantEvent = z.infer<typeof MerchantEvent>;

/** A merchant event with where it came from: the payment event's number and its place in the frame. */
export type CatalogEntry = {
  event: MerchantEvent;
  merchantId: string;
  paymentId: string;
  eventNo: number;
  /** The causing event's index within its frame: (stream seq, idx) orders a payment's events. */
  idx: number;
};

/**
 * The merchant event a payment event causes, judged on the states before and after it; undefined:
 * none. A switch over the whole union, so a new payment event is a compile error here until someone
 * says what (if anything) a merchant hears of it.
 */
export function merchantEventType(
  before: PaymentState,
  event: PaymentEvent,
  after: PaymentState,
): EventType | undefined {
  switch (event.type) {
    case "PaymentAuthorized":
      return event.captured ? "payment.captured" : "payment.authorized";
    case "PaymentDeclined":
      return "payment.declined";
    case "PaymentFailed":
      return "payment.failed";
    case "PaymentRequiresAction":
      return "payment.requires_action";
    case "PaymentExpired":
      return "payment.expired";
    case "DisputeOpened":
      return "payment.disputed";
    case "DisputeClosed":
      return "dispute.closed";
    case "CaptureSettled":
      return "payment.settled";
    case "RefundSettled":
      return "refund.settled";
    case "OperationSucceeded": {
      const op = before?.operations.find((o) => o.id === event.operationId);
      if (op?.kind === "capture") return "payment.captured";
      if (op?.kind === "refund") return "refund.succeeded";
      // A void that cancels the payment; the void that follows an expiry leaves it `expired`, and
      // the merchant has heard payment.expired already.
      if (op?.kind === "void" && after?.status === "canceled") return "payment.canceled";
      return undefined;
    }
    case "OperationFailed": {
      const op = before?.operations.find((o) => o.id === event.operationId);
      return op?.kind === "refund" ? "refund.failed" : undefined;
    }
    case "PaymentCreated":
    case "PaymentRouted":
    case "AuthorizationRequested":
    case "AttemptDeclined":
    case "AuthorizationFailed":
    case "AuthorizationOutcomeUnknown":
    case "OperationRequested":
    case "OperationOutcomeUnknown":
    case "OperationAccepted":
      return undefined;
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** `evt_` + 24 base64url characters of SHA-256(payment, event number, type): stable across reads. */
export function merchantEventId(paymentId: string, eventNo: number, type: EventType): string {
  const digest = createHash("sha256").update(`${paymentId}\n${eventNo}\n${type}`).digest("base64url");
  return `evt_${digest.slice(0, 24)}`;
}

/**
 * The merchant events of one frame, and the payment's state after it (the next frame's `before`).
 * `firstEventNo` is the frame's: event i is number firstEventNo + i.
 */
export function catalog(
  before: PaymentState,
  frame: { firstEventNo: number; events: readonly PaymentEvent[] },
): { entries: CatalogEntry[]; after: PaymentState } {
  const entries: CatalogEntry[] = [];
  let state = before;
  frame.events.forEach((event, idx) => {
    const next = evolve(state, event);
    const type = next ? merchantEventType(state, event, next) : undefined;
    if (next && type) {
      const eventNo = frame.firstEventNo + idx;
      entries.push({
        event: {
          id: merchantEventId(next.id, eventNo, type),
          object: "event",
          type,
          created: event.at,
          data: { object: toView(next) },
        },
        merchantId: next.merchantId,
        paymentId: next.id,
        eventNo,
        idx,
      });
    }
    state = next;
  });
  return { entries, after: state };
}
