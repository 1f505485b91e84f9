// The PSP-neutral rows of a settlement report: what settlement.ts builds and settlement-csv.ts writes
// in each PSP's format. Amounts in integer minor units.

/** A fee as an acquirer on interchange++ itemizes it; acme reports only the total. */
export type Fee = { commission: number; markup: number; scheme: number; interchange: number };
export const feeTotal = (f: Fee): number => f.commission + f.markup + f.scheme + f.interchange;
export const NO_FEE: Fee = { commission: 0, markup: 0, scheme: 0, interchange: 0 };

export const RowKind = { capture: "capture", refund: "refund", fee: "fee", payout: "payout" } as const;
export type RowKind = (typeof RowKind)[keyof typeof RowKind];

/** One line of a report before it is written in a PSP's format. Amounts in minor units. */
export type Row = {
  kind: RowKind;
  /** The balance-transaction id (acme's line id). */
  lineId: string;
  /** The operation's PSP reference (capture, refund); null on fee and payout rows. */
  reference: string | null;
  /** The payment's (authorization's) PSP reference. */
  paymentReference: string | null;
  merchantReference: string | null;
  brand: string | null;
  currency: string;
  /** Never negative: the kind gives the direction. On a payout row, |net| of the batch. */
  amount: number;
  fee: Fee;
  /** Signed effect on the merchant's balance at the PSP. */
  net: number;
  at: string;
};

/** The batch a report belongs to, as its writer needs it. */
export type BatchHeader = {
  psp: string;
  batch: number;
  reportId: string;
  payoutId: string;
  closedAt: string;
};

/** A settlement batch once closed: never changed again. The report is kept as the bytes served. */
export type ClosedBatch = {
  batch: number;
  reportId: string;
  closedAt: string;
  lines: number;
  csv: string;
  injected: Injected[];
};

export const DiscrepancyKind = ["drop", "duplicate", "fee_off", "amount_off", "unknown", "defer"] as const;
export type DiscrepancyKind = (typeof DiscrepancyKind)[number];
/** A line a close was asked to get wrong, named so a test can expect exactly that exception. */
export type Injected = { kind: DiscrepancyKind; psp_reference: string; line_id: string };
