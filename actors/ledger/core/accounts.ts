// The chart of accounts of the ledger: every account a posting may name, as a function of the PSP or
// merchant it belongs to, with its normal side. Accounts carry no currency: each journal entry has
// exactly one, so an account's balance is always read per currency. docs/ledger.md has the table.

/** The side on which an account's balance normally grows: assets and expenses debit, liabilities credit. */
export const NormalSide = { debit: "debit", credit: "credit" } as const;
export type NormalSide = (typeof NormalSide)[keyof typeof NormalSide];

/**
 * Debit normal (asset). What the PSP owes the platform for operations it has not settled yet: debited
 * by a capture, credited by a refund, brought back to zero by their settlements.
 */
export function receivable(psp: string): string {
  return `psp:${psp}:receivable`;
}

/** Debit normal (expense). The fees the PSP charged, as its settlement reports say (negative: a fee refunded). */
export function pspFees(psp: string): string {
  return `psp:${psp}:fees`;
}

/**
 * Debit normal (asset). The platform's balance at the PSP: settled money net of fees, not yet paid out
 * to the bank. Settlements and fee lines move it; a payout empties it.
 */
export function clearing(psp: string): string {
  return `bank:${psp}:clearing`;
}

/** Debit normal (asset). Money the PSP paid out of its balance to the platform's bank account. */
export function bankPayouts(psp: string): string {
  return `bank:${psp}:payouts`;
}

/**
 * Credit normal (liability). Money at the PSP that no payment explains yet: an unknown settlement line
 * accepted, a duplicate kept aside, an adjustment. An operator's resolution or a later link empties it.
 */
export function suspense(psp: string): string {
  return `psp:${psp}:suspense`;
}

/**
 * Debit normal (asset). Money the PSP took back on a dispute (chargeback lines), to be recovered from
 * the merchant or written off.
 */
export function disputes(psp: string): string {
  return `psp:${psp}:disputes`;
}

/** Credit normal (liability). What the platform owes the merchant for its captured payments. */
export function merchantPayable(merchantId: string): string {
  return `merchant:${merchantId}:payable`;
}

/**
 * Debit normal (contra-liability). The refunds given back to the merchant's customers: what is
 * payable to the merchant is `payable − refunds`.
 */
export function merchantRefunds(merchantId: string): string {
  return `merchant:${merchantId}:refunds`;
}

/**
 * Debit normal (expense; a credit balance is a gain). What an operator decided to write off: a PSP
 * paying less (or more) than recorded, a settlement never received, a duplicate kept, a currency the
 * payment was not in.
 */
export function writeoff(): string {
  return "writeoff";
}

const NORMAL_SIDES: ReadonlyArray<[RegExp, NormalSide]> = [
  [/^psp:[^:]+:(receivable|fees|disputes)$/, NormalSide.debit],
  [/^bank:[^:]+:(clearing|payouts)$/, NormalSide.debit],
  [/^psp:[^:]+:suspense$/, NormalSide.credit],
  [/^merchant:[^:]+:payable$/, NormalSide.credit],
  [/^merchant:[^:]+:refunds$/, NormalSide.debit],
  [/^writeoff$/, NormalSide.debit],
];

/** The normal side of an account of the chart; undefined for a name the chart does not have. */
export function normalSideOf(account: string): NormalSide | undefined {
  return NORMAL_SIDES.find(([pattern]) => pattern.test(account))?.[1];
}
