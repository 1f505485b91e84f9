// switchyard_attempts_total, counted by the payment actor as it appends: each authorization
// attempt's end, by PSP and by the class of its outcome (what the routing dashboards read).
import type { Metrics } from "../../config/metrics.ts";
import type { PaymentEvent } from "./core/events.ts";
import type { Payment } from "./core/state.ts";

/** switchyard_attempts_total: each attempt's end, by PSP and class (approved for an authorization). */
export function countAttempts(p: Payment, events: readonly PaymentEvent[], metrics: Metrics): void {
  for (const e of events) {
    const cls = attemptClass(e);
    if (cls === undefined || !("attemptNo" in e)) continue;
    const psp = p.attempts.find((a) => a.no === e.attemptNo)?.psp;
    if (psp !== undefined) metrics.attempts.inc({ psp, class: cls });
  }
}

function attemptClass(e: PaymentEvent): string | undefined {
  switch (e.type) {
    case "PaymentAuthorized":
      return "approved";
    case "PaymentRequiresAction":
      return "auth_required";
    case "PaymentDeclined":
    case "AttemptDeclined":
      return e.class ?? (e.soft ? "soft_decline" : "hard_decline");
    case "AuthorizationFailed":
      return e.class ?? "technical";
    case "AuthorizationOutcomeUnknown":
      return "unknown";
    case "PaymentCreated":
    case "PaymentRouted":
    case "AuthorizationRequested":
    case "PaymentFailed":
    case "OperationRequested":
    case "OperationSucceeded":
    case "OperationFailed":
    case "OperationOutcomeUnknown":
    case "CaptureSettled":
    case "RefundSettled":
    case "PaymentExpired":
    case "OperationAccepted":
    case "DisputeOpened":
    case "DisputeClosed":
      return undefined;
    default: {
      const never: never = e;
      return never;
    }
  }
}
