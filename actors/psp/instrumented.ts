// Wraps a connector with the PSP metrics (duration by psp, operation and normalized outcome) and a
// log line per failed call, so every adapter is measured the same way.
import type { Logger } from "../../config/log.ts";
import type { Metrics } from "../../config/metrics.ts";
import type { PspConnector } from "./contract.ts";

type Op = "authorize" | "capture" | "void" | "refund" | "status";

export function instrumented(c: PspConnector, metrics: Metrics, log: Logger): PspConnector {
  async function timed<R>(
    operation: Op,
    req: { idempotencyKey: string },
    call: () => Promise<R>,
    outcomeOf: (r: R) => string,
  ): Promise<R> {
    const end = metrics.pspDuration.startTimer({ psp: c.name, operation });
    try {
      const r = await call();
      const outcome = outcomeOf(r);
      end({ outcome });
      if (outcome === "technical_error" || outcome === "unknown")
        log.warn(
          { paymentId: paymentIdOf(req.idempotencyKey), psp: c.name, operation, outcome },
          "psp call did not give a definite answer",
        );
      return r;
    } catch (err) {
      end({ outcome: "exception" });
      throw err;
    }
  }
  const byOutcome = (r: { outcome: string }) => r.outcome;
  return {
    name: c.name,
    ...(c.capabilities && { capabilities: c.capabilities }),
    // Pure verification of a notification: no PSP call to time (the door counts them).
    ...(c.parseNotification && { parseNotification: c.parseNotification.bind(c) }),
    authorize: (req) => timed("authorize", req, () => c.authorize(req), byOutcome),
    capture: (req) => timed("capture", req, () => c.capture(req), byOutcome),
    void: (req) => timed("void", req, () => c.void(req), byOutcome),
    refund: (req) => timed("refund", req, () => c.refund(req), byOutcome),
    status: (req) =>
      timed(
        "status",
        req,
        () => c.status(req),
        (r) => (r.found === true ? r.result.outcome : r.found === false ? "not_found" : "unknown"),
      ),
  };
}

/** Every PSP idempotency key starts with its payment id (`<paymentId>.a<n>`, `<paymentId>.<operationId>`). */
function paymentIdOf(idempotencyKey: string): string {
  return idempotencyKey.split(".")[0] ?? idempotencyKey;
}
