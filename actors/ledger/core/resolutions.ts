// The posting rules of an operator's resolution of a reconciliation exception: what each resolution
// moves for each exception kind. The postings are computed from the exception's line and operation;
// Resolution.amount is informative only. docs/ledger.md has the table and the reasons.
//
// The one rule shared with the settlement projector is `settledByEvent`: when it holds, the line's
// money is booked by the CaptureSettled / RefundSettled event the resolution leads to, and the
// resolution books only what that event does not (the difference to write off); when it does not
// hold, the resolution books the line itself. Either way a line's money is booked exactly once.
import type { MatchedOperation, ReconException, Resolution } from "../../settlement/core/exceptions.ts";
import type { SettlementLine } from "../../settlement/core/line.ts";
import { pspFees, receivable, suspense, writeoff } from "./accounts.ts";
import type { JournalEntry, Movement } from "./entry.ts";
import { entriesOf } from "./entry.ts";
import { lineSource, paymentOfLine, settledMovements } from "./postings.ts";

/** Where a resolution sits: its JetStream sequence in the reconciliation stream. */
export type ResolutionSource = { seq: number };

type SettlingLine = SettlementLine & { kind: "capture" | "refund" };

const settles = (line: SettlementLine | null): line is SettlingLine =>
  line !== null && (line.kind === "capture" || line.kind === "refund");

/**
 * Whether this resolution leads to a CaptureSettled / RefundSettled event for the exception's line
 * (so the event, not the resolution, books the line): a capture or refund line either linked to a
 * payment, or accepted against the operation it was matched with despite an amount or fee difference.
 * An unknown line has no payment, a duplicate's operation is already settled and a currency mismatch
 * would settle in the wrong currency: those are booked by the resolution, never by an event.
 */
export function settledByEvent(exception: ReconException, resolution: Resolution): boolean {
  // Settled at ingest already (a fee variance since issue 16): its event came then, none is due now.
  if (!settles(exception.line) || exception.settled === true) return false;
  switch (resolution.resolution) {
    case "link":
      return resolution.paymentId !== null;
    case "accept":
      return (
        exception.operation !== null &&
        (exception.kind === "amount_mismatch" || exception.kind === "fee_variance")
      );
    case "write_off":
    case "requery":
      return false;
    default: {
      const never: never = resolution.resolution;
      return never;
    }
  }
}

/**
 * The entries of a resolution (capture and refund lines; other kinds of line are booked by
 * entriesForLine whatever their exception):
 * - amount_mismatch: accept → the difference between the operation and the line (the settlement
 *   event books the line) to writeoff; write_off → the line, and the difference, both booked here.
 * - fee_variance: accept → nothing (the settlement event books the fee charged); write_off → the fee
 *   above (below) the expected fee moved from fees to writeoff. The line itself is booked by its
 *   settlement event, sent at ingest (`exception.settled`); for an exception raised before that, the
 *   write-off books the line here too, as it always did.
 * - currency_mismatch (accept or write_off alike): the line, in its currency, against writeoff; the
 *   operation's receivable, in the payment's currency, written off. The ledger does no FX: writeoff
 *   holds both legs.
 * - duplicate, unknown: accept → the line against suspense (kept aside until explained or returned);
 *   write_off → the line against writeoff.
 * - missing: write_off → the operation's receivable written off; accept → nothing (it stays open).
 * - link, requery: nothing of their own.
 */
export function entriesForResolution(
  exception: ReconException,
  resolution: Resolution,
  src: ResolutionSource,
): JournalEntry[] {
  const { line, operation: op } = exception;
  const r = resolution.resolution;
  if (r === "link" || r === "requery") return [];
  if (line !== null && !settles(line)) return [];
  const base = {
    at: resolution.at,
    kind: "resolution" as const,
    paymentId: op?.paymentId ?? (line ? paymentOfLine(line) : null),
    sources: [`RECON:${exception.id}`, `RECON_EVT:${src.seq}`, ...(line ? [lineSource(line)] : [])],
  };
  const idBase = `recon:${exception.id}:${src.seq}`;
  const say = (what: string) => `${exception.kind} ${r} by ${resolution.operator}: ${what}`;
  const onLine = (description: string, movements: Movement[], l: SettlingLine) =>
    entriesOf(idBase, [{ ...base, currency: l.currency, description: say(description), movements }]);

  switch (exception.kind) {
    case "amount_mismatch": {
      if (!settles(line) || !op || op.kind === "void") return [];
      const difference = residual(op, op.amount - line.amount);
      if (r === "accept") return onLine("the difference written off", difference, line);
      return onLine(
        "the line settled here, the difference written off",
        [...lineAgainst(line, receivable(op.psp)), ...difference],
        line,
      );
    }
    case "fee_variance": {
      if (!settles(line) || !op || r === "accept") return [];
      const variance = line.fee - (op.expectedFee ?? line.fee);
      // The line's settlement event booked it at ingest (fees included): only the variance moves.
      if (exception.settled === true)
        return onLine(
          "the fee variance written off",
          [
            [pspFees(line.psp), -variance],
            [writeoff(), variance],
          ],
          line,
        );
      return onLine(
        "the line settled here, the fee variance written off",
        [...lineAgainst(line, receivable(op.psp)), [pspFees(line.psp), -variance], [writeoff(), variance]],
        line,
      );
    }
    case "currency_mismatch": {
      if (!settles(line) || !op || op.kind === "void") return [];
      return entriesOf(idBase, [
        {
          ...base,
          currency: line.currency,
          description: say(`the line, in ${line.currency}, written off`),
          movements: lineAgainst(line, writeoff()),
        },
        {
          ...base,
          currency: op.currency,
          description: say(`the operation, in ${op.currency}, written off`),
          movements: residual(op, op.amount),
        },
      ]);
    }
    case "duplicate":
    case "unknown": {
      if (!settles(line)) return [];
      const to = r === "accept" ? suspense(line.psp) : writeoff();
      return onLine(`the line booked to ${to}`, lineAgainst(line, to), line);
    }
    case "missing": {
      if (!op || op.kind === "void" || r === "accept") return [];
      return entriesOf(idBase, [
        {
          ...base,
          currency: op.currency,
          description: say("the operation's receivable written off"),
          movements: residual(op, op.amount),
        },
      ]);
    }
    default: {
      const never: never = exception.kind;
      return never;
    }
  }
}

/** The line's money (clearing, fees) against `counterpart`, as its settlement event would book it. */
function lineAgainst(line: SettlingLine, counterpart: string): Movement[] {
  return settledMovements(line.psp, line.kind, line.amount, line.fee, counterpart);
}

/**
 * Writes off `amount` of what the operation left in receivable: a capture leaves a debit there (so
 * Dr writeoff / Cr receivable), a refund a credit (the reverse). A negative amount — the PSP settled
 * more than the operation — books the other way round.
 */
function residual(op: MatchedOperation, amount: number): Movement[] {
  const left = op.kind === "refund" ? -amount : amount;
  return [
    [writeoff(), left],
    [receivable(op.psp), -left],
  ];
}
