// Helpers of the ledger specs: a payment history turned into its journal (as the projector will do
// it, event by event on the state before), balances per currency and account, and factories of
// settlement events, lines, exceptions and resolutions with fixed ids and times.
import type { CaptureSettled, PaymentEvent, RefundSettled } from "../../actors/payment/core/events.ts";
import { evolve } from "../../actors/payment/core/evolve.ts";
import type { PaymentState } from "../../actors/payment/core/state.ts";
import { initialState } from "../../actors/payment/core/state.ts";
import type { JournalEntry } from "../../actors/ledger/core/entry.ts";
import { entriesForEvent } from "../../actors/ledger/core/postings.ts";
import type {
  MatchedOperation,
  ReconException,
  Resolution,
} from "../../actors/settlement/core/exceptions.ts";
import type { SettlementLine } from "../../actors/settlement/core/line.ts";
import { AT, LATER, MERCHANT_ID, PAYMENT_ID } from "./decider-spec.ts";

/** The journal of one payment's events, numbered from 1, at PAY_EVT sequences from `firstSeq`. */
export function journalOf(events: readonly PaymentEvent[], firstSeq = 100): JournalEntry[] {
  let state: PaymentState = initialState();
  const entries: JournalEntry[] = [];
  events.forEach((e, i) => {
    entries.push(...entriesForEvent(state, e, { seq: firstSeq + i, eventNo: i + 1 }));
    state = evolve(state, e);
  });
  return entries;
}

/** Signed balances (debit − credit) per currency and account, in BigInt. */
export type Balances = Map<string, Map<string, bigint>>;

export function balancesOf(entries: Iterable<JournalEntry>): Balances {
  const out: Balances = new Map();
  for (const e of entries) {
    const byAccount = out.get(e.currency) ?? new Map<string, bigint>();
    for (const p of e.postings)
      byAccount.set(p.account, (byAccount.get(p.account) ?? 0n) + BigInt(p.debit) - BigInt(p.credit));
    out.set(e.currency, byAccount);
  }
  return out;
}

/** The signed balance of one account in one currency (0 when never posted). */
export const balance = (b: Balances, currency: string, account: string): bigint =>
  b.get(currency)?.get(account) ?? 0n;

/** The non-zero balances of a currency, as a plain object of decimal strings (for deep-equal specs). */
export function nonZero(b: Balances, currency: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [account, v] of [...(b.get(currency) ?? new Map<string, bigint>())].sort(([a], [c]) =>
    a.localeCompare(c),
  ))
    if (v !== 0n) out[account] = String(v);
  return out;
}

type SettledOverrides = Partial<Omit<CaptureSettled, "type">>;

function settled(o: SettledOverrides) {
  const amount = o.amount ?? 10_000;
  const fee = o.fee ?? 0;
  return {
    psp: "psp_a",
    pspReference: "ref_1",
    operationId: null,
    reportId: "rep_1",
    lineId: "ln_1",
    batch: "b_1",
    payoutId: "po_1",
    currency: "EUR",
    amount,
    fee,
    expectedFee: null,
    settledAt: LATER,
    at: LATER,
    ...o,
  };
}

export const settle = {
  capture: (o: SettledOverrides = {}): CaptureSettled => {
    const s = settled(o);
    return { type: "CaptureSettled", net: s.amount - s.fee, ...s };
  },
  refund: (o: SettledOverrides = {}): RefundSettled => {
    const s = settled(o);
    return { type: "RefundSettled", net: -(s.amount + s.fee), ...s };
  },
};

export function line(o: Partial<SettlementLine> = {}): SettlementLine {
  const kind = o.kind ?? "capture";
  const amount = o.amount ?? 10_000;
  const fee = o.fee ?? 0;
  return {
    v: 1,
    psp: "psp_a",
    reportId: "rep_1",
    lineNo: 2,
    lineId: "ln_2",
    kind,
    pspReference: "ref_1",
    paymentPspReference: "ref_1",
    merchantReference: PAYMENT_ID,
    currency: "EUR",
    amount,
    fee,
    net: kind === "capture" ? amount - fee : -(amount + fee),
    batch: "b_1",
    payoutId: "po_1",
    createdAt: AT,
    availableOn: null,
    ...o,
  };
}

export function operation(o: Partial<MatchedOperation> = {}): MatchedOperation {
  return {
    paymentId: PAYMENT_ID,
    merchantId: MERCHANT_ID,
    psp: "psp_a",
    kind: "capture",
    operationId: null,
    pspReference: "ref_1",
    amount: 10_000,
    currency: "EUR",
    expectedFee: null,
    at: AT,
    ...o,
  };
}

export function exception(o: Partial<ReconException> = {}): ReconException {
  return {
    id: "x_psp_a_rep_1_2",
    kind: "amount_mismatch",
    psp: "psp_a",
    line: line(),
    operation: operation(),
    detail: "expected against actual",
    openedAt: LATER,
    ...o,
  };
}

export function resolution(r: Resolution["resolution"], o: Partial<Resolution> = {}): Resolution {
  return {
    exceptionId: "x_psp_a_rep_1_2",
    resolution: r,
    reason: "checked with the PSP",
    operator: "ops_1",
    paymentId: null,
    amount: 0,
    currency: "EUR",
    at: "2025-03-05T09:00:00.000Z",
    ...o,
  };
}
