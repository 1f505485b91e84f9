// Decisions on what happens after the PSP call, without the merchant asking: a PSP's notification (a
// 3-D Secure result, a refund completed later, a chargeback opened or closed) and the expiry of a
// challenge the shopper abandoned. Pure, like decide.ts, which routes these commands here.
//
// Every notification is idempotent: the same one again finds its outcome already recorded and decides
// nothing. One the payment cannot place (another PSP, an unknown refund or dispute) is rejected, so
// the door that received it keeps it for reconciliation instead of losing it.
import type {
  ExpirePayment,
  RecordAuthorizationResult,
  RecordNotification,
  RecordOperationResult,
} from "./commands.ts";
import { accept, reject, RejectionCode, type Decision } from "./decision.ts";
import { operationKey } from "./ids.ts";
import type { Payment } from "./state.ts";
import { isOpen, PaymentStatus } from "./state.ts";

/** The operation id of the void an expiry leaves behind (one per payment: a payment expires once). */
export const EXPIRY_OPERATION = "expiry";

/**
 * A payment still waiting on its shopper's challenge expires, and the authorization the PSP holds for
 * it is voided in the same breath. Anything else (completed meanwhile, canceled) is left alone.
 */
export function expire(p: Payment, c: ExpirePayment): Decision {
  if (p.status !== PaymentStatus.requiresAction) return accept();
  const attempt = p.attempts.find((a) => a.status === "requires_action");
  if (!attempt) return accept();
  return accept(
    { type: "PaymentExpired", attemptNo: attempt.no, at: c.at },
    {
      type: "OperationRequested",
      operationId: EXPIRY_OPERATION,
      kind: "void",
      requestFingerprint: EXPIRY_OPERATION,
      amount: 0,
      idempotencyKey: operationKey(p.id, EXPIRY_OPERATION),
      at: c.at,
    },
  );
}

/**
 * What the merchant still holds of this payment, so what a chargeback or a refund can still take: the
 * money captured, less what the shopper already got back (refunds) and what disputes hold (open) or
 * took (lost). A dispute won gave its amount back to the merchant, so it can be disputed again (a
 * second chargeback). A dispute for more is no money the merchant has from this payment: the door
 * keeps it for reconciliation; a refund for more would pay the shopper twice.
 */
export function heldByMerchant(p: Payment): number {
  const held = (p.disputes ?? []).filter((d) => d.status !== "won").reduce((sum, d) => sum + d.amount, 0);
  return Math.max(0, p.capturedAmount - p.refundedAmount - held);
}

/**
 * What a notification means for this payment: a decision of its own (disputes), or the Record*
 * command the PSP's direct answer would have been, for decide() to take as it takes those.
 */
export function notified(
  p: Payment,
  c: RecordNotification,
): Decision | RecordAuthorizationResult | RecordOperationResult {
  const n = c.notification;
  if (!p.attempts.some((a) => a.psp === n.psp))
    return reject(RejectionCode.paymentNotFound, `payment ${p.id} was never sent to ${n.psp}`);
  switch (n.kind) {
    case "authorization": {
      // The attempt the PSP answered: by its reference, else the open attempt at that PSP (the
      // notification overtook the direct answer).
      const attempt =
        p.attempts.find((a) => a.psp === n.psp && a.pspReference === n.pspReference) ??
        p.attempts.find((a) => a.psp === n.psp && isOpen(a));
      if (!attempt) return accept();
      return {
        type: "RecordAuthorizationResult",
        attemptNo: attempt.no,
        result:
          n.outcome === "authorized"
            ? // Unsaid by the PSP (bolt does not sign it): what the payment asked the PSP to do.
              {
                outcome: "authorized",
                pspReference: n.pspReference,
                captured: n.captured ?? p.capture === "automatic",
              }
            : {
                outcome: "declined",
                code: n.code ?? "authentication_failed",
                soft: false,
                rawCode: n.rawCode ?? n.code ?? "authentication_failed",
                class: "hard_decline",
              },
        at: c.at,
      };
    }
    case "refund": {
      const op = p.operations.find((o) => o.kind === "refund" && o.pspReference === n.operationReference);
      if (!op) return reject(RejectionCode.paymentNotFound, `no refund ${n.operationReference} on ${p.id}`);
      return {
        type: "RecordOperationResult",
        operationId: op.id,
        result:
          n.outcome === "succeeded"
            ? { outcome: "succeeded", pspReference: n.operationReference }
            : { outcome: "failed", code: n.code ?? "refund_failed" },
        at: c.at,
      };
    }
    case "dispute_opened": {
      if ((p.disputes ?? []).some((d) => d.id === n.disputeId)) return accept();
      if (p.capturedAmount === 0)
        return reject(
          RejectionCode.invalidStateTransition,
          `payment ${p.id} is ${p.status}: nothing captured to dispute`,
        );
      if (n.currency !== p.currency)
        return reject(
          RejectionCode.disputeOutOfBounds,
          `a dispute in ${n.currency} on a payment in ${p.currency}`,
          { currency: n.currency, paymentCurrency: p.currency },
        );
      const disputable = heldByMerchant(p);
      if (n.amount > disputable)
        return reject(
          RejectionCode.disputeOutOfBounds,
          `a dispute of ${n.amount} ${n.currency} exceeds the ${disputable} the PSP could still claw back`,
          { amount: n.amount, disputable },
        );
      return accept({
        type: "DisputeOpened",
        disputeId: n.disputeId,
        psp: n.psp,
        amount: n.amount,
        currency: n.currency,
        reason: n.reason,
        at: c.at,
      });
    }
    case "dispute_closed": {
      const dispute = (p.disputes ?? []).find((d) => d.id === n.disputeId);
      if (!dispute) return reject(RejectionCode.paymentNotFound, `no dispute ${n.disputeId} on ${p.id}`);
      if (dispute.status !== "open") return accept();
      return accept({ type: "DisputeClosed", disputeId: n.disputeId, outcome: n.outcome, at: c.at });
    }
    default: {
      const never: never = n;
      return never;
    }
  }
}
