// Wraps a connector with the PSP metrics (duration by psp, operation and normalized outcome) and a
// log line per failed call, so every adapter is measured the same way.
import type { Logger } from "../../streams/log.ts";
import type { Metrics } from "../../streams/metrics.ts";
import type { PspConnector } from "./contract.ts";

type Op = "authorize" | "capture" | "void" | "refund" | "status";

export function instrumented(c: PspConnector, metrics: Metrics, log: Logger): PspConnector {
  async function timed<R>(operation: Op, call: () => Promise<R>, outcomeOf: (r: R) => string): Promise<R> {
    const end = metrics.pspDuration.startTimer({ psp: c.name, operation });
    try {
      const r = await call();
      const outcome = outcomeOf(r);
      end({ outcome });
      if (outcome === "technical_error" || outcome === "unknown")
        log.warn({ psp: c.name, operation, outcome }, "psp call did not give a definite answer");
      return r;
    } catch (err) {
      end({ outcome: "exception" });
      throw err;
    }
  }
  const byOutcome = (r: { outcome: string }) => r.outcome;
  return {
    name: c.name,
    authorize: (req) => timed("authorize", () => c.authorize(req), byOutcome),
    capture: (req) => timed("capture", () => c.capture(req), byOutcome),
    void: (req) => timed("void", () => c.void(req), byOutcome),
    refund: (req) => timed("refund", () => c.refund(req), byOutcome),
    status: (req) =>
      timed(
        "status",
        () => c.status(req),
        (r) => (r.found === true ? r.result.outcome : r.found === false ? "not_found" : "unknown"),
      ),
  };
}
