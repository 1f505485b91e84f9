// The two simulated PSPs' settlement reports, each in its own format (RFC 4180 CSV, header first):
// - acme, shaped like Stripe's itemized payout reconciliation report of balance transactions: major-
//   unit decimals signed as they move the balance (refunds and the payout negative), lowercase
//   currencies, UTC times, LF line ends;
// - bolt, shaped like Adyen's settlement details report: one row per settled modification, debit and
//   credit columns instead of signs, the fee itemized (interchange++), times in the TimeZone column's
//   zone (UTC here), CRLF line ends.
// The parsers that read them are actors/psp/settlement/*.
import { toDecimalString } from "../../actors/payment/core/money.ts";
import { feeTotal, RowKind, type BatchHeader, type Row } from "./settlement-rows.ts";

// The PSPs' published report formats, as the adapters read them: one list each, written where the
// parsing is; the sandbox writes exactly those columns (a change to a format shows in both at once).
import { ACME_COLUMNS } from "../../actors/psp/settlement/acme.ts";
import { BOLT_COLUMNS } from "../../actors/psp/settlement/bolt.ts";

export { ACME_COLUMNS, BOLT_COLUMNS };

export const BOLT_MERCHANT_ACCOUNT = "SwitchyardSandbox";

/** Quoted only when it must be: a comma, a quote or a line break inside. */
function field(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 44 || c === 34 || c === 10 || c === 13) return `"${value.replaceAll('"', '""')}"`;
  }
  return value;
}

const signed = (minor: number, currency: string): string =>
  minor < 0 ? `-${toDecimalString(-minor, currency)}` : toDecimalString(minor, currency);

/** ISO instant → "YYYY-MM-DD HH:MM:SS" in UTC. */
const utc = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;

/** Funds become available two days after the batch closed, at midnight UTC. */
function availableOn(closedAt: string): string {
  const d = new Date(closedAt);
  d.setUTCDate(d.getUTCDate() + 2);
  return `${d.toISOString().slice(0, 10)} 00:00:00`;
}

const ACME_CATEGORY: Readonly<Record<RowKind, string>> = {
  capture: "charge",
  refund: "refund",
  fee: "fee",
  payout: "payout",
};

function acmeRow(h: BatchHeader, r: Row): string[] {
  const fee = feeTotal(r.fee);
  const gross = r.kind === RowKind.capture ? r.amount : r.kind === RowKind.fee ? 0 : r.net + fee;
  const source = r.kind === RowKind.payout ? h.payoutId : (r.reference ?? "");
  return [
    r.lineId,
    utc(r.at),
    availableOn(h.closedAt),
    r.currency.toLowerCase(),
    signed(gross, r.currency),
    signed(fee, r.currency),
    signed(r.net, r.currency),
    ACME_CATEGORY[r.kind],
    source,
    r.merchantReference ?? "",
    h.payoutId,
  ];
}

const BOLT_TYPE: Readonly<Record<RowKind, string>> = {
  capture: "Settled",
  refund: "Refunded",
  fee: "Fee",
  payout: "MerchantPayout",
};

function boltRow(h: BatchHeader, r: Row): string[] {
  const dec = (minor: number) => toDecimalString(minor, r.currency);
  const payment = r.kind === RowKind.capture || r.kind === RowKind.refund;
  const itemized = r.kind !== RowKind.payout;
  return [
    BOLT_MERCHANT_ACCOUNT,
    r.paymentReference ?? "",
    r.merchantReference ?? "",
    r.brand ?? "",
    utc(r.at),
    "UTC",
    BOLT_TYPE[r.kind],
    r.reference ?? "",
    payment ? r.currency : "",
    r.kind === RowKind.refund ? dec(r.amount) : "",
    r.kind === RowKind.capture ? dec(r.amount) : "",
    payment ? "1" : "",
    r.currency,
    r.net < 0 ? dec(-r.net) : "",
    r.net >= 0 ? dec(r.net) : "",
    itemized ? dec(r.fee.commission) : "",
    itemized ? dec(r.fee.markup) : "",
    itemized ? dec(r.fee.scheme) : "",
    itemized ? dec(r.fee.interchange) : "",
    String(h.batch),
  ];
}

/** The whole report of one batch, in its PSP's format. */
export function writeReport(h: BatchHeader, rows: readonly Row[]): string {
  const acme = h.psp === "acme";
  const eol = acme ? "\n" : "\r\n";
  const header = acme ? ACME_COLUMNS : BOLT_COLUMNS;
  const lines = [header.join(",")];
  for (const r of rows) lines.push((acme ? acmeRow(h, r) : boltRow(h, r)).map(field).join(","));
  return lines.join(eol) + eol;
}
