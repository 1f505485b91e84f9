// Decisions after a payment's authorization that do not come from the merchant: a settlement line
// recorded against a capture or refund, and an operator's resolution of an authorization the PSP left
// unknown. Pure, like decide.ts, which routes these commands here.
import type { RecordSettlement, ResolvePayment } from "./commands.ts";
import { accept, reject, RejectionCode, type Decision } from "./decision.ts";
import type { Payment } from "./state.ts";
import { isOpen } from "./state.ts";

/**
 * A settlement line for one of this payment's captures or refunds. The same line again, or another
 * line for an operation already settled, changes nothing (reconciliation reports the duplicate).
 */
export function recordSettlement(p: Payment, c: RecordSettlement): Decision {
  const earlier = p.settlements ?? [];
  if (earlier.some((s) => s.lineId === c.lineId || (s.kind === c.kind && s.pspReference === c.pspReference)))
    return accept();
  const { type: _type, paymentId: _id, merchantId: _m, kind, operation, ...fields } = c;
  return accept({
    type: kind === "capture" ? "CaptureSettled" : "RefundSettled",
    operationId: operation,
    ...fields,
  });
}

/**
 * An operator's outcome for an authorization the PSP left open (pending or unknown): recorded as the
 * PSP's answer would be, with who and why. Anything else — nothing open, or an operation open — is
 * not for an operator to decide here.
 */
export function resolveByOperator(p: Payment, c: ResolvePayment): Decision {
  const attempt = p.attempts.find(isOpen);
  if (!attempt)
    return reject(
      RejectionCode.invalidStateTransition,
      `payment ${p.id} is ${p.status} with no open authorization: nothing to resolve`,
    );
  const resolvedBy = { operator: c.operator, reason: c.reason };
  const attemptNo = attempt.no;
  switch (c.outcome) {
    case "authorized":
    case "captured":
      if (!c.pspReference)
        return reject(
          RejectionCode.invalidStateTransition,
          "an authorized outcome needs the PSP's reference",
        );
      return accept({
        type: "PaymentAuthorized",
        attemptNo,
        pspReference: c.pspReference,
        captured: c.outcome === "captured",
        resolvedBy,
        at: c.at,
      });
    case "declined":
      return accept({
        type: "PaymentDeclined",
        attemptNo,
        code: "do_not_honor",
        soft: false,
        rawCode: "operator_resolved",
        class: "hard_decline",
        resolvedBy,
        at: c.at,
      });
    case "failed":
      // The attempt closes too, or the payment would keep asking the PSP about it.
      return accept(
        { type: "AuthorizationFailed", attemptNo, code: "operator_resolved", class: "technical", at: c.at },
        { type: "PaymentFailed", code: "operator_resolved", resolvedBy, at: c.at },
      );
    default: {
      const never: never = c.outcome;
      return never;
    }
  }
}
