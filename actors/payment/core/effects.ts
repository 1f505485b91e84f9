// What the actor owes the outside world next, derived from state alone: an open authorization
// attempt or an open capture/void/refund. Pure, so recovery after a crash finds the same work.
import {
  holdsAuthorization,
  isOpen,
  RESTING,
  type OpenAttempt,
  type OpenOperation,
  type Payment,
  type PaymentState,
} from "./state.ts";

/**
 * An open authorization attempt; or an open capture, void or refund, with the authorization it acts
 * on (the union guarantees one: no status that holds an operation lacks it).
 */
export type Effect =
  | { kind: "authorize"; attempt: OpenAttempt }
  | { kind: "operation"; operation: OpenOperation; psp: string; pspReference: string };

export function nextEffect(state: PaymentState): Effect | undefined {
  if (!state) return undefined;
  const attempt = state.attempts.find(isOpen);
  if (attempt) return { kind: "authorize", attempt };
  const operation = state.operations.find(isOpen);
  if (operation && holdsAuthorization(state))
    return { kind: "operation", operation, psp: state.psp, pspReference: state.pspReference };
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

/**
 * At rest with nothing owed to the outside world: the actor may leave memory, the janitor let go.
 * ("At rest", not "settled": settlement is the PSP paying out, actors/settlement.)
 */
export function isAtRest(p: Payment): boolean {
  return nextEffect(p) === undefined && RESTING.has(p.status);
}
