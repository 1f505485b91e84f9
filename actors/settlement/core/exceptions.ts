// Reconciliation exceptions and their resolutions: what a settlement line that did not simply match
// becomes, and what an operator decides about it. Both are recorded in JetStream (the exception with
// the ingested chunk that raised it, the resolution in the reconciliation stream) and projected into
// PostgreSQL. Pure: zod and the contract.
import { z } from "zod";
import { At, Currency } from "../../payment/core/contract.ts";
import { SettlementLine } from "./line.ts";

export const ExceptionKind = z.enum([
  /** The line's amount differs from the operation's. */
  "amount_mismatch",
  /** The line's currency differs from the payment's. */
  "currency_mismatch",
  /** The fee charged is outside the tolerance around the fee expected at routing. */
  "fee_variance",
  /** The operation was already settled by another line. */
  "duplicate",
  /** No payment here has this PSP reference. */
  "unknown",
  /** Captured or refunded here, and in no report after the configured number of days (the sweep). */
  "missing",
]);
export type ExceptionKind = z.infer<typeof ExceptionKind>;

export const ResolutionKind = z.enum(["accept", "write_off", "link", "requery"]);
export type ResolutionKind = z.infer<typeof ResolutionKind>;

/** The operation of a payment a line was matched against (what the platform recorded). */
export const MatchedOperation = z.object({
  paymentId: z.string(),
  merchantId: z.string(),
  psp: z.string(),
  kind: z.enum(["capture", "refund", "void"]),
  /** The operation's id (null: a capture made at authorization). */
  operationId: z.string().nullable(),
  pspReference: z.string(),
  amount: z.number().int().nonnegative(),
  currency: Currency,
  expectedFee: z.number().int().nullable(),
  at: At,
});
export type MatchedOperation = z.infer<typeof MatchedOperation>;

export const ReconException = z.object({
  /** Deterministic: `x_<psp>_<reportId>_<lineNo>` for a line, `x_missing_<psp>_<pspReference>` for a sweep. */
  id: z.string(),
  kind: ExceptionKind,
  psp: z.string(),
  line: SettlementLine.nullable(),
  operation: MatchedOperation.nullable(),
  /** A sentence for the operator: expected against actual. */
  detail: z.string(),
  /**
   * The line settled its operation all the same (a fee variance: the money did settle, only the fee
   * differs), so its settlement event books the line and a resolution books at most the difference.
   * Absent on exceptions raised before issue 16, whose lines a resolution still books.
   */
  settled: z.boolean().optional(),
  openedAt: At,
});
export type ReconException = z.infer<typeof ReconException>;

/** An operator's decision on an exception; `write_off` and `accept` may move money in the ledger. */
export const Resolution = z.object({
  exceptionId: z.string(),
  resolution: ResolutionKind,
  reason: z.string().min(1).max(500),
  operator: z.string(),
  /** For `link`: the payment the line belongs to after all. */
  paymentId: z.string().nullable(),
  /** What the resolution moved, in minor units of the exception's currency (0: nothing). */
  amount: z.number().int(),
  currency: Currency.nullable(),
  at: At,
});
export type Resolution = z.infer<typeof Resolution>;
