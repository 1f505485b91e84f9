// What the actor owes the outside world next, derived from state alone: an open authorization
// attempt or an open capture/void/refund. Pure, so recovery after a crash finds the same work.
import { RESTING, type Attempt, type Operation, type Payment, type PaymentState } from "./state.ts";

export type Effect = { kind: "authorize"; attempt: Attempt } | { kind: "operation"; operation: Operation };

export function nextEffect(state: PaymentState): Effect | undefined {
  if (!state) return undefined;
  const attempt = state.attempts.find((a) => a.status === "pending" || a.status === "unknown");
  if (attempt) return { kind: "authorize", attempt };
  const operation = state.operations.find((o) => o.status === "pending" || o.status === "unknown");
  if (operation) return { kind: "operation", operation };
  return undefined;
}

/** Event types after which a payment has nothing open: the last event of a frame that closes it. */
const CLOSING = new Set([
  "PaymentAuthorized",
  "PaymentDeclined",
  "PaymentRequiresAction",
  "PaymentFailed",
  "OperationSucceeded",
  "OperationFailed",
  "OperationAccepted",
  "DisputeOpened",
  "DisputeClosed",
]);

/**
 * Whether a frame (the events of one append) may leave its payment with something open, judged from
 * its last event's type alone. Conservative: a false "open" only costs the janitor a later look.
 */
export function frameMayLeaveOpen(types: readonly string[]): boolean {
  const last = types.at(-1);
  return last === undefined || !CLOSING.has(last);
}

/** At rest with nothing owed to the outside world: the actor may leave memory, the janitor let go. */
export function isSettled(p: Payment): boolean {
  return nextEffect(p) === undefined && RESTING.has(p.status);
}
