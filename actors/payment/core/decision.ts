// What the decider answers: the events a command decides, or a rejection with a stable code. Shared
// by decide.ts and the decisions after authorization (decide-after.ts). Pure.
import type { PaymentEvent } from "./events.ts";

export const RejectionCode = {
  paymentNotFound: "payment_not_found",
  idempotencyKeyReused: "idempotency_key_reused",
  invalidStateTransition: "invalid_state_transition",
  amountTooLarge: "amount_too_large",
  operationInProgress: "operation_in_progress",
  /** A dispute the payment cannot owe: another currency, or more than the PSP could claw back. */
  disputeOutOfBounds: "dispute_out_of_bounds",
} as const;
export type RejectionCode = (typeof RejectionCode)[keyof typeof RejectionCode];

export type Rejection = { code: RejectionCode; message: string; details?: Record<string, unknown> };
export type Decision = { ok: true; events: PaymentEvent[] } | { ok: false; rejection: Rejection };

export const accept = (...events: PaymentEvent[]): Decision => ({ ok: true, events });
export const reject = (
  code: RejectionCode,
  message: string,
  details?: Record<string, unknown>,
): Decision => ({
  ok: false,
  rejection: { code, message, ...(details && { details }) },
});
