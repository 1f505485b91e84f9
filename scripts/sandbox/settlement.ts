// A simulated PSP closing a settlement batch: the movements still pending (captures and refunds; voids
// move no money and no format lists them), each with the fee the PSP really charged, a fee line and a
// payout line per currency, and the discrepancies a test asked for. The rows are PSP-neutral here;
// settlement-csv.ts writes them in each PSP's own format. A closed batch is stored as the bytes served
// and never changes; its number is the PSP's next one.
//
// Fees: the PSP prices from the platform's fee policy (config/policies/fees.json) but is never quite
// what the platform expects, as a real acquirer on interchange++ is not: on top of the policy's fee
// it passes on scheme fees that vary with the card's region (taken from its BIN at authorization),
// at least one minor unit. A currency or brand the policy does not price pays FALLBACK_PPM.
// Refunds: acme charges none (it keeps the capture's fee), bolt a fixed commission. Each batch costs
// a fixed fee per currency, listed as its own line.
import { exponentOf } from "../../actors/payment/core/money.ts";
import { expectedFee, percentPart } from "../../actors/policy/core/fees.ts";
import type { FeePolicy, Region } from "../../actors/policy/core/schemas.ts";
import { writeReport } from "./settlement-csv.ts";
import {
  feeTotal,
  NO_FEE,
  RowKind,
  type BatchHeader,
  type ClosedBatch,
  type DiscrepancyKind,
  type Fee,
  type Injected,
  type Row,
} from "./settlement-rows.ts";
import { MovementKind, randomId, type Charge, type Movement, type SimulatedPsp } from "./simulator.ts";

export type Discrepancies = Readonly<Record<DiscrepancyKind, number>>;
export const NO_DISCREPANCIES: Discrepancies = {
  drop: 0,
  duplicate: 0,
  fee_off: 0,
  amount_off: 0,
  unknown: 0,
  defer: 0,
};

/** Share of the amount (ppm) passed on as scheme fees, by region: the PSP's drift from the policy. */
const SCHEME_PPM: Readonly<Record<Region, number>> = { domestic: 150, intra_eea: 400, international: 1200 };
/** Share of the amount (ppm) the issuer takes, by region: part of the policy's fee, itemized by bolt. */
const INTERCHANGE_PPM: Readonly<Record<Region, number>> = {
  domestic: 2000,
  intra_eea: 3000,
  international: 15000,
};
export const FALLBACK_PPM = 29_000;

/** The fee a PSP really charges on a capture of `amount` of this charge. */
export function captureFee(policy: FeePolicy, psp: string, charge: Charge, amount: number): Fee {
  const q = { amount, currency: charge.currency, brand: charge.brand, region: charge.region };
  const expected = expectedFee(policy, psp, q) ?? percentPart(amount, FALLBACK_PPM);
  const interchange = Math.min(expected, percentPart(amount, INTERCHANGE_PPM[charge.region]));
  const scheme = Math.max(1, percentPart(amount, SCHEME_PPM[charge.region]));
  return { commission: expected - interchange, markup: 0, scheme, interchange };
}

/** acme keeps the capture's fee and charges nothing more; bolt charges a fixed commission. */
export function refundFee(psp: string, currency: string): Fee {
  if (psp !== "bolt") return NO_FEE;
  return { ...NO_FEE, commission: 10 ** Math.max(1, exponentOf(currency) - 1) };
}

/** The fixed fee of one batch, per currency: 1 unit (100 of a currency without decimals). */
export const batchFee = (currency: string): number => 10 ** Math.max(2, exponentOf(currency));

export type CloseOutcome =
  { closed: ClosedBatch } | { closed: null } | { refused: "not_enough_lines"; message: string };

type Candidate = { row: Row; movement: Movement };

function paymentRow(policy: FeePolicy, psp: string, charge: Charge, m: Movement): Row {
  const capture = m.kind === MovementKind.capture;
  const fee = capture ? captureFee(policy, psp, charge, m.amount) : refundFee(psp, m.currency);
  const total = feeTotal(fee);
  return {
    kind: capture ? RowKind.capture : RowKind.refund,
    lineId: m.lineId,
    reference: m.reference,
    paymentReference: charge.id,
    merchantReference: charge.reference,
    brand: charge.brand,
    currency: m.currency,
    amount: m.amount,
    fee,
    net: capture ? m.amount - total : -(m.amount + total),
    at: m.at,
  };
}

/** Changed well outside any tolerance: +50 % and 100 minor units more. */
const off = (n: number) => n + Math.floor(n / 2) + 100;

function withAmountOff(row: Row): Row {
  const amount = off(row.amount);
  const total = feeTotal(row.fee);
  return { ...row, amount, net: row.kind === RowKind.capture ? amount - total : -(amount + total) };
}

function withFeeOff(row: Row): Row {
  const fee = { ...row.fee, commission: row.fee.commission + off(feeTotal(row.fee)) - feeTotal(row.fee) };
  const total = feeTotal(fee);
  return { ...row, fee, net: row.kind === RowKind.capture ? row.amount - total : -(row.amount + total) };
}

/** A capture the platform never made: invented references, in the batch's first currency. */
function unknownRow(psp: string, currency: string, at: string): Row {
  const reference = psp === "acme" ? randomId("ch_", 24) : randomId("", 16).toUpperCase();
  const amount = 1000;
  const fee = { ...NO_FEE, commission: percentPart(amount, FALLBACK_PPM) };
  return {
    kind: RowKind.capture,
    lineId: randomId("txn_", 24),
    reference,
    paymentReference: reference,
    merchantReference: randomId("pay_unknown_", 12),
    brand: "visa",
    currency,
    amount,
    fee,
    net: amount - feeTotal(fee),
    at,
  };
}

/** The fee line and the payout line of each currency in the rows, in order of first appearance. */
function closingRows(rows: readonly Row[], header: BatchHeader): Row[] {
  const nets = new Map<string, number>();
  for (const r of rows) nets.set(r.currency, (nets.get(r.currency) ?? 0) + r.net);
  const fees: Row[] = [];
  const payouts: Row[] = [];
  const base = { reference: null, paymentReference: null, merchantReference: null, brand: null };
  for (const [currency, net] of nets) {
    const fee = batchFee(currency);
    const at = header.closedAt;
    fees.push({
      ...base,
      kind: RowKind.fee,
      lineId: randomId("txn_", 24),
      currency,
      amount: 0,
      fee: { ...NO_FEE, commission: fee },
      net: -fee,
      at,
    });
    const balance = net - fee;
    payouts.push({
      ...base,
      kind: RowKind.payout,
      lineId: randomId("txn_", 24),
      currency,
      amount: Math.abs(balance),
      fee: NO_FEE,
      net: -balance,
      at,
    });
  }
  return [...fees, ...payouts];
}

/**
 * Closes the PSP's next batch at `now`: every pending capture and refund, the discrepancies applied to
 * the first eligible payment lines in order (drop, duplicate, fee_off, amount_off, defer: each line
 * gets at most one), `unknown` invented lines added. Nothing pending and nothing invented: no batch.
 */
export function closeBatch(
  psp: SimulatedPsp,
  policy: FeePolicy,
  now: Date,
  asked: Discrepancies,
): CloseOutcome {
  const candidates: Candidate[] = psp
    .pendingMovements()
    .map(({ charge, movement }) => ({ row: paymentRow(policy, psp.name, charge, movement), movement }));
  const wanted = asked.drop + asked.duplicate + asked.fee_off + asked.amount_off + asked.defer;
  if (wanted > candidates.length) {
    return {
      refused: "not_enough_lines",
      message: `${wanted} discrepancies asked on ${candidates.length} pending payment lines`,
    };
  }
  if (candidates.length === 0 && asked.unknown === 0) return { closed: null };

  const batch = psp.batches().length + 1;
  const closedAt = now.toISOString();
  const payoutId = psp.name === "acme" ? randomId("po_", 24) : `batch-${batch}`;
  const header: BatchHeader = {
    psp: psp.name,
    batch,
    reportId: psp.name === "acme" ? payoutId : String(batch),
    payoutId,
    closedAt,
  };

  const injected: Injected[] = [];
  const rows: Row[] = [];
  const settled: Movement[] = [];
  const plan: DiscrepancyKind[] = (["drop", "duplicate", "fee_off", "amount_off", "defer"] as const).flatMap(
    (kind) => Array<DiscrepancyKind>(asked[kind]).fill(kind),
  );
  candidates.forEach(({ row, movement }, i) => {
    const kind = plan[i];
    if (kind) injected.push({ kind, psp_reference: row.reference ?? "", line_id: lineIdOf(psp.name, row) });
    if (kind === "defer") return; // stays pending: the next batch takes it
    settled.push(movement);
    if (kind === "drop") return; // in this batch, on no line: dropped for good
    const written = kind === "fee_off" ? withFeeOff(row) : kind === "amount_off" ? withAmountOff(row) : row;
    rows.push(written);
    if (kind === "duplicate") rows.push(written);
  });
  const unknownCurrency = candidates[0]?.row.currency ?? "EUR";
  for (let i = 0; i < asked.unknown; i++) {
    const row = unknownRow(psp.name, unknownCurrency, closedAt);
    injected.push({ kind: "unknown", psp_reference: row.reference ?? "", line_id: lineIdOf(psp.name, row) });
    rows.push(row);
  }

  const all = [...rows, ...closingRows(rows, header)];
  const closed: ClosedBatch = {
    batch,
    reportId: header.reportId,
    closedAt,
    lines: all.length,
    csv: writeReport(header, all),
    injected,
  };
  psp.closeBatch(closed, settled);
  return { closed };
}

/** The line id the PSP's parser gives the row (actors/psp/settlement/*). */
function lineIdOf(psp: string, row: Row): string {
  if (psp === "acme") return row.lineId;
  return `${row.reference ?? ""}:${row.kind === RowKind.capture ? "Settled" : "Refunded"}`;
}
