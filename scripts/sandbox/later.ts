// What a simulated PSP decides after its direct answer, PSP-neutral like simulator.ts: a 3-D Secure
// challenge completed by the shopper, a refund completed later, a chargeback opened by the issuer and
// closed after the merchant's defence. Each returns the happening the PSP then notifies (each wire
// format words it: sandbox/notices.ts), or why it cannot happen.
import {
  ChargeStatus,
  movement,
  MovementKind,
  randomId,
  type AsyncRefund,
  type Charge,
  type SimDispute,
  type SimulatedPsp,
} from "./simulator.ts";

export type Happening =
  | { kind: "authorization"; charge: Charge; outcome: "authorized" | "declined" }
  | { kind: "refund"; charge: Charge; refund: AsyncRefund }
  | { kind: "dispute_opened" | "dispute_closed"; charge: Charge; dispute: SimDispute };

/** Why it cannot happen: `status` is the HTTP status the control answers. */
export type Refused = { refused: string; status: number };
export const isRefused = (r: object): r is Refused => "refused" in r;

/** The shopper approved or failed the challenge; a voided (expired) or finished one cannot change. */
export function completeChallenge(
  psp: SimulatedPsp,
  chargeId: string,
  approve: boolean,
  at: Date,
): Happening | Refused {
  const charge = psp.charge(chargeId);
  if (!charge?.actionUrl) return { refused: `no challenge ${chargeId}`, status: 404 };
  if (charge.status !== ChargeStatus.requiresAction)
    return { refused: `the challenge is over: the payment is ${charge.status}`, status: 409 };
  charge.challenge = approve ? "approved" : "failed";
  if (!approve) charge.status = ChargeStatus.declined;
  else if (charge.autoCapture) {
    charge.status = ChargeStatus.captured;
    charge.capturedAmount = charge.amount;
    charge.movements.push(
      movement(MovementKind.capture, charge.id, charge.amount, charge.currency, at.toISOString()),
    );
  } else charge.status = ChargeStatus.authorized;
  psp.onChange({ kind: "charge", charge });
  return { kind: "authorization", charge, outcome: approve ? "authorized" : "declined" };
}

/** The refund's end: succeeded moves the money (settled later), failed gives the amount back. */
export function completeRefund(
  psp: SimulatedPsp,
  chargeId: string,
  refundId: string,
  succeeded: boolean,
  at: Date,
): Happening | Refused {
  const charge = psp.charge(chargeId);
  const refund = charge?.refunds?.find((r) => r.id === refundId);
  if (!charge || !refund) return { refused: `no refund ${refundId}`, status: 404 };
  if (refund.status !== "pending") return { refused: `refund ${refundId} is ${refund.status}`, status: 409 };
  refund.status = succeeded ? "succeeded" : "failed";
  if (succeeded)
    charge.movements.push(
      movement(MovementKind.refund, refund.id, refund.amount, charge.currency, at.toISOString()),
    );
  else {
    charge.refundedAmount -= refund.amount;
    charge.status =
      charge.refundedAmount === 0
        ? ChargeStatus.captured
        : charge.refundedAmount === charge.capturedAmount
          ? ChargeStatus.refunded
          : ChargeStatus.partiallyRefunded;
  }
  psp.onChange({ kind: "charge", charge });
  return { kind: "refund", charge, refund };
}

/** The issuer disputes captured money (all of it unless told). */
export function openDispute(
  psp: SimulatedPsp,
  chargeId: string,
  opts: { amount?: number; reason?: string },
  at: Date,
): Happening | Refused {
  const charge = psp.charge(chargeId);
  if (!charge) return { refused: `no charge ${chargeId}`, status: 404 };
  if (charge.capturedAmount === 0)
    return { refused: `charge ${chargeId} is ${charge.status}: nothing captured to dispute`, status: 409 };
  const amount = opts.amount ?? charge.capturedAmount;
  if (amount < 1 || amount > charge.capturedAmount)
    return { refused: `amount must be 1-${charge.capturedAmount}`, status: 400 };
  const dispute: SimDispute = {
    id: randomId("dp_", 16),
    amount,
    currency: charge.currency,
    reason: opts.reason ?? "fraudulent",
    status: "open",
    openedAt: at.toISOString(),
  };
  (charge.disputes ??= []).push(dispute);
  psp.onChange({ kind: "charge", charge });
  return { kind: "dispute_opened", charge, dispute };
}

export function closeDispute(
  psp: SimulatedPsp,
  disputeId: string,
  outcome: "won" | "lost",
  at: Date,
): Happening | Refused {
  const charge = psp.charges().find((c) => c.disputes?.some((d) => d.id === disputeId));
  const live = charge && psp.charge(charge.id);
  const dispute = live?.disputes?.find((d) => d.id === disputeId);
  if (!live || !dispute) return { refused: `no dispute ${disputeId}`, status: 404 };
  if (dispute.status !== "open") return { refused: `dispute ${disputeId} is ${dispute.status}`, status: 409 };
  dispute.status = outcome;
  dispute.closedAt = at.toISOString();
  psp.onChange({ kind: "charge", charge: live });
  return { kind: "dispute_closed", charge: live, dispute };
}
