// Reconciliation of one settlement line against what the platform recorded: pure. The caller looks
// up the operation by (psp, kind, PSP reference) — in the read model — and says whether it was
// already settled by another line; this decides the outcome and, for a non-match, the exception.
import { z } from "zod";
import { ExceptionKind, ReconException, type MatchedOperation } from "./exceptions.ts";
import { PAYMENT_LINE_KINDS, type SettlementLine } from "./line.ts";

export type Tolerance = { minor: number; percent: number };

/** `booked`: a line of no single payment (fee, payout, adjustment), taken into the ledger as it is. */
export const Outcome = z.enum(["matched", "booked", ...ExceptionKind.options]);
export type Outcome = z.infer<typeof Outcome>;

/** Outcomes whose line settles its operation: a match, and a fee variance (the money did settle). */
export const settlesOperation = (outcome: Outcome): boolean =>
  outcome === "matched" || outcome === "fee_variance";

/**
 * Whether a recorded line settled its operation: matched, or raised an exception that says so
 * (`settled`). Read from the record, not the outcome alone, so that a fee variance recorded before
 * such lines settled (issue 16) still reads, and is rebuilt, as it was.
 */
export const lineSettled = (r: {
  outcome: Outcome;
  exception: { settled?: boolean | undefined } | null;
}): boolean => r.outcome === "matched" || r.exception?.settled === true;

export type KnownOperation = MatchedOperation & {
  /** The line that settled it (`<reportId>#<lineNo>`), or null. */
  settledBy: string | null;
};

export type LineResult = {
  line: SettlementLine;
  outcome: Outcome;
  operation: MatchedOperation | null;
  exception: ReconException | null;
};

export const lineKey = (line: Pick<SettlementLine, "reportId" | "lineNo">): string =>
  `${line.reportId}#${line.lineNo}`;

/** The read-model key of the operation a payment line settles. */
export const lineMatchKey = (psp: string, kind: string, pspReference: string): string =>
  `${psp}\u0000${kind}\u0000${pspReference}`;

export function lineExceptionId(line: Pick<SettlementLine, "psp" | "reportId" | "lineNo">): string {
  return `x_${line.psp}_${line.reportId}_${line.lineNo}`;
}

export function missingExceptionId(op: Pick<MatchedOperation, "psp" | "kind" | "pspReference">): string {
  return `x_missing_${op.psp}_${op.kind}_${op.pspReference}`;
}

/** Is the fee charged outside max(minor, percent % of expected) of the fee expected? */
export function feeOutside(actual: number, expected: number, t: Tolerance): boolean {
  const allowed = Math.max(t.minor, Math.floor((Math.abs(expected) * t.percent) / 100));
  return Math.abs(actual - expected) > allowed;
}

/**
 * `seen`: operation keys already settled by an earlier line of this same ingest (not yet in the read
 * model). Checks in order: unknown, duplicate, currency, amount, fee; the first that fails names it.
 * A fee variance is the one exception whose line still settles its operation (settlesOperation).
 */
export function reconcile(
  line: SettlementLine,
  found: KnownOperation | undefined,
  seen: ReadonlySet<string>,
  tolerance: Tolerance,
  now: string,
): LineResult {
  if (!PAYMENT_LINE_KINDS.has(line.kind) || line.kind === "chargeback")
    return { line, outcome: "booked", operation: null, exception: null };
  if (!found)
    return raise(
      line,
      "unknown",
      null,
      `no payment here has ${line.kind} ${line.pspReference ?? "(no reference)"} at ${line.psp}`,
      now,
    );
  const { settledBy, ...operation } = found;
  const key = lineMatchKey(found.psp, found.kind, found.pspReference);
  if ((settledBy !== null && settledBy !== lineKey(line)) || seen.has(key))
    return raise(
      line,
      "duplicate",
      operation,
      `${found.kind} ${found.pspReference} was already settled${settledBy ? ` by line ${settledBy}` : " earlier in this report"}`,
      now,
    );
  if (line.currency !== found.currency)
    return raise(
      line,
      "currency_mismatch",
      operation,
      `expected ${found.currency}, the report says ${line.currency}`,
      now,
    );
  if (line.amount !== found.amount)
    return raise(
      line,
      "amount_mismatch",
      operation,
      `expected ${found.amount}, the report says ${line.amount} (minor units, ${line.currency})`,
      now,
    );
  if (found.expectedFee !== null && feeOutside(line.fee, found.expectedFee, tolerance))
    return raise(
      line,
      "fee_variance",
      operation,
      `expected fee ${found.expectedFee}, charged ${line.fee} (minor units, ${line.currency})`,
      now,
    );
  return { line, outcome: "matched", operation, exception: null };
}

function raise(
  line: SettlementLine,
  kind: ExceptionKind,
  operation: MatchedOperation | null,
  detail: string,
  now: string,
): LineResult {
  const exception = ReconException.parse({
    id: lineExceptionId(line),
    kind,
    psp: line.psp,
    line,
    operation,
    detail,
    openedAt: now,
    ...(settlesOperation(kind) && { settled: true }),
  });
  return { line, outcome: kind, operation, exception };
}

/** A capture or refund recorded here and settled by no line within the allowed days. */
export function missing(operation: MatchedOperation, days: number, now: string): ReconException {
  return {
    id: missingExceptionId(operation),
    kind: "missing",
    psp: operation.psp,
    line: null,
    operation,
    detail: `${operation.kind} ${operation.pspReference} of ${operation.amount} ${operation.currency} at ${operation.at} is in no settlement report after ${days} days`,
    openedAt: now,
  };
}
