// A connector behind its PSP's circuit breaker. Before an authorization the health board is asked,
// synchronously, whether a call may go out; when it may not (circuit open, half-open with every probe
// out, forced out) the answer is a technical_error `circuit_open` and the PSP is never called: the
// request certainly was not sent, so the payment may cascade to its next PSP. Every authorization
// that is sent has its outcome and latency recorded.
//
// Capture, void, refund and status always go through and are not counted: they concern money already
// authorized at this PSP (or the fate of a request already sent), which no other PSP can settle, so
// refusing them locally would only delay it. The breaker and the success rate are about where to send
// new authorizations, and that is what they measure.
import { performance } from "node:perf_hooks";
import type { BreakerOutcome } from "./breaker.ts";
import type { AuthorizeResult, PspConnector } from "./contract.ts";
import type { PspHealthBoard } from "./health.ts";

/** The part of the board a guarded connector needs. */
export type PspGate = Pick<PspHealthBoard, "admit" | "record">;

export function guarded<C extends PspConnector>(connector: C, board: PspGate): C {
  const c: PspConnector = connector;
  return {
    ...connector,
    name: c.name,
    ...(c.capabilities ? { capabilities: c.capabilities } : {}),
    async authorize(req): Promise<AuthorizeResult> {
      const admission = board.admit(c.name);
      if (!admission.allowed) {
        return {
          outcome: "technical_error",
          code: "circuit_open",
          class: "technical",
          message: `${c.name} not called: ${admission.reason}`,
        };
      }
      const started = performance.now();
      let outcome: BreakerOutcome = "exception";
      try {
        const result = await c.authorize(req);
        outcome = result.outcome;
        return result;
      } finally {
        board.record(c.name, outcome, performance.now() - started, admission.ticket);
      }
    },
    capture: (req) => c.capture(req),
    void: (req) => c.void(req),
    refund: (req) => c.refund(req),
    status: (req) => c.status(req),
    // Pure verification, no PSP call: nothing for the breaker to count.
    ...(c.parseNotification && { parseNotification: c.parseNotification.bind(c) }),
  };
}
