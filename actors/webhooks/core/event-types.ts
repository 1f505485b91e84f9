// The merchant event types a webhook endpoint can subscribe to: one list, read by the endpoints API
// (what `enabled_events` may name) and by the event catalog (what the dispatcher emits). Pure.

export const EventType = {
  paymentAuthorized: "payment.authorized",
  paymentCaptured: "payment.captured",
  paymentDeclined: "payment.declined",
  paymentFailed: "payment.failed",
  paymentRequiresAction: "payment.requires_action",
  paymentCanceled: "payment.canceled",
  paymentExpired: "payment.expired",
  refundSucceeded: "refund.succeeded",
  refundFailed: "refund.failed",
  paymentDisputed: "payment.disputed",
  disputeClosed: "dispute.closed",
  paymentSettled: "payment.settled",
  refundSettled: "refund.settled",
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];
export const EVENT_TYPES = Object.values(EventType) as [EventType, ...EventType[]];

/** In `enabled_events`: every type, including those added later. */
export const ALL_EVENTS = "*";

export function isEventType(s: string): s is EventType {
  return (EVENT_TYPES as readonly string[]).includes(s);
}

/** Whether an endpoint subscribed to `enabled` wants an event of type `type`. */
export function subscribes(enabled: readonly string[], type: EventType): boolean {
  return enabled.includes(ALL_EVENTS) || enabled.includes(type);
}
