// acme's settlement report (shaped like Stripe's itemized payout reconciliation report) → the normalized
// SettlementLine. One row per balance transaction, amounts as signed major-unit decimals (a refund's
// gross is negative, so is the payout's), the currency in lower case. A row that cannot be mapped is
// rejected with its line number and the rest is still taken; a file without acme's header is refused.
import { SETTLEMENT_LINE_VERSION, type LineKind, type ParsedLine } from "../../settlement/core/line.ts";
import {
  columnsOf,
  csvRows,
  currencyOf,
  decimalToMinor,
  ReportFormatError,
  utcToIso,
  type ReportInput,
} from "./csv.ts";

export const ACME_COLUMNS = [
  "balance_transaction_id",
  "created_utc",
  "available_on_utc",
  "currency",
  "gross",
  "fee",
  "net",
  "reporting_category",
  "source_id",
  "payment_reference",
  "payout_id",
] as const;

const KINDS: ReadonlyMap<string, LineKind> = new Map<string, LineKind>([
  ["charge", "capture"],
  ["refund", "refund"],
  ["fee", "fee"],
  ["payout", "payout"],
  ["adjustment", "adjustment"],
]);

const rejected = (lineNo: number, reason: string): ParsedLine => ({
  ok: false,
  rejected: { lineNo, reason },
});

export async function* parseAcmeReport(
  input: ReportInput,
  opts: { reportId: string },
): AsyncGenerator<ParsedLine> {
  const { reportId } = opts;
  let col: Record<(typeof ACME_COLUMNS)[number], number> | undefined;
  let width = 0;
  for await (const row of csvRows(input)) {
    if (row.record === null) {
      if (!col) throw new ReportFormatError(`not an acme report: ${row.rejected.reason}`);
      yield { ok: false, rejected: row.rejected };
      continue;
    }
    const r = row.record;
    const lineNo = row.lineNo;
    if (!col) {
      col = columnsOf(r, ACME_COLUMNS, "acme settlement");
      width = r.length;
      continue;
    }
    if (r.length !== width) {
      yield rejected(lineNo, `expected ${width} columns, got ${r.length}`);
      continue;
    }
    const category = r[col.reporting_category]!;
    const kind = KINDS.get(category);
    if (kind === undefined) {
      yield rejected(lineNo, `unknown reporting_category ${JSON.stringify(category)}`);
      continue;
    }
    const currency = currencyOf(r[col.currency]!);
    if (currency === null) {
      yield rejected(lineNo, `unknown currency ${JSON.stringify(r[col.currency])}`);
      continue;
    }
    const e = currency.exponent;
    const gross = decimalToMinor(r[col.gross]!, e, true);
    const fee = decimalToMinor(r[col.fee]!, e, true);
    const net = decimalToMinor(r[col.net]!, e, true);
    if (Number.isNaN(gross) || Number.isNaN(fee) || Number.isNaN(net)) {
      const bad = Number.isNaN(gross) ? "gross" : Number.isNaN(fee) ? "fee" : "net";
      yield rejected(
        lineNo,
        `bad ${bad} ${JSON.stringify(r[col[bad]])} (${currency.code}: at most ${e} decimals)`,
      );
      continue;
    }
    if (net !== gross - fee) {
      yield rejected(lineNo, `net ${r[col.net]} is not gross ${r[col.gross]} − fee ${r[col.fee]}`);
      continue;
    }
    if ((kind === "capture" && gross < 0) || (kind === "refund" && gross > 0)) {
      yield rejected(lineNo, `a ${category} with gross ${r[col.gross]}: the sign is the wrong way`);
      continue;
    }
    const createdAt = utcToIso(r[col.created_utc]!);
    const available = r[col.available_on_utc]!;
    const availableOn = available === "" ? null : utcToIso(available);
    if (createdAt === null || (available !== "" && availableOn === null)) {
      yield rejected(
        lineNo,
        `bad time ${JSON.stringify(createdAt === null ? r[col.created_utc] : available)}`,
      );
      continue;
    }
    const lineId = r[col.balance_transaction_id]!;
    const source = r[col.source_id]!;
    const payment = kind === "capture" || kind === "refund";
    if (lineId === "" || (payment && source === "")) {
      yield rejected(lineNo, lineId === "" ? "no balance_transaction_id" : `a ${category} without source_id`);
      continue;
    }
    const payoutId = r[col.payout_id]!;
    yield {
      ok: true,
      line: {
        v: SETTLEMENT_LINE_VERSION,
        psp: "acme",
        reportId,
        lineNo,
        lineId,
        kind,
        pspReference: payment || kind === "adjustment" ? source || null : null,
        paymentPspReference: kind === "capture" ? source : null,
        merchantReference: r[col.payment_reference] || null,
        currency: currency.code,
        amount: gross < 0 ? -gross : gross,
        fee,
        net,
        batch: payoutId || reportId,
        payoutId: payoutId || null,
        createdAt,
        availableOn,
      },
    };
  }
  if (!col) throw new ReportFormatError("not an acme settlement report: the file is empty (no header)");
}
