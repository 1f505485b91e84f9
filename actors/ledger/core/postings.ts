// The posting rules of the payment events and of the settlement lines no payment event carries: pure
// functions from what happened to balanced journal entries, deterministic in their ids, so that a
// journal rebuilt from JetStream equals the live one. docs/ledger.md has the rules as a table.
//
// A settlement line's money is booked exactly once: a capture or refund line by the CaptureSettled /
// RefundSettled event of the payment it settles, or else by the resolution of its exception
// (resolutions.ts, `settledByEvent`); every other kind of line by entriesForLine, always.
import type { PaymentEvent } from "../../payment/core/events.ts";
import { isPaymentId } from "../../payment/core/ids.ts";
import { evolve } from "../../payment/core/evolve.ts";
import type { Payment, PaymentState } from "../../payment/core/state.ts";
import type { SettlementLine } from "../../settlement/core/line.ts";
import {
  bankPayouts,
  clearing,
  disputes,
  merchantPayable,
  merchantRefunds,
  pspFees,
  receivable,
  suspense,
} from "./accounts.ts";
import type { EntryKind, JournalEntry, Movement } from "./entry.ts";
import { entriesOf } from "./entry.ts";

export { assertBalanced, balanceProblem, isBalanced, UnbalancedEntryError } from "./entry.ts";
export type { EntryKind, JournalEntry, Posting } from "./entry.ts";

/** Where a payment event sits: its JetStream sequence in PAY_EVT and its number in the payment's history. */
export type EventSource = { seq: number; eventNo: number };

export const eventSource = (src: EventSource): string => `PAY_EVT:${src.seq}#${src.eventNo}`;
export const lineSource = (line: SettlementLine): string =>
  `SETTLE:${line.psp}:${line.reportId}#${line.lineNo}`;

/**
 * The payment a line's merchant reference names, when it has a payment id's shape; else null. The
 * reference is the PSP's echo of free text: it never stands in the journal's payment id (nor its export).
 */
export const paymentOfLine = (line: Pick<SettlementLine, "merchantReference">): string | null =>
  isPaymentId(line.merchantReference) ? line.merchantReference : null;

/** The line's merchant reference for a description, when it is not a payment id (quoted, shortened). */
const referenceNote = (line: SettlementLine): string =>
  line.merchantReference === null || isPaymentId(line.merchantReference)
    ? ""
    : `, merchant reference ${JSON.stringify(line.merchantReference.slice(0, 80))}`;

/**
 * The entries a payment event makes, given the payment's state before it:
 * - a capture (PaymentAuthorized with captured, OperationSucceeded of a capture): Dr receivable / Cr
 *   merchant payable, by what the event adds to the captured amount (as evolve computes it);
 * - a refund succeeded: Dr merchant refunds / Cr receivable, by what it adds to the refunded amount;
 * - CaptureSettled: Cr receivable by the amount, Dr fees by the fee, Dr clearing by amount − fee;
 * - RefundSettled: Dr receivable by the amount, Dr fees by the fee, Cr clearing by amount + fee;
 * - DisputeOpened: Dr merchant payable / Cr the PSP's disputes account by the disputed amount: the
 *   money the PSP takes back (its chargeback line debits disputes) is recovered from the merchant;
 * - DisputeClosed won: the reverse (the PSP returns it, the merchant is owed it again); lost: none;
 * - anything else (voids included): none.
 * The captured and refunded deltas are read from evolve itself, so the merchant's payable always
 * equals the payment's captured amount and its refunds the refunded amount, whatever the history.
 */
export function entriesForEvent(
  before: PaymentState,
  event: PaymentEvent,
  src: EventSource,
  /** `evolve(before, event)`, when the caller has it already (the projection folds every event anyway). */
  after: PaymentState = evolve(before, event),
): JournalEntry[] {
  if (!before) return [];
  if (!after) return [];
  const base = {
    at: event.at,
    paymentId: before.id,
    sources: [eventSource(src)],
  };
  const idBase = `${before.id}:${src.eventNo}`;
  switch (event.type) {
    case "PaymentAuthorized":
    case "OperationSucceeded": {
      const psp = pspOf(before, event);
      const captured = after.capturedAmount - before.capturedAmount;
      const refunded = after.refundedAmount - before.refundedAmount;
      return entriesOf(idBase, [
        {
          ...base,
          currency: before.currency,
          kind: "capture",
          description: `captured ${captured} at ${psp}`,
          movements: [
            [receivable(psp), captured],
            [merchantPayable(before.merchantId), -captured],
          ],
        },
        {
          ...base,
          currency: before.currency,
          kind: "refund",
          description: `refunded ${refunded} at ${psp}`,
          movements: [
            [merchantRefunds(before.merchantId), refunded],
            [receivable(psp), -refunded],
          ],
        },
      ]);
    }
    case "CaptureSettled":
    case "RefundSettled": {
      const kind = event.type === "CaptureSettled" ? "capture" : "refund";
      return entriesOf(idBase, [
        {
          ...base,
          sources: [...base.sources, `SETTLE_LINE:${event.psp}:${event.reportId}#${event.lineId}`],
          currency: event.currency,
          kind: "settlement",
          description: `${kind} ${event.operationId ?? "at authorization"} settled by ${event.psp} in batch ${event.batch}`,
          movements: settledMovements(event.psp, kind, event.amount, event.fee, receivable(event.psp)),
        },
      ]);
    }
    case "DisputeOpened":
      return entriesOf(idBase, [
        {
          ...base,
          currency: event.currency,
          kind: "dispute",
          description: `dispute ${event.disputeId} opened at ${event.psp}: ${event.reason}`,
          movements: [
            [merchantPayable(before.merchantId), event.amount],
            [disputes(event.psp), -event.amount],
          ],
        },
      ]);
    case "DisputeClosed": {
      const dispute = (before.disputes ?? []).find((d) => d.id === event.disputeId);
      if (!dispute || event.outcome === "lost") return [];
      return entriesOf(idBase, [
        {
          ...base,
          currency: dispute.currency,
          kind: "dispute",
          description: `dispute ${dispute.id} won at ${dispute.psp}`,
          movements: [
            [disputes(dispute.psp), dispute.amount],
            [merchantPayable(before.merchantId), -dispute.amount],
          ],
        },
      ]);
    }
    case "PaymentExpired":
    case "OperationAccepted":
    case "PaymentCreated":
    case "PaymentRouted":
    case "AuthorizationRequested":
    case "PaymentDeclined":
    case "AttemptDeclined":
    case "PaymentRequiresAction":
    case "AuthorizationFailed":
    case "AuthorizationOutcomeUnknown":
    case "PaymentFailed":
    case "OperationRequested":
    case "OperationFailed":
    case "OperationOutcomeUnknown":
      return [];
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** The PSP holding the money of this event: the authorizing attempt's, else the payment's. */
function pspOf(before: Payment, event: PaymentEvent): string {
  const attempt =
    event.type === "PaymentAuthorized" ? before.attempts.find((a) => a.no === event.attemptNo) : undefined;
  return attempt?.psp ?? before.psp ?? "unknown";
}

/**
 * The movements of a settled capture or refund (or of a chargeback, whose money goes out like a
 * refund's): the fee to the PSP's fees, the net to clearing, the gross against `counterpart`. Derived
 * from amount and fee
 * alone — the line's net is amount − fee (capture) or −(amount + fee) (refund) — so it always balances.
 */
export function settledMovements(
  psp: string,
  kind: "capture" | "refund",
  amount: number,
  fee: number,
  counterpart: string,
): Movement[] {
  const gross = kind === "capture" ? amount : -amount;
  return [
    [clearing(psp), gross - fee],
    [pspFees(psp), fee],
    [counterpart, -gross],
  ];
}

/**
 * The entries of a settlement line that no payment event books:
 * - fee: Dr fees / Cr clearing by the fee;
 * - payout: Dr bank payouts by the amount, Dr fees by the fee, Cr clearing by both;
 * - adjustment: clearing by the line's net, fees by its fee, the rest against suspense — the PSP does
 *   not say what an adjustment is for; an operator moves it out of suspense;
 * - chargeback: Dr disputes by the amount, Dr fees by the fee, Cr clearing by both;
 * - void: a fee only, when the PSP charged one;
 * - capture, refund: none here (their settlement event or their exception's resolution books them).
 * The line names its own source, so a report ingested twice gives the same entries.
 */
export function entriesForLine(line: SettlementLine): JournalEntry[] {
  const idBase = `line:${line.psp}:${line.reportId}:${line.lineNo}`;
  const base = {
    at: line.createdAt,
    currency: line.currency,
    paymentId: paymentOfLine(line),
    sources: [lineSource(line)],
  };
  const { psp, amount, fee } = line;
  const one = (kind: EntryKind, description: string, movements: Movement[]) =>
    entriesOf(idBase, [{ ...base, kind, description, movements }]);
  switch (line.kind) {
    case "capture":
    case "refund":
      return [];
    case "void":
      return one("fee", `fee on a void, batch ${line.batch}`, [
        [pspFees(psp), fee],
        [clearing(psp), -fee],
      ]);
    case "fee":
      return entriesOf(idBase, [
        {
          ...base,
          paymentId: null,
          kind: "fee",
          description: `fee of batch ${line.batch}`,
          movements: [
            [pspFees(psp), fee],
            [clearing(psp), -fee],
          ],
        },
      ]);
    case "payout":
      return entriesOf(idBase, [
        {
          ...base,
          paymentId: null,
          kind: "payout",
          description: `payout ${line.payoutId ?? "(no id)"} of batch ${line.batch}`,
          movements: [
            [bankPayouts(psp), amount],
            [pspFees(psp), fee],
            [clearing(psp), -(amount + fee)],
          ],
        },
      ]);
    case "adjustment":
      return one("adjustment", `adjustment in batch ${line.batch}${referenceNote(line)}`, [
        [clearing(psp), line.net],
        [pspFees(psp), fee],
        [suspense(psp), -(line.net + fee)],
      ]);
    case "chargeback":
      return one(
        "chargeback",
        `chargeback in batch ${line.batch}`,
        settledMovements(psp, "refund", amount, fee, disputes(psp)),
      );
    default: {
      const never: never = line.kind;
      return never;
    }
  }
}
