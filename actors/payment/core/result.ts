// The first result of a request, for idempotent repeats. DESIGN.md: "a repeated request returns the
// first result" (as Stripe does): a create repeated after a capture answers the authorization it
// answered the first time, not the captured payment. Pure: the history comes in as events.
import { evolve } from "./evolve.ts";
import type { PaymentEvent } from "./events.ts";
import type { Payment, PaymentState } from "./state.ts";
import { isOpen, RESTING } from "./state.ts";

/** Which request's result: the payment's creation, or one follow-up operation. */
export type RequestRef = { kind: "create" } | { kind: "operation"; operationId: string };

/**
 * Whether events after the request's result changed the payment, so that its current state is not
 * the first answer any more. Operations run one at a time, so only a later operation can.
 */
export function movedPastResult(p: Payment, r: RequestRef): boolean {
  if (r.kind === "create") return p.operations.length > 0;
  const i = p.operations.findIndex((o) => o.id === r.operationId);
  return i >= 0 && i < p.operations.length - 1;
}

/** The payment as it was when the request came to rest: the history folded up to that event. */
export function stateAtResult(history: readonly PaymentEvent[], r: RequestRef): PaymentState {
  let state: PaymentState = undefined;
  for (const event of history) {
    state = evolve(state, event);
    if (state && settled(state, r)) return state;
  }
  return state;
}

function settled(p: Payment, r: RequestRef): boolean {
  if (r.kind === "create") return RESTING.has(p.status) && !p.attempts.some(isOpen);
  const op = p.operations.find((o) => o.id === r.operationId);
  return op !== undefined && (op.status === "succeeded" || op.status === "failed");
}
