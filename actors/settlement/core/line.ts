// The one normalized settlement line every PSP's report is mapped to (actors/psp/settlement/*), and
// what reconciliation, the ledger and the payment's settlement events read. Versioned like events:
// a field is only ever added as optional; a breaking change is a new `v`. Pure: zod and the contract.
import { z } from "zod";
import { At, Currency } from "../../payment/core/contract.ts";

export const SETTLEMENT_LINE_VERSION = 1;

/**
 * What the line is: a capture settled (money in), a refund settled (money out), a void (no money, some
 * PSPs list it), a fee line not tied to one payment (per-batch fee), the payout of a batch to the
 * merchant's bank, an adjustment, a chargeback.
 */
export const LineKind = z.enum(["capture", "refund", "void", "fee", "payout", "adjustment", "chargeback"]);
export type LineKind = z.infer<typeof LineKind>;

/** Lines that settle one operation of one payment, matched by PSP reference. */
export const PAYMENT_LINE_KINDS: ReadonlySet<LineKind> = new Set(["capture", "refund", "void", "chargeback"]);

const Minor = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

export const SettlementLine = z.object({
  v: z.literal(SETTLEMENT_LINE_VERSION),
  psp: z.string(),
  /** The PSP's id of the report (acme: payout id of the batch; bolt: batch number), as ingested. */
  reportId: z.string(),
  /** 1-based physical line number in the file (the header is line 1): what an operator opens. */
  lineNo: z.number().int().positive(),
  /** The PSP's own stable id of this line (acme balance_transaction_id; bolt modification ref + type). */
  lineId: z.string().min(1),
  kind: LineKind,
  /**
   * The PSP reference of the operation the line settles, as the platform recorded it: for a capture,
   * the capture's reference (or the authorization's when captured at authorization); for a refund, the
   * refund's. Null on fee and payout lines.
   */
  pspReference: z.string().nullable(),
  /** The PSP reference of the payment (authorization) the operation belongs to, when the PSP gives it. */
  paymentPspReference: z.string().nullable(),
  /** The merchant reference the PSP echoes: the platform's payment id. */
  merchantReference: z.string().nullable(),
  currency: Currency,
  /** The operation's amount, in minor units, never negative: `kind` says the direction. */
  amount: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** The fee the PSP charged on this line, in minor units (may be negative: a fee refunded). */
  fee: Minor,
  /** Signed effect on the merchant's balance at the PSP: capture amount − fee; refund −(amount + fee). */
  net: Minor,
  /** The settlement batch the line belongs to, and the payout that paid it, when known. */
  batch: z.string(),
  payoutId: z.string().nullable(),
  createdAt: At,
  availableOn: At.nullable(),
});
export type SettlementLine = z.infer<typeof SettlementLine>;

/**
 * The largest amount, fee or net one line may carry, in minor units (10^13: a hundred billion in a
 * two-decimal currency, far beyond any payout): a sanity bound, so that no sum the ledger makes of
 * lines comes near 2^53. A report with a line past it is refused whole.
 */
export const MAX_LINE_MINOR = 10_000_000_000_000;

/** The first of amount, fee, net past MAX_LINE_MINOR (in size), or null. */
export function outOfBound(
  line: Pick<SettlementLine, "amount" | "fee" | "net">,
): "amount" | "fee" | "net" | null {
  for (const k of ["amount", "fee", "net"] as const) if (Math.abs(line[k]) > MAX_LINE_MINOR) return k;
  return null;
}

/** A line that could not be mapped: reported with its line number and reason; the rest is still taken. */
export const RejectedLine = z.object({ lineNo: z.number().int().positive(), reason: z.string() });
export type RejectedLine = z.infer<typeof RejectedLine>;

export type ParsedLine = { ok: true; line: SettlementLine } | { ok: false; rejected: RejectedLine };
