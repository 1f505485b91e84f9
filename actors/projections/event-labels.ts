// A payment event in one line for the operators' timeline: what happened, in words, beside the
// event's raw data. Events that arrive without the merchant asking (a PSP notification, the expiry
// of an abandoned challenge, a chargeback) say so, and name the notification that brought them.
import type { PaymentEvent } from "../payment/core/events.ts";

export function eventLabel(e: PaymentEvent): string {
  switch (e.type) {
    case "PaymentCreated":
      return `created: ${e.amount} ${e.currency}, capture ${e.capture}`;
    case "PaymentRouted":
      return `routed: ${(e.decision?.order ?? e.candidates ?? []).join(" → ") || "no PSP"}`;
    case "AuthorizationRequested":
      return `authorization attempt ${e.attemptNo} at ${e.psp}${e.trigger ? ` (${e.trigger})` : ""}`;
    case "AttemptDeclined":
      return `attempt ${e.attemptNo} declined: ${e.code} (cascades)`;
    case "AuthorizationFailed":
      return `attempt ${e.attemptNo} failed: ${e.code}`;
    case "AuthorizationOutcomeUnknown":
      return `attempt ${e.attemptNo}: outcome unknown (${e.code})`;
    case "PaymentFailed":
      return `failed: ${e.code}`;
    case "OperationOutcomeUnknown":
      return `${e.operationId}: outcome unknown (${e.code})`;
    case "CaptureSettled":
    case "RefundSettled":
      return `${e.type === "CaptureSettled" ? "capture" : "refund"} settled by ${e.psp}: ${e.amount} ${e.currency}, fee ${e.fee}, batch ${e.batch}`;
    case "PaymentAuthorized":
      return `${e.captured ? "authorized and captured" : "authorized"}${viaNotification(e.notificationId)}`;
    case "PaymentDeclined":
      return `declined: ${e.code}${viaNotification(e.notificationId)}`;
    case "PaymentRequiresAction":
      return "waiting on the shopper's 3-D Secure challenge";
    case "PaymentExpired":
      return `expired: 3-D Secure challenge of attempt ${e.attemptNo} abandoned (its charge is voided)`;
    case "OperationRequested":
      return `${e.kind} ${e.operationId} requested${e.amount > 0 ? ` (${e.amount})` : ""}`;
    case "OperationAccepted":
      return `${e.operationId} accepted by the PSP as ${e.pspReference}: awaiting the PSP's notification`;
    case "OperationSucceeded":
      return `${e.operationId} succeeded`;
    case "OperationFailed":
      return `${e.operationId} failed: ${e.code}`;
    case "DisputeOpened":
      return `dispute ${e.disputeId} opened at ${e.psp}: ${e.amount} ${e.currency}, ${e.reason}`;
    case "DisputeClosed":
      return `dispute ${e.disputeId} closed: ${e.outcome}`;
    default: {
      const never: never = e;
      return never;
    }
  }
}

const viaNotification = (id: string | undefined): string =>
  id === undefined ? "" : ` (PSP notification ${id})`;
